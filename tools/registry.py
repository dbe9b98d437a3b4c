"""The catalogue of tools exposed to the agent: name, description, pydantic arguments, runner.

Each analysis module declares ``SPECS: list[ToolSpec]`` next to its functions; this module collects them
(lazily, so importing ``tools`` stays cheap) and is the single place where arguments are validated before a
tool runs. The LLM wrapping (LangChain) happens once, in ``assistant.agent``, from these specs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from tools.context import ToolContext
from tools.errors import ArgumentError
from tools.result import ToolResult

# Modules that declare SPECS; a new tool joins the agent by being listed here.
TOOL_MODULES: tuple[str, ...] = (
    "tools.describe",
    "tools.funnels",
    "tools.paths",
    "tools.patterns",
    "tools.attribution",
    "tools.impact",
    "tools.segments",
    "tools.anomalies",
    "tools.feedback",
    "tools.pasted",
    "tools.kpis",
)


@dataclass(frozen=True)
class ToolSpec:
    """One tool as the agent sees it.

    Attributes:
        name: snake_case tool name (also the ``tool`` field of its result).
        description: what it answers, when to use it and what it returns; the model reads this.
        args: a pydantic model; every field has a ``description`` (a test asserts it).
        run: ``run(context, validated_args) -> ToolResult``.
        needs: which input must be loaded: event data, the feedback store, or nothing.
        examples: marketer questions this tool answers (used by the offline router and its evaluation).
    """

    name: str
    description: str
    args: type[BaseModel]
    run: Callable[[ToolContext, Any], ToolResult]
    needs: Literal["events", "feedback", "none"] = "events"
    examples: tuple[str, ...] = field(default_factory=tuple)


def all_tools() -> dict[str, ToolSpec]:
    """Every registered tool by name, in catalogue order."""
    specs: dict[str, ToolSpec] = {}
    for module_name in TOOL_MODULES:
        module = importlib.import_module(module_name)
        for spec in getattr(module, "SPECS", []):
            if spec.name in specs:
                raise RuntimeError(f"tool {spec.name!r} is registered twice")
            specs[spec.name] = spec
    return specs


def get_tool(name: str) -> ToolSpec:
    """A tool by name; an unknown name raises ``ArgumentError`` listing the tools."""
    tools = all_tools()
    if name not in tools:
        raise ArgumentError(f"unknown tool {name!r}; tools are: {', '.join(tools)}")
    return tools[name]


def validate_arguments(spec: ToolSpec, arguments: dict[str, Any]) -> BaseModel:
    """Validate raw arguments; errors become one ``ArgumentError`` the model can act on."""
    try:
        return spec.args.model_validate(arguments)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "arguments"
            problems.append(f"{where}: {error['msg']}")
        allowed = ", ".join(spec.args.model_fields)
        raise ArgumentError(f"invalid arguments for {spec.name}: {'; '.join(problems)} (arguments: {allowed})") from exc


def invoke(name: str, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
    """Validate and run one tool."""
    spec = get_tool(name)
    return spec.run(context, validate_arguments(spec, arguments))
