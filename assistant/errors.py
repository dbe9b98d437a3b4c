"""Errors of the application layer. The whole tree (drawn in ``tools.errors``)::

    JourneyError
    ├── DataError        input data cannot be used
    ├── ArgumentError    a tool argument is invalid (text goes back to the model)
    ├── ConfigError      config.toml / environment / flags
    ├── ProviderError    the LLM endpoint: auth, unreachable, timeout, rate limit after retries
    └── StoreError       the feedback store

The CLI catches ``JourneyError`` once and prints one line; nothing else is caught on purpose.
"""

from __future__ import annotations

from tools.errors import ArgumentError, ConfigError, DataError, JourneyError, StoreError


class ProviderError(JourneyError):
    """The LLM endpoint could not be used; the message names the setting to fix."""

    exit_code = 3


__all__ = ["ArgumentError", "ConfigError", "DataError", "JourneyError", "ProviderError", "StoreError"]
