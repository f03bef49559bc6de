"""training/infer.py's arguments and mistakes, `launch --infer`, and inference progress in the TUI core.

Argument mistakes are one line (the script turns them into exit status 2 without a traceback, tested
with real runs in tests/integration/test_inference_runs.py); the launcher side must pick the bundled
inference script and remember its arguments apart from the training ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import sftplay
from training.arguments import ArgumentsError
from training.infer import parse_args
from tui.core.launch import LaunchChoices, default_infer_script, recall_choices, remember_choices
from tui.core.metrics import MetricsState, progress_line

ROOT = Path(__file__).resolve().parents[2]
INFER = ROOT / "training" / "infer.py"


def test_defaults_are_greedy_batched_and_single_process() -> None:
    model, args = parse_args(["--data", "d.jsonl", "--output", "o.jsonl"])
    assert model.model_name_or_path is None  # the embedded default model
    assert args.temperature == 0.0 and args.batch_size == 16 and not args.use_accelerate
    _, sampled = parse_args(["--data", "d", "--output", "o", "--temperature", "0.7", "--top_p", "0.9"])
    assert sampled.temperature == 0.7 and sampled.top_p == 0.9


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "d"], "required: --output"),
        (["--data", "d", "--output", "o", "--temprature", "1"], "closest valid: --temperature"),
        (["--data", "d", "--output", "o", "--top_p", "0"], "--top_p must be in"),
        (["--data", "d", "--output", "o", "--temperature", "-1"], "--temperature must be 0"),
        (["--data", "d", "--output", "o", "--batch_size", "0"], "--batch_size must be at least 1"),
        (["--data", "d", "--output", "o", "stray"], "unexpected value 'stray'"),
    ],
)
def test_argument_mistakes_are_one_line(argv: list[str], message: str) -> None:
    with pytest.raises(ArgumentsError, match=message):
        parse_args(argv)


def test_launch_infer_cannot_be_combined_with_a_script(cli_env: dict[str, str]) -> None:
    result = sftplay(["launch", "--infer", "--script", "x.py"], cli_env, timeout=60)
    assert result.returncode == 2 and "not allowed with argument" in result.stderr and "Traceback" not in result.stderr


def test_the_inference_script_is_bundled_and_its_arguments_are_remembered_apart(tmp_path: Path) -> None:
    assert default_infer_script() == INFER and INFER.is_file()
    remember_choices(LaunchChoices(script="train.py", args=["--max_steps", "5"], infer_args=["--data", "x"]), tmp_path)
    again = recall_choices(tmp_path)
    assert again is not None and again.args == ["--max_steps", "5"] and again.infer_args == ["--data", "x"]
    assert LaunchChoices.from_json({"infer_args": "not a list"}) == LaunchChoices(updated=0.0)


def test_inference_progress_reaches_the_progress_line() -> None:
    state = MetricsState()
    state.feed({"type": "start", "world_size": 2, "model": "embedded-tiny-llama", "task": "inference"})
    state.feed(
        {"type": "infer_progress", "done": 30, "total": 40, "failed": 2, "records_per_second": 7.5, "eta_s": 1.3}
        | {"elapsed_s": 4.0}
    )
    snap = state.snapshot()
    assert (snap.infer_done, snap.infer_total, snap.infer_failed) == (30, 40, 2)
    assert snap.fraction == 0.75 and snap.elapsed_s == 4.0 and snap.eta_s == 1.3
    line = progress_line(snap)
    assert "30/40 records" in line and "7.5 rec/s" in line and "2 failed" in line and "eta 1s" in line
