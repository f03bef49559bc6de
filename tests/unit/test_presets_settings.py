"""`--set key=value` on a preset: answers where a question writes the key, config values
otherwise, and the same validation as a preset file."""

from __future__ import annotations

import pytest

from tui.core.errors import UsageError
from tui.core.host import HostCapabilities
from tui.core.paths import builtin_presets_dir
from tui.core.presets import PresetError, build_preset, load_preset_file, parse_set
from tui.core.session import WizardSession

HOST = HostCapabilities(transformers=True)


def build(name: str, *sets: str):  # type: ignore[no-untyped-def]
    loaded = load_preset_file(builtin_presets_dir() / f"{name}.yaml", HOST)
    return build_preset(loaded, HOST, [parse_set(s) for s in sets])


def how(result, key: str) -> str:  # type: ignore[no-untyped-def]
    return next(a.how for a in result.applied if a.setting.key == key)


@pytest.mark.parametrize(
    ("name", "setting", "key", "value"),
    [
        ("rtx4090-2x", "mixed_precision=fp16", "mixed_precision", "fp16"),
        ("rtx4090-2x", "gpu_ids=0,1", "gpu_ids", "0,1"),
        ("single-gpu", "gpu_ids=1", "gpu_ids", "1"),  # stays text, as accelerate writes it
        ("rtx4090-2x", "debug=true", "debug", True),
        ("a100-4x-fsdp", "fsdp_config.fsdp_offload_params=true", "fsdp_config.fsdp_offload_params", True),
        ("a100-4x-fsdp", "fsdp_config.fsdp_version=1", "fsdp_config.fsdp_version", 1),
        (
            "a100-4x-fsdp",
            "fsdp_config.fsdp_state_dict_type=FULL_STATE_DICT",
            "fsdp_config.fsdp_state_dict_type",
            "FULL_STATE_DICT",
        ),
    ],
)
def test_set_becomes_an_answer_the_wizard_can_show(name: str, setting: str, key: str, value: object) -> None:
    result = build(name, setting)
    node = result.config
    for part in key.split("."):
        node = node[part]
    assert node == value and type(node) is type(value)
    assert how(result, key) == "answer"
    assert result.overrides == {}
    # The answers alone reproduce the config: the wizard opens it complete and unchanged.
    session = WizardSession.from_answers(result.answers, HOST)
    assert session.complete and session.config() == result.config


def test_set_layer_class_answers_the_gate_question_too() -> None:
    result = build("a100-4x-fsdp", "fsdp_config.fsdp_transformer_layer_cls_to_wrap=LlamaDecoderLayer")
    assert result.config["fsdp_config"]["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"
    assert result.answers["fsdp_use_no_split_modules"] is False
    assert how(result, "fsdp_config.fsdp_transformer_layer_cls_to_wrap") == "answer"


def test_set_distributed_type_switches_the_follow_up_questions() -> None:
    to_fsdp = build("rtx4090-2x", "distributed_type=FSDP")
    assert to_fsdp.config["distributed_type"] == "FSDP"
    assert to_fsdp.answers["use_fsdp"] is True
    assert "fsdp_transformer_layer_cls_to_wrap" not in to_fsdp.config["fsdp_config"]
    to_ddp = build("a100-4x-fsdp", "distributed_type=MULTI_GPU")
    assert to_ddp.config["distributed_type"] == "MULTI_GPU" and "fsdp_config" not in to_ddp.config


def test_set_a_key_no_question_writes_goes_to_the_config() -> None:
    result = build("rtx4090-2x", "main_training_function=train")
    assert result.config["main_training_function"] == "train"
    assert how(result, "main_training_function") == "config"
    assert result.overrides == {"main_training_function": "train"}


def test_set_against_the_preset_target_only_warns() -> None:
    result = build("rtx4090-2x", "num_processes=4")
    assert result.config["num_processes"] == 4
    assert [w.problem.key for w in result.warnings] == ["hardware.gpu_count"]


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("fsdp_config.fsdp_ofload_params=true", ["unknown key", "fsdp_config.fsdp_offload_params"]),
        ("num_procesess=4", ["unknown accelerate config key", "num_processes"]),
        ("fsdp_config=2", ["section"]),
        ("num_processes", ["expected key=value"]),
    ],
)
def test_set_typos_are_usage_errors_with_a_suggestion(setting: str, words: list[str]) -> None:
    with pytest.raises(UsageError) as info:
        build("a100-4x-fsdp", setting)
    for word in words:
        assert word in str(info.value)
    assert str(info.value).startswith(f"--set {setting}")


@pytest.mark.parametrize(
    ("name", "sets", "words"),
    [
        ("rtx4090-2x", ["num_processes=two"], ["--set num_processes=two", "whole number"]),
        ("rtx4090-2x", ["distributed_type=multi_gpu"], ["case-sensitive", "MULTI_GPU"]),
        ("rtx4090-2x", ["use_cpu=maybe"], ["true/false"]),
        # impossible combinations
        ("rtx4090-2x", ["gpu_ids=0,1", "num_processes=3"], ["3 process(es)", "2 GPU(s)"]),
        ("rtx4090-2x", ["num_processes=1"], ["--set num_processes=1", "2 or more"]),
        ("rtx4090-2x", ["mixed_precision=fp8"], ["FP8", "not installed"]),
        ("cpu", ["mixed_precision=fp16"], ["fp16 on the CPU"]),
        ("a100-4x-fsdp", ["fsdp_config.fsdp_reshard_after_forward=FULL_SHARD"], ["FSDP2 takes true/false"]),
        ("rtx4090-2x", ["num_machines=2"], ["main_process_ip"]),
    ],
)
def test_bad_set_values_are_rejected_with_where_and_why(name: str, sets: list[str], words: list[str]) -> None:
    with pytest.raises(PresetError) as info:
        build(name, *sets)
    text = str(info.value)
    for word in words:
        assert word in text, text
    assert "Traceback" not in text
