"""config.toml + environment + flags -> one typed, strict ``Settings`` object.

Precedence (highest first): command-line flag > environment variable > config file > built-in default.

* The config file is ``--config PATH``, else ``$JOURNEY_CONFIG``, else ``./config.toml`` when present.
* Every leaf setting has an environment variable ``JOURNEY_<SECTION>_<KEY>`` (upper case), e.g.
  ``JOURNEY_LLM_PROVIDER=offline`` or ``JOURNEY_DATA_COLUMNS_CUSTOMER_ID=user``. Lists are comma-separated.
* Unknown keys in the file and unknown ``JOURNEY_*`` variables are errors that name the key.
* Secrets never live in the file: the API key is read from the variable named by ``[llm] api_key_env``.
"""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from tools.context import JourneyDefaults
from tools.durations import parse_duration
from tools.errors import ArgumentError, ConfigError

if TYPE_CHECKING:
    from tools.dataset import ColumnMap

ENV_PREFIX = "JOURNEY_"
# Variables with a meaning of their own, not settings.
RESERVED_ENV = {"JOURNEY_CONFIG", "JOURNEY_DEBUG", "JOURNEY_HOME"}
SECRET_KEYS = {"api_key", "openai_api_key", "key", "token", "password", "secret"}


def _duration(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except ArgumentError as exc:
        raise ValueError(str(exc)) from exc


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ColumnsSettings(_Section):
    """Which column of the user's file holds each canonical field."""

    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    event: str = "event"
    channel: str = "channel"
    campaign: str = "campaign"
    revenue: str = "revenue"
    anonymous_id: str = "anonymous_id"


class DataSettings(_Section):
    path: str = "demo/events.parquet"
    source_format: Literal["auto", "csv", "parquet", "json", "ga4", "segment"] = "auto"
    timezone: str = "UTC"
    columns: ColumnsSettings = Field(default_factory=ColumnsSettings)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'") from exc
        return value


class JourneySettings(_Section):
    stages: Annotated[list[str], BeforeValidator(_split_list)] = Field(
        default_factory=lambda: ["visit", "product_view", "signup", "pricing", "demo", "purchase"]
    )
    conversion: str = "purchase"
    window: Duration = timedelta(days=7)


class AttributionSettings(_Section):
    lookback: Duration = timedelta(days=30)
    half_life: Duration = timedelta(days=7)
    markov_order: int = Field(default=1, ge=1, le=4)
    bootstrap: int = Field(default=200, ge=0, le=5000)
    seed: int = 7


class EngineSettings(_Section):
    backend: str = "duckdb"
    threads: int = Field(default=0, ge=0)


class FeedbackSettings(_Section):
    path: str = "demo/feedback.csv"
    store: str = ".journey/chroma"
    embedding: Literal["minilm", "wordllama", "openai"] = "minilm"
    collection: str = "feedback"


class LLMSettings(_Section):
    provider: Literal["auto", "openai", "openai-compatible", "offline"] = "auto"
    model: str = "gpt-4o-mini"
    base_url: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    max_tool_calls: int = Field(default=8, ge=1, le=50)
    result_rows: int = Field(default=10, ge=1, le=200)


class PrivacySettings(_Section):
    ledger: str = ".journey/egress.jsonl"
    quote_chars: int = Field(default=200, ge=20, le=2000)


class MemoSettings(_Section):
    out_dir: str = "memos"
    recommendation_ledger: str = ".journey/recommendations.jsonl"
    # Target rates for transitions ("pricing->demo" = 0.35): a source of assumed improvements in recommendations.
    benchmarks: dict[str, Annotated[float, Field(gt=0, le=1)]] = Field(default_factory=dict)


class Settings(_Section):
    """Every setting of the application; see config.toml for the documented defaults."""

    data: DataSettings = Field(default_factory=DataSettings)
    journey: JourneySettings = Field(default_factory=JourneySettings)
    attribution: AttributionSettings = Field(default_factory=AttributionSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    memo: MemoSettings = Field(default_factory=MemoSettings)

    def column_map(self) -> ColumnMap:
        """The data column mapping as the loader's type."""
        from tools.dataset import ColumnMap  # lazy: keeps `journey --help` free of the engine imports

        return ColumnMap(**self.data.columns.model_dump())

    def defaults(self) -> JourneyDefaults:
        """Analysis defaults handed to the tools."""
        return JourneyDefaults(
            stages=tuple(self.journey.stages),
            conversion=self.journey.conversion,
            window=self.journey.window,
            lookback=self.attribution.lookback,
            half_life=self.attribution.half_life,
            markov_order=self.attribution.markov_order,
            bootstrap=self.attribution.bootstrap,
            seed=self.attribution.seed,
            max_rows=self.llm.result_rows,
        )

    def api_key(self) -> str | None:
        """The LLM API key, read only from the environment variable named by ``[llm] api_key_env``."""
        return os.environ.get(self.llm.api_key_env) or None


def _env_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """Map every leaf setting to its environment variable name."""
    out: dict[str, tuple[str, ...]] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        path = (*prefix, name)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.update(_env_paths(annotation, path))
        else:
            out[ENV_PREFIX + "_".join(path).upper()] = path
    return out


def _find_secrets(data: dict[str, Any], where: str = "") -> None:
    for key, value in data.items():
        if key.lower() in SECRET_KEYS:
            raise ConfigError(
                f"config key {where + key!r} looks like a secret; secrets are read only from the environment "
                "(set OPENAI_API_KEY, or the variable named by [llm] api_key_env) — remove it from the file"
            )
        if isinstance(value, dict):
            _find_secrets(value, f"{where}{key}.")


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _describe(exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"unknown setting {location!r} in {source}; remove it or fix its spelling (see config.toml)"
    message = str(first["msg"]).removeprefix("Value error, ")
    if repr(first.get("input")) in message:  # our validators already quote the value
        return f"invalid setting {location!r} in {source}: {message}"
    return f"invalid setting {location!r} in {source}: {message} (got {first.get('input')!r})"


def config_path(explicit: str | Path | None = None) -> Path | None:
    """The config file in force: the flag, then ``$JOURNEY_CONFIG``, then ``./config.toml`` if it exists."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist; fix --config or $JOURNEY_CONFIG")
        return path
    env = os.environ.get("JOURNEY_CONFIG")
    if env:
        return config_path(env)
    local = Path("config.toml")
    return local if local.is_file() else None


def load_settings(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build the settings from defaults, the config file, the environment and flag overrides.

    Args:
        path: an explicit config file (the ``--config`` flag).
        overrides: flag values as dotted keys, e.g. ``{"data.path": "events.csv"}``; ``None`` values are ignored.
        environ: the environment to read (defaults to ``os.environ``).

    Raises:
        ConfigError: unknown key, invalid value, secret in the file, or unreadable file.
    """
    environ = dict(os.environ if environ is None else environ)
    data: dict[str, Any] = {}
    source = "built-in defaults"
    file = config_path(path)
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(file)!r} is not valid TOML: {exc}") from exc
        _find_secrets(data)
        source = str(file)
        try:
            Settings.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, source)) from exc

    known = _env_paths(Settings)
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        if name not in known:
            raise ConfigError(
                f"unknown environment variable {name!r}; settings variables look like JOURNEY_LLM_PROVIDER "
                "(see config.toml) — unset it or fix its spelling"
            )
        _set_path(data, known[name], value)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_path(data, tuple(dotted.split(".")), value)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, "flags/environment/" + source)) from exc
