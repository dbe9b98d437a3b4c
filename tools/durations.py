"""Human durations ("7d", "12h", "90m", "2w", "45s") used by windows, lookbacks and half-lives."""

from __future__ import annotations

import re
from datetime import timedelta

from tools.errors import ArgumentError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str | timedelta, name: str = "duration") -> timedelta:
    """Parse ``"7d"``-style text into a timedelta.

    Args:
        text: a number followed by one unit: s, m, h, d or w (``"30d"``, ``"12h"``); a timedelta passes through.
        name: the option's name, used in the error message.

    Raises:
        ArgumentError: the text is not a positive duration.
    """
    if isinstance(text, timedelta):
        value = text
    else:
        match = _PATTERN.match(str(text))
        if not match:
            raise ArgumentError(
                f"{name} {text!r} is not a duration; write a number and a unit, e.g. '7d', '12h', '30m', '2w'"
            )
        value = timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value <= timedelta(0):
        raise ArgumentError(f"{name} must be positive, got {text!r}")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest exact ``"7d"``-style spelling of a duration."""
    seconds = int(value.total_seconds())
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
