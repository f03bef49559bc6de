"""The environment variables that change what accelerate, torch and NCCL see, and what they mean.

Three groups:
- device visibility and NCCL knobs: CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER, NCCL_P2P_DISABLE,
  NCCL_IB_DISABLE, NCCL_SOCKET_IFNAME, ... and every ACCELERATE_* variable;
- torch.distributed's rendezvous variables: WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE,
  MASTER_ADDR, MASTER_PORT, NODE_RANK, GROUP_RANK;
- what a cluster scheduler sets when it has already started this process as one of several
  ranks: SLURM (SLURM_NTASKS_PER_NODE, SLURM_PROCID, SLURM_LOCALID, ...), MPI (OMPI_COMM_WORLD_*,
  PMI_*, MPI_LOCALNRANKS, MV2_COMM_WORLD_*), Azure ML (AZUREML_*, AZ_BATCH*_; its PyTorch jobs
  set WORLD_SIZE/RANK/LOCAL_RANK/NODE_RANK, its MPI jobs the OMPI_* variables).

`scheduler_layout(env)` reads them into one answer: how many processes the scheduler already
started on this node and which variable says so, so a check can say "the scheduler starts 2 per
node and each `accelerate launch` starts 4: 8 per node".

Values of variables whose names look secret (AZUREML_RUN_TOKEN, ...) are redacted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EXACT = frozenset(
    {
        "CUDA_VISIBLE_DEVICES",
        "CUDA_DEVICE_ORDER",
        "NVIDIA_VISIBLE_DEVICES",
        "HIP_VISIBLE_DEVICES",
        "ROCR_VISIBLE_DEVICES",
        "WORLD_SIZE",
        "RANK",
        "LOCAL_RANK",
        "LOCAL_WORLD_SIZE",
        "GROUP_RANK",
        "NODE_RANK",
        "NNODES",
        "NPROC_PER_NODE",
        "MASTER_ADDR",
        "MASTER_PORT",
        "OMP_NUM_THREADS",
        "PYTORCH_CUDA_ALLOC_CONF",
        "HF_HOME",
        "MPI_LOCALNRANKS",
        "MPI_LOCALRANKID",
        "AZ_BATCH_MASTER_NODE",
        "AZ_BATCHAI_MPI_MASTER_NODE",
    }
)
PREFIXES = (
    "ACCELERATE_",
    "NCCL_",
    "TORCHELASTIC_",
    "OMPI_COMM_WORLD_",
    "PMI_",
    "PMIX_RANK",
    "MV2_COMM_WORLD_",
    "AZUREML_",
)
SLURM_KEEP = frozenset(
    {
        "SLURM_JOB_ID",
        "SLURM_JOB_NAME",
        "SLURM_JOB_NODELIST",
        "SLURM_JOB_NUM_NODES",
        "SLURM_NNODES",
        "SLURM_NODEID",
        "SLURM_NTASKS",
        "SLURM_NPROCS",
        "SLURM_NTASKS_PER_NODE",
        "SLURM_TASKS_PER_NODE",
        "SLURM_STEP_ID",
        "SLURM_STEPID",
        "SLURM_STEP_NUM_TASKS",
        "SLURM_STEP_TASKS_PER_NODE",
        "SLURM_PROCID",
        "SLURM_LOCALID",
        "SLURM_GPUS_ON_NODE",
        "SLURM_GPUS_PER_NODE",
        "SLURM_JOB_GPUS",
        "SLURM_STEP_GPUS",
        "SLURM_CPUS_PER_TASK",
    }
)
_SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|_KEY$|APIKEY|AUTH", re.IGNORECASE)
REDACTED = "<redacted>"


def is_relevant(name: str) -> bool:
    return name in EXACT or name in SLURM_KEEP or name.startswith(PREFIXES)


def collect_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The relevant variables of `environ` (default: this process), secrets redacted."""
    source = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for name, value in source.items():
        if is_relevant(name):
            out[name] = REDACTED if _SECRET.search(name) else value
    return dict(sorted(out.items()))


def as_int(value: Any) -> int | None:
    """An integer from an int, an integral float or a decimal string ("-1", " 2 "); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def truthy(value: str | None) -> bool:
    """accelerate's `str_to_bool` for env values: 1/true/yes/on."""
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on", "y", "t")


def _int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def parse_slurm_tasks_per_node(text: str) -> int | None:
    """SLURM's compressed lists: "4", "4(x2)", "4(x2),2" -> the largest count on one node."""
    counts: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)(?:\(x\d+\))?\s*", part)
        if not match:
            return None
        counts.append(int(match.group(1)))
    return max(counts) if counts else None


