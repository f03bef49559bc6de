"""Load the tokenizer and the model (optionally 4-bit) and attach LoRA adapters.

What we deliberately do not do: pass `use_cache` when loading or rewrite `model.config.use_cache`.
SFT-Play forced `use_cache=False` "for gradient checkpointing"; it interfered with FSDP
initialisation and the saved model then had its KV cache off for inference. transformers already
skips the cache while training with checkpointing (and TRL passes `use_cache=False` per forward).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from training.arguments import LoraArguments, ModelArguments
from training.run_reporter import UserError


class ModelSetupError(UserError):
    """A problem the user can fix (bad path, 4-bit without CUDA): one line, no traceback."""


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    name: str
    num_parameters: int
    trainable_parameters: int
    weight_bytes: float  # bytes per stored weight, for --auto_batch_size
    peft: str  # "none", "lora", "qlora"


def count_parameters(model: Any) -> tuple[int, int]:
    total = trainable = 0
    for p in model.parameters():
        n = p.numel()
        # 4-bit bitsandbytes weights pack two values per byte-element
        if p.__class__.__name__ == "Params4bit":
            n *= 2
        total += n
        if p.requires_grad:
            trainable += n
    return total, trainable


def check_4bit_available() -> None:
    import torch

    problems = []
    if not torch.cuda.is_available():
        problems.append("no CUDA GPU is visible")
    if importlib.util.find_spec("bitsandbytes") is None:
        problems.append("bitsandbytes is not installed")
    if problems:
        raise ModelSetupError(
            "--load_in_4bit (QLoRA) needs a CUDA GPU and bitsandbytes, but "
            + " and ".join(problems)
            + "; use --use_lora without --load_in_4bit instead"
        )


def load_tokenizer(path: str, args: ModelArguments) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            path, cache_dir=args.cache_dir, trust_remote_code=args.trust_remote_code
        )
    except OSError as exc:
        raise ModelSetupError(f"tokenizer {path!r} could not be loaded: {str(exc).splitlines()[0]}") from exc
    if tokenizer.pad_token is None:
        # Many base models ship without a pad token; padding positions are masked out of the loss anyway.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path: str, args: ModelArguments, lora: LoraArguments, local_process_index: int) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {
        "cache_dir": args.cache_dir,
        "trust_remote_code": args.trust_remote_code,
        # transformers 5 always loads on the meta device first and ignores the flag; passing it keeps
        # older transformers from materialising a second random copy in RAM.
        "low_cpu_mem_usage": args.low_cpu_mem_usage,
        "dtype": args.torch_dtype if args.torch_dtype == "auto" else getattr(torch, args.torch_dtype),
    }
    if args.attn_implementation:
        kwargs["attn_implementation"] = args.attn_implementation
    if lora.load_in_4bit:
        check_4bit_available()
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=lora.bnb_4bit_quant_type,
            bnb_4bit_compute_dtype=compute,
            bnb_4bit_use_double_quant=True,
            bnb_4bit_quant_storage=compute,  # lets FSDP shard the packed weights like ordinary ones
        )
        kwargs["device_map"] = {"": local_process_index}
    try:
        return AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise ModelSetupError(f"model {path!r} could not be loaded: {str(exc).splitlines()[0]}") from exc


def attach_lora(model: Any, lora: LoraArguments, gradient_checkpointing: bool) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if lora.load_in_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    targets: str | list[str] = lora.lora_target_modules
    if targets == ["all-linear"]:
        targets = "all-linear"
    config = LoraConfig(
        r=lora.lora_r,
        lora_alpha=lora.lora_alpha,
        lora_dropout=lora.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:  # e.g. target modules not found in the model
        raise ModelSetupError(f"LoRA: {str(exc).splitlines()[0]}") from exc


def weight_bytes(model: Any, lora: LoraArguments) -> float:
    if lora.load_in_4bit:
        return 0.55  # 4 bits + per-block scales (double quantisation)
    for p in model.parameters():
        return float(p.element_size())
    return 4.0


def setup_model(
    path: str, name: str, args: ModelArguments, lora: LoraArguments, local_process_index: int, gc: bool
) -> LoadedModel:
    tokenizer = load_tokenizer(path, args)
    model = load_model(path, args, lora, local_process_index)
    wbytes = weight_bytes(model, lora)
    if lora.use_lora:
        model = attach_lora(model, lora, gc)
    total, trainable = count_parameters(model)
    kind = "qlora" if lora.load_in_4bit else "lora" if lora.use_lora else "none"
    return LoadedModel(model, tokenizer, name, total, trainable, wbytes, kind)
