"""Docs and help cannot drift: every command has help text and appears in the README."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from assistant.cli import app

ROOT = Path(__file__).resolve().parent.parent


def _commands() -> dict[str, Any]:
    group = typer.main.get_command(app)
    found: dict[str, Any] = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            for sub_name, sub in command.commands.items():
                found[f"{name} {sub_name}"] = sub
        found[name] = command
    return found


def test_every_command_has_help() -> None:
    for name, command in _commands().items():
        assert (command.help or "").strip(), f"`journey {name}` has no help text"
        result = CliRunner().invoke(app, [*name.split(), "--help"], catch_exceptions=False)
        assert result.exit_code == 0, name


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in _commands():
        assert f"journey {name}" in readme, f"`journey {name}` is missing from README.md"


def test_readme_quick_start_is_the_two_make_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\$ (.+)$", quick, flags=re.MULTILINE)
    assert commands == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_config_sections_in_option_help_survive_rich_markup() -> None:
    """An unescaped "[journey]" is eaten as Rich markup: help read "(default: stages)"; escape it as "\\[journey]"."""
    sections = "journey|attribution|data|data.columns|llm|feedback|memo|engine|privacy"
    for name, command in _commands().items():
        for param in command.params:
            text = getattr(param, "help", None) or ""
            bare = re.search(rf"(?<!\\)\[({sections})\]", text)
            assert bare is None, f"`journey {name} {param.opts[0]}` help has an unescaped {bare.group(0)!r}"
