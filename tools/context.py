"""What a tool needs besides its own arguments: analysis defaults and lazily loaded inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tools.errors import DataError

if TYPE_CHECKING:
    from tools.dataset import Dataset


@dataclass(frozen=True)
class JourneyDefaults:
    """Defaults for tool arguments the user did not give (from config.toml)."""

    stages: tuple[str, ...] = ("visit", "product_view", "signup", "pricing", "demo", "purchase")
    conversion: str = "purchase"
    window: timedelta = timedelta(days=7)
    lookback: timedelta = timedelta(days=30)
    half_life: timedelta = timedelta(days=7)
    markov_order: int = 1
    bootstrap: int = 200
    seed: int = 7
    max_rows: int = 10


@dataclass
class ToolContext:
    """Inputs shared by all tool calls of one session; the dataset loads on first use.

    Attributes:
        defaults: analysis defaults from config.
        load_dataset: a zero-argument loader for the event data, or ``None`` when no data is configured.
        feedback: whatever the feedback tools need (their store handle), set by the application.
    """

    defaults: JourneyDefaults = field(default_factory=JourneyDefaults)
    load_dataset: Callable[[], Dataset] | None = None
    feedback: Any = None
    _dataset: Dataset | None = field(default=None, repr=False)

    @classmethod
    def for_dataset(cls, dataset: Dataset, defaults: JourneyDefaults | None = None) -> ToolContext:
        """A context over an already loaded dataset (tests, benchmarks)."""
        return cls(defaults=defaults or JourneyDefaults(), _dataset=dataset)

    def dataset(self) -> Dataset:
        """The loaded event data (loaded once)."""
        if self._dataset is None:
            if self.load_dataset is None:
                raise DataError("no event data is loaded; pass --data PATH or set [data] path in config.toml")
            self._dataset = self.load_dataset()
        return self._dataset
