"""Errors that the CLI turns into one line on stderr and an exit code (docs/design.md)."""


class ServelabError(Exception):
    """Base error: carries the exit code the CLI should use."""

    exit_code = 1


class RunFailed(ServelabError):
    """A check or run failed (exit 1)."""

    exit_code = 1


class BadInput(ServelabError):
    """A recipe, flag or file is wrong (exit 2)."""

    exit_code = 2


class EngineFailed(ServelabError):
    """The engine failed to start; the message is the diagnosis (exit 3)."""

    exit_code = 3

    def __init__(self, message: str, diagnosis=None):
        super().__init__(message)
        self.diagnosis = diagnosis
