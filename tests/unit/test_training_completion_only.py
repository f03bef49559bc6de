"""Train-on-completions-only: which tokens carry a loss, through TRL's own tokenization.

The trainer's SFTConfig comes from `training.sft_train._sft_config`; TRL masks the labels of the
tokens that must not be learned (-100). For chat data the embedded template's `{% generation %}`
markers say which tokens are the assistant's; for prompt/response data TRL's completion mask does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.training_runs import embedded_cache_fixture  # noqa: F401  (fixture)

CHAT = {"messages": [{"role": "user", "content": "what is two plus two"}, {"role": "assistant", "content": "four"}]}
PROMPT = {"prompt": "what is two plus two", "completion": " four"}


def _trained_text(cache: Path, tmp_path: Path, row: dict[str, Any], data_format: str, only: bool | None) -> str:
    """The text of the tokens that carry a loss in TRL's tokenized version of `row`."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments
    from trl import SFTTrainer

    from training.arguments import DataArguments
    from training.embedded import ensure_embedded_model
    from training.sft_train import _sft_config

    path = ensure_embedded_model(cache)
    tokenizer = AutoTokenizer.from_pretrained(path)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[], use_cpu=True)
    config = _sft_config(args, DataArguments(completion_only_loss=only, max_seq_length=64), data_format)
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(path),
        args=config,
        train_dataset=Dataset.from_list([row]),
        processing_class=tokenizer,
    )
    example = trainer.train_dataset[0]
    kept = [token for token, label in zip(example["input_ids"], example["labels"], strict=True) if label != -100]
    return str(tokenizer.decode(kept))


@pytest.mark.slow
def test_chat_data_trains_on_the_assistant_turns_only_when_asked(embedded_cache: Path, tmp_path: Path) -> None:
    assert _trained_text(embedded_cache, tmp_path, CHAT, "chat", True) == "four<|end|>"
    whole = _trained_text(embedded_cache, tmp_path, CHAT, "chat", None)  # the default for chat: every token
    assert "what is two plus two" in whole and whole.endswith("four<|end|>\n")


@pytest.mark.slow
def test_prompt_response_data_trains_on_the_response_by_default(embedded_cache: Path, tmp_path: Path) -> None:
    assert _trained_text(embedded_cache, tmp_path, PROMPT, "prompt_completion", None) == " four<|end|>"
    everything = _trained_text(embedded_cache, tmp_path, PROMPT, "prompt_completion", False)
    assert everything.startswith("what is two plus two")
