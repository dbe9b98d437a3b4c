"""Offline router evaluation: accuracy of tool choice and argument reading on tests/data/router_questions.yaml.

Run: ``.venv/bin/python benchmarks/eval_router.py [--planned]``. Prints the accuracy over all questions (a
question whose expected tool is not registered yet counts as a miss), over the questions whose tool is
registered, and every miss. ``--planned`` adds stand-in specs for tools not registered yet (as the tests do).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QUESTIONS = ROOT / "tests" / "data" / "router_questions.yaml"
DEMO_VOCABULARY: dict[str, Any] = {
    "events": (
        "visit",
        "product_view",
        "signup",
        "pricing",
        "demo",
        "purchase",
        "page_view",
        "login",
        "support_ticket",
        "touch",
    ),
    "channels": ("organic_search", "paid_search", "social", "referral", "email", "retargeting"),
    "stages": ("visit", "product_view", "signup", "pricing", "demo", "purchase"),
    "columns": ("channel", "campaign", "device", "country"),
}


def load_cases(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    """The evaluation questions: ``{q, expect: [tools...], values: [...]}``."""
    import yaml

    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    for case in cases:
        expect = case["expect"]
        case["expect"] = [expect] if isinstance(expect, str) else list(expect)
        case["values"] = [_norm(v) for v in case.get("values", [])]
    return cases


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).lower()


def demo_vocabulary() -> Any:
    """The demo world's vocabulary (no data needs loading)."""
    from datetime import date

    from assistant.routing import Vocabulary

    return Vocabulary(**DEMO_VOCABULARY, first_day=date(2024, 1, 1), last_day=date(2024, 2, 18))


def values_found(expected: list[Any], arguments: dict[str, Any]) -> list[Any]:
    """The expected values that are missing from the routed arguments."""
    present = [_norm(v) for v in arguments.values()]
    flat = {p for p in present if not isinstance(p, list)} | {x for p in present if isinstance(p, list) for x in p}
    missing = []
    for value in expected:
        if isinstance(value, list):
            if value not in present:
                missing.append(value)
        elif value not in flat:
            missing.append(value)
    return missing


def evaluate(specs: dict[str, Any], cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Route every case; count tool hits and argument hits over all and over registered tools."""
    from assistant.offline import Router

    router = Router(specs, demo_vocabulary())
    rows = []
    for case in cases:
        target = next((t for t in case["expect"] if t in specs), None)
        route = router.route(case["q"])
        got = route.tool if route else None
        missing = values_found(case["values"], route.arguments) if route and got == target else case["values"]
        rows.append(
            {
                "q": case["q"],
                "target": target,
                "expect": case["expect"][0],
                "got": got,
                "arguments": route.arguments if route else {},
                "missing": missing,
            }
        )
    registered = [r for r in rows if r["target"]]
    return {
        "rows": rows,
        "all": sum(r["got"] == (r["target"] or r["expect"]) for r in rows) / len(rows),
        "registered": sum(r["got"] == r["target"] for r in registered) / max(len(registered), 1),
        "registered_n": len(registered),
        "arguments": sum(not r["missing"] for r in registered if r["got"] == r["target"])
        / max(sum(r["got"] == r["target"] for r in registered), 1),
    }


def main() -> None:
    """Print the accuracy table and the misses."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--planned", action="store_true", help="add stand-ins for tools not registered yet")
    options = parser.parse_args()
    from tools.registry import all_tools

    specs = dict(all_tools())
    if options.planned:
        sys.path.insert(0, str(ROOT / "tests"))
        from test_offline_router import planned_specs

        specs = {**planned_specs(), **specs}
    cases = load_cases()
    started = time.perf_counter()
    report = evaluate(specs, cases)
    seconds = time.perf_counter() - started
    print(f"registered tools: {', '.join(specs)}")
    print(f"questions: {len(cases)}; with a registered tool: {report['registered_n']}")
    print(f"tool accuracy over all questions:        {report['all']:.3f}")
    print(f"tool accuracy over registered tools:     {report['registered']:.3f}")
    print(f"argument accuracy (correctly routed):    {report['arguments']:.3f}")
    print(f"time: {seconds * 1000:.0f} ms ({seconds / len(cases) * 1000:.1f} ms per question, incl. fitting)")
    for row in report["rows"]:
        if row["got"] != (row["target"] or row["expect"]) or row["missing"]:
            question = row["q"].replace("\n", " / ")
            print(
                f"  MISS {question!r}: expected {row['target'] or row['expect']}, got {row['got']} "
                f"{row['arguments']} missing={row['missing']}"
            )


if __name__ == "__main__":
    main()
