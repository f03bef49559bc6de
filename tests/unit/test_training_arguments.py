"""Argument parsing of training/sft_train.py: one-line errors, defaults, argument files."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.arguments import ArgumentsError, parse_args, unknown_option_message


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--cach_dir", "x"], "unknown argument --cach_dir; closest valid: --cache_dir"),
        (["--cachedir=x"], "unknown argument --cachedir; closest valid: --cache_dir"),
        (["--learning-rat", "1"], "unknown argument --learning-rat; closest valid: --learning_rate"),
        (["--zzzz"], "unknown argument --zzzz; run with --help for the list"),
        (["stray"], "unexpected value 'stray'"),
        (["--learning_rate", "fast"], "invalid float value: 'fast'"),
        (["--torch_dtype", "int8"], "invalid choice: 'int8'"),
        (["--eval_fraction", "0.9"], "--eval_fraction must be between 0 and 0.5"),
        (["--data_path", "a.jsonl", "--dataset_name", "b"], "either --data_path or --dataset_name"),
        (["--lora_r", "0"], "--lora_r must be at least 1"),
    ],
)
def test_mistakes_are_one_line_errors(argv: list[str], expected: str) -> None:
    with pytest.raises(ArgumentsError) as info:
        parse_args(argv)
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_no_abbreviations() -> None:
    # argparse would silently take --cache for --cache_dir; a typo must not become a different option
    with pytest.raises(ArgumentsError, match="unknown argument --cache"):
        parse_args(["--cache", "x"])


def test_suggestions_list_only_underscore_spellings() -> None:
    msg = unknown_option_message("--cache_dri", ["--cache_dir", "--use_cache", "--output_dir"])
    assert msg.startswith("unknown argument --cache_dri; closest valid: --cache_dir")
    assert "--cache-dir" not in msg


def test_script_defaults_apply_only_where_not_given(tmp_path: Path) -> None:
    parsed = parse_args(["--model_name_or_path", "some/model", "--output_dir", str(tmp_path)])
    t = parsed.training
    assert t.logging_steps == 10 and t.include_num_input_tokens_seen == "non_padding"
    assert t.ddp_find_unused_parameters is False and t.output_dir == str(tmp_path)
    assert t.learning_rate == 5e-5  # transformers' default: no embedded-model defaults for a real model
    explicit = parse_args(["--model_name_or_path", "m", "--logging_steps", "3", "--ddp_find_unused_parameters", "true"])
    assert explicit.training.logging_steps == 3 and explicit.training.ddp_find_unused_parameters is True
    assert {"logging_steps", "ddp_find_unused_parameters", "model_name_or_path"} <= explicit.explicit


def test_embedded_model_gets_its_quick_defaults_unless_overridden() -> None:
    parsed = parse_args([])
    assert parsed.embedded_model and parsed.training.max_steps == 60 and parsed.training.learning_rate == 3e-3
    assert parsed.data.max_seq_length == 256
    epochs = parse_args(["--num_train_epochs", "2", "--learning_rate", "1e-3"])
    assert epochs.training.max_steps == -1 and epochs.training.learning_rate == 1e-3


def test_evaluation_data_turns_on_step_evaluation() -> None:
    parsed = parse_args(["--eval_fraction", "0.1"])
    assert str(parsed.training.eval_strategy.value) == "steps" and parsed.training.eval_steps == 5


def test_cache_dir_and_qlora_flags_parse() -> None:
    parsed = parse_args(["--cache_dir", "/tmp/c", "--load_in_4bit"])
    assert parsed.model.cache_dir == "/tmp/c"
    assert parsed.lora.load_in_4bit and parsed.lora.use_lora  # QLoRA implies LoRA


def test_argument_file(tmp_path: Path) -> None:
    good = tmp_path / "run.yaml"
    good.write_text("max_steps: 7\ncache_dir: /tmp/c\npacking: true\n")
    parsed = parse_args([str(good)])
    assert parsed.training.max_steps == 7 and parsed.model.cache_dir == "/tmp/c" and parsed.data.packing
    bad = tmp_path / "bad.json"
    bad.write_text('{"cache_dri": "/tmp/c"}')
    with pytest.raises(ArgumentsError, match="unknown argument --cache_dri; closest valid: --cache_dir"):
        parse_args([str(bad)])
    with pytest.raises(ArgumentsError, match="argument file not found"):
        parse_args([str(tmp_path / "missing.yaml")])
