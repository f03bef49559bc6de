"""Compute environment, machine type, multi-node and multi-CPU questions.

Mirrors the top of `accelerate/commands/config/config.py:get_user_input` and
`cluster.py:get_cluster_input` up to the dynamo question.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from tui.core.graph.kit import field, menu, options, yes_no
from tui.core.graph.state import (
    AMAZON_SAGEMAKER,
    LOCAL_MACHINE,
    MULTI_ANY,
    MULTI_CPU,
    NO,
    XLA,
    Draft,
)
from tui.core.questions import Choice, Kind

SECTION = "Machine"

MACHINE_TYPES = options(
    [
        "No distributed training",
        "multi-CPU",
        "multi-XPU",
        "multi-HPU",
        "multi-GPU",
        "multi-NPU",
        "multi-MLU",
        "multi-SDAA",
        "multi-MUSA",
        "multi-NEURON",
        "TPU",
    ],
    [
        "NO",
        "MULTI_CPU",
        "MULTI_XPU",
        "MULTI_HPU",
        "MULTI_GPU",
        "MULTI_NPU",
        "MULTI_MLU",
        "MULTI_SDAA",
        "MULTI_MUSA",
        "MULTI_NEURON",
        "XLA",
    ],
    [
        "one process: a single GPU, Apple Silicon, or the CPU",
        "several CPU processes (needs mpirun to start more than one)",
        "Intel GPUs (XPU)",
        "Intel Gaudi (HPU)",
        "NVIDIA or AMD GPUs: one process per GPU (DDP, FSDP, DeepSpeed)",
        "Huawei Ascend NPUs",
        "Cambricon MLUs",
        "Tecorigin SDAAs",
        "Moore Threads MUSA GPUs",
        "AWS Trainium/Inferentia (Neuron cores)",
        "Google TPUs through torch_xla",
    ],
)


def _set_environment(draft: Draft, value: Any) -> None:
    draft.compute_environment = value


def _set_machine_type(draft: Draft, value: Any) -> None:
    draft.distributed_type = value
    # accelerate: MULTI_CPU implies use_cpu; every other type except NO is not CPU-only.
    draft.use_cpu = value == MULTI_CPU
    # accelerate: TPUs never ask about mixed precision and write "no".
    draft.mixed_precision = "no" if value == XLA else None


def _set_num_machines(draft: Draft, value: Any) -> None:
    draft.num_machines = value


def _set_hostfile(draft: Draft, value: Any) -> None:
    draft.mpirun_config["mpirun_hostfile"] = os.path.expanduser(str(value).strip())


@functools.lru_cache(maxsize=8)
def _ranks(num_machines: int) -> tuple[Choice, ...]:
    return tuple(Choice(str(i), i) for i in range(num_machines))


def _rank_choices(draft: Draft) -> tuple[Choice, ...]:
    return _ranks(draft.num_machines)


def _multi(draft: Draft) -> bool:
    return draft.distributed_type in MULTI_ANY


def _multi_node(draft: Draft) -> bool:
    return _multi(draft) and draft.num_machines > 1


QUESTIONS = [
    menu(
        "compute_environment",
        "Compute environment",
        "In which compute environment are you running?",
        options(
            ["This machine", "AWS (Amazon SageMaker)"],
            [LOCAL_MACHINE, AMAZON_SAGEMAKER],
            [
                "you start the run yourself, on this machine or your own cluster (most users)",
                "accelerate submits the run as an Amazon SageMaker training job",
            ],
        ),
        section=SECTION,
        sets="compute_environment",
        apply=_set_environment,
        explain=(
            "Where the training runs. Choose 'This machine' for a GPU box, a workstation or a cluster "
            "you log in to, single node or several: you run `accelerate launch` yourself. Choose "
            "SageMaker only if accelerate should submit the job to AWS for you; it then asks about "
            "credentials, an IAM role and an instance type instead of GPUs."
        ),
    ),
    menu(
        "distributed_type",
        "Machine type",
        "Which type of machine are you using?",
        MACHINE_TYPES,
        section=SECTION,
        when=lambda d: not d.sagemaker,
        sets="distributed_type",
        apply=_set_machine_type,
        explain=(
            "How many processes accelerate starts and on what device. 'multi-GPU' starts one process "
            "per GPU and is also the way to FSDP and DeepSpeed (asked next). With a single GPU choose "
            "'No distributed training': multi-GPU with one process on one machine is rejected. "
            "'multi-CPU' only starts several processes through mpirun; without mpirun accelerate "
            "silently runs one (sftplay-tui's launcher and the `cpu` preset work around this)."
        ),
    ),
    field(
        "num_machines",
        "Number of machines",
        "How many different machines will you use (use more than 1 for multi-node training)? [1]: ",
        kind=Kind.INT,
        default=1,
        section=SECTION,
        when=_multi,
        sets="num_machines",
        apply=_set_num_machines,
        explain=(
            "1 for one machine with several GPUs (the common case). More than 1 for multi-node "
            "training: you then run accelerate on every machine, each with its own rank, and the "
            "number of processes asked later is the total across all machines, not per machine."
        ),
    ),
    menu(
        "machine_rank",
        "Rank of this machine",
        "What is the rank of this machine?",
        _rank_choices,
        section=SECTION,
        when=_multi_node,
        sets="machine_rank",
        explain=(
            "This machine's number among the machines, starting at 0. The machine hosting the main "
            "process is 0; every other machine needs a different rank (1, 2, ...). The most common "
            "multi-node mistake is copying the same config, rank 0, to every node: the run then "
            "hangs at start-up."
        ),
    ),
    field(
        "main_process_ip",
        "Main machine IP",
        "What is the IP address of the machine that will host the main process? ",
        kind=Kind.TEXT,
        section=SECTION,
        when=_multi_node,
        sets="main_process_ip",
        explain=(
            "The address of the rank-0 machine as the other machines see it (e.g. 10.0.0.1), not "
            "127.0.0.1 and not a public address the nodes cannot reach. Check with `ip addr` on the "
            "main node and `nc -z <ip> <port>` from another."
        ),
    ),
    field(
        "main_process_port",
        "Main machine port",
        "What is the port you will use to communicate with the main process? ",
        kind=Kind.INT,
        section=SECTION,
        when=_multi_node,
        sets="main_process_port",
        explain=(
            "A free TCP port on the main machine that every node can reach, e.g. 29500. A port "
            "already in use or blocked by a firewall makes the other nodes wait until they time out."
        ),
    ),
    yes_no(
        "same_network",
        "Same local network",
        "Are all the machines on the same local network? Answer `no` if nodes are on the cloud and/or "
        "on different network hosts [YES/no]: ",
        default=True,
        section=SECTION,
        when=_multi_node,
        sets="same_network",
        explain=(
            "Yes when the nodes share a local network (one cluster, one data centre). No for cloud "
            "nodes on different hosts: accelerate then asks for a rendezvous backend such as c10d."
        ),
    ),
    field(
        "rdzv_backend",
        "Rendezvous backend",
        "What rendezvous backend will you use? ('static', 'c10d', ...): ",
        kind=Kind.TEXT,
        default="static",
        section=SECTION,
        when=lambda d: _multi_node(d) and not d.same_network,
        sets="rdzv_backend",
        explain=(
            "How the nodes find each other. 'static' uses the main IP and port as given; 'c10d' lets "
            "torch's elastic agent rendezvous through the main node, which copes better with cloud "
            "networks and late nodes."
        ),
    ),
    yes_no(
        "debug",
        "Check distributed operations",
        "Should distributed operations be checked while running for errors? This can avoid timeout "
        "issues but will be slower. [yes/NO]: ",
        section=SECTION,
        when=_multi,
        sets="debug",
        explain=(
            "No for normal training (faster). Yes while debugging a run that hangs: accelerate then "
            "checks that every process calls the same collective with matching shapes and reports "
            "a mismatch instead of timing out."
        ),
    ),
    yes_no(
        "use_cpu",
        "CPU only",
        "Do you want to run your training on CPU only (even if a GPU / Apple Silicon / Ascend NPU "
        "device is available)? [yes/NO]:",
        section=SECTION,
        when=lambda d: not d.sagemaker and d.distributed_type == NO,
        sets="use_cpu",
        explain=(
            "No to train on the GPU (or Apple Silicon / NPU) when there is one. Yes forces the CPU "
            "even where a GPU exists: useful for trying a script, far too slow for real training."
        ),
    ),
    yes_no(
        "use_mpirun",
        "Launch with mpirun",
        "Do you want accelerate to launch mpirun? [yes/NO]: ",
        section=SECTION,
        when=lambda d: not d.sagemaker and d.use_cpu and d.distributed_type == MULTI_CPU,
        explain=(
            "Whether accelerate starts the CPU processes through mpirun (Intel MPI or MPICH). "
            "Without mpirun, `accelerate launch` of a multi-CPU config starts ONE process, silently. "
            "sftplay-tui's launcher instead starts N connected CPU ranks without mpirun."
        ),
    ),
    field(
        "mpirun_hostfile",
        "mpirun hostfile",
        "Please enter the path to the hostfile to use with mpirun [~/hostfile]: ",
        kind=Kind.TEXT,
        default="~/hostfile",
        section=SECTION,
        when=lambda d: (
            not d.sagemaker and d.use_cpu and d.distributed_type == MULTI_CPU and bool(d.answered("use_mpirun"))
        ),
        sets="mpirun_config.mpirun_hostfile",
        apply=_set_hostfile,
        explain=(
            "The mpirun hostfile listing the machines and their slots, one per line "
            "(`node1 slots=4`). `~` is expanded to your home folder when written."
        ),
    ),
]
