"""Row packing (training/packing.py): examples packed in one row must not see each other."""

from __future__ import annotations

import torch

from training.packing import RowPackedCollator, needs_row_packing


def _tiny_model(attn: str) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

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
    return LlamaForCausalLM(config).eval()


def test_collator_layout() -> None:
    batch = RowPackedCollator(pad_token_id=0)(
        [{"input_ids": [5, 6, 7, 8, 9], "seq_lengths": [3, 2]}, {"input_ids": [1, 2], "seq_lengths": [2]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9], [1, 2, 0, 0, 0]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1], [0, 1, 0, 1, 2]]
    # no loss across an example boundary, none on padding
    assert batch["labels"].tolist() == [[-100, 6, 7, -100, 9], [-100, 2, -100, -100, -100]]
    assert "attention_mask" not in batch  # a mask would stop transformers from separating the examples


def test_packed_rows_give_the_same_logits_as_separate_examples() -> None:
    segments = [[5, 6, 7, 8, 9], [10, 11, 12], [13, 14, 15, 16]]
    batch = RowPackedCollator(pad_token_id=0)(
        [
            {"input_ids": segments[0] + segments[1], "seq_lengths": [5, 3]},
            {"input_ids": segments[2], "seq_lengths": [4]},
        ]
    )
    for attn in ("sdpa", "eager"):
        model = _tiny_model(attn)
        with torch.no_grad():
            packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
            for seg, (row, offset) in zip(segments, [(0, 0), (0, 5), (1, 0)], strict=True):
                alone = model(input_ids=torch.tensor([seg]), use_cache=False).logits[0]
                torch.testing.assert_close(packed[row, offset : offset + len(seg)], alone, atol=1e-5, rtol=1e-4)


def test_row_packing_only_without_varlen_kernels() -> None:
    assert needs_row_packing("sdpa") and needs_row_packing("eager") and needs_row_packing(None)
    assert not needs_row_packing("flash_attention_2") and not needs_row_packing("kernels-community/flash-attn")
