"""The built-in presets: each validates, writes what accelerate writes for the same answers, and
loads with accelerate's own `load_config_from_file`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.accelerate_oracle import run_accelerate_config
from tui.core.accelerate_config import dump_config, validate_config
from tui.core.config_rules import check_rules
from tui.core.host import HostCapabilities
from tui.core.paths import builtin_presets_dir
from tui.core.presets import build_preset, builtin_names, load_preset_file, show_text
from tui.core.session import WizardSession

HOST = HostCapabilities(transformers=True)
REQUIRED = {"rtx4090-2x", "a100-4x", "h100-8x", "a100-4x-fsdp", "h100-8x-fsdp", "single-gpu", "cpu"}
NAMES = sorted(p.stem for p in builtin_presets_dir().glob("*.yaml"))


def _build(name: str):  # type: ignore[no-untyped-def]
    return build_preset(load_preset_file(builtin_presets_dir() / f"{name}.yaml", HOST), HOST)


def test_the_required_presets_ship() -> None:
    assert set(NAMES) >= REQUIRED
    assert set(builtin_names()) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_builtin_is_valid_and_clean(name: str) -> None:
    build = _build(name)
    assert build.preset.name == name
    assert build.warnings == []  # no stale explanation, no missing env, no idle GPUs
    assert validate_config(build.config) == []
    assert check_rules(build.config) == []
    assert build.preset.description.strip() and build.preset.explanations


@pytest.mark.parametrize("name", NAMES)
def test_accelerate_loads_what_the_preset_writes(name: str, tmp_path: Path) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    target = tmp_path / "default_config.yaml"
    target.write_text(dump_config(_build(name).config))
    loaded = load_config_from_file(str(target))
    assert loaded.distributed_type.value == _build(name).config["distributed_type"]
    assert loaded.num_processes == _build(name).config["num_processes"]


@pytest.mark.parametrize("name", NAMES)
def test_preset_writes_what_accelerate_writes_for_the_same_answers(name: str) -> None:
    build = _build(name)
    session = WizardSession.from_answers(build.answers, HOST)
    assert session.complete
    typed = [text for _question, text in session.transcript()]
    result = run_accelerate_config(typed, HOST)
    assert result.error is None, result.error
    assert result.consumed == len(typed)
    assert result.config == yaml.safe_load(dump_config(build.config))


@pytest.mark.parametrize(("name", "processes"), [("rtx4090-2x", 2), ("a100-4x", 4), ("h100-8x", 8)])
def test_guide_presets(name: str, processes: int) -> None:
    config = _build(name).config
    assert config["distributed_type"] == "MULTI_GPU"
    assert config["compute_environment"] == "LOCAL_MACHINE"
    assert config["num_processes"] == processes
    assert config["mixed_precision"] == "bf16"
    assert config["num_machines"] == 1
    assert "fsdp_config" not in config


def test_rtx_40xx_recommends_disabling_p2p() -> None:
    preset = _build("rtx4090-2x").preset
    assert preset.env == {"NCCL_P2P_DISABLE": "1", "NCCL_IB_DISABLE": "1"}
    assert preset.hardware.p2p is False
    assert preset.hardware.min_compute_capability == (8, 9)


@pytest.mark.parametrize(("name", "processes"), [("a100-4x-fsdp", 4), ("h100-8x-fsdp", 8)])
def test_fsdp_presets_take_the_layer_class_from_the_model(name: str, processes: int) -> None:
    build = _build(name)
    fsdp = build.config["fsdp_config"]
    assert build.config["distributed_type"] == "FSDP"
    assert build.config["num_processes"] == processes
    assert fsdp["fsdp_version"] == 2
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    # No class named: accelerate reads model._no_split_modules at launch.
    assert "fsdp_transformer_layer_cls_to_wrap" not in fsdp
    assert build.answers["fsdp_use_no_split_modules"] is True
    # FSDP's checkpointing replaces the trainer's: never both.
    assert fsdp["fsdp_activation_checkpointing"] is True
    assert build.preset.training.gradient_checkpointing is False


def test_cpu_preset_is_accelerates_multi_cpu_with_the_launch_recipe() -> None:
    build = _build("cpu")
    assert build.config["distributed_type"] == "MULTI_CPU"
    assert build.config["use_cpu"] is True
    assert build.config["num_processes"] == 2
    assert build.preset.env == {"ACCELERATE_USE_CPU": "true"}
    assert build.preset.hardware.gpu_count == 0
    assert any("--multi_gpu" in note for note in build.preset.notes)


@pytest.mark.parametrize("name", NAMES)
def test_show_is_valid_yaml_equal_to_the_config(name: str) -> None:
    build = _build(name)
    text = show_text(build)
    assert yaml.safe_load(text) == build.config
    for explanation in build.preset.explanations.values():
        assert explanation.split()[0] in text
