"""The application: how a person talks to the deterministic tools (CLI, agent, memo)."""

__version__ = "0.1.0"
