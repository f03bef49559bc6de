"""Packed batches as rows, for attention kernels without variable-length support (sdpa, eager).

TRL packs examples into bins of `max_seq_length` tokens (best-fit decreasing) and then, in
"padding-free" mode, concatenates the whole batch into ONE row of batch x max_seq_length tokens,
with position ids restarting at every example. FlashAttention's varlen kernels handle that at
linear cost. sdpa and eager (every CPU run, and GPUs without flash-attn) instead build a dense
mask over the flattened row, so attention costs (batch x length)^2 instead of batch x length^2:
measured on the embedded model, forward+backward of 8 x 256 packed tokens took 197 ms as one
flat row and 83 ms as 8 rows, and packing then barely beat padding.

This collator keeps TRL's bins as separate rows. Position ids restart at each example inside a
row and no attention mask is passed, so transformers derives a block-diagonal causal mask per row
(`find_packed_sequence_indices`): examples still never attend to each other. Rows shorter than
the longest are padded with a segment of their own (positions restarting at 0, labels -100).

Known difference: TRL's own `num_tokens` log metric counts only the row length in this layout
(it reads `position_ids.size(1)`); the Trainer's `num_input_tokens_seen`, which the SFTPLAY_METRIC
tokens/s uses, counts every non-padding token correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


def needs_row_packing(attn_implementation: str | None) -> bool:
    """True when the flattened padding-free batch would cost quadratic attention over the whole batch."""
    impl = (attn_implementation or "").lower()
    return not any(name in impl for name in ("flash", "varlen"))


def _positions(seq_lengths: list[int], row_length: int) -> list[int]:
    out: list[int] = []
    for n in seq_lengths:
        out.extend(range(n))
    used = len(out)
    if used != row_length:  # defensive: bins without usable lengths are one sequence
        out = list(range(row_length))
    return out


@dataclass
class RowPackedCollator:
    pad_token_id: int

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(e["input_ids"]) for e in examples)
        ids, labels, positions = [], [], []
        for e in examples:
            row = list(e["input_ids"])
            lab = list(e.get("labels", row))
            pos = _positions(list(e.get("seq_lengths") or [len(row)]), len(row))
            # Each example's first token has no preceding token to be predicted from.
            lab = [-100 if p == 0 else v for p, v in zip(pos, lab, strict=True)]
            pad = width - len(row)
            ids.append(row + [self.pad_token_id] * pad)
            labels.append(lab + [-100] * pad)
            positions.append(pos + list(range(pad)))
        return {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "position_ids": torch.tensor(positions, dtype=torch.long),
        }
