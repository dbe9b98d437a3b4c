"""``journey chat``: the interactive loop. Slash commands are pure functions; the loop only reads and renders.

Reading input: one line is one message, except when the first line ends with ``:`` or looks like a row of
funnel stats (a short label followed by a count or rate, e.g. ``Visitors 10,000``) — then lines are read
until an empty line, so a pasted block of stage counts arrives as one message (and goes to the pasted-funnel
tool). Ctrl-C cancels the current turn (or the current input), not the session; Ctrl-D or ``/quit`` ends it.
Input history is kept in ``.journey/chat_history`` when the terminal supports readline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from tools.errors import JourneyError
from tools.registry import ToolSpec

if TYPE_CHECKING:
    from rich.console import Console

    from assistant.agent import Assistant, ToolCallRecord, TurnResult

PROMPT = "you> "
CONTINUATION = "...> "
HISTORY_FILE = Path(".journey/chat_history")
SLASH_HELP = {
    "/help": "this help",
    "/tools": "the analysis tools the assistant can use",
    "/data": "what is in the loaded data (events, channels, date range)",
    "/reset": "forget the conversation so far",
    "/save FILE": "save the conversation as Markdown",
    "/quit": "leave (Ctrl-D works too)",
}
_STATS_ROW = re.compile(r"^\s*[A-Za-z][\w ./&()'+-]{0,40}?[\s:=\t|,>-]+(\d[\d,.]*\d|\d)\s*%?\s*(\([^)]*\))?\s*$")


@dataclass(frozen=True)
class SlashOutcome:
    """What a slash command asks the loop to do: print text, reset, save, or quit."""

    text: str = ""
    reset: bool = False
    save_to: Path | None = None
    quit: bool = False


def help_text() -> str:
    """The ``/help`` text (Markdown)."""
    lines = [f"- `{command}` — {what}" for command, what in SLASH_HELP.items()]
    return (
        "Ask about your customer journeys in plain words. Paste funnel stats (one stage per line, end with an "
        "empty line) to analyse them.\n\n" + "\n".join(lines)
    )


def tools_text(specs: Mapping[str, ToolSpec]) -> str:
    """The ``/tools`` text: each tool, what it does, one example question."""
    if not specs:
        return "No analysis tools are registered."
    lines = []
    for spec in specs.values():
        example = f' — e.g. "{spec.examples[0]}"' if spec.examples else ""
        lines.append(f"- **{spec.name}**: {spec.description.split('. ')[0].rstrip('.')}{example}")
    return "\n".join(lines)


def data_text(profile: Mapping[str, Any]) -> str:
    """The ``/data`` text from ``assistant.agent.data_profile``."""
    if not profile.get("loaded"):
        return f"No event data is loaded: {profile.get('reason', 'unknown reason')}"
    events = ", ".join(f"`{name}` ({count})" for name, count in profile["event_names"])
    channels = ", ".join(f"`{name}` ({count})" for name, count in profile["channels"]) or "none"
    more = f", and {profile['more_events']} more" if profile.get("more_events") else ""
    lines = [
        f"- **customers**: {profile['customers']}; **events**: {profile['events']}",
        f"- **period**: {profile['first']} to {profile['last']} (UTC)",
        f"- **events**: {events}{more}",
        f"- **channels**: {channels}",
    ]
    if profile.get("properties"):
        lines.append("- **other columns**: " + ", ".join(f"`{p}`" for p in profile["properties"]))
    return "\n".join(lines)


def handle_slash(line: str, specs: Mapping[str, ToolSpec], profile: Callable[[], Mapping[str, Any]]) -> SlashOutcome:
    """Interpret one slash command (pure: returns what to do; the loop does it).

    Args:
        line: the input line, starting with ``/``.
        specs: the registered tools (for ``/tools``).
        profile: returns the data profile (for ``/data``); called only by ``/data``.
    """
    command, _, rest = line.strip().partition(" ")
    command = command.lower()
    if command in ("/quit", "/exit", "/q"):
        return SlashOutcome(quit=True)
    if command in ("/help", "/?"):
        return SlashOutcome(text=help_text())
    if command == "/tools":
        return SlashOutcome(text=tools_text(specs))
    if command == "/data":
        return SlashOutcome(text=data_text(profile()))
    if command == "/reset":
        return SlashOutcome(text="Conversation forgotten.", reset=True)
    if command == "/save":
        if not rest.strip():
            return SlashOutcome(text="Usage: `/save FILE` (e.g. `/save chat.md`).")
        return SlashOutcome(save_to=Path(rest.strip()).expanduser())
    return SlashOutcome(text=f"Unknown command `{command}`; type `/help`.")


def starts_block(first_line: str) -> bool:
    """Whether more lines follow (until an empty line): a line ending in ``:`` or a funnel-stats row."""
    text = first_line.rstrip()
    return bool(text) and (text.endswith(":") or (_STATS_ROW.match(text) is not None and "?" not in text))


def read_message(read_line: Callable[[str], str]) -> str | None:
    """Read one message (multi-line for pasted blocks, see ``starts_block``); ``None`` at end of input."""
    try:
        first = read_line(PROMPT)
    except EOFError:
        return None
    if not starts_block(first):
        return first
    lines = [first]
    while True:
        try:
            line = read_line(CONTINUATION)
        except EOFError:
            break
        if not line.strip():
            break
        lines.append(line)
    return "\n".join(lines)


def transcript_markdown(turns: Sequence[tuple[str, TurnResult]]) -> str:
    """The conversation as Markdown: each question, answer, tool calls and notes."""
    parts = ["# Journey Insights chat\n"]
    for question, turn in turns:
        quoted = "\n".join("> " + line for line in question.splitlines())
        parts.append(f"## Question\n\n{quoted}\n\n## Answer ({turn.provider})\n\n{turn.answer.strip()}\n")
        if turn.tool_calls:
            calls = [
                f"- `{c['name']}` {format_arguments(c['arguments'])} ({c['seconds']:.2f}s)" for c in turn.tool_calls
            ]
            parts.append("**Tool calls**\n\n" + "\n".join(calls) + "\n")
        if turn.notes:
            parts.append("**Notes**\n\n" + "\n".join(f"- {n}" for n in turn.notes) + "\n")
    return "\n".join(parts)


def format_arguments(arguments: Mapping[str, Any], width: int = 60) -> str:
    """Key arguments on one line: ``steps=visit>signup window=7d``."""
    parts = []
    for key, value in arguments.items():
        if isinstance(value, list):
            value = ">".join(map(str, value))
        text = str(value).replace("\n", " ")
        parts.append(f"{key}={text[:width] + '…' if len(text) > width else text}")
    return " ".join(parts)


class TurnDisplay:
    """Live rendering of one turn: tool calls as they happen and, on a terminal, streamed text."""

    def __init__(self, console: Console, stream: bool) -> None:
        self.console = console
        self.stream = stream and console.is_terminal
        self.text = ""
        self.live: Any = None

    def on_tool_start(self, name: str, arguments: dict[str, Any]) -> None:
        """Show a starting tool call."""
        self.console.print(f"[dim]  → {name} {format_arguments(arguments)}[/dim]", highlight=False)

    def on_tool_end(self, record: ToolCallRecord) -> None:
        """Show a finished (or failed) tool call with its duration."""
        if record.error:
            self.console.print(f"[yellow]  ✗ {record.name}: {escape(record.error[:160])}[/yellow]", highlight=False)
        else:
            self.console.print(f"[dim]  ✓ {record.name} {record.seconds:.2f}s[/dim]", highlight=False)

    def on_token(self, token: str) -> None:
        """Show streamed text (Markdown re-rendered live)."""
        from rich.live import Live
        from rich.markdown import Markdown

        self.text += token
        if self.live is None:
            self.live = Live(Markdown(self.text), console=self.console, transient=True, refresh_per_second=12)
            self.live.start()
        else:
            self.live.update(Markdown(self.text))

    def close(self) -> None:
        """Stop the live area (the final, verified answer is printed instead)."""
        if self.live is not None:
            self.live.stop()
            self.live = None

    def hooks(self) -> Any:
        """The agent hooks for this display."""
        from assistant.agent import TurnHooks

        return TurnHooks(
            on_token=self.on_token if self.stream else None,
            on_tool_start=self.on_tool_start,
            on_tool_end=self.on_tool_end,
        )


def print_turn(console: Console, turn: TurnResult) -> None:
    """The answer as Markdown, then one dim line of provenance and the notes."""
    from rich.markdown import Markdown

    console.print(Markdown(turn.answer))
    verified, unverified = len(turn.numbers["verified"]), len(turn.numbers["unverified"])
    source = "offline router" if turn.provider == "offline" else f"{turn.provider} {turn.model}".strip()
    console.print(
        f"[dim]{source} · {len(turn.tool_calls)} tool call(s) · numbers verified {verified}/{verified + unverified}"
        "[/dim]",
        highlight=False,
    )
    for note in turn.notes:
        if "offline mode" not in note:
            console.print(f"[yellow]• {escape(note)}[/yellow]", highlight=False)


def run_turn(assistant: Assistant, text: str, console: Console) -> TurnResult:
    """Ask one question with a live display and print the answer."""
    display = TurnDisplay(console, stream=not assistant.provider.is_offline)
    try:
        turn = assistant.ask(text, display.hooks())
    finally:
        display.close()
    print_turn(console, turn)
    return turn


def line_reader(history: Path = HISTORY_FILE) -> Callable[[str], str]:
    """``input`` with readline history on a terminal (plain ``input`` otherwise, e.g. piped stdin)."""
    import sys

    if sys.stdin.isatty():
        try:
            import atexit
            import readline

            history.parent.mkdir(parents=True, exist_ok=True)
            if history.is_file():
                readline.read_history_file(str(history))
            readline.set_history_length(1000)
            atexit.register(readline.write_history_file, str(history))
        except (ImportError, OSError):
            pass  # no readline on this platform: plain input still works
    return input


def run_chat(
    assistant: Assistant,
    console: Console,
    profile: Callable[[], Mapping[str, Any]],
    read_line: Callable[[str], str] | None = None,
) -> list[tuple[str, TurnResult]]:
    """The REPL: read, answer, render, until ``/quit`` or end of input. Returns the conversation."""
    read = read_line or line_reader()
    turns: list[tuple[str, TurnResult]] = []
    mode = "offline mode (no LLM)" if assistant.provider.is_offline else assistant.provider.label()
    console.print(
        f"[bold]Journey Insights chat[/bold] — {mode}, {len(assistant.specs)} tools. Type /help.",
        highlight=False,
    )
    while True:
        try:
            message = read_message(read)
        except KeyboardInterrupt:
            console.print("\n[dim](input cancelled; /quit to leave)[/dim]")
            continue
        if message is None:
            break
        text = message.strip()
        if not text:
            continue
        if text.startswith("/") and "\n" not in text:
            outcome = handle_slash(text, assistant.specs, profile)
            if outcome.quit:
                break
            if outcome.reset:
                assistant.reset()
            if outcome.save_to is not None:
                outcome.save_to.parent.mkdir(parents=True, exist_ok=True)
                outcome.save_to.write_text(transcript_markdown(turns), encoding="utf-8")
                console.print(f"saved {len(turns)} turn(s) to {outcome.save_to}", highlight=False)
            if outcome.text:
                from rich.markdown import Markdown

                console.print(Markdown(outcome.text))
            continue
        try:
            turns.append((text, run_turn(assistant, text, console)))
        except KeyboardInterrupt:
            console.print("[yellow]turn cancelled[/yellow]")
        except JourneyError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        except Exception as exc:  # noqa: BLE001 — the one outer REPL boundary: a failed turn must not end the session
            console.print(f"[red]error ({type(exc).__name__}):[/red] {escape(str(exc))}", highlight=False)
    return turns
