"""How many processes, which device ids and NUMA affinity (`cluster.py` after Megatron-LM)."""

from __future__ import annotations

from typing import Any

from tui.core.graph.kit import INT_ERROR, field, yes_no
from tui.core.graph.state import (
    DEEPSPEED,
    FSDP,
    MEGATRON_LM,
    MULTI_ANY,
    MULTI_DEVICE,
    MULTI_GPU,
    NO,
    XLA,
    Draft,
)
from tui.core.questions import Kind

SECTION = "Processes"


def _process_word(draft: Draft) -> str:
    """accelerate derives the word from the DistributedType name: MULTI_GPU -> 'GPU(s)'."""
    dt = draft.distributed_type
    if dt in (FSDP, DEEPSPEED, MEGATRON_LM):
        return "GPU(s)"
    kind = dt.replace("MULTI_", "")
    if kind in ("TPU", "NEURON"):
        return kind + " cores"
    if kind == "CPU":
        return "processes"
    return kind + "(s)"


def _num_processes_prompt(draft: Draft) -> str:
    return f"How many {_process_word(draft)} should be used for distributed training? [1]:"


def _asked_num_processes(draft: Draft) -> bool:
    return not draft.sagemaker and draft.distributed_type in (*MULTI_ANY, XLA, FSDP, DEEPSPEED, MEGATRON_LM)


def _set_num_processes(draft: Draft, value: Any) -> None:
    draft.num_processes = value


def _reject_single_process(draft: Draft, value: Any) -> str | None:
    if draft.distributed_type == MULTI_GPU and draft.num_machines == 1 and value == 1:
        return (
            "Specified distributed type DistributedType.MULTI_GPU but only using 1 GPU on a single "
            "machine. Please select `No distributed training` for the type of machine you are using "
            "(or use 2 or more GPUs)."
        )
    return None


def _device_ids_prompt(draft: Draft) -> str:
    return (
        f"What {draft.host.device_word} (by id) should be used for training on this machine as a "
        "comma-separated list? [all]:"
    )


def _local_device(draft: Draft) -> bool:
    return (
        not draft.sagemaker
        and draft.distributed_type in (*MULTI_DEVICE, NO)
        and not draft.use_cpu
        and not draft.use_mps
    )


def _nvidia_affinity(draft: Draft) -> bool:
    return not draft.sagemaker and draft.distributed_type in (NO, MULTI_GPU) and not draft.use_cpu and not draft.use_mps


QUESTIONS = [
    field(
        "num_processes",
        "Number of processes",
        _num_processes_prompt,
        kind=Kind.INT,
        default=1,
        error_message=INT_ERROR,
        section=SECTION,
        when=_asked_num_processes,
        sets="num_processes",
        apply=_set_num_processes,
        reject=_reject_single_process,
        explain=(
            "How many processes in total, one per GPU: 2 for 2x RTX 4090, 4 for 4x A100, 8 for 8x "
            "H100. With several machines it is the TOTAL across all of them (2 nodes x 8 GPUs = 16), "
            "not per machine. More processes than GPUs fails; fewer leaves GPUs idle. Do not also "
            "let a scheduler start several processes per node (Azure ML process_count_per_instance, "
            "SLURM --ntasks-per-node): each would start this many again."
        ),
    ),
    field(
        "gpu_ids",
        "Device ids",
        _device_ids_prompt,
        kind=Kind.TEXT,
        default="all",
        section=SECTION,
        when=_local_device,
        sets="gpu_ids",
        explain=(
            "Which GPUs of this machine to use: 'all', or ids as `nvidia-smi` lists them, e.g. 0,1. "
            "Give at least as many ids as processes. If CUDA_VISIBLE_DEVICES is set, ids count within "
            "the visible GPUs. RTX 40xx cards have no P2P: set NCCL_P2P_DISABLE=1 and NCCL_IB_DISABLE=1 "
            "or NCCL may hang."
        ),
    ),
    yes_no(
        "enable_cpu_affinity",
        "NUMA efficiency",
        "Would you like to enable numa efficiency? (Currently only supported on NVIDIA hardware). [yes/NO]: ",
        section=SECTION,
        when=_nvidia_affinity,
        sets="enable_cpu_affinity",
        explain=(
            "Yes pins each process to the CPU cores nearest its GPU (NVIDIA only). It can speed up "
            "data loading on dual-socket servers (`nvidia-smi topo -m` shows the NUMA layout); on a "
            "single-socket workstation it changes nothing. No is a safe default."
        ),
    ),
]
