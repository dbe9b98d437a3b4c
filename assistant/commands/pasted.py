"""Placeholder: filled by the issue that builds these commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
