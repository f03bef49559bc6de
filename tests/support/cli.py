"""Running the real `sftplay-tui` command line in a subprocess (`python -m tui ARGS`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def sftplay(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """`sftplay-tui ARGS` with `env` (usually the `cli_env` fixture); output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )
