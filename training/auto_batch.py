"""--auto_batch_size: choose per-device batch and gradient accumulation from the memory at hand.

Pure arithmetic (no torch), so it is unit-tested with made-up machines and the printed lines show
every number that went into the choice. SFT-Play's version guessed from the GPU name; this one
starts from what is actually free.

Memory model per process (bytes; an estimate, hence the safety margin):

static = weights + gradients + optimizer state (each divided by the world size under FSDP,
which shards all three)

- weights:   parameters x bytes per weight (4 fp32, 2 bf16/fp16, ~0.55 for 4-bit incl. scales)
- gradients: trainable parameters x 4 under mixed precision (fp32 master weights), else
  x bytes per weight
- optimizer: trainable parameters x bytes per parameter of the optimizer (AdamW keeps two fp32
  moments: 8; 8-bit Adam: 2; SGD with momentum: 4; Adafactor: ~4)

per sample = activations + logits

- activations, per layer and token: about 10 x hidden + 3 x intermediate values (attention
  inputs, q/k/v/o, norms, MLP up/gate/act/down inputs) plus heads x seq attention scores,
  in the compute precision. With gradient checkpointing only each layer's input is kept
  (hidden values per token per layer) plus one layer being recomputed.
- logits: seq x vocab in fp32, once for the values and once for their gradient.

usable = free memory x (1 - safety margin) - static - fixed overhead
max per-device batch = floor(usable / per sample)

Then the requested global batch G over W processes is reached with the fewest accumulation steps
A such that the per-device batch B = ceil(G / (W x A)) fits; B x A x W is reported as the actual
global batch (equal to G when it divides evenly, else the next value above it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from training.run_reporter import UserError

GIB = 1024**3
MIB = 1024**2

OPTIMIZER_BYTES = {
    "adamw": 8.0,
    "adam": 8.0,
    "8bit": 2.0,
    "sgd": 4.0,
    "adafactor": 4.0,
    "lion": 4.0,
}


def optimizer_bytes_per_param(optim: str) -> float:
    """Bytes of optimizer state per trainable parameter for a TrainingArguments `optim` name."""
    name = optim.lower()
    if "8bit" in name or "bnb" in name:
        return OPTIMIZER_BYTES["8bit"]
    for key in ("adafactor", "lion", "sgd", "adamw", "adam"):
        if key in name:
            return OPTIMIZER_BYTES[key]
    return OPTIMIZER_BYTES["adamw"]  # unknown: assume the common, larger case


@dataclass(frozen=True)
class ModelShape:
    num_parameters: int
    trainable_parameters: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    vocab_size: int


@dataclass(frozen=True)
class BatchRequest:
    free_bytes: int  # free memory for this process (GPU free memory, or available RAM / local processes)
    memory_source: str  # where free_bytes came from, for the printout
    world_size: int
    global_batch_size: int
    seq_len: int
    weight_bytes: float  # bytes per stored weight
    mixed_precision: str  # "no", "bf16", "fp16"
    optimizer: str
    gradient_checkpointing: bool
    fsdp_shards: int = 1  # >1 when parameters/gradients/optimizer state are sharded over processes
    safety_margin: float = 0.15
    overhead_bytes: int = 0  # CUDA context, allocator slack


@dataclass
class BatchPlan:
    per_device_batch_size: int
    gradient_accumulation_steps: int
    global_batch_size: int
    max_per_device: int
    static_bytes: float
    per_sample_bytes: float
    usable_bytes: float
    lines: list[str] = field(default_factory=list)


class BatchSizeError(UserError):
    """Even one sample per device does not fit: a one-line explanation with the numbers."""


def _fmt(n: float) -> str:
    return f"{n / GIB:.2f} GiB" if abs(n) >= GIB else f"{n / MIB:.1f} MiB"


def activation_bytes_per_sample(shape: ModelShape, req: BatchRequest) -> tuple[float, str]:
    act = 4.0 if req.mixed_precision == "no" and req.weight_bytes >= 4 else 2.0
    s = req.seq_len
    per_token_layer = 10 * shape.hidden_size + 3 * shape.intermediate_size + shape.num_heads * s
    full_layer = s * per_token_layer * act
    if req.gradient_checkpointing:
        layers = shape.num_layers * s * shape.hidden_size * act + full_layer
        how = f"checkpointed: {shape.num_layers} layer inputs + 1 layer recomputed"
    else:
        layers = shape.num_layers * full_layer
        how = f"{shape.num_layers} layers x {_fmt(full_layer)}"
    logits = 2 * s * shape.vocab_size * 4.0
    return layers + logits, f"{how} + logits {_fmt(logits)}"


def plan_batch(shape: ModelShape, req: BatchRequest) -> BatchPlan:
    if req.world_size < 1 or req.global_batch_size < 1 or req.seq_len < 1:
        raise BatchSizeError("world size, global batch size and sequence length must be positive")
    shards = max(1, req.fsdp_shards)
    grad_bytes = 4.0 if req.mixed_precision in ("bf16", "fp16") else req.weight_bytes
    opt_bytes = optimizer_bytes_per_param(req.optimizer)
    weights = shape.num_parameters * req.weight_bytes / shards
    grads = shape.trainable_parameters * grad_bytes / shards
    optim = shape.trainable_parameters * opt_bytes / shards
    static = weights + grads + optim
    per_sample, how = activation_bytes_per_sample(shape, req)
    usable = req.free_bytes * (1 - req.safety_margin) - static - req.overhead_bytes
    max_per_device = int(usable // per_sample) if usable > 0 else 0

    shard_note = f" / {shards} FSDP shards" if shards > 1 else ""
    lines = [
        f"auto batch size: free memory {_fmt(req.free_bytes)} per process ({req.memory_source}), "
        f"safety margin {req.safety_margin:.0%}"
        + (f", overhead {_fmt(req.overhead_bytes)}" if req.overhead_bytes else ""),
        f"  weights {_fmt(weights)} ({shape.num_parameters:,} params x {req.weight_bytes:g} B{shard_note})"
        f" + gradients {_fmt(grads)} ({shape.trainable_parameters:,} trainable x {grad_bytes:g} B)"
        f" + optimizer {_fmt(optim)} ({req.optimizer}: {opt_bytes:g} B x trainable) = static {_fmt(static)}",
        f"  per sample {_fmt(per_sample)} at seq {req.seq_len} ({how})",
        f"  usable {_fmt(req.free_bytes)} x {1 - req.safety_margin:.2f} - static = {_fmt(usable)}"
        f" -> at most {max_per_device:,} samples per device",
    ]
    if max_per_device < 1:
        raise BatchSizeError(
            f"does not fit even one sample per device: static {_fmt(static)} + one sample {_fmt(per_sample)} "
            f"vs {_fmt(req.free_bytes * (1 - req.safety_margin))} usable of {_fmt(req.free_bytes)} free "
            "(try LoRA, --gradient_checkpointing, a shorter --max_seq_length or FSDP)"
        )

    per_process_needed = math.ceil(req.global_batch_size / req.world_size)
    accum = max(1, math.ceil(per_process_needed / max_per_device))
    per_device = math.ceil(req.global_batch_size / (req.world_size * accum))
    actual = per_device * accum * req.world_size
    lines.append(
        f"  global batch {req.global_batch_size} = {req.world_size} processes x {per_device} per device x "
        f"{accum} accumulation step{'s' if accum > 1 else ''}"
        + ("" if actual == req.global_batch_size else f" -> actual {actual} (next multiple reachable)")
    )
    return BatchPlan(
        per_device_batch_size=per_device,
        gradient_accumulation_steps=accum,
        global_batch_size=actual,
        max_per_device=max_per_device,
        static_bytes=static,
        per_sample_bytes=per_sample,
        usable_bytes=usable,
        lines=lines,
    )
