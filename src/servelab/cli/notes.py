"""Progress notes on stderr: a live loading line on a terminal, plain lines otherwise."""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape

from servelab.loadwatch import LoadingLine

PLAIN_EVERY_S = 10.0


class Notes:
    """Call with a note. A LoadingLine replaces the previous one on a terminal; elsewhere it is
    printed at most every PLAIN_EVERY_S seconds. Other notes are printed as dim lines."""

    def __init__(self, console: Console):
        self.console = console
        self._live = False
        self._last_plain = 0.0

    def __call__(self, text: str) -> None:
        if isinstance(text, LoadingLine):
            self._loading(text)
            return
        self._clear()
        self.console.print(f"[dim]{escape(str(text))}[/]", highlight=False)

    def _loading(self, text: str) -> None:
        if self.console.is_terminal:
            width = max(self.console.width - 1, 20)
            self.console.file.write("\r\x1b[2K" + text[:width])
            self.console.file.flush()
            self._live = True
            return
        now = time.monotonic()
        if now - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = now
            self.console.print(str(text), markup=False, highlight=False, soft_wrap=True)

    def _clear(self) -> None:
        if self._live:
            self.console.file.write("\r\x1b[2K")
            self.console.file.flush()
            self._live = False

    def done(self) -> None:
        """Remove a live line (call before printing the result)."""
        self._clear()
