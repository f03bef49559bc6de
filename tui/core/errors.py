"""Errors the core raises for a front end to show as one clear line.

`UsageError` is bad input from the user (a missing or malformed file, an unknown key, an
impossible combination): the CLI prints its message and exits with status 2, never a traceback.
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad input: the message names the file, key or question and says how to fix it."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigRejected(UsageError):
    """A combination that accelerate itself rejects while asking its questions."""
