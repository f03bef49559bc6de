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


def wait_final_status(run: Run, timeout_s: float = 60.0) -> Run:
    wait_for(lambda: not load_run(run.path).active, timeout_s, "the run to end")
    return load_run(run.path)


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


async def until(pilot: object, predicate: Callable[[], bool], timeout_s: float = 60.0, what: str = "condition") -> None:
    """Let the app run until `predicate()` holds (Pilot tests); the timeout only bounds a hang."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def make_finished_run(
    root: Path, run_id: str = "20260102-030405-sft_train", *, failed: bool = True, lines: int = 40
) -> Path:
    """A deterministic finished run folder (for snapshots and widget tests): no process involved."""
    import json

    from tui.core.metrics import analyse_failure

    path = root / run_id
    (path / "ranks").mkdir(parents=True)
    log: list[str] = ["W0102 03:04:06.000000 100 torch/distributed/run.py:852] Setting OMP_NUM_THREADS=1"]
    metrics: list[dict[str, object]] = [
        {
            "type": "start",
            "world_size": 2,
            "distributed_type": "MULTI_CPU",
            "model": "tiny-llama",
            "num_parameters": 202000,
            "trainable_parameters": 202000,
            "config": {"max_steps": 20},
        }
    ]
    loss = 4.0
    for step in range(1, lines // 4 + 1):
        loss *= 0.93
        for rank in (0, 1):
            log.append(f"[rank{rank}]:step {step} rank {rank} batch ok")
        record = {
            "type": "log",
            "step": step,
            "max_steps": 20,
            "epoch": step / 20,
            "loss": round(loss, 4),
            "learning_rate": round(2e-4 * (1 - step / 21), 8),
            "grad_norm": 1.5,
            "tokens_per_second": 5120.0,
            "samples_per_second": 40.0,
            "peak_memory_mib": 812.0,
            "elapsed_s": step * 0.5,
            "eta_s": (20 - step) * 0.5,
        }
        metrics.append(record)
        log.append("[rank0]:SFTPLAY_METRIC " + json.dumps(record))
        if step == 2:
            log.append("[rank1]:UserWarning: torch.utils.checkpoint: the use_reentrant parameter should be passed")
    if failed:
        log += [
            "[rank1]:Traceback (most recent call last):",
            '[rank1]:  File "training/sft_train.py", line 88, in <module>',
            "[rank1]:    main()",
            '[rank1]:  File "training/sft_train.py", line 80, in main',
            "[rank1]:    trainer.train()",
            "[rank1]:RuntimeError: CUDA out of memory (simulated)",
            "E0102 03:04:20.000000 100 api.py:1002] failed (exitcode: 1) local_rank: 1 (pid: 4242) of binary: python",
            "Root Cause (first observed failure):",
            "[0]:",
            "  rank      : 1 (local_rank: 1)",
            "  exitcode  : 1 (pid: 4242)",
            "============================================================",
        ]
    else:
        metrics.append(
            {"type": "end", "status": "completed", "output_dir": "outputs/run", "final_loss": round(loss, 4)}
        )
    (path / "output.log").write_text("\n".join(log) + "\n")
    (path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    (path / "config.yaml").write_text(MULTI_CPU_2)
    display = (
        "PYTHONUNBUFFERED=1 ACCELERATE_USE_CPU=true accelerate launch --config_file configs/cpu2.yaml "
        "--multi_gpu --tee 3 --role rank --log_dir runs/ranks training/sft_train.py --max_steps 20"
    )
    spec = {
        "argv": display.split()[2:],
        "display": display,
        "env": {"PYTHONUNBUFFERED": "1"},
        "cwd": "/project",
        "config_file": "configs/cpu2.yaml",
        "target": "training/sft_train.py",
        "num_processes": 2,
        "created_at": 1767322800.0,
    }
    (path / "run.json").write_text(json.dumps(spec))
    exit_code = 1 if failed else 0
    failure = analyse_failure(log, exit_code).to_json() if failed else None
    status = {
        "state": "failed" if failed else "succeeded",
        "created_at": 1767322800.0,
        "started_at": 1767322800.5,
        "ended_at": 1767322817.5,
        "exit_code": exit_code,
        "supervisor": None,
        "launcher": None,
        "workers": [],
        "failure": failure,
        "leftovers": [],
        "stop_requested": False,
        "note": None,
    }
    (path / "status.json").write_text(json.dumps(status))
    return path
