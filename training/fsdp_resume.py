"""Resuming FSDP1 sharded checkpoints with their optimizer state.

accelerate 1.15 loads an FSDP1 SHARDED_STATE_DICT optimizer checkpoint into a template made by
`FSDP.optim_state_dict(model, optimizer)`. The Trainer resumes before the first optimizer step,
when the optimizer has no state yet, so the template has no entries for the Adam moments and
`torch.distributed.checkpoint` loads nothing into them: training continues with fresh moments and
the resumed run drifts from the original one (measured: identical loss on the first resumed step,
different from the second on). FSDP2 goes through torch's `get_optimizer_state_dict`, which first
creates the state with a zero-learning-rate step; we do the same for FSDP1 before the load.
"""

from __future__ import annotations

from typing import Any

import torch


def init_optimizer_state(optimizer: Any) -> bool:
    """Create every optimizer state entry with one zero-gradient, zero-learning-rate step.

    Parameters are unchanged (lr 0, zero gradients; decoupled weight decay scales by lr too).
    Returns False (doing nothing) when the state already exists or gradients are present.
    """
    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate wraps the torch optimizer
    if inner.state:
        return False
    params = [p for group in inner.param_groups for p in group["params"]]
    if any(p.grad is not None for p in params):
        return False
    for p in params:
        if p.requires_grad:
            p.grad = torch.zeros_like(p)
    saved = [group["lr"] for group in inner.param_groups]
    for group in inner.param_groups:
        group["lr"] = torch.tensor(0.0) if isinstance(group["lr"], torch.Tensor) else 0.0
    inner.step()
    for group, lr in zip(inner.param_groups, saved, strict=True):
        group["lr"] = lr
    inner.zero_grad(set_to_none=True)
    return True


def needs_state_before_load(trainer: Any) -> bool:
    """FSDP1 with a sharded state dict: the only path that loads into an empty template."""
    if not getattr(trainer, "is_fsdp_enabled", False):
        return False
    plugin = trainer.accelerator.state.fsdp_plugin
    return bool(plugin.fsdp_version == 1 and "FULL_STATE_DICT" not in str(plugin.state_dict_type))
