"""The exception tree shared by the tools and the assistant.

::

    JourneyError                  base: one clear line for the person, naming the fix
    ├── DataError                 input data cannot be used (missing column, empty input, bad file)
    ├── ArgumentError             a tool argument is invalid (unknown step, bad window); the message
    │                             lists valid values so an LLM can correct itself and retry
    ├── ConfigError               config.toml / environment / flags are inconsistent   (assistant.errors)
    ├── ProviderError             the LLM endpoint failed: auth, unreachable, timeout   (assistant.errors)
    └── StoreError                the feedback store (Chroma) cannot be used             (tools.feedback)

The CLI turns any ``JourneyError`` into one stderr line and a non-zero exit code; the agent turns an
``ArgumentError`` raised inside a tool into text the model sees.
"""

from __future__ import annotations


class JourneyError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code: int = 1


class DataError(JourneyError):
    """The input data cannot be used as given."""

    exit_code = 2


class ArgumentError(JourneyError):
    """A tool argument is invalid; the message lists the valid values."""

    exit_code = 2


class ConfigError(JourneyError):
    """Configuration (file, environment or flags) is invalid."""

    exit_code = 2


class StoreError(JourneyError):
    """The feedback store cannot be opened or written."""

    exit_code = 1
