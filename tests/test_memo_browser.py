"""The HTML memo in a real headless browser (Chromium): no console errors, no sideways scrolling on a phone.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped with that hint when it is missing.
``UPDATE_MEMO_SCREENSHOT=1`` also renders the full demo memo and saves ``docs/memo-screenshot.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assistant.memo import build_memo
from assistant.memo_render import to_html
from assistant.reco_ledger import RecommendationLedger
from tools.context import ToolContext
from tools.feedback_store import FeedbackSource

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
DESKTOP, PHONE = (1280, 2200), (390, 2400)
PROBE = (
    '<script>window.addEventListener("load",()=>console.log("overflow:"+'
    "(document.documentElement.scrollWidth-window.innerWidth)))</script>"
)


def _render(page: Path, screenshot: Path, size: tuple[int, int], profile: Path) -> list[str]:
    """Load ``page`` headless, save a screenshot, and return the browser's console messages."""
    assert BROWSER is not None
    command = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        f"--screenshot={screenshot}",
        f"--window-size={size[0]},{size[1]}",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def memo_html(demo_dir: Path, demo_dataset: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    if BROWSER is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium): the browser check cannot run")
    tmp = tmp_path_factory.mktemp("browser")
    context = ToolContext.for_dataset(demo_dataset)
    context.feedback = FeedbackSource(store=tmp / "chroma", path=demo_dir / "feedback.csv", embedding="hashing")
    full = bool(os.environ.get("UPDATE_MEMO_SCREENSHOT"))
    only = None if full else {"kpis", "funnel", "friction", "anomalies", "attribution", "feedback", "quality"}
    memo = build_memo(context, None, ledger=RecommendationLedger(tmp / "recs.jsonl"), only=only)
    return to_html(memo)


def test_console_check_catches_errors(tmp_path: Path) -> None:
    if BROWSER is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium): the browser check cannot run")
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('boom'); missing();</script></body></html>")
    messages = _render(page, tmp_path / "broken.png", (400, 300), tmp_path / "profile")
    assert any("boom" in m for m in messages) and any("Uncaught" in m for m in messages)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["laptop", "phone"])
def test_memo_renders_without_console_errors(memo_html: str, size: tuple[int, int], tmp_path: Path) -> None:
    page = tmp_path / "memo.html"
    page.write_text(memo_html, encoding="utf-8")
    screenshot = tmp_path / "memo.png"
    assert _render(page, screenshot, size, tmp_path / "profile") == []
    assert screenshot.stat().st_size > 20_000  # a real page, not a blank one
    probe = tmp_path / "probe.html"
    probe.write_text(memo_html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    (line,) = _render(probe, tmp_path / "probe.png", size, tmp_path / "profile")
    overflow = int(re.search(r"overflow:(-?\d+)", line).group(1))  # type: ignore[union-attr]
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {size[0]}px wide"
    if os.environ.get("UPDATE_MEMO_SCREENSHOT") and size == DESKTOP:
        docs = ROOT / "docs"
        docs.mkdir(exist_ok=True)
        _render(page, docs / "memo-screenshot.png", (1200, 1800), tmp_path / "profile")
