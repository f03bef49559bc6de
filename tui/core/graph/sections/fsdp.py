"""FSDP (1 and 2) and the FSDP2 parallelism-config questions (`cluster.py`, the `use_fsdp` block)."""

from __future__ import annotations

from typing import Any

from tui.core.graph.kit import INT_ERROR, field, menu, options, yes_no
from tui.core.graph.state import FSDP, MULTI_DEVICE, MULTI_NEURON, Draft
from tui.core.questions import Kind

SECTION = "FSDP"

FSDP_SHARDING_STRATEGY = ["FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD", "HYBRID_SHARD_ZERO2"]
FSDP_AUTO_WRAP_POLICY = ["TRANSFORMER_BASED_WRAP", "SIZE_BASED_WRAP", "NO_WRAP"]
FSDP_BACKWARD_PREFETCH = ["BACKWARD_PRE", "BACKWARD_POST", "NO_PREFETCH"]
FSDP_STATE_DICT_TYPE = ["FULL_STATE_DICT", "LOCAL_STATE_DICT", "SHARDED_STATE_DICT"]
FSDP2_STATE_DICT_TYPE = ["SHARDED_STATE_DICT", "FULL_STATE_DICT"]

_STATE_DICT_NOTES = {
    "FULL_STATE_DICT": "one ordinary checkpoint gathered on rank 0: easy to load anywhere, slow and memory-hungry for big models",
    "LOCAL_STATE_DICT": "each rank's flat shard: fastest, only reloadable with the same world size (FSDP1 only)",
    "SHARDED_STATE_DICT": "one file per rank, reshardable: the fast, safe default for big models",
}


def _asked(draft: Draft) -> bool:
    return not draft.sagemaker and draft.distributed_type in MULTI_DEVICE


def _set_use_fsdp(draft: Draft, value: Any) -> None:
    if value:
        draft.distributed_type = FSDP


def _reject_fsdp(draft: Draft, value: Any) -> str | None:
    if value and draft.distributed_type == MULTI_NEURON:
        return "FSDP is not currently supported on Neuron devices; answer no (accelerate raises NotImplementedError)."
    return None


def _fsdp(draft: Draft) -> bool:
    return not draft.sagemaker and draft.distributed_type == FSDP


def _v1(draft: Draft) -> bool:
    return _fsdp(draft) and draft.fsdp_version == 1


def _v2(draft: Draft) -> bool:
    return _fsdp(draft) and draft.fsdp_version == 2


def _policy(draft: Draft) -> Any:
    return draft.fsdp_config.get("fsdp_auto_wrap_policy")


def _set_cpu_ram_efficient(draft: Draft, value: Any) -> None:
    draft.fsdp_config["fsdp_cpu_ram_efficient_loading"] = value
    # accelerate: with FSDP1, efficient loading needs rank 0 to broadcast, so it forces sync on.
    if draft.fsdp_version == 1 and value:
        draft.fsdp_config["fsdp_sync_module_states"] = True


def _state_dict_choices(draft: Draft) -> list[Any]:
    names = FSDP_STATE_DICT_TYPE if draft.fsdp_version == 1 else FSDP2_STATE_DICT_TYPE
    return list(options(names, notes=[_STATE_DICT_NOTES[n] for n in names]))


def _parallelism(draft: Draft) -> bool:
    return not draft.sagemaker and draft.fsdp_config.get("fsdp_version", 1) == 2


def _use_parallelism(draft: Draft) -> bool:
    return _parallelism(draft) and bool(draft.answered("use_parallelism_config"))


