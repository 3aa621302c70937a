"""What an engine is doing while it loads: elapsed time, its phase, its last log line."""

from __future__ import annotations

from pathlib import Path

NOTE_EVERY_S = 2.0


class LoadingLine(str):
    """A progress note that replaces the previous one (a live line on a terminal)."""


def last_line(text: str, width: int = 100) -> str:
    """The last non-empty line (its last carriage-return segment: progress bars), shortened."""
    for line in reversed(text.splitlines()):
        segment = line.rsplit("\r", 1)[-1].strip() or line.strip()
        if segment:
            return segment if len(segment) <= width else segment[: width - 1] + "…"
    return ""


def loading_line(log: Path, engine, elapsed: float) -> LoadingLine:
    """'loading 12 s · loading weights · <last log line>', from the engine's log so far."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        text = ""
    phase = engine.load_phase(text) or "starting"
    return LoadingLine(f"loading {elapsed:.0f} s · {phase} · {last_line(text)}")
