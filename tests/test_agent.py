"""The LLM agent over the tool registry, driven by a scripted tool-calling fake chat model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fakes import ScriptedChatModel, answer, call, tool_turn
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field

from assistant.agent import JourneyAgent, TurnHooks, answer_samples, build_assistant, make_tools, system_prompt
from assistant.config import LLMSettings, Settings
from assistant.ledger import EgressLedger
from assistant.offline import OfflineAssistant
from assistant.providers import ProviderInfo
from tools.context import ToolContext
from tools.dataset import from_records
from tools.registry import ToolSpec, all_tools
from tools.result import ToolResult

CUSTOMERS = ["cust-7f3a-0001", "cust-7f3a-0002", "cust-7f3a-0003", "cust-7f3a-0004"]
FAKE = ProviderInfo("fake", "scripted", "http://fake.local/v1")


@pytest.fixture(scope="module")
def context() -> ToolContext:
    frame = pd.DataFrame(
        {
            "customer_id": [CUSTOMERS[i] for i in (0, 0, 0, 1, 1, 2, 3, 3)],
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 09:05",
                    "2024-01-02 10:00",
                    "2024-01-01 11:00",
                    "2024-01-03 12:00",
                    "2024-01-02 08:00",
                    "2024-01-04 08:00",
                    "2024-01-04 09:00",
                ]
            ),
            "event": ["touch", "visit", "purchase", "visit", "signup", "visit", "touch", "visit"],
            "channel": ["email", None, None, None, None, None, "social", None],
            "revenue": [None, None, 120.0, None, None, None, None, None],
        }
    )
    return ToolContext.for_dataset(from_records(frame))


class CountArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: str = Field(description="The event name to count.")


def _count(context: ToolContext, args: CountArgs) -> ToolResult:
    dataset = context.dataset()
    dataset.require_events([args.event], what="event")
    n = dataset.event_counts()[args.event]
    customers = int(
        dataset.events.filter(dataset.events.event == args.event).customer_id.nunique().to_pyarrow().as_py()
    )
    return ToolResult(
        tool="count_events", definition={"event": args.event}, result={"events": n, "customers": customers}
    )


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _boom(context: ToolContext, args: NoArgs) -> ToolResult:
    raise RuntimeError("division by zero somewhere deep")


SPECS = {
    "inspect": all_tools()["inspect"],
    "count_events": ToolSpec(
        "count_events", "Count events of one name and the customers who did it.", CountArgs, _count
    ),
    "boom": ToolSpec("boom", "A tool with a bug.", NoArgs, _boom),
}


def agent_for(
    context: ToolContext, script: list[Any], ledger: EgressLedger | None = None, **llm: Any
) -> tuple[JourneyAgent, ScriptedChatModel]:
    model = ScriptedChatModel(script=script)
    return JourneyAgent(context, model, FAKE, LLMSettings(**llm), ledger=ledger, specs=SPECS), model


def tool_texts(messages: list[BaseMessage]) -> list[str]:
    return [str(m.content) for m in messages if m.type == "tool"]


def test_a_multi_tool_turn_runs_every_tool_and_verifies_the_answer(context: ToolContext) -> None:
    agent, model = agent_for(
        context,
        [
            tool_turn(call("inspect", top=5), call("count_events", event="visit")),
            answer("There are 4 customers and 8 events; 4 customers visited (count_events)."),
        ],
    )
    turn = agent.ask("how many customers visited?")
    assert [c["name"] for c in turn.tool_calls] == ["inspect", "count_events"]
    assert turn.tool_calls[1]["arguments"] == {"event": "visit"}
    assert all(c["seconds"] >= 0 for c in turn.tool_calls)
    assert [r.tool for r in turn.results] == ["inspect", "count_events"]
    assert turn.numbers == {"verified": ["4", "8", "4"], "unverified": []}
    assert turn.answer.startswith("There are 4 customers") and turn.provider == "fake"
    # The model saw the compact JSON of both results.
    results = [json.loads(text) for text in tool_texts(model.sent[1])]
    assert {r["tool"] for r in results} == {"inspect", "count_events"}


def test_a_bad_argument_returns_the_error_text_and_the_model_corrects_itself(context: ToolContext) -> None:
    agent, model = agent_for(
        context,
        [
            tool_turn(call("count_events", event="vist")),
            tool_turn(call("count_events", evnt="visit")),
            tool_turn(call("count_events", event="visit")),
            answer("4 events are visits."),
        ],
    )
    turn = agent.ask("how many visits?")
    errors = tool_texts(model.sent[1])
    assert errors[0].startswith("error: ") and "vist" in errors[0] and "visit" in errors[0]
    schema_error = tool_texts(model.sent[2])[-1]
    assert schema_error.startswith("error: invalid arguments for count_events") and "event" in schema_error
    assert [bool(c.get("error")) for c in turn.tool_calls] == [True, True, False]
    assert [r.tool for r in turn.results] == ["count_events"]
    assert turn.numbers["unverified"] == []


def test_a_tool_exception_becomes_a_tool_error_message_and_is_traced(context: ToolContext) -> None:
    agent, model = agent_for(context, [tool_turn(call("boom")), answer("The tool failed; I cannot answer.")])
    turn = agent.ask("break something")
    message = tool_texts(model.sent[1])[0]
    assert message.startswith("error: the boom tool failed unexpectedly (RuntimeError")
    assert turn.tool_calls[0]["name"] == "boom" and "RuntimeError" in turn.tool_calls[0]["error"]
    assert turn.results == []


def test_the_tool_call_budget_is_enforced_per_question(context: ToolContext) -> None:
    script = [tool_turn(call("count_events", event="visit")) for _ in range(3)] + [answer("4 visits.")]
    agent, model = agent_for(context, script, max_tool_calls=2)
    turn = agent.ask("count visits again and again")
    assert len(turn.results) == 2
    assert "budget exhausted" in tool_texts(model.sent[3])[-1]
    assert turn.answer == "4 visits."
    # The next question gets a fresh budget.
    agent_next, _ = agent_for(context, [tool_turn(call("count_events", event="visit")), answer("4.")], max_tool_calls=2)
    assert len(agent_next.ask("count visits").results) == 1


def test_parallel_calls_are_traced_and_budgeted_in_the_order_the_model_asked(context: ToolContext) -> None:
    # Parallel tool calls finish in any order; the trace, the results and which calls a tight budget refuses
    # follow the model's request order on every run.
    events = ["visit", "touch", "signup", "purchase", "visit"]
    for _ in range(8):
        script = [tool_turn(*(call("count_events", event=e) for e in events)), answer("Done.")]
        agent, model = agent_for(context, script, max_tool_calls=3)
        turn = agent.ask("count everything")
        assert [c["arguments"]["event"] for c in turn.tool_calls] == events[:3]
        assert [r.definition["event"] for r in turn.results] == events[:3]
        refused = [text for text in tool_texts(model.sent[1]) if "budget exhausted" in text]
        assert len(refused) == 2


def test_a_model_that_never_stops_calling_tools_is_stopped(context: ToolContext) -> None:
    script = [tool_turn(call("count_events", event="visit")) for _ in range(20)]
    agent, model = agent_for(context, script, max_tool_calls=2)
    turn = agent.ask("loop forever")
    assert len(turn.results) == 2
    assert "budget" in turn.answer and any("budget" in note for note in turn.notes)
    assert len(model.sent) <= 2 + 2  # max_tool_calls + 2 model calls at most


def test_memory_across_turns_and_reset(context: ToolContext) -> None:
    agent, model = agent_for(
        context,
        [
            tool_turn(call("count_events", event="visit")),
            answer("4 visits."),
            answer("As I said, 4 visits."),
            answer("Hello again."),
        ],
    )
    agent.ask("how many visits?")
    agent.ask("repeat that")
    second = model.sent[2]
    assert [m.type for m in second] == ["system", "human", "ai", "tool", "ai", "human"]
    assert second[1].content == "how many visits?" and second[-1].content == "repeat that"
    agent.reset()
    agent.ask("hi")
    assert [m.type for m in model.sent[3]] == ["system", "human"]


def test_the_verifier_flags_an_invented_number(context: ToolContext) -> None:
    agent, _ = agent_for(
        context,
        [tool_turn(call("count_events", event="purchase")), answer("1 customer bought, a 37.5% conversion rate.")],
    )
    turn = agent.ask("what is the conversion rate?")
    assert turn.numbers["unverified"] == ["37.5%"]
    assert "⚠37.5%" in turn.answer
    assert any("⚠" in note and "37.5%" in note for note in turn.notes)


def test_no_customer_id_reaches_the_model_and_every_request_is_in_the_ledger(
    context: ToolContext, tmp_path: Path
) -> None:
    ledger = EgressLedger(tmp_path / "egress.jsonl")
    agent, model = agent_for(
        context,
        [tool_turn(call("inspect"), call("count_events", event="visit")), answer("4 customers visited.")],
        ledger=ledger,
    )
    agent.ask("who visited?")
    sent = json.dumps([[m.model_dump() for m in messages] for messages in model.sent], default=str)
    assert not any(customer in sent for customer in CUSTOMERS)
    entries = ledger.read()
    assert len(entries) == len(model.sent) == 2
    assert entries[0]["endpoint"] == FAKE.endpoint and entries[0]["model"] == FAKE.model
    assert entries[0]["tools"] == list(SPECS)
    assert [m["role"] for m in entries[1]["messages"]] == ["system", "user", "assistant", "tool", "tool"]
    assert entries[1]["messages"][0]["content"] == agent.system_prompt
    assert not any(customer in json.dumps(entries) for customer in CUSTOMERS)


def test_streamed_tokens_reach_the_hooks(context: ToolContext) -> None:
    agent, _ = agent_for(
        context, [tool_turn(call("count_events", event="visit")), answer("There were 4 visits in total.")]
    )
    tokens: list[str] = []
    started: list[str] = []
    turn = agent.ask("visits?", TurnHooks(on_token=tokens.append, on_tool_start=lambda name, _: started.append(name)))
    assert "".join(tokens) == "There were 4 visits in total." == turn.answer
    assert len(tokens) > 1 and started == ["count_events"]


def test_system_prompt_names_the_data_and_the_tools(context: ToolContext) -> None:
    prompt = system_prompt(context, SPECS, max_tool_calls=5)
    for name in ("`visit`", "`purchase`", "`signup`", "`email`", "`social`", "`count_events`", "`boom`"):
        assert name in prompt
    assert "at most 5 tool calls" in prompt and "credit, not causation" in prompt
    assert "Customers: 4; events: 8" in prompt
    empty = system_prompt(ToolContext(), SPECS, max_tool_calls=5)
    assert "No event data is loaded" in empty


def test_every_registered_tool_becomes_a_structured_tool() -> None:
    specs = all_tools()
    tools = make_tools(specs, lambda name, arguments: "{}")
    assert [t.name for t in tools] == list(specs)
    for tool, spec in zip(tools, specs.values(), strict=True):
        assert tool.description == spec.description
        assert tool.args_schema is spec.args
        assert all(f.description for f in spec.args.model_fields.values()), spec.name


def test_model_is_bound_to_the_registry_tools(context: ToolContext) -> None:
    agent, model = agent_for(context, [answer("ok")])
    agent.ask("hello")
    assert [t.name for t in model.bound_tools] == list(SPECS)


def test_build_assistant_is_offline_without_key_or_base_url(
    context: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assistant = build_assistant(context, Settings())
    assert isinstance(assistant, OfflineAssistant) and assistant.provider.is_offline
    injected = build_assistant(context, Settings(), model=ScriptedChatModel(script=[answer("ok")]), specs=SPECS)
    assert isinstance(injected, JourneyAgent) and injected.provider.name == "injected"


def test_answer_samples_answers_each_question_offline(context: ToolContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    turns = answer_samples(context, Settings(), ["what data do we have?", "what is the capital of France?"])
    assert [t.provider for t in turns] == ["offline", "offline"]
    assert turns[0].tool_calls[0]["name"] == "inspect" and "answered by tool `inspect`" in turns[0].answer
    assert turns[0].numbers["unverified"] == []
    assert turns[1].tool_calls == [] and "could not match" in turns[1].answer


def test_pasted_funnel_stats_go_straight_to_the_pasted_tool(context: ToolContext) -> None:
    specs = {**SPECS, **{n: s for n, s in all_tools().items() if "pasted" in n}}
    if len(specs) == len(SPECS):
        pytest.skip("the pasted-funnel tool is not registered yet")
    model = ScriptedChatModel(script=[answer("should not be asked")])
    agent = JourneyAgent(context, model, FAKE, LLMSettings(), specs=specs)
    turn = agent.ask("Visitors 10,000\nSignups 2,300\nTrials 900\nPaid 210")
    assert model.sent == []
    assert turn.tool_calls[0]["name"].startswith("analyze_pasted") and turn.results
    assert [m.type for m in agent.messages] == ["human", "ai"]
