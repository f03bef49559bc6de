"""Start-of-run checks on how the script was launched, and the FSDP decisions that depend on it.

Pure functions over plain values (environment, counts), so each case is unit-tested without a GPU.

1. World size vs devices. SFT-Play lost runs to process counts that did not match the GPUs:
   a scheduler (Azure ML `process_count_per_instance: 8`, `srun --ntasks-per-node=8`, mpirun)
   already started one process per GPU and each of them ran `accelerate launch`, which started
   one per GPU again. Every launch looks healthy from the inside; only comparing the numbers
   shows it. We report both numbers plainly.
2. Launches that accelerate silently turns into something else on a CPU-only host (see
   shared/notes/accelerate-launch-facts.md): N unconnected single-process runs, or FSDP quietly
   replaced by DDP.
3. FSDP transformer-based wrap with no layer class: take it from the model's `_no_split_modules`.
4. FSDP activation checkpointing and transformers' gradient checkpointing must not both run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

# Per-node process counts set by schedulers that start processes themselves. accelerate launch
# overwrites RANK/LOCAL_RANK/WORLD_SIZE/LOCAL_WORLD_SIZE for its workers, but not these.
SCHEDULER_LOCAL_SIZE_VARS = (
    "OMPI_COMM_WORLD_LOCAL_SIZE",  # Open MPI (Azure ML MPI jobs)
    "MPI_LOCALNRANKS",  # MPICH / Intel MPI
    "MV2_COMM_WORLD_LOCAL_SIZE",  # MVAPICH2
    "SLURM_NTASKS_PER_NODE",  # srun --ntasks-per-node
    "PMI_LOCAL_SIZE",
)


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    message: str


@dataclass(frozen=True)
class LaunchView:
    launched_world_size: int  # WORLD_SIZE from the launcher (1 when started without one)
    local_world_size: int  # LOCAL_WORLD_SIZE from the launcher
    accelerate_num_processes: int  # what accelerate actually connected
    distributed_type: str  # accelerate's DistributedType name as the script sees it
    visible_gpus: int  # torch.cuda.device_count() (respects CUDA_VISIBLE_DEVICES)
    use_cpu: bool  # ACCELERATE_USE_CPU / --use_cpu
    fsdp_requested: bool  # ACCELERATE_USE_FSDP=true from the accelerate config
    scheduler_local_size: int | None = None  # processes per node started by an outer scheduler
    scheduler_var: str | None = None
    cpu_cores: int | None = None


def scheduler_local_size(env: Mapping[str, str]) -> tuple[int | None, str | None]:
    for var in SCHEDULER_LOCAL_SIZE_VARS:
        raw = env.get(var, "")
        # SLURM writes e.g. "8(x2)" for heterogeneous layouts; the leading number is this node's.
        digits = raw.split("(")[0].strip()
        if digits.isdigit() and int(digits) > 0:
            return int(digits), var
    return None, None


def check_launch(view: LaunchView) -> list[Finding]:
    out: list[Finding] = []
    if view.launched_world_size > 1 and view.accelerate_num_processes == 1:
        hint = (
            " On a machine without GPUs set ACCELERATE_USE_CPU=true (sftplay-tui launch does) so the CPU "
            "ranks connect over gloo."
            if view.visible_gpus == 0
            else ""
        )
        out.append(
            Finding(
                "error",
                f"the launcher started {view.launched_world_size} processes but accelerate connected "
                f"{view.accelerate_num_processes} (distributed type {view.distributed_type}): each process would "
                f"train alone, as if it were the only one.{hint}",
            )
        )
        return out

    if view.fsdp_requested and view.distributed_type != "FSDP":
        out.append(
            Finding(
                "warning",
                f"the accelerate config asks for FSDP but accelerate runs {view.distributed_type} here"
                + (" (accelerate 1.15 does not use FSDP on CPU-only hosts)" if view.visible_gpus == 0 else "")
                + ": every process holds a full copy of the parameters, nothing is sharded.",
            )
        )

    if view.use_cpu or view.visible_gpus == 0:
        if view.cpu_cores and view.local_world_size > view.cpu_cores:
            out.append(
                Finding(
                    "warning",
                    f"{view.local_world_size} CPU processes on this node but {view.cpu_cores} CPU cores: "
                    "they will slow each other down.",
                )
            )
        return out

    procs_on_node = view.local_world_size
    if view.scheduler_local_size and view.scheduler_local_size > 1 and view.local_world_size > 1:
        total = view.scheduler_local_size * view.local_world_size
        out.append(
            Finding(
                "error",
                f"the scheduler started {view.scheduler_local_size} processes on this node ({view.scheduler_var}) "
                f"and each ran accelerate launch with {view.local_world_size} processes: {total} processes for "
                f"{view.visible_gpus} visible GPUs. Start one process per node (e.g. Azure ML "
                "process_count_per_instance: 1) and let accelerate launch start one per GPU.",
            )
        )
        return out
    if procs_on_node > view.visible_gpus:
        out.append(
            Finding(
                "error",
                f"{procs_on_node} processes on this node but {view.visible_gpus} visible GPUs: "
                "processes would share a GPU (or fail). Set num_processes to at most the GPU count "
                "or check CUDA_VISIBLE_DEVICES.",
            )
        )
    elif procs_on_node < view.visible_gpus:
        out.append(
            Finding(
                "warning",
                f"{view.visible_gpus} visible GPUs but {procs_on_node} process"
                f"{'es' if procs_on_node > 1 else ''} on this node: {view.visible_gpus - procs_on_node} GPU"
                f"{'s stay' if view.visible_gpus - procs_on_node > 1 else ' stays'} idle. Set num_processes to "
                f"{view.visible_gpus} or limit CUDA_VISIBLE_DEVICES.",
            )
        )
    return out


def fsdp_wrap_classes(
    env: Mapping[str, str], no_split_modules: Iterable[str] | None, model_class_names: set[str]
) -> tuple[str | None, str]:
    """The value for FSDP_TRANSFORMER_CLS_TO_WRAP, or None to leave the environment alone, and a log line.

    Raises ValueError (one line) for a configured class the model does not have: accelerate's own
    error names only the missing class, not the ones that would work.
    """
    policy = env.get("FSDP_AUTO_WRAP_POLICY", "").upper()
    if policy != "TRANSFORMER_BASED_WRAP":
        return None, f"FSDP auto wrap policy: {policy or 'NO_WRAP'}"
    candidates = sorted(no_split_modules or [])
    configured = [c.strip() for c in env.get("FSDP_TRANSFORMER_CLS_TO_WRAP", "").split(",") if c.strip()]
    if configured:
        missing = [c for c in configured if c not in model_class_names]
        if missing:
            raise ValueError(
                f"fsdp_transformer_layer_cls_to_wrap names {', '.join(missing)}, which this model does not have; "
                f"its layer class is {', '.join(candidates) or 'unknown'} (or leave the setting empty)"
            )
        return None, f"FSDP wraps {', '.join(configured)} (from the accelerate config)"
    if not candidates:
        raise ValueError(
            "FSDP TRANSFORMER_BASED_WRAP needs a layer class, and this model declares none in _no_split_modules: "
            "set fsdp_transformer_layer_cls_to_wrap in the accelerate config"
        )
    value = ",".join(candidates)
    return value, f"FSDP wraps {value} (no layer class configured: taken from the model's _no_split_modules)"


def checkpointing_choice(gradient_checkpointing: bool, fsdp_activation_checkpointing: bool) -> tuple[bool, str]:
    """(keep transformers' gradient checkpointing?, which one is used, for the log)."""
    if fsdp_activation_checkpointing:
        if gradient_checkpointing:
            return False, (
                "activation checkpointing: FSDP's (fsdp_activation_checkpointing: true); "
                "--gradient_checkpointing is ignored so the two never run together"
            )
        return False, "activation checkpointing: FSDP's (fsdp_activation_checkpointing: true)"
    if gradient_checkpointing:
        return True, "activation checkpointing: transformers' gradient checkpointing (--gradient_checkpointing)"
    return False, "activation checkpointing: off"
