"""The real thing: `sftplay-tui launch` of training/sft_train.py, 2 CPU ranks (DDP), a few steps.

The config is what `accelerate config` writes for multi-CPU (MULTI_CPU, use_cpu, 2 processes),
which accelerate alone would run as ONE process; through `sftplay-tui launch` it must train with
world size 2, report progress and metrics, and record the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runs import MULTI_CPU_2, write_config
from tests.support.training_runs import embedded_cache_fixture  # noqa: F401 (the session fixture)
from tui.core.metrics import MetricsState, progress_line
from tui.core.runs import SUCCEEDED, find_run

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "training" / "sft_train.py"


def test_sftplay_launch_trains_with_two_connected_cpu_ranks(
    embedded_cache: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    env = {
        **cli_env,
        "XDG_CACHE_HOME": str(embedded_cache),  # the embedded tiny model, built once per session
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui",
            "launch",
            "--config-file",
            str(config),
            "--script",
            str(SCRIPT),
            "--yes",
            "--",
            "--output_dir",
            str(out),
            "--max_steps",
            "6",
            "--logging_steps",
            "2",
            "--save_strategy",
            "no",
            "--report_to",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:] + result.stdout[-4000:]
    run = find_run("last")
    assert run.state == SUCCEEDED and run.exit_code == 0

    state = MetricsState()
    for line in run.metrics_path.read_text().splitlines():
        state.feed(json.loads(line))
    snap = state.snapshot()
    assert snap.world_size == 2 and snap.distributed_type == "MULTI_CPU"
    assert snap.step == 6 and snap.max_steps == 6 and snap.fraction == 1.0
    assert snap.end_status == "completed" and snap.final_loss is not None
    assert [x for x, _ in snap.loss_series] == [2.0, 4.0, 6.0]
    assert snap.tokens_per_second and snap.tokens_per_second > 0
    assert "step 6/6" in progress_line(snap)
    # Both ranks wrote to the log, each line prefixed with its rank.
    log = run.log_path.read_text()
    assert "[rank0]:" in log and "[rank1]:" in log
    assert {w.rank for w in run.status.workers} >= {0, 1}
