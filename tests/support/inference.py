"""Helpers for the batch-inference tests: a model whose greedy answers differ per prompt, a dataset.

The embedded default model is randomly initialised with a small weight scale, so its greedy
answer to every prompt is the same few tokens: comparing two runs' outputs would then prove
little. `build_sharp_model` re-draws its weights with a large scale (fixed seed), which makes the
answers depend on the prompt (and argmax ties practically impossible), and saves it as an
ordinary model directory, which is also what `--model_name_or_path` of a trained model looks like.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "training" / "data" / "chat.jsonl"
INFER = ROOT / "training" / "infer.py"

#: Indices of the records in `write_dataset` that must fail, and a piece of their error.
BAD_RECORDS = {
    5: "not valid JSON",
    11: "no 'messages' or 'prompt' field",
    17: "exceeds the model's 1024 positions",
}


def build_sharp_model(embedded: Path, target: Path, scale: float = 0.5) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(embedded)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0.0, scale, generator=generator)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(embedded).save_pretrained(target)
    return target


def write_dataset(path: Path, size: int = 40) -> int:
    """`size` records: chat records of varied length, some plain prompts, and the BAD_RECORDS."""
    chats = [json.loads(line) for line in CHAT.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines: list[str] = []
    for i in range(size):
        if i == 5:
            lines.append('{"messages": [ this is not json')
        elif i == 11:
            lines.append(json.dumps({"text": "a record without a prompt"}))
        elif i == 17:
            lines.append(json.dumps({"prompt": "word " * 1500}))
        elif i % 7 == 3:
            lines.append(json.dumps({"id": f"p{i}", "prompt": f"Question {i}: what is {i} plus {i}?", "response": "?"}))
        else:
            lines.append(json.dumps(chats[(i * 37) % len(chats)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return size


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def infer_args(data: Path, output: Path, model: Path, *extra: str) -> list[str]:
    """The decoding settings every comparison run shares (greedy, 24 new tokens)."""
    return [
        "--data",
        str(data),
        "--output",
        str(output),
        "--model_name_or_path",
        str(model),
        "--max_new_tokens",
        "24",
        *extra,
    ]


#: For every run in these tests: one intra-op thread per process (two ranks share two cores; more
#: threads than cores makes OpenMP spin against the other rank), no hub, no tokenizer threads.
RUN_ENV = {
    "OMP_NUM_THREADS": "1",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}
