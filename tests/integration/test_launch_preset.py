"""`sftplay-tui launch --preset`: the preset's config, environment and training defaults reach the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import sftplay
from tests.support.training_runs import embedded_cache_fixture, run_env  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def test_launch_preset_cpu_uses_its_training_defaults_and_lets_args_override(
    tmp_path: Path, embedded_cache: Path, isolated_home: Path
) -> None:
    env = {
        **run_env(embedded_cache, cpu_ranks=False),
        "HOME": str(isolated_home),
        "XDG_STATE_HOME": str(isolated_home / "state"),
        "XDG_CONFIG_HOME": str(isolated_home / "config"),
    }
    args = [
        "--output_dir",
        str(tmp_path / "out"),
        "--max_steps",
        "2",
        "--logging_steps",
        "1",
        "--save_strategy",
        "no",
        "--max_seq_length",
        "128",
    ]
    result = sftplay(["launch", "--preset", "cpu", "--yes", "--", *args], env, tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "preset cpu training defaults: --per_device_train_batch_size 2" in result.stderr
    records = [
        json.loads(line.split("SFTPLAY_METRIC ", 1)[1])
        for line in result.stdout.splitlines()
        if "SFTPLAY_METRIC " in line
    ]
    start = next(r for r in records if r["type"] == "start")
    assert start["world_size"] == 2  # the cpu preset's two connected ranks
    assert start["config"]["per_device_train_batch_size"] == 2  # from the preset
    assert start["config"]["max_seq_length"] == 128  # given after --: overrides the preset's 256
