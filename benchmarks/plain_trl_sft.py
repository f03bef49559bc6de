"""The baseline for bench_training.py: a plain TRL SFT script, as a user would write it.

Same model, data and settings as the sftplay run it is compared with, and nothing else: TRL's
SFTTrainer with an SFTConfig, no sftplay modules. The only addition is a measuring callback that
records (time, non-padding tokens seen) at every log event on rank 0 and writes them to a JSON
file, so both runs are measured the same way.

Usage (under accelerate launch): plain_trl_sft.py MODEL_DIR DATA_JSONL OUT_DIR MEASURE_JSON
    MAX_STEPS BATCH SEQ_LEN LR LOGGING_STEPS
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer


class Measure(TrainerCallback):
    def __init__(self, path: str) -> None:
        self.path = path
        self.points: list[tuple[float, int, int]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if state.is_world_process_zero and logs and "loss" in logs:
            self.points.append((time.monotonic(), int(state.num_input_tokens_seen), int(state.global_step)))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            with open(self.path, "w", encoding="utf-8") as handle:
                json.dump(self.points, handle)


def main() -> None:
    model_dir, data, out, measure, max_steps, batch, seq, lr, log_steps = sys.argv[1:10]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    dataset = load_dataset("json", data_files=data, split="train")
    config = SFTConfig(
        output_dir=out,
        max_steps=int(max_steps),
        per_device_train_batch_size=int(batch),
        max_length=int(seq),
        learning_rate=float(lr),
        warmup_steps=5,
        logging_steps=int(log_steps),
        save_strategy="no",
        report_to="none",
        # SFTConfig's own defaults differ from the Trainer's; pin them to the compared run's values.
        gradient_checkpointing=False,
        bf16=False,
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer, callbacks=[Measure(measure)]
    )
    trainer.train()


if __name__ == "__main__":
    main()
