"""The recommendation ledger: a local JSONL file of every memo's recommendations, and what happened next.

One line per recommendation: the week it was made, the action, the KPI it should move (``kpi_metric``, a key of
the ``weekly_kpis`` rows) and that KPI's value in that week. Writing a week again replaces that week's lines, so
re-running a memo never duplicates them. The next memo looks up the latest earlier week with recommendations and
reports, for each, the KPI then and now (``follow_up``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.errors import ArgumentError
from tools.weeks import IsoWeek


class RecommendationLedger:
    """Append-and-replace JSONL of recommendations, one line each."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (a missing file reads as empty; unreadable lines are skipped)."""
        if not self.path.is_file():
            return []
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn line from an interrupted write must not stop the memo
            if isinstance(entry, dict) and "week" in entry:
                entries.append(entry)
        return entries

    def record(self, week: IsoWeek, recommendations: list[dict[str, Any]], kpis: list[dict[str, Any]]) -> int:
        """Store ``recommendations`` made for ``week`` (replacing that week's earlier lines).

        Args:
            week: the memo's week.
            recommendations: rows of the ``recommendations`` tool.
            kpis: that week's ``weekly_kpis`` rows (the KPI value at the time is stored with each).

        Returns:
            How many lines were written for the week.
        """
        values = {row["metric"]: row.get("this_week") for row in kpis}
        kept = [e for e in self.read() if e.get("week") != week.label]
        written = datetime.now(UTC).isoformat(timespec="seconds")
        new = [
            {
                "week": week.label,
                "written_at": written,
                "id": rec["id"],
                "action": rec["action"],
                "metric": rec["metric"],
                "kpi_metric": rec.get("kpi_metric"),
                "kpi_value_then": values.get(rec.get("kpi_metric") or ""),
                "baseline": rec.get("baseline"),
                "assumed_value": rec.get("assumed_value"),
                "expected_extra_conversions_per_week": rec.get("expected_extra_conversions_per_week"),
                "confidence": rec.get("confidence"),
            }
            for rec in recommendations
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            for entry in [*kept, *new]:
                handle.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        tmp.replace(self.path)
        return len(new)

    def previous(self, week: IsoWeek) -> tuple[str | None, list[dict[str, Any]]]:
        """The latest week before ``week`` with recommendations, and its entries."""
        entries = self.read()
        earlier = sorted({parsed for e in entries if (parsed := _week(e["week"])) is not None and parsed < week})
        if not earlier:
            return None, []
        label = earlier[-1].label
        return label, [e for e in entries if str(e["week"]) == label]


def _week(label: Any) -> IsoWeek | None:
    try:
        return IsoWeek.parse(str(label))
    except ArgumentError:
        return None  # a hand-edited ledger line must not stop the memo


def follow_up(entries: list[dict[str, Any]], kpis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What happened to the KPIs of earlier recommendations: value then vs now, and whether the change is real.

    Args:
        entries: ledger entries of one earlier week.
        kpis: this week's ``weekly_kpis`` rows.
    """
    by_metric = {row["metric"]: row for row in kpis}
    rows = []
    for entry in entries:
        key = entry.get("kpi_metric") or ""
        now = by_metric.get(key)
        then = entry.get("kpi_value_then")
        value_now = now.get("this_week") if now else None
        change = value_now - then if value_now is not None and then is not None else None
        if now is None or change is None:
            status = "not measurable this week"
        elif change == 0:
            status = "unchanged"
        else:
            direction = "up" if change > 0 else "down"
            status = f"{direction} ({'significant' if now.get('significant') else 'within noise'} vs last week)"
        rows.append(
            {
                "recommended_in": entry.get("week"),
                "action": entry.get("action"),
                "metric": entry.get("metric"),
                "kpi": now.get("label") if now else key,
                "kind": now.get("kind") if now else None,
                "value_then": then,
                "value_now": value_now,
                "change": change,
                "status": status,
            }
        )
    return rows
