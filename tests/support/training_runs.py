"""Helpers for the training tests: one embedded model per session, real `accelerate launch` runs.

`embedded_cache` builds the embedded tiny model once per test session into a shared folder; every
run then gets XDG_CACHE_HOME pointing there, so the script finds the model (and the datasets
cache) instead of rebuilding it in each test's isolated home.

Import the fixture into a test module with
`from tests.support.training_runs import embedded_cache_fixture  # noqa: F401`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from training.metrics_protocol import parse_line
from tui.core.launch import free_port

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CONFIGS = FIXTURES / "accelerate"
SCRIPT = ROOT / "training" / "sft_train.py"
SHIM = FIXTURES / "sft_shim.py"


@pytest.fixture(scope="session", name="embedded_cache")
def embedded_cache_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.embedded import ensure_embedded_model

    cache = tmp_path_factory.mktemp("xdg-cache")
    ensure_embedded_model(cache)  # lands in cache/sftplay-tui/, where XDG_CACHE_HOME=cache finds it
    return cache


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    records: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["type"] == kind]

    @property
    def start(self) -> dict[str, Any]:
        (record,) = self.of_type("start")
        return record

    @property
    def end(self) -> dict[str, Any]:
        (record,) = self.of_type("end")
        return record

    @property
    def logs(self) -> list[dict[str, Any]]:
        return self.of_type("log")

    def explain(self) -> str:
        head = f"exit {self.returncode} after {self.seconds:.1f}s"
        return f"{head}\n--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-6000:]}"


def run_env(cache: Path, cpu_ranks: bool = True, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        XDG_CACHE_HOME=str(cache),
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        TRANSFORMERS_NO_ADVISORY_WARNINGS="1",
    )
    if cpu_ranks:
        env["ACCELERATE_USE_CPU"] = "true"  # without it a MULTI_GPU config on CPU runs unconnected ranks
    env.update(extra)
    return env


def launch_cmd(config: str, script: Path, args: Sequence[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(CONFIGS / config),
        "--main_process_port",
        str(free_port()),
        str(script),
        *args,
    ]


def launch(
    config: str,
    args: Sequence[str],
    env: dict[str, str],
    script: Path = SCRIPT,
    timeout: float = 240,
) -> Run:
    """`accelerate launch` in its own session; on timeout the whole group is killed and the test fails."""
    started = time.monotonic()
    proc = subprocess.Popen(
        launch_cmd(config, script, args),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        pytest.fail(f"run did not finish within {timeout}s (hang?)\n{out[-3000:]}\n{err[-3000:]}")
    run = Run(proc.returncode, out, err, time.monotonic() - started)
    run.records = [r for r in map(parse_line, out.splitlines()) if r is not None]
    return run


def kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def pids_with(marker: str) -> list[int]:
    """Processes whose command line contains `marker` (a unique output dir), for leftover checks."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(int(entry.name))
    return found


def leftovers(marker: str, grace: float = 5.0) -> list[int]:
    """Processes of a finished run still alive after a short grace period (exit is not instant)."""
    deadline = time.monotonic() + grace
    while (found := pids_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found
