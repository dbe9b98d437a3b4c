"""Every template in prompts/ renders with a sample context, and a missing variable fails loudly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
import pytest
from jinja2 import meta, nodes

from assistant.prompts import PROMPTS_DIR, environment, render, template_names


def _pasted_analysis() -> Any:
    from tools.pasted import analyse_pasted_funnel

    return analyse_pasted_funnel("Visits 10,000 → Signups 1,200 (12%) → Paid 90\nACV: $12k")


def _pasted_funnel() -> dict[str, Any]:
    analysis = _pasted_analysis()
    data = {k: v for k, v in analysis.result.items() if k != "narrative"}
    return {"r": data, "definition": analysis.definition, "notes": analysis.notes}


def _pasted_funnel_llm() -> dict[str, Any]:
    return {"data_json": '{"result": {"final_count": 90}}', "question": "where do we lose people?", "unit": "x"}


# A sample context per template; a template without one is still compiled and checked for strictness.
SAMPLES: dict[str, Callable[[], dict[str, Any]]] = {
    "pasted_funnel.md.j2": _pasted_funnel,
    "pasted_funnel_llm.md.j2": _pasted_funnel_llm,
}


def test_prompts_folder_sits_next_to_assistant() -> None:
    assert PROMPTS_DIR.is_dir()
    assert set(SAMPLES) <= set(template_names())


def _strict_environment_for(source: str) -> jinja2.Environment:
    """The shared environment, plus pass-through stand-ins for filters and tests other modules register."""
    env = environment().overlay()
    tree = env.parse(source)
    for node in tree.find_all(nodes.Filter):
        env.filters.setdefault(node.name, lambda value, *args, **kwargs: value)
    for node in tree.find_all(nodes.Test):
        env.tests.setdefault(node.name, lambda value, *args, **kwargs: True)
    return env


@pytest.mark.parametrize("name", template_names())
def test_every_template_renders_or_fails_loudly(name: str) -> None:
    source = (PROMPTS_DIR / name).read_text(encoding="utf-8")
    env = _strict_environment_for(source)
    variables = meta.find_undeclared_variables(env.parse(source))
    if variables:
        with pytest.raises(jinja2.UndefinedError):
            env.from_string(source).render()  # StrictUndefined: nothing renders as an empty string
    if name in SAMPLES:
        text = render(name, **SAMPLES[name]())
        assert text.strip()
        assert "{{" not in text and "{%" not in text


def test_strict_undefined_names_the_missing_variable() -> None:
    context = _pasted_funnel()
    del context["notes"]
    with pytest.raises(jinja2.UndefinedError, match="notes"):
        render("pasted_funnel.md.j2", **context)


def test_markdown_is_not_html_escaped_and_filters_format_numbers() -> None:
    text = render("pasted_funnel_llm.md.j2", data_json='{"a": "<b> & 1"}', question="", unit="x")
    assert '{"a": "<b> & 1"}' in text
    template = environment().from_string("{{ 10000|num }} {{ 0.1875|pct }} {{ 22.53|signed }}")
    assert template.render() == "10,000 18.75% +22.5"


def test_pasted_narrative_is_complete_offline() -> None:
    text = render("pasted_funnel.md.j2", **_pasted_funnel())
    for heading in ["## 1. Biggest friction points", "## What the data itself says", "## 2. Underutilised",
                    "## 3. Segment-specific", "## 4. Predicted impact", "## 5. Quick wins", "## Prioritised actions",
                    "## How these numbers were computed"]:  # fmt: skip
        assert heading in text
    assert "(value " in text  # the pasted ACV turns customers into revenue
