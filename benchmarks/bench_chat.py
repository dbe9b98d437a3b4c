"""Overhead of one chat turn outside the LLM: tool execution, compaction, the agent loop, verification, rendering.

Usage: .venv/bin/python benchmarks/bench_chat.py --customers 1000000 [--rounds 3]

A scripted fake chat model stands in for the LLM (it answers instantly): it asks for ``funnel`` and
``attribution`` (markov) in one step, then writes an answer quoting numbers from both results. So the turn
time is everything the application does around an LLM: running the tools on the engine, compacting their
results for the model, the LangChain agent loop, number verification, and Rich rendering.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from typing import Any

from _common import ROOT, Timer, bench_data

sys.path.insert(0, str(ROOT / "tests"))


def quoting_answer(messages: list[Any]) -> Any:
    """The fake model's final answer: quote headline numbers of each tool result (as an LLM would)."""
    from langchain_core.messages import AIMessage

    parts = []
    for message in messages:
        if message.type != "tool" or str(message.content).startswith("error"):
            continue
        payload = json.loads(message.content)
        scalars = [(k, v) for k, v in payload["result"].items() if isinstance(v, (int, float))][:6]
        parts += [
            f"{k.replace('_', ' ')} is {v * 100:.1f}%" if isinstance(v, float) and abs(v) < 1 else f"{k} {v:,}"
            for k, v in scalars
        ]
        for table in [v for v in payload["result"].values() if isinstance(v, list)][:1]:
            for row in table[:3]:
                numbers = [(k, v) for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
                parts += [f"{k} {v:,}" for k, v in numbers[:2]]
    return AIMessage(content="Here is what the tools say: " + "; ".join(parts) + ".")


def main() -> None:
    """Time a few turns and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    out = bench_data(options.customers)

    from fakes import ScriptedChatModel, call, tool_turn
    from rich.console import Console

    from assistant.agent import JourneyAgent
    from assistant.chat import print_turn
    from assistant.config import LLMSettings
    from assistant.providers import ProviderInfo
    from assistant.verify import verify_answer
    from tools.context import ToolContext
    from tools.dataset import load_events

    timer = Timer(f"chat turn overhead outside the LLM, {options.customers:,} customers")
    dataset = timer.run("load events.parquet", lambda: load_events(out / "events.parquet"))
    context = ToolContext.for_dataset(dataset)
    model = ScriptedChatModel()
    agent = timer.run(
        "build agent (system prompt from the data)",
        lambda: JourneyAgent(context, model, ProviderInfo("fake", "scripted", "local"), LLMSettings()),
    )
    question = "Where do we lose people, and which channels get credit for purchases?"
    rows = []
    for round_ in range(options.rounds):
        agent.reset()
        model.script = [tool_turn(call("funnel"), call("attribution", model="markov")), quoting_answer]
        started = time.perf_counter()
        with timer.step(f"turn {round_ + 1}: agent.ask (tools + loop + verify)"):
            turn = agent.ask(question)
        total = time.perf_counter() - started
        tools = sum(c["seconds"] for c in turn.tool_calls)
        verify_started = time.perf_counter()
        check = verify_answer(turn.answer, turn.results, question)
        verify = time.perf_counter() - verify_started
        render_started = time.perf_counter()
        print_turn(Console(file=io.StringIO(), width=100), turn)
        render = time.perf_counter() - render_started
        rows.append((total, tools, verify, render, len(check.verified), len(check.unverified)))
    timer.report()
    print(
        f"\n{'round':<6} {'turn s':>8} {'tools s':>8} {'overhead s':>11} {'verify ms':>10} {'render ms':>10} "
        f"{'numbers ok/flagged':>19}"
    )
    for i, (total, tools, verify, render, ok, flagged) in enumerate(rows, start=1):
        print(
            f"{i:<6} {total:>8.2f} {tools:>8.2f} {total - tools:>11.3f} {verify * 1000:>10.1f} "
            f"{render * 1000:>10.1f} {f'{ok}/{flagged}':>19}"
        )
    print(f"flagged in the last answer: {turn.numbers['unverified']}")
    print(
        f"tool calls per turn: {', '.join(c['name'] for c in turn.tool_calls)}; "
        "overhead = turn - tool execution (agent loop, compaction, verification)"
    )


if __name__ == "__main__":
    main()
