"""Helpers for tests that launch real runs: configs, the fake trainer, waiting, pid checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

from tui.core.process import ProcessRecord
from tui.core.runs import Run, load_run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FAKE_TRAINER = FIXTURES / "fake_trainer.py"

MULTI_CPU_2 = """\
compute_environment: LOCAL_MACHINE
debug: false
distributed_type: MULTI_CPU
downcast_bf16: 'no'
machine_rank: 0
main_training_function: main
mixed_precision: 'no'
num_machines: 1
num_processes: 2
rdzv_backend: static
same_network: true
use_cpu: true
"""

SINGLE_CPU = """\
compute_environment: LOCAL_MACHINE
debug: false
distributed_type: 'NO'
downcast_bf16: 'no'
machine_rank: 0
main_training_function: main
mixed_precision: 'no'
num_machines: 1
num_processes: 1
rdzv_backend: static
same_network: true
use_cpu: true
"""


def write_config(folder: Path, text: str = MULTI_CPU_2, name: str = "cpu2.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def wait_for(predicate: Callable[[], bool], timeout_s: float = 60.0, what: str = "condition") -> None:
    """Poll until `predicate()`; the timeout only bounds a hang, it is not what the test checks."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def wait_workers(run: Run, count: int, timeout_s: float = 60.0) -> Run:
    wait_for(lambda: len(load_run(run.path).status.workers) >= count, timeout_s, f"{count} workers recorded")
    return load_run(run.path)


def wait_log(run: Run, text: str, timeout_s: float = 60.0) -> None:
    wait_for(lambda: text in run.log_path.read_text(errors="replace"), timeout_s, f"{text!r} in the log")


def all_pids(run: Run) -> list[ProcessRecord]:
    status = load_run(run.path).status
    return [r for r in (status.launcher, *status.workers) if r is not None]


def still_running(records: Iterable[ProcessRecord]) -> list[int]:
    """Pids of `records` that still exist as live processes.

    A zombie (exited, its exit status not yet collected by its parent or init) holds no memory and
    runs no code, so it counts as gone; a pid reused by another process (different creation
    time) counts as gone too.
    """
    left = []
    for record in records:
        try:
            proc = psutil.Process(record.pid)
            if abs(proc.create_time() - record.create_time) > 0.05:
                continue
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:
            continue
        left.append(record.pid)
    return left
