"""Megatron-LM questions (asked only for multi-GPU that is neither DeepSpeed nor FSDP)."""

from __future__ import annotations

from typing import Any

from tui.core.graph.kit import INT_ERROR, field, yes_no
from tui.core.graph.state import MEGATRON_LM, MULTI_GPU, Draft
from tui.core.questions import Kind

SECTION = "Megatron-LM"
P = "megatron_lm_config.megatron_lm_"


def _set_use_megatron(draft: Draft, value: Any) -> None:
    if value:
        draft.distributed_type = MEGATRON_LM


def _megatron(draft: Draft) -> bool:
    return not draft.sagemaker and draft.distributed_type == MEGATRON_LM


def _degree(draft: Draft, name: str) -> int:
    return int(draft.megatron_lm_config.get(f"megatron_lm_{name}", 1))


QUESTIONS = [
    yes_no(
        "use_megatron_lm",
        "Megatron-LM",
        "Do you want to use Megatron-LM ? [yes/NO]: ",
        section=SECTION,
        when=lambda d: not d.sagemaker and d.distributed_type == MULTI_GPU,
        sets="distributed_type",
        apply=_set_use_megatron,
        explain=(
            "Megatron-LM's tensor and pipeline parallelism for pre-training very large models with "
            "Megatron's own model classes. Not for fine-tuning Hugging Face models with LoRA: answer no."
        ),
    ),
    field(
        "megatron_lm_tp_degree",
        "Tensor parallel degree",
        "What is the Tensor Parallelism degree/size? [1]:",
        kind=Kind.INT,
        default=1,
        error_message=INT_ERROR,
        section=SECTION,
        when=_megatron,
        sets=P + "tp_degree",
        explain="How many GPUs split each layer's matrices. Keep it within one NVLink-connected node.",
    ),
    yes_no(
        "megatron_lm_sequence_parallelism",
        "Sequence parallelism",
        "Do you want to enable Sequence Parallelism? [YES/no]: ",
        default=True,
        section=SECTION,
        when=lambda d: _megatron(d) and _degree(d, "tp_degree") > 1,
        sets=P + "sequence_parallelism",
        explain="Yes also splits layer-norm and dropout activations along the sequence: saves memory with TP.",
    ),
    field(
        "megatron_lm_pp_degree",
        "Pipeline parallel degree",
        "What is the Pipeline Parallelism degree/size? [1]:",
        kind=Kind.INT,
        default=1,
        error_message=INT_ERROR,
        section=SECTION,
        when=_megatron,
        sets=P + "pp_degree",
        explain="How many pipeline stages the layers are split into.",
    ),
    field(
        "megatron_lm_num_micro_batches",
        "Micro-batches",
        "What is the number of micro-batches? [1]:",
        kind=Kind.INT,
        default=1,
        error_message=INT_ERROR,
        section=SECTION,
        when=lambda d: _megatron(d) and _degree(d, "pp_degree") > 1,
        sets=P + "num_micro_batches",
        explain="Micro-batches per step to keep the pipeline stages busy; several times the stage count is typical.",
    ),
    yes_no(
        "megatron_lm_recompute_activations",
        "Selective recomputation",
        "Do you want to enable selective activation recomputation? [YES/no]: ",
        default=True,
        section=SECTION,
        when=_megatron,
        sets=P + "recompute_activations",
        explain="Yes recomputes the cheap, memory-heavy attention parts in backward.",
    ),
    yes_no(
        "megatron_lm_use_distributed_optimizer",
        "Distributed optimizer",
        "Do you want to use distributed optimizer which shards optimizer state and gradients across data "
        "parallel ranks? [YES/no]: ",
        default=True,
        section=SECTION,
        when=_megatron,
        sets=P + "use_distributed_optimizer",
        explain="Yes shards optimizer states across data-parallel ranks (ZeRO-1 like).",
    ),
    field(
        "megatron_lm_gradient_clipping",
        "Gradient clipping",
        "What is the gradient clipping value based on global L2 Norm (0 to disable)? [1.0]: ",
        kind=Kind.FLOAT,
        default=1.0,
        section=SECTION,
        when=_megatron,
        sets=P + "gradient_clipping",
        explain="Maximum global gradient norm; 0 disables clipping.",
    ),
]
