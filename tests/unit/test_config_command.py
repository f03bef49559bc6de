"""`sftplay-tui config --answers`: real subprocesses, exit codes, messages, files left alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.cli import sftplay

GOLDENS = Path(__file__).resolve().parents[1] / "fixtures" / "accelerate_goldens"


def run_cli(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return sftplay(args, env, cwd, timeout=60)


def typed_answers(name: str) -> list[str]:
    steps = json.loads((GOLDENS / f"{name}.answers.json").read_text())["steps"]
    return [s["answer_label"] if s["kind"] == "menu" else s["answer"] for s in steps]


def test_writes_to_accelerate_default_path_and_backs_up(tmp_path: Path, cli_env: dict[str, str]) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text(yaml.safe_dump(typed_answers("a_ddp_2gpu_bf16")))
    hf_home = tmp_path / "hf"
    env = {**cli_env, "HF_HOME": str(hf_home)}
    first = run_cli(["config", "--answers", str(answers)], env)
    assert first.returncode == 0, first.stderr
    target = hf_home / "accelerate" / "default_config.yaml"
    assert str(target) in first.stdout
    assert yaml.safe_load(target.read_text()) == yaml.safe_load((GOLDENS / "a_ddp_2gpu_bf16.yaml").read_text())
    # A different config over it: the old one is backed up first and the app says where.
    answers.write_text(json.dumps(typed_answers("h_multi_gpu_ids_numa")))
    second = run_cli(["config", "--answers", str(answers)], env)
    assert second.returncode == 0, second.stderr
    backups = list(target.parent.glob("default_config.yaml.*.bak"))
    assert len(backups) == 1 and str(backups[0]) in second.stdout
    assert yaml.safe_load(backups[0].read_text())["mixed_precision"] == "bf16"
    assert yaml.safe_load(target.read_text())["enable_cpu_affinity"] is True


def test_xdg_cache_home_is_used_without_hf_home(tmp_path: Path, cli_env: dict[str, str]) -> None:
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps(typed_answers("g_single_gpu_fp16")))
    env = {**cli_env, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    result = run_cli(["config", "--answers", str(answers)], env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "xdg" / "huggingface" / "accelerate" / "default_config.yaml").is_file()


def test_golden_recording_accepted_directly(tmp_path: Path, cli_env: dict[str, str]) -> None:
    out = tmp_path / "out.yaml"
    result = run_cli(
        [
            "config",
            "--answers",
            str(GOLDENS / "o_invalid_inputs_reprompt.answers.json"),
            "--config-file",
            str(out),
        ],
        cli_env,
    )
    assert result.returncode == 0, result.stderr
    assert "'abc'" in result.stderr and "Please enter yes or no." in result.stderr
    assert yaml.safe_load(out.read_text()) == yaml.safe_load((GOLDENS / "o_invalid_inputs_reprompt.yaml").read_text())


def test_json_config_file_is_written_as_json(tmp_path: Path, cli_env: dict[str, str]) -> None:
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps(typed_answers("f2_multi_cpu_2proc")))
    out = tmp_path / "cfg.json"
    assert run_cli(["config", "--answers", str(answers), "--config-file", str(out)], cli_env).returncode == 0
    assert json.loads(out.read_text())["distributed_type"] == "MULTI_CPU"


BAD_INPUTS = [
    ("missing.json", None, "no such answers file"),
    ("broken.json", '["This machine", ', "not valid JSON"),
    ("broken.yaml", "- a\n- [b\n", "not valid YAML"),
    ("object.yaml", "answers_list: [a]\n", "expected a list of answers"),
    ("bools.yaml", "- This machine\n- multi-GPU\n- yes\n", "entry 3 is true, not a string"),
    ("nested.json", '["This machine", ["x"]]', "entry 2"),
    ("short.json", '["This machine", "multi-GPU", ""]', "ran out after 3 entries; question 4 is unanswered"),
    ("single.json", json.dumps(typed_answers("m_multi_gpu_one_process_error")), "No distributed training"),
    ("deepspeed.json", '["This machine", "multi-GPU", "", "", "", "yes"]', "DeepSpeed is not installed"),
    ("fp8.json", '["This machine", "No distributed training", "no", "", "", "", "", "fp8"]', "FP8"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_INPUTS)
def test_bad_input_exits_2_without_touching_the_config(
    tmp_path: Path, cli_env: dict[str, str], name: str, content: str | None, message: str
) -> None:
    answers = tmp_path / name
    if content is not None:
        answers.write_text(content)
    out = tmp_path / "cfg.yaml"
    out.write_text("keep: me\n")
    result = run_cli(["config", "--answers", str(answers), "--config-file", str(out)], cli_env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert out.read_text() == "keep: me\n"
    assert not list(tmp_path.glob("cfg.yaml.*.bak"))


def test_dry_run_prints_yaml_and_diff_without_writing(tmp_path: Path, cli_env: dict[str, str]) -> None:
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps(typed_answers("a_ddp_2gpu_bf16")))
    out = tmp_path / "cfg.yaml"
    out.write_text("distributed_type: NO\n")
    result = run_cli(["config", "--answers", str(answers), "--config-file", str(out), "--dry-run"], cli_env)
    assert result.returncode == 0
    assert "distributed_type: MULTI_GPU" in result.stdout
    assert "-distributed_type: NO" in result.stdout
    assert out.read_text() == "distributed_type: NO\n"
