"""Run folders and the supervisor, with a stand-in launcher (no accelerate: fast).

The supervisor is the real one (`python -m tui.core.supervisor`, detached); only the command it
runs is a small Python program, so these tests check status.json, metrics.jsonl, the failure
summary, dead-run detection and stopping in about a second each.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.runs import FIXTURES, SINGLE_CPU, still_running, wait_for, wait_log, write_config
from tui.core.errors import UsageError
from tui.core.launch import LaunchPlan, LaunchRequest
from tui.core.process import ProcessRecord
from tui.core.runs import (
    FAILED,
    LOST,
    RUNNING,
    STOPPED,
    SUCCEEDED,
    FileTail,
    RunStatus,
    effective_state,
    find_run,
    list_runs,
    load_run,
    start_run,
    stop_run,
    wait_final,
)

FAKE_LAUNCHER = FIXTURES / "fake_launcher.py"


def make_plan(tmp_path: Path, argv: list[str], run_id: str = "20260101-000000-test") -> LaunchPlan:
    config = write_config(tmp_path / "cfg", SINGLE_CPU)
    request = LaunchRequest(config_file=config, script=Path("t.py"), cwd=tmp_path)
    from tui.core.paths import runs_dir

    return LaunchPlan(
        request=request,
        argv=tuple(argv),
        env={"PYTHONUNBUFFERED": "1", "SFT_TEST": "yes"},
        run_dir=runs_dir() / run_id,
        config={"distributed_type": "NO"},
        num_processes=1,
    )


PROGRAM = """
import os, sys
print("env", os.environ.get("SFT_TEST"), flush=True)
print('SFTPLAY_METRIC {"type": "log", "step": 1, "max_steps": 2, "loss": 2.5}', flush=True)
print("[rank0]:almost", flush=True)
print('[rank0]:SFTPLAY_METRIC {"type": "log", "step": 2, "max_steps": 2, "loss": 2.0}', flush=True)
code = int(sys.argv[1])
if code == 1:
    raise ValueError("broken on purpose")
