"""Placeholder: filled by the issue that builds this tool."""

from __future__ import annotations

from tools.registry import ToolSpec

SPECS: list[ToolSpec] = []
