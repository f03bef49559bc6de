"""Time from process start to a text appearing on a terminal, measured in a real tmux pane."""

from __future__ import annotations

import atexit
import os
import shlex
import statistics
import subprocess
import time
import uuid

_KEEPALIVE = f"bench-keepalive-{os.getpid()}"
_started = False


def _keep_server() -> None:
    """One idle session for the whole benchmark: otherwise killing the last measured session stops
    the tmux server while the next one starts ("server exited unexpectedly")."""
    global _started
    if not _started:
        subprocess.run(["tmux", "new-session", "-d", "-s", _KEEPALIVE, "sleep 3600"], check=True)
        atexit.register(lambda: subprocess.run(["tmux", "kill-session", "-t", _KEEPALIVE], capture_output=True))
        _started = True


def time_to_text(command: list[str], needle: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> float:
    """Start `command` in a fresh 120x40 tmux session; seconds until `needle` is on screen."""
    _keep_server()
    session = f"bench-{uuid.uuid4().hex[:8]}"
    full_env = {**os.environ, **(env or {})}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    shell = f"{exports} exec {shlex.join(command)}" if exports else f"exec {shlex.join(command)}"
    start = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", shell], check=True, env=full_env
    )
    try:
        while time.perf_counter() - start < timeout:
            pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
            if needle in pane:
                return time.perf_counter() - start
            time.sleep(0.005)
        raise TimeoutError(f"{needle!r} did not appear within {timeout}s for {command}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def median_time(
    command: list[str], needle: str, runs: int, env: dict[str, str] | None = None
) -> tuple[float, list[float]]:
    samples = [time_to_text(command, needle, env) for _ in range(runs)]
    return statistics.median(samples), samples
