"""Small helpers shared by the command modules: the config path, version note, printing."""

from __future__ import annotations

import sys
from pathlib import Path

from tui.core.accelerate_version import version_note
from tui.core.paths import default_config_path


def config_path(arg: str | None) -> Path:
    """--config-file if given, else the file accelerate reads by default."""
    return Path(arg).expanduser() if arg else default_config_path()


def warn(message: str) -> None:
    print(f"sftplay-tui: {message}", file=sys.stderr)


def note_version_once() -> None:
    note = version_note()
    if note:
        warn(note)
