"""The error a hardware source raises when it cannot answer; the probe chain catches it."""

from __future__ import annotations


class ProbeError(Exception):
    """A source failed. `permanent`: it will fail again in this process (library or binary
    missing, driver not loaded, timed out), so the chain stops asking it."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        return self.message
