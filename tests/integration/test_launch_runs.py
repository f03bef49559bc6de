"""Headless `sftplay-tui launch` of real `accelerate launch` runs with 2 CPU processes.

The fake trainer (tests/fixtures/fake_trainer.py) stands in for training/: it prints the same
SFTPLAY_METRIC lines and can crash a rank. `--accelerate-state` makes it build accelerate's
PartialState and all-reduce over gloo, proving the launcher's fix for MULTI_CPU configs: two
connected ranks (world size 2), not one process or two unconnected ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import sftplay
from tests.support.runs import FAKE_TRAINER, MULTI_CPU_2, write_config
from tui.core.runs import FAILED, SUCCEEDED, find_run

pytestmark = pytest.mark.slow


def test_launch_succeeds_with_two_connected_cpu_ranks(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    result = sftplay(
        [
            "launch",
            "--config-file",
            str(config),
            "--script",
            str(FAKE_TRAINER),
            "--",
            "--steps",
            "3",
            "--accelerate-state",
        ],
        cli_env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    states = [
        json.loads(line.split("ACCELERATE_STATE ", 1)[1]) for line in out.splitlines() if "ACCELERATE_STATE " in line
    ]
    assert sorted(s["rank"] for s in states) == [0, 1]
    for state in states:
        assert state["num_processes"] == 2 and state["distributed_type"] == "MULTI_CPU"
        assert state["all_reduce_sum"] == 3.0  # 1 + 2: the two ranks really talk to each other
    assert any(line.startswith("[rank0]:") for line in out.splitlines())
    assert any(line.startswith("[rank1]:") for line in out.splitlines())
    assert "--multi_gpu" in result.stderr and "ACCELERATE_USE_CPU=true" in result.stderr

    run = find_run("last")
    status = json.loads((run.path / "status.json").read_text())
    assert status["state"] == SUCCEEDED and status["exit_code"] == 0
    assert len(status["workers"]) >= 2 and {w["rank"] for w in status["workers"]} >= {0, 1}
    assert status["started_at"] <= status["ended_at"]
    kinds = [json.loads(line)["type"] for line in run.metrics_path.read_text().splitlines()]
    assert kinds == ["start", "log", "log", "log", "end"]
    assert (run.path / "config.yaml").read_text() == MULTI_CPU_2
    assert run.spec["env"] == {"PYTHONUNBUFFERED": "1", "ACCELERATE_USE_CPU": "true"}
    assert list((run.path / "ranks").rglob("stdout.log"))  # per-rank files from --tee/--log_dir

    listing = sftplay(["runs"], cli_env, tmp_path, timeout=60)
    assert run.id in listing.stdout and "succeeded" in listing.stdout and "2.1870" in listing.stdout  # 3.0 * 0.9**3


def test_launch_exits_with_the_runs_code_when_a_rank_crashes(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    result = sftplay(
        [
            "launch",
            "--config-file",
            str(config),
            "--script",
            str(FAKE_TRAINER),
            "--",
            "--steps",
            "20",
            "--sleep",
            "0.1",
            "--crash-rank",
            "1",
            "--crash-step",
            "2",
        ],
        cli_env,
        tmp_path,
    )
    run = find_run("last")
    assert run.state == FAILED
    assert result.returncode == run.exit_code != 0
    failure = run.status.failure
    assert failure is not None
    assert failure.rank == 1 and failure.rank_exit_code == 1
    assert failure.exception == "RuntimeError: fake failure on rank 1 at step 2"
    assert any("in main" in line for line in failure.traceback)
    assert "rank 1 exited with code 1: RuntimeError: fake failure on rank 1 at step 2" in result.stderr


def test_launch_without_any_config_exits_2_and_says_what_to_do(tmp_path: Path, cli_env: dict[str, str]) -> None:
    result = sftplay(["launch", "--script", str(FAKE_TRAINER)], cli_env, tmp_path, timeout=60)
    assert result.returncode == 2
    assert "wizard" in result.stderr and "--preset" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--script", "nope.py"], "no such training script"),
        (["-m", "not a module"], "not a Python module name"),
        (["--script", str(FAKE_TRAINER), "--grace", "-1"], "--grace"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, cli_env: dict[str, str], args: list[str], message: str
) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    result = sftplay(["launch", "--config-file", str(config), *args], cli_env, tmp_path, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_config_errors_block_the_launch(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = write_config(tmp_path, "distributed_type: MULTI_CPU\nnum_procesess: 2\n")
    result = sftplay(
        ["launch", "--config-file", str(config), "--script", str(FAKE_TRAINER)], cli_env, tmp_path, timeout=60
    )
    assert result.returncode == 2 and "num_procesess" in result.stderr
