"""accelerate 1.15's `config` questions as one ordered list of `Question` records.

The order is accelerate's: the compute environment, then either SageMaker's questions or the
local-machine ones (machine type, multi-node, dynamo, DeepSpeed, FSDP, Megatron-LM, processes,
TPU, precision). Each question's `when` decides whether it is asked given the draft so far, so
the whole branching of accelerate's ~880-line `get_cluster_input()` is data here, and
`walk(answers)` (in `walker.py`) is a pure function of the answers.
"""

from __future__ import annotations

from tui.core.graph.kit import guarded
from tui.core.graph.sections import (
    deepspeed,
    dynamo,
    fsdp,
    machine,
    megatron,
    precision,
    processes,
    sagemaker,
    tpu,
)
from tui.core.graph.state import Draft
from tui.core.questions import Question


def _local(draft: Draft) -> bool:
    return not draft.sagemaker


QUESTIONS: tuple[Question, ...] = (
    machine.QUESTIONS[0],  # compute environment
    *sagemaker.BEFORE_DYNAMO,
    *sagemaker.DYNAMO,
    *sagemaker.AFTER_DYNAMO,
    *machine.QUESTIONS[1:],
    *guarded(dynamo.QUESTIONS, _local),
    *deepspeed.QUESTIONS,
    *fsdp.QUESTIONS,
    *megatron.QUESTIONS,
    *processes.QUESTIONS,
    *tpu.QUESTIONS,
    *precision.QUESTIONS,
)

BY_ID: dict[str, Question] = {}
for _q in QUESTIONS:
    # The dynamo questions appear twice (SageMaker and local) under one id: same question, disjoint paths.
    BY_ID.setdefault(_q.id, _q)

#: The twelve questions of the common single-machine path, as the SFT-Play guide lists them.
COMMON_PATH = (
    "compute_environment",
    "distributed_type",
    "num_machines",
    "debug",
    "use_dynamo",
    "use_deepspeed",
    "use_fsdp",
    "use_megatron_lm",
    "num_processes",
    "gpu_ids",
    "enable_cpu_affinity",
    "mixed_precision",
)

__all__ = ["BY_ID", "COMMON_PATH", "QUESTIONS", "Draft", "Question"]
