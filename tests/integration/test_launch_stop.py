"""Stopping real `accelerate launch` runs (2 CPU ranks): every pid of the run must be gone.

torch elastic starts each worker in its own session, so this is where a naive stop (signal the
launcher's group, or SIGKILL the launcher) leaves orphans behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runs import (
    FAKE_TRAINER,
    MULTI_CPU_2,
    all_pids,
    still_running,
    wait_final_status,
    wait_for,
    wait_log,
    wait_workers,
    write_config,
)
from tui.core.launch import LaunchRequest, plan_launch
from tui.core.runs import STOPPED, find_run, load_run, start_run, stop_run

pytestmark = pytest.mark.slow


def start(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    config = write_config(tmp_path, MULTI_CPU_2)
    request = LaunchRequest(config_file=config, script=FAKE_TRAINER, args=args, cwd=tmp_path)
    return start_run(plan_launch(request))


def test_stop_leaves_no_process_of_the_run(tmp_path: Path) -> None:
    run = start(tmp_path, "--steps", "100000", "--sleep", "0.1")
    run = wait_workers(run, 2)
    wait_log(run, "[rank1]:rank 1 step 1 done")
    records = all_pids(run)
    assert len(records) == 3  # the launcher and two workers (each in its own session)
    report = stop_run(run, grace_s=15.0)
    assert report.all_gone, report.steps
    assert still_running(records) == []
    final = wait_final_status(run)
    assert final.state == STOPPED
    supervisor = final.status.supervisor
    assert supervisor is not None
    # It exits right after writing the final status.
    wait_for(lambda: still_running([supervisor]) == [], 10, "the supervisor to exit")


def test_stop_kills_a_worker_that_ignores_sigterm(tmp_path: Path) -> None:
    run = start(tmp_path, "--steps", "100000", "--sleep", "0.1", "--ignore-sigterm")
    run = wait_workers(run, 2)
    wait_log(run, "[rank0]:rank 0 step 1 done")
    wait_log(run, "[rank1]:rank 1 step 1 done")
    records = all_pids(run)
    report = stop_run(run, grace_s=1.0)
    assert report.all_gone, report.steps
    workers = {r.pid for r in records[1:]}
    assert workers <= set(report.forced)
    kills = [pid for _, sig, pid in report.signals if sig == "SIGKILL"]
    assert set(kills[: len(workers)]) == workers  # workers first, never the launcher first
    assert still_running(records) == []
    assert wait_final_status(run).state == STOPPED


def test_ctrl_c_in_headless_launch_stops_the_run(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    # The logs go to a file: an unread pipe would fill up and block the CLI's writes.
    stdout = (tmp_path / "stdout.txt").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui",
            "launch",
            "--config-file",
            str(config),
            "--script",
            str(FAKE_TRAINER),
            "--grace",
            "15",
            "--",
            "--steps",
            "100000",
            "--sleep",
            "0.1",
        ],
        cwd=tmp_path,
        env=cli_env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # status.json is written last: the folder exists a moment before the run is listed.
        runs = Path(cli_env["XDG_STATE_HOME"]) / "sftplay-tui" / "runs"
        wait_for(lambda: bool(list(runs.glob("*/status.json"))), 60, "the run folder")
        run = wait_workers(find_run("last"), 2)
        wait_log(run, "[rank1]:rank 1 step 1 done")
        records = all_pids(run)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        stdout.close()
    assert proc.returncode == 130, err[-2000:]
    assert re.search(r"all \d+ processes of the run are gone", err), err[-2000:]
    assert still_running(records) == []
    assert load_run(run.path).state == STOPPED
