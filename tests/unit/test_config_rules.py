"""Cross-field rules of an accelerate config: each rule's failing and passing case."""

from __future__ import annotations

from typing import Any

import pytest

from tui.core.config_rules import check_rules, parse_gpu_ids

BASE: dict[str, Any] = {
    "compute_environment": "LOCAL_MACHINE",
    "distributed_type": "MULTI_GPU",
    "num_processes": 2,
    "num_machines": 1,
    "machine_rank": 0,
    "gpu_ids": "all",
    "mixed_precision": "bf16",
    "use_cpu": False,
}
FSDP2 = {
    **BASE,
    "distributed_type": "FSDP",
    "fsdp_config": {
        "fsdp_version": 2,
        "fsdp_reshard_after_forward": True,
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
    },
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if "__" in key:
            section, sub = key.split("__")
            out[section] = {**out.get(section, {}), sub: value}
        else:
            out[key] = value
    return out


def found(config: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.severity, p.key) for p in check_rules(config)]


def test_clean_configs_pass() -> None:
    assert check_rules(BASE) == []
    assert check_rules(FSDP2) == []
    assert check_rules(with_(BASE, gpu_ids="0,1")) == []
    assert check_rules(with_(BASE, num_machines=2, num_processes=4, main_process_ip="10.0.0.1")) == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (with_(BASE, num_processes=3, gpu_ids="0,1"), ("error", "gpu_ids")),
        (with_(BASE, gpu_ids="0,0"), ("error", "gpu_ids")),
        (with_(BASE, gpu_ids="0,x"), ("error", "gpu_ids")),
        (with_(BASE, gpu_ids="0,1,2"), ("warning", "gpu_ids")),
        (with_(BASE, num_processes=0), ("error", "num_processes")),
        (with_(BASE, num_machines=0), ("error", "num_machines")),
        (with_(BASE, num_machines=2, num_processes=3, main_process_ip="10.0.0.1"), ("error", "num_processes")),
        (with_(BASE, num_machines=2, num_processes=4, machine_rank=2, main_process_ip="h"), ("error", "machine_rank")),
        (with_(BASE, num_machines=2, num_processes=4), ("error", "main_process_ip")),
        (with_(BASE, num_processes=1), ("error", "num_processes")),
        (with_(BASE, distributed_type="MULTI_CPU", use_cpu=True, mixed_precision="fp16"), ("error", "mixed_precision")),
        (with_(BASE, fsdp_config={"fsdp_version": 2}), ("warning", "fsdp_config")),
        (
            with_(FSDP2, fsdp_config__fsdp_reshard_after_forward="FULL_SHARD"),
            ("error", "fsdp_config.fsdp_reshard_after_forward"),
        ),
        (
            with_(FSDP2, fsdp_config__fsdp_version=1),
            ("error", "fsdp_config.fsdp_reshard_after_forward"),
        ),
        (
            with_(FSDP2, fsdp_config__fsdp_state_dict_type="LOCAL_STATE_DICT"),
            ("error", "fsdp_config.fsdp_state_dict_type"),
        ),
        (with_(FSDP2, fsdp_config__fsdp_forward_prefetch=False), ("error", "fsdp_config.fsdp_forward_prefetch")),
        (with_(FSDP2, fsdp_config__fsdp_use_orig_params=True), ("warning", "fsdp_config.fsdp_use_orig_params")),
        (
            with_(FSDP2, fsdp_config__fsdp_activation_checkpointing_offload=True),
            ("error", "fsdp_config.fsdp_activation_checkpointing_offload"),
        ),
        (
            with_(FSDP2, fsdp_config__fsdp_transformer_layer_cls_to_wrap=""),
            ("error", "fsdp_config.fsdp_transformer_layer_cls_to_wrap"),
        ),
        (
            with_(
                FSDP2, fsdp_config__fsdp_auto_wrap_policy="NO_WRAP", fsdp_config__fsdp_transformer_layer_cls_to_wrap="X"
            ),
            ("warning", "fsdp_config.fsdp_transformer_layer_cls_to_wrap"),
        ),
        (with_(FSDP2, fsdp_config__fsdp_min_num_params=10), ("warning", "fsdp_config.fsdp_min_num_params")),
        (
            with_(FSDP2, num_processes=4, parallelism_config={"parallelism_config_dp_shard_size": 2}),
            ("error", "parallelism_config"),
        ),
        (
            with_(
                BASE, distributed_type="DEEPSPEED", deepspeed_config={"zero_stage": 3, "offload_param_device": "nvme"}
            ),
            ("error", "deepspeed_config.offload_param_nvme_path"),
        ),
        (
            with_(
                BASE, distributed_type="DEEPSPEED", deepspeed_config={"zero_stage": 2, "offload_param_device": "cpu"}
            ),
            ("warning", "deepspeed_config.offload_param_device"),
        ),
        (with_(BASE, fp8_config={"backend": "AO"}), ("warning", "fp8_config")),
    ],
)
def test_rule_fires(config: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in found(config)
    assert all(p.fix for p in check_rules(config))


def test_parallelism_sizes_matching_the_processes_pass() -> None:
    config = with_(
        FSDP2,
        num_processes=4,
        parallelism_config={"parallelism_config_dp_shard_size": 2, "parallelism_config_tp_size": 2},
    )
    assert check_rules(config) == []


@pytest.mark.parametrize("config", [None, [], "x", {"num_processes": "two", "gpu_ids": 3, "fsdp_config": 1}])
def test_wrong_shapes_never_crash(config: Any) -> None:
    check_rules(config)


def test_parse_gpu_ids() -> None:
    assert parse_gpu_ids("all") is None
    assert parse_gpu_ids(" 0, 1 ") == ["0", "1"]
    assert parse_gpu_ids("GPU-abc,1") == ["GPU-abc", "1"]
    with pytest.raises(ValueError):
        parse_gpu_ids("0,,1")
