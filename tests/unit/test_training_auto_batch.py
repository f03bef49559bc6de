"""--auto_batch_size arithmetic (training/auto_batch.py), on made-up machines."""

from __future__ import annotations

import pytest

from training.auto_batch import (
    GIB,
    BatchRequest,
    BatchSizeError,
    ModelShape,
    activation_bytes_per_sample,
    optimizer_bytes_per_param,
    plan_batch,
)

# A 0.5B-ish Llama-style shape.
SHAPE = ModelShape(
    num_parameters=500_000_000,
    trainable_parameters=500_000_000,
    hidden_size=1024,
    intermediate_size=2816,
    num_layers=24,
    num_heads=16,
    vocab_size=32_000,
)


def _req(**over: object) -> BatchRequest:
    fields: dict[str, object] = dict(
        free_bytes=80 * GIB,
        memory_source="test",
        world_size=4,
        global_batch_size=64,
        seq_len=1024,
        weight_bytes=2.0,
        mixed_precision="bf16",
        optimizer="adamw_torch",
        gradient_checkpointing=False,
        safety_margin=0.15,
    )
    fields.update(over)
    return BatchRequest(**fields)  # type: ignore[arg-type]


def test_static_memory_is_weights_gradients_and_adam_state() -> None:
    plan = plan_batch(SHAPE, _req())
    # bf16 weights (2 B) + fp32 gradients under mixed precision (4 B) + two fp32 Adam moments (8 B)
    assert plan.static_bytes == 500_000_000 * (2 + 4 + 8)


def test_batch_and_accumulation_reach_the_global_batch() -> None:
    plan = plan_batch(SHAPE, _req())
    per_sample, _ = activation_bytes_per_sample(SHAPE, _req())
    usable = 80 * GIB * 0.85 - plan.static_bytes
    assert plan.max_per_device == int(usable // per_sample)
    assert plan.per_device_batch_size <= plan.max_per_device
    assert plan.per_device_batch_size * plan.gradient_accumulation_steps * 4 == plan.global_batch_size == 64
    # the fewest accumulation steps that fit: one fewer would need more than fits
    if plan.gradient_accumulation_steps > 1:
        assert -(-64 // (4 * (plan.gradient_accumulation_steps - 1))) > plan.max_per_device


def test_less_memory_means_smaller_batches_and_more_accumulation() -> None:
    roomy = plan_batch(SHAPE, _req(free_bytes=80 * GIB))
    tight = plan_batch(SHAPE, _req(free_bytes=12 * GIB))
    assert tight.max_per_device < roomy.max_per_device
    assert tight.gradient_accumulation_steps > roomy.gradient_accumulation_steps
    assert tight.per_device_batch_size * tight.gradient_accumulation_steps * 4 >= 64


def test_checkpointing_and_fsdp_make_room() -> None:
    base = plan_batch(SHAPE, _req(free_bytes=24 * GIB))
    ckpt = plan_batch(SHAPE, _req(free_bytes=24 * GIB, gradient_checkpointing=True))
    fsdp = plan_batch(SHAPE, _req(free_bytes=24 * GIB, fsdp_shards=4))
    assert ckpt.per_sample_bytes < base.per_sample_bytes and ckpt.max_per_device > base.max_per_device
    assert fsdp.static_bytes == pytest.approx(base.static_bytes / 4)
    assert fsdp.max_per_device > base.max_per_device


def test_lora_only_pays_optimizer_state_for_trainable_parameters() -> None:
    lora = ModelShape(**{**SHAPE.__dict__, "trainable_parameters": 5_000_000})
    plan = plan_batch(lora, _req())
    assert plan.static_bytes == 500_000_000 * 2 + 5_000_000 * (4 + 8)


def test_uneven_global_batch_reports_the_actual_one() -> None:
    plan = plan_batch(SHAPE, _req(global_batch_size=10, world_size=4, free_bytes=80 * GIB))
    assert plan.global_batch_size == 12 and plan.per_device_batch_size == 3
    assert "actual 12" in plan.lines[-1]


def test_the_printout_shows_the_numbers() -> None:
    plan = plan_batch(SHAPE, _req())
    text = "\n".join(plan.lines)
    for needle in ("80.00 GiB", "15%", "500,000,000 params x 2 B", "adamw_torch: 8 B", "seq 1024", "4 processes"):
        assert needle in text, needle


def test_not_even_one_sample_fits_is_a_clear_error() -> None:
    with pytest.raises(BatchSizeError, match=r"does not fit even one sample per device.*free"):
        plan_batch(SHAPE, _req(free_bytes=6 * GIB))


@pytest.mark.parametrize(
    ("optim", "expected"),
    [
        ("adamw_torch", 8),
        ("adamw_torch_fused", 8),
        ("adamw_bnb_8bit", 2),
        ("paged_adamw_8bit", 2),
        ("sgd", 4),
        ("adafactor", 4),
        ("something_new", 8),
    ],
)
def test_optimizer_state_sizes(optim: str, expected: float) -> None:
    assert optimizer_bytes_per_param(optim) == expected
