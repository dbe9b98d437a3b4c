"""The shared loader of the Jinja2 templates in ``prompts/`` (system prompt, memo, recommendations, pasted
funnel).

Templates fail loudly: a variable the caller did not pass raises ``jinja2.UndefinedError``
(``StrictUndefined``) instead of rendering an empty string. Markdown and text templates are not
HTML-escaped; ``.html`` ones are.
Filters ``num`` and ``pct`` format numbers exactly like the tools' arithmetic strings, so prose and arithmetic
agree digit for digit.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tools.pasted_math import fmt_num, fmt_pct, fmt_signed

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The one Jinja2 environment over ``prompts/`` (cached)."""
    env = Environment(
        loader=FileSystemLoader(PROMPTS_DIR),
        undefined=StrictUndefined,
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml"), default_for_string=False, default=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=fmt_num, pct=fmt_pct, signed=fmt_signed)
    return env


def template_names() -> list[str]:
    """Every template file in ``prompts/`` (relative names, sorted)."""
    return sorted(p.relative_to(PROMPTS_DIR).as_posix() for p in PROMPTS_DIR.rglob("*.j2"))


def render(name: str, **context: Any) -> str:
    """Render ``prompts/<name>`` with ``context``.

    Args:
        name: the template file name, e.g. ``"pasted_funnel.md.j2"``.
        **context: the template's variables; every variable it uses must be given.

    Raises:
        jinja2.TemplateNotFound: no such template.
        jinja2.UndefinedError: the template used a variable that was not given.
    """
    return environment().get_template(name).render(**context)
