"""Errors that the CLI turns into one line on stderr and an exit code (docs/design.md).

An error about one setting names its field (``gpu_util``), never a command-line flag; only the
CLI shows the field as its flag (``--gpu-util``). ``mentions`` are other fields the reason refers
to as ``{field}``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def field_name(field: str) -> str:
    """How a library caller sees a field: its own name."""
    return field


class ServelabError(Exception):
    """Base error: carries the exit code the CLI should use and, optionally, the field."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: object = None,
        mentions: Sequence[str] = (),
    ):
        super().__init__(message)
        self.reason = message
        self.field = field
        self.value = value
        self.mentions = tuple(mentions)

    def text(self, label: Callable[[str], str] = field_name) -> str:
        """The one-line message, each field shown as ``label(field)``."""
        reason = self.reason
        for name in self.mentions:
            reason = reason.replace("{" + name + "}", label(name))
        if self.field is None:
            return reason
        shown = label(self.field) + ("" if self.value is None else f" {self.value}")
        return f"{shown}: {reason}"

    def __str__(self) -> str:
        return self.text()


class RunFailed(ServelabError):
    """A check or run failed (exit 1)."""

    exit_code = 1


class BadInput(ServelabError):
    """A recipe, setting or file is wrong (exit 2)."""

    exit_code = 2


class EngineFailed(ServelabError):
    """The engine failed to start; the message is the diagnosis (exit 3)."""

    exit_code = 3

    def __init__(self, message: str, diagnosis=None):
        super().__init__(message)
        self.diagnosis = diagnosis


class Interrupted(ServelabError):
    """Ctrl-C (SIGINT): the conventional exit status 128 + 2, whatever was interrupted."""

    exit_code = 130