@dataclass(frozen=True)
class SchedulerLayout:
    """What a scheduler already started, read from the environment."""

    #: "SLURM", "MPI", "Azure ML", "torchrun" or "torch.distributed"; None: no scheduler ranks.
    scheduler: str | None
    #: Processes the scheduler runs on this node (None: unknown but > 1 ranks exist).
    per_node: int | None
    #: The variable that told us (e.g. "SLURM_NTASKS_PER_NODE=2").
    evidence: str
    world_size: int | None = None
    node_rank: int | None = None
    #: True inside an `srun` step (each task runs the command); False in the batch script itself.
    in_step: bool = True

    @property
    def multiplies(self) -> bool:
        """True when several processes on this node each run the same command."""
        return self.per_node is not None and self.per_node > 1


def _scheduler_name(env: Mapping[str, str]) -> str:
    if any(k.startswith(("AZUREML_", "AZ_BATCH")) for k in env):
        return "Azure ML"
    if "TORCHELASTIC_RUN_ID" in env or "LOCAL_WORLD_SIZE" in env:
        return "torchrun"
    return "torch.distributed"


def scheduler_layout(env: Mapping[str, str]) -> SchedulerLayout:
    """How many processes a scheduler already started on this node, with the evidence."""
    # torchrun / torch elastic states it directly.
    local_world = _int(env, "LOCAL_WORLD_SIZE")
    world = _int(env, "WORLD_SIZE")
    node_rank = _int(env, "NODE_RANK")
    if node_rank is None:
        node_rank = _int(env, "GROUP_RANK")
    if local_world is not None:
        return SchedulerLayout(_scheduler_name(env), local_world, f"LOCAL_WORLD_SIZE={local_world}", world, node_rank)
    # MPI launchers (Open MPI, MPICH/Hydra, MVAPICH); Azure ML MPI jobs are Open MPI.
    for name in ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_LOCAL_SIZE"):
        value = _int(env, name)
        if value is not None:
            label = "Azure ML (MPI)" if _scheduler_name(env) == "Azure ML" else "MPI"
            size = _int(env, "OMPI_COMM_WORLD_SIZE") or _int(env, "PMI_SIZE")
            return SchedulerLayout(label, value, f"{name}={value}", size, node_rank)
    # SLURM: inside an srun step the step's layout counts; in the batch script only the request.
    if "SLURM_JOB_ID" in env or any(k.startswith("SLURM_") for k in env):
        in_step = "SLURM_STEP_ID" in env or "SLURM_STEPID" in env
        for name in ("SLURM_STEP_TASKS_PER_NODE", "SLURM_NTASKS_PER_NODE", "SLURM_TASKS_PER_NODE"):
            raw = env.get(name)
            if raw is None or (name == "SLURM_STEP_TASKS_PER_NODE" and not in_step):
                continue
            value = parse_slurm_tasks_per_node(raw)
            if value is not None:
                return SchedulerLayout(
                    "SLURM",
                    value,
                    f"{name}={raw}",
                    _int(env, "SLURM_NTASKS"),
                    _int(env, "SLURM_NODEID"),
                    in_step=in_step,
                )
        local = _int(env, "SLURM_LOCALID")
        if local is not None and local > 0:
            return SchedulerLayout("SLURM", local + 1, f"SLURM_LOCALID={local}", _int(env, "SLURM_NTASKS"))
    # torch.distributed variables set by a scheduler (Azure ML PyTorch jobs, Kubeflow, ...).
    if world is not None and world > 1:
        nodes = None
        for name in ("AZUREML_NODE_COUNT", "NNODES", "SLURM_NNODES", "SLURM_JOB_NUM_NODES"):
            nodes = _int(env, name)
            if nodes:
                per = world // nodes if world % nodes == 0 else None
                return SchedulerLayout(
                    _scheduler_name(env), per, f"WORLD_SIZE={world} over {name}={nodes}", world, node_rank
                )
        local_rank = _int(env, "LOCAL_RANK")
        if local_rank is not None and local_rank > 0:
            return SchedulerLayout(
                _scheduler_name(env), None, f"LOCAL_RANK={local_rank} (WORLD_SIZE={world})", world, node_rank
            )
        return SchedulerLayout(_scheduler_name(env), None, f"WORLD_SIZE={world}", world, node_rank)
    return SchedulerLayout(None, None, "", world, node_rank)
