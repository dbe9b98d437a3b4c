"""The one result shape every tool returns: definition + result + notes.

``--format json`` prints ``ToolResult.model_dump(mode="json")`` verbatim, so this is the public contract
of ARCHITECTURE.md: ``{"tool", "definition", "result", "notes"}``.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ToolResult(BaseModel):
    """A deterministic tool's answer.

    Attributes:
        tool: the tool's registry name (``funnel``, ``attribution`` …).
        definition: every parameter and semantic choice used, so the number can be reproduced.
        result: the aggregates; lists of flat dicts render as tables.
        notes: caveats, data-quality counts and anything a reader must know to trust the result.
    """

    model_config = ConfigDict(extra="forbid")

    tool: str
    definition: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """The list-of-records fields of ``result`` (each renders as one table)."""
        return {
            key: value
            for key, value in self.result.items()
            if isinstance(value, list) and value and all(isinstance(row, dict) for row in value)
        }

    def scalars(self) -> dict[str, Any]:
        """The scalar fields of ``result`` (render as a key/value block)."""
        return {
            key: value
            for key, value in self.result.items()
            if not isinstance(value, (list, dict)) or (isinstance(value, list) and not value)
        }

    def compact(self, max_rows: int = 10, digits: int = 4) -> dict[str, Any]:
        """An LLM-sized copy: every list capped at ``max_rows``, floats rounded to ``digits`` significant digits."""
        return {
            "tool": self.tool,
            "definition": _compact(self.definition, max_rows, digits),
            "result": _compact(self.result, max_rows, digits),
            "notes": self.notes[:max_rows],
        }


def _round_sig(value: float, digits: int) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(digits - 1 - math.floor(math.log10(abs(value))), 0))


def _compact(value: Any, max_rows: int, digits: int) -> Any:
    if isinstance(value, float):
        return _round_sig(value, digits)
    if isinstance(value, dict):
        return {k: _compact(v, max_rows, digits) for k, v in value.items()}
    if isinstance(value, list):
        items = [_compact(v, max_rows, digits) for v in value[:max_rows]]
        if len(value) > max_rows:
            items.append(f"... {len(value) - max_rows} more rows not shown")
        return items
    return value