QUESTIONS = [
    yes_no(
        "use_fsdp",
        "FSDP",
        "Do you want to use FullyShardedDataParallel? [yes/NO]: ",
        section=SECTION,
        when=_asked,
        sets="distributed_type",
        apply=_set_use_fsdp,
        reject=_reject_fsdp,
        explain=(
            "FSDP shards the parameters, gradients and optimizer states across the GPUs so each holds "
            "a part, to train models that do not fit on one GPU with DDP. For LoRA/QLoRA of a model "
            "that fits, DDP (no) is simpler and faster. FSDP needs GPUs: on a CPU-only machine "
            "accelerate silently falls back to DDP."
        ),
    ),
    menu(
        "fsdp_version",
        "FSDP version",
        "What should be your FSDP version? [2]: ",
        options(
            ["1", "2"],
            [1, 2],
            ["the original FSDP (FlatParameter)", "per-parameter sharding (DTensor): recommended"],
        ),
        default=1,
        section=SECTION,
        when=_fsdp,
        sets="fsdp_config.fsdp_version",
        explain=(
            "FSDP2 (torch >= 2.6) shards each parameter separately, composes with LoRA and torch.compile "
            "and has simpler options; FSDP1 is the older API. Choose 2 unless your code relies on FSDP1."
        ),
    ),
    menu(
        "fsdp_sharding_strategy",
        "Sharding strategy",
        "What should be your sharding strategy?",
        options(
            FSDP_SHARDING_STRATEGY,
            notes=[
                "shard parameters, gradients and optimizer states (most memory saved)",
                "shard gradients and optimizer states only (ZeRO-2 like, less communication)",
                "no sharding: DDP behaviour",
                "full shard within a node, replicate across nodes",
                "shard-grad-op within a node, replicate across nodes",
            ],
        ),
        section=SECTION,
        when=_v1,
        sets="fsdp_config.fsdp_reshard_after_forward",
        explain=(
            "What FSDP1 shards. FULL_SHARD saves the most memory; SHARD_GRAD_OP keeps parameters whole "
            "between forward and backward (faster, more memory); HYBRID_* for multi-node with fast "
            "links inside a node. (accelerate 1.15 stores it as fsdp_reshard_after_forward.)"
        ),
    ),
    yes_no(
        "fsdp_reshard_after_forward",
        "Reshard after forward",
        "Do you want to enable resharding after forward? [YES/no]: ",
        default=True,
        section=SECTION,
        when=_v2,
        sets="fsdp_config.fsdp_reshard_after_forward",
        explain=(
            "Yes frees each layer's gathered parameters after its forward pass (least memory, the "
            "FULL_SHARD behaviour). No keeps them until backward: faster, more memory (SHARD_GRAD_OP)."
        ),
    ),
    yes_no(
        "fsdp_offload_params",
        "Offload to CPU",
        "Do you want to offload parameters and gradients to CPU? [yes/NO]: ",
        section=SECTION,
        when=_fsdp,
        sets="fsdp_config.fsdp_offload_params",
        explain=(
            "Yes keeps parameters and gradients in CPU RAM and moves them to the GPU when needed: "
            "fits much bigger models, trains several times slower and needs plenty of RAM."
        ),
    ),
    menu(
        "fsdp_auto_wrap_policy",
        "Auto wrap policy",
        "What should be your auto wrap policy?",
        options(
            FSDP_AUTO_WRAP_POLICY,
            notes=[
                "one FSDP unit per transformer block (the right choice for LLMs)",
                "wrap any submodule above a parameter count",
                "one unit for the whole model: no memory saving during forward",
            ],
        ),
        section=SECTION,
        when=_fsdp,
        sets="fsdp_config.fsdp_auto_wrap_policy",
        explain=(
            "How the model is cut into FSDP units, each gathered only while it runs. For transformers "
            "choose TRANSFORMER_BASED_WRAP and wrap the decoder layer class."
        ),
    ),
    yes_no(
        "fsdp_use_no_split_modules",
        "Use the model's _no_split_modules",
        "Do you want to use the model's `_no_split_modules` to wrap. Only applicable for 🤗 Transformers [yes/NO]: ",
        section=SECTION,
        when=lambda d: _fsdp(d) and _policy(d) == FSDP_AUTO_WRAP_POLICY[0],
        explain=(
            "Yes lets accelerate read the layer class from the model (`model._no_split_modules`, e.g. "
            "LlamaDecoderLayer for Llama, Qwen2DecoderLayer for Qwen2): the safest choice for 🤗 "
            "Transformers models. No to type the class names yourself."
        ),
    ),
    field(
        "fsdp_transformer_layer_cls_to_wrap",
        "Layer class to wrap",
        "Specify the comma-separated list of transformer layer class names (case-sensitive) to wrap ,e.g, :"
        "`BertLayer`, `GPTJBlock`, `T5Block`, `BertLayer,BertEmbeddings,BertSelfOutput` ...? : ",
        kind=Kind.TEXT,
        section=SECTION,
        when=lambda d: (
            _fsdp(d) and _policy(d) == FSDP_AUTO_WRAP_POLICY[0] and not d.answered("fsdp_use_no_split_modules")
        ),
        sets="fsdp_config.fsdp_transformer_layer_cls_to_wrap",
        explain=(
            "The class name of one transformer block of YOUR model, exactly as in its code: "
            "LlamaDecoderLayer (Llama, Mistral-style), Qwen2DecoderLayer, Phi3DecoderLayer, "
            "GemmaDecoderLayer, GPT2Block. Find it with `print(model)` or in "
            "`model._no_split_modules`. A class the model lacks fails at launch with "
            "'Could not find the transformer layer class'."
        ),
    ),
    field(
        "fsdp_min_num_params",
        "Minimum parameters per unit",
        "What should be your FSDP's minimum number of parameters for Default Auto Wrapping Policy? [1e8]: ",
        kind=Kind.INT,
        default=100000000,
        section=SECTION,
        when=lambda d: _fsdp(d) and _policy(d) == FSDP_AUTO_WRAP_POLICY[1],
        sets="fsdp_config.fsdp_min_num_params",
        explain="Submodules with at least this many parameters become FSDP units. Type digits (100000000), not 1e8.",
    ),
    menu(
        "fsdp_backward_prefetch",
        "Backward prefetch",
        "What should be your FSDP's backward prefetch policy?",
        options(
            FSDP_BACKWARD_PREFETCH,
            notes=[
                "fetch the next unit before the current gradient: fastest, a little more memory",
                "fetch after the current gradient: less memory",
                "no prefetch: least memory, slowest",
            ],
        ),
        section=SECTION,
        when=_v1,
        sets="fsdp_config.fsdp_backward_prefetch",
        explain="When FSDP1 fetches the next unit's parameters during backward. BACKWARD_PRE is the usual choice.",
    ),
    menu(
        "fsdp_state_dict_type",
        "State dict type",
        "What should be your FSDP's state dict type?",
        _state_dict_choices,
        section=SECTION,
        when=_fsdp,
        sets="fsdp_config.fsdp_state_dict_type",
        explain=(
            "How checkpoints are saved. SHARDED_STATE_DICT (one file per rank) is fast and safe; "
            "FULL_STATE_DICT gathers a normal checkpoint on rank 0, convenient for small models."
        ),
    ),
    yes_no(
        "fsdp_forward_prefetch",
        "Forward prefetch",
        "Do you want to enable FSDP's forward prefetch policy? [yes/NO]: ",
        section=SECTION,
        when=_v1,
        sets="fsdp_config.fsdp_forward_prefetch",
        explain="Yes fetches the next unit during forward. Helps CPU-bound models; only with a static graph.",
    ),
    yes_no(
        "fsdp_use_orig_params",
        "use_orig_params",
        "Do you want to enable FSDP's `use_orig_params` feature? [YES/no]: ",
        default=True,
        section=SECTION,
        when=_v1,
        sets="fsdp_config.fsdp_use_orig_params",
        explain=(
            "Yes keeps the original parameters visible to the optimizer. Required for LoRA/PEFT "
            "(frozen and trainable parameters mixed) and torch.compile: keep yes."
        ),
    ),
    yes_no(
        "fsdp_cpu_ram_efficient_loading",
        "CPU-RAM-efficient loading",
        "Do you want to enable CPU RAM efficient model loading? Only applicable for 🤗 Transformers models. [YES/no]: ",
        default=True,
        section=SECTION,
        when=_fsdp,
        sets="fsdp_config.fsdp_cpu_ram_efficient_loading",
        apply=_set_cpu_ram_efficient,
        explain=(
            "Yes loads the weights on rank 0 only and gives the other ranks empty shells filled by "
            "FSDP: 8 GPUs need 1x the model in RAM instead of 8x. Keep yes for 🤗 Transformers models."
        ),
    ),
    yes_no(
        "fsdp_sync_module_states",
        "Sync module states",
        "Do you want each individually wrapped FSDP unit to broadcast module parameters from rank 0 at the start? [YES/no]: ",
        default=True,
        section=SECTION,
        when=lambda d: _v1(d) and not d.fsdp_config.get("fsdp_cpu_ram_efficient_loading"),
        sets="fsdp_config.fsdp_sync_module_states",
        explain="Yes makes every rank start from rank 0's weights. Keep yes unless every rank loads the same weights itself.",
    ),
    yes_no(
        "fsdp_activation_checkpointing",
        "FSDP activation checkpointing",
        "Do you want to enable FSDP activation checkpointing? [yes/NO]: ",
        section=SECTION,
        when=_fsdp,
        sets="fsdp_config.fsdp_activation_checkpointing",
        explain=(
            "Yes recomputes each wrapped block's activations in backward instead of storing them: "
            "much less memory, ~30% slower. Do not also pass --gradient_checkpointing to the trainer: "
            "use one or the other (sftplay-tui's trainer picks FSDP's and says so)."
        ),
    ),
    yes_no(
        "use_parallelism_config",
        "Parallelism config (FSDP2)",
        "Do you want to use the parallelism config? [yes/NO]: ",
        section=SECTION,
        when=_parallelism,
        explain=(
            "Yes to combine FSDP2 with replication, tensor or context parallelism (N-D parallelism). "
            "For fine-tuning on one node, no."
        ),
    ),
    field(
        "parallelism_config_dp_replicate_size",
        "Replicate size",
        "What is the data parallelism replicate size? [1]: ",
        kind=Kind.INT,
        default=1,
        error_message=INT_ERROR,
        section=SECTION,
        when=_use_parallelism,
        sets="parallelism_config.parallelism_config_dp_replicate_size",
        explain="How many full replicas (HSDP across nodes). The product of all sizes must equal the number of processes.",
    ),
    field(
        "parallelism_config_dp_shard_size",
        "Shard size",
        "What is the FSDP shard size? [1]: ",
        kind=Kind.INT,
        default=1,
        error_message=INT_ERROR,
        section=SECTION,
        when=_use_parallelism,
        sets="parallelism_config.parallelism_config_dp_shard_size",
        explain="Across how many processes each replica is sharded (usually the GPUs of one node).",
    ),
    field(
        "parallelism_config_tp_size",
        "Tensor parallel size",
        "What is the tensor parallelism size? [1]: ",
        kind=Kind.INT,
        default=1,
        error_message=INT_ERROR,
        section=SECTION,
        when=_use_parallelism,
        sets="parallelism_config.parallelism_config_tp_size",
        explain="How many GPUs split each matrix multiply; needs a model with a TP plan. Keep within one NVLink node.",
    ),
    field(
        "parallelism_config_cp_size",
        "Context parallel size",
        "What is the context parallelism size? [1]: ",
        kind=Kind.INT,
        default=1,
        error_message=INT_ERROR,
        section=SECTION,
        when=_use_parallelism,
        sets="parallelism_config.parallelism_config_cp_size",
        explain="How many GPUs split each sequence: for very long contexts only.",
    ),
    menu(
        "parallelism_config_cp_comm_strategy",
        "Context parallel communication",
        "What is the compute parallelism communication strategy?",
        options(
            ["allgather", "alltoall"],
            notes=["gather keys/values on every rank", "exchange heads between ranks"],
        ),
        section=SECTION,
        when=lambda d: _use_parallelism(d) and int(d.parallelism_config.get("parallelism_config_cp_size", 1)) > 1,
        sets="parallelism_config.parallelism_config_cp_comm_strategy",
        explain="How context-parallel ranks share attention keys and values.",
    ),
]
