"""Runs outlive whoever started them: detach, let the run end unwatched, then reattach."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import sftplay
from tests.support.runs import FAKE_TRAINER, MULTI_CPU_2, still_running, wait_for, write_config
from tui.core.runs import SUCCEEDED, find_run, load_run

pytestmark = pytest.mark.slow


def test_status_is_right_when_the_run_ended_while_nobody_watched(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    started = sftplay(
        ["launch", "--detach", "--config-file", str(config), "--script", str(FAKE_TRAINER), "--", "--steps", "4"],
        cli_env,
        tmp_path,
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    assert "logs " + run_id in started.stderr
    # The CLI has exited: nothing of ours watches the run now except its supervisor.
    supervisor = find_run(run_id).status.supervisor
    assert supervisor is not None
    wait_for(lambda: not still_running([supervisor]), 120, "the run (and its supervisor) to end")
    status = json.loads((find_run(run_id).path / "status.json").read_text())
    assert status["state"] == SUCCEEDED and status["exit_code"] == 0 and status["ended_at"]

    logs = sftplay(["logs", run_id], cli_env, tmp_path, timeout=60)
    assert logs.returncode == 0
    assert "[rank1]:rank 1 finished" in logs.stdout and "[rank0]:rank 0 finished" in logs.stdout
    only_rank1 = sftplay(["logs", run_id, "--rank", "1"], cli_env, tmp_path, timeout=60).stdout.splitlines()
    assert only_rank1 and all(line.startswith("[rank1]:") for line in only_rank1)


def test_logs_follow_reattaches_to_a_live_run(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    started = sftplay(
        [
            "launch",
            "--detach",
            "--config-file",
            str(config),
            "--script",
            str(FAKE_TRAINER),
            "--",
            "--steps",
            "15",
            "--sleep",
            "0.2",
        ],
        cli_env,
        tmp_path,
    )
    run_id = started.stdout.strip()
    assert load_run(find_run(run_id).path).active
    followed = sftplay(["logs", run_id, "--follow"], cli_env, tmp_path)
    assert followed.returncode == 0
    lines = followed.stdout.splitlines()
    assert "[rank0]:rank 0 step 15 done" in lines and "[rank1]:rank 1 finished" in lines
    assert not load_run(find_run(run_id).path).active  # --follow returned because the run ended
    assert followed.stdout == find_run(run_id).log_path.read_text()  # every line, once, in order
