"""Priming optimizer state before an FSDP1 sharded resume (training/fsdp_resume.py)."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def _tiny_model(attn: str) -> torch.nn.Module:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        attn_implementation=attn,
    )
    return LlamaForCausalLM(config)


def test_optimizer_state_is_created_without_moving_parameters() -> None:
    from training.fsdp_resume import init_optimizer_state

    model = _tiny_model("sdpa")
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    assert init_optimizer_state(optimizer) is True
    assert len(optimizer.state) == len(before)  # every parameter has its Adam moments now
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters()) and optimizer.param_groups[0]["lr"] == 0.1
    assert init_optimizer_state(optimizer) is False  # existing state is never touched