sys.exit(code)
"""


def test_a_finished_run_has_its_files_status_and_metrics(tmp_path: Path) -> None:
    run = start_run(make_plan(tmp_path, [sys.executable, "-c", PROGRAM, "0"]))
    run = wait_final(run)
    assert run.state == SUCCEEDED and run.exit_code == 0
    files = {p.name for p in run.path.iterdir()}
    assert {"run.json", "status.json", "output.log", "metrics.jsonl", "config.yaml", "command.sh"} <= files
    log = run.log_path.read_text()
    assert "env yes" in log  # the environment overrides reached the launcher
    records = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    status = json.loads((run.path / "status.json").read_text())
    assert status["state"] == "succeeded" and status["exit_code"] == 0
    assert status["launcher"]["pid"] > 0 and status["ended_at"] >= status["started_at"]
    assert run.last_loss() == 2.0
    assert run.spec["env"] == {"PYTHONUNBUFFERED": "1", "SFT_TEST": "yes"}
    assert (run.path / "config.yaml").read_text() == SINGLE_CPU


def test_a_failed_run_records_exit_code_and_traceback(tmp_path: Path) -> None:
    run = wait_final(start_run(make_plan(tmp_path, [sys.executable, "-c", PROGRAM, "1"])))
    assert run.state == FAILED and run.exit_code == 1
    failure = run.status.failure
    assert failure is not None and failure.exception == "ValueError: broken on purpose"


def test_a_launcher_that_cannot_start_fails_with_127(tmp_path: Path) -> None:
    run = wait_final(start_run(make_plan(tmp_path, [str(tmp_path / "no-such-launcher")])))
    assert run.state == FAILED and run.exit_code == 127
    assert "cannot start" in run.log_path.read_text()


def test_status_is_written_when_nobody_watches(tmp_path: Path) -> None:
    """The supervisor, not the caller, records the end: nothing here polls until it is over."""
    plan = make_plan(tmp_path, [sys.executable, "-c", "import time; time.sleep(0.5)"])
    run = start_run(plan)
    supervisor = run.status.supervisor
    assert supervisor is not None
    wait_for(
        lambda: not psutil.pid_exists(supervisor.pid) or psutil.Process(supervisor.pid).status() == "zombie",
        30,
        "the supervisor to exit",
    )
    status = json.loads((run.path / "status.json").read_text())
    assert status["state"] == "succeeded" and status["exit_code"] == 0


def test_stop_stops_launcher_and_workers_in_their_own_sessions(tmp_path: Path) -> None:
    run = start_run(make_plan(tmp_path, [sys.executable, str(FAKE_LAUNCHER), "--work", "60"]))
    wait_for(lambda: len(load_run(run.path).status.workers) >= 2, 30, "2 workers recorded")
    run = load_run(run.path)
    records = [run.status.launcher, *run.status.workers]
    assert all(w.pgid == w.pid for w in run.status.workers)  # each in its own session, as under torch elastic
    report = stop_run(run, grace_s=10.0)
    assert report.all_gone and not report.forced
    assert still_running(r for r in records if r is not None) == []
    final = wait_final(run)
    assert final.state == STOPPED
    assert json.loads((run.path / "stop.json").read_text())["report"]["all_gone"] is True


def test_workers_ignoring_signals_are_killed_after_the_grace_period(tmp_path: Path) -> None:
    run = start_run(make_plan(tmp_path, [sys.executable, str(FAKE_LAUNCHER), "--work", "60", "--ignore"]))
    wait_for(lambda: len(load_run(run.path).status.workers) >= 2, 30, "2 workers recorded")
    # The workers print "up" once their handlers are installed; a signal before that would just end them.
    wait_log(run, "worker 0 pid")
    wait_log(run, "worker 1 pid")
    run = load_run(run.path)
    records = [r for r in (run.status.launcher, *run.status.workers) if r is not None]
    report = stop_run(run, grace_s=0.5)
    assert report.all_gone
    worker_pids = {w.pid for w in run.status.workers}
    assert worker_pids <= set(report.forced)
    # Workers were SIGKILLed before the launcher.
    kills = [pid for _, sig, pid in report.signals if sig == "SIGKILL"]
    assert kills[-1] == run.status.launcher.pid and set(kills[:-1]) == worker_pids  # type: ignore[union-attr]
    assert still_running(records) == []
    assert wait_final(run).state == STOPPED


def test_workers_left_behind_by_the_launcher_are_stopped_by_the_supervisor(tmp_path: Path) -> None:
    run = start_run(make_plan(tmp_path, [sys.executable, str(FAKE_LAUNCHER), "--work", "60", "--orphan"]))
    final = wait_final(run, timeout_s=30)
    assert final.state == SUCCEEDED
    assert len(final.status.workers) == 2
    assert final.status.note and "left 2 worker(s) behind" in final.status.note
    assert still_running(final.status.workers) == []


def test_a_run_whose_supervisor_and_launcher_died_is_lost(tmp_path: Path) -> None:
    run = start_run(make_plan(tmp_path, [sys.executable, "-c", "import time; time.sleep(60)"]))
    status = run.status
    assert status.supervisor is not None and status.launcher is not None
    os.kill(status.supervisor.pid, signal.SIGKILL)
    wait_for(
        lambda: (
            not psutil.pid_exists(status.supervisor.pid)  # type: ignore[union-attr]
            or psutil.Process(status.supervisor.pid).status() == "zombie"
        ),
        10,
        "supervisor gone",
    )  # type: ignore[union-attr]
    assert load_run(run.path).state == RUNNING  # the training itself still runs
    os.killpg(status.launcher.pgid or status.launcher.pid, signal.SIGKILL)
    wait_for(lambda: load_run(run.path).state == LOST, 10, "the run to be reported lost")
    assert json.loads((run.path / "status.json").read_text())["state"] == "running"  # what the file claims


def test_effective_state_trusts_final_states_and_checks_live_ones() -> None:
    gone = ProcessRecord(pid=2**22 - 1, create_time=1.0)
    assert effective_state(RunStatus(state=SUCCEEDED)) == SUCCEEDED
    assert effective_state(RunStatus(state=RUNNING, supervisor=gone, launcher=gone)) == LOST
    me = psutil.Process()
    alive = ProcessRecord(pid=me.pid, create_time=me.create_time())
    assert effective_state(RunStatus(state=RUNNING, supervisor=alive)) == RUNNING
    assert effective_state(RunStatus(state="starting", created_at=time.time())) == "starting"
    assert effective_state(RunStatus(state="starting", created_at=time.time() - 3600)) == LOST


def test_listing_and_finding_runs(tmp_path: Path) -> None:
    for run_id in ("20260101-000001-alpha", "20260101-000002-beta", "20260101-000003-beta"):
        wait_final(start_run(make_plan(tmp_path, [sys.executable, "-c", "pass"], run_id)))
    runs = list_runs()
    assert [r.id for r in runs][:1] == ["20260101-000003-beta"]  # newest first
    assert find_run("alpha").id == "20260101-000001-alpha"
    assert find_run("last").id == runs[0].id
    assert find_run(str(runs[1].path)).id == runs[1].id
    with pytest.raises(UsageError, match="matches 2 runs"):
        find_run("beta")
    with pytest.raises(UsageError, match="no run matches"):
        find_run("gamma")
    (runs[0].path.parent / "not-a-run").mkdir()
    assert len(list_runs()) == 3


def test_no_runs_yet_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match="no runs yet"):
        find_run("last")


def test_a_folder_without_run_json_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a run folder"):
        load_run(tmp_path)


def test_file_tail_reads_appends_and_restarts_after_truncation(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"one\n")
    tail = FileTail(path)
    assert tail.read() == b"one\n" and tail.read() == b""
    with path.open("ab") as handle:
        handle.write(b"two\n")
    assert tail.read() == b"two\n"
    path.write_bytes(b"x\n")
    assert tail.read() == b"x\n"
    tail.close()
    big = tmp_path / "big"
    big.write_bytes(b"".join(b"line %d\n" % i for i in range(1000)))
    tail = FileTail(big)
    tail.start_at_tail(100)
    data = tail.read()
    assert data.startswith(b"line ") and data.endswith(b"line 999\n") and len(data) <= 100
    tail.close()


def test_stop_checks_gpu_memory_with_the_probe_lister(tmp_path: Path) -> None:
    """On GPU machines the stop asks the probe which pids hold GPU memory, until ours are gone."""
    from tui.core.process import stop_processes

    run = start_run(make_plan(tmp_path, [sys.executable, str(FAKE_LAUNCHER), "--work", "60"]))
    wait_for(lambda: len(load_run(run.path).status.workers) >= 2, 30, "2 workers recorded")
    run = load_run(run.path)
    worker = run.status.workers[0].pid
    calls: list[int] = []

    def lister() -> set[int]:
        calls.append(1)  # the driver still lists the dead worker once, then frees its memory
        return {worker, 1} if len(calls) == 1 else {1}

    report = stop_processes(run.status.launcher, run.status.workers, grace_s=10.0, gpu_pids=lister)
    assert report.all_gone and report.gpu_checked and report.gpu_holders == [] and len(calls) >= 2
    assert "no GPU memory held by them" in report.summary


def test_a_stop_reports_gpu_memory_that_stays_held() -> None:
    from tui.core.process import stop_processes

    me = psutil.Process()
    gone = ProcessRecord(pid=2**22 - 3, create_time=1.0)
    report = stop_processes(gone, [], gpu_pids=lambda: {gone.pid, me.pid}, gpu_release_wait_s=0.2)
    assert report.gpu_checked and report.gpu_holders == [gone.pid]
    assert f"GPU memory still held by pids {gone.pid}" in report.summary
