"""World size vs GPUs, silent accelerate fallbacks, FSDP wrap class and checkpointing choice."""

from __future__ import annotations

import pytest

from training.launch_checks import (
    LaunchView,
    check_launch,
    checkpointing_choice,
    fsdp_wrap_classes,
    scheduler_local_size,
)


def _view(**over: object) -> LaunchView:
    fields: dict[str, object] = dict(
        launched_world_size=8,
        local_world_size=8,
        accelerate_num_processes=8,
        distributed_type="MULTI_GPU",
        visible_gpus=8,
        use_cpu=False,
        fsdp_requested=False,
    )
    fields.update(over)
    return LaunchView(**fields)  # type: ignore[arg-type]


def test_matching_processes_and_gpus_is_quiet() -> None:
    assert check_launch(_view()) == []


def test_scheduler_processes_times_accelerate_processes_is_an_error_with_both_numbers() -> None:
    size, var = scheduler_local_size({"OMPI_COMM_WORLD_LOCAL_SIZE": "8"})
    (finding,) = check_launch(_view(scheduler_local_size=size, scheduler_var=var))
    assert finding.level == "error"
    msg = finding.message
    assert "started 8 processes on this node (OMPI_COMM_WORLD_LOCAL_SIZE)" in msg
    assert "64 processes for 8 visible GPUs" in msg and "process_count_per_instance: 1" in msg


def test_more_local_processes_than_gpus_is_an_error() -> None:
    (finding,) = check_launch(
        _view(launched_world_size=4, local_world_size=4, accelerate_num_processes=4, visible_gpus=2)
    )
    assert finding.level == "error" and "4 processes on this node but 2 visible GPUs" in finding.message


def test_idle_gpus_are_a_warning() -> None:
    (finding,) = check_launch(_view(launched_world_size=2, local_world_size=2, accelerate_num_processes=2))
    assert finding.level == "warning" and "8 visible GPUs but 2 processes" in finding.message
    assert "6 GPUs stay idle" in finding.message


def test_unconnected_ranks_are_an_error() -> None:
    (finding,) = check_launch(
        _view(
            launched_world_size=2, local_world_size=2, accelerate_num_processes=1, distributed_type="NO", visible_gpus=0
        )
    )
    assert finding.level == "error" and "started 2 processes but accelerate connected 1" in finding.message
    assert "ACCELERATE_USE_CPU=true" in finding.message


def test_fsdp_fallback_to_ddp_on_cpu_is_a_warning_and_cpu_ranks_are_fine() -> None:
    findings = check_launch(
        _view(
            launched_world_size=2,
            local_world_size=2,
            accelerate_num_processes=2,
            distributed_type="MULTI_CPU",
            visible_gpus=0,
            use_cpu=True,
            fsdp_requested=True,
            cpu_cores=2,
        )
    )
    assert [f.level for f in findings] == ["warning"]
    assert "asks for FSDP but accelerate runs MULTI_CPU" in findings[0].message


def test_cpu_oversubscription_warns() -> None:
    (finding,) = check_launch(
        _view(
            launched_world_size=4,
            local_world_size=4,
            accelerate_num_processes=4,
            distributed_type="MULTI_CPU",
            visible_gpus=0,
            use_cpu=True,
            cpu_cores=2,
        )
    )
    assert finding.level == "warning" and "4 CPU processes on this node but 2 CPU cores" in finding.message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (None, None)),
        ({"SLURM_NTASKS_PER_NODE": "4(x2)"}, (4, "SLURM_NTASKS_PER_NODE")),
        ({"MPI_LOCALNRANKS": "junk"}, (None, None)),
    ],
)
def test_scheduler_detection(env: dict[str, str], expected: tuple[int | None, str | None]) -> None:
    assert scheduler_local_size(env) == expected


def test_wrap_class_comes_from_no_split_modules_when_not_configured() -> None:
    value, line = fsdp_wrap_classes(
        {"FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP"}, {"LlamaDecoderLayer"}, {"LlamaDecoderLayer", "LlamaModel"}
    )
    assert value == "LlamaDecoderLayer" and "_no_split_modules" in line


def test_configured_wrap_class_is_kept_or_rejected_with_the_right_one() -> None:
    env = {"FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP", "FSDP_TRANSFORMER_CLS_TO_WRAP": "LlamaDecoderLayer"}
    assert fsdp_wrap_classes(env, ["LlamaDecoderLayer"], {"LlamaDecoderLayer"})[0] is None
    env["FSDP_TRANSFORMER_CLS_TO_WRAP"] = "Qwen2DecoderLayer"
    with pytest.raises(ValueError, match="Qwen2DecoderLayer.*its layer class is LlamaDecoderLayer"):
        fsdp_wrap_classes(env, ["LlamaDecoderLayer"], {"LlamaDecoderLayer"})
    assert fsdp_wrap_classes({"FSDP_AUTO_WRAP_POLICY": "SIZE_BASED_WRAP"}, None, set())[0] is None


def test_fsdp_activation_checkpointing_wins_over_gradient_checkpointing() -> None:
    keep, line = checkpointing_choice(gradient_checkpointing=True, fsdp_activation_checkpointing=True)
    assert keep is False and "FSDP's" in line and "ignored" in line
    assert checkpointing_choice(True, False)[0] is True
    assert checkpointing_choice(False, False) == (False, "activation checkpointing: off")
