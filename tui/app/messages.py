"""Messages that cross screens. Messages specific to one widget are nested in that widget."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.message import Message


@dataclass
class ConfigWritten(Message):
    """A config file was written (the review screen, a preset, the editor)."""

    path: Path
    backup: Path | None


@dataclass
class LaunchWanted(Message):
    """Open the launch screen for this config file (the review screen, once it is written)."""

    path: Path


@dataclass
class AnswersChosen(Message):
    """A set of answers to open in the wizard/review (e.g. from a preset); `source` names it."""

    answers: dict[str, Any]
    source: str
    #: Recommended environment variables that come with it (e.g. NCCL_P2P_DISABLE=1).
    env: dict[str, str] | None = None
    #: Config keys no question sets (a preset's `overrides`), applied on top of the answers.
    overrides: dict[str, Any] = field(default_factory=dict)
