"""Regenerate `chat.jsonl`, the small chat dataset the embedded default model trains on.

Not run at training time: the JSONL file is committed. This script documents where it came from
and rebuilds it byte for byte (fixed seed): `python training/data/build_chat_data.py`.

The records are templated on purpose. A randomly initialised model with a few hundred thousand
parameters can only show a falling loss within a few dozen CPU steps if the data has structure it
can pick up quickly (recurring phrasings, arithmetic, lists). The lengths vary on purpose too (from
one short turn to several long ones), so that padding to the longest record of a batch wastes a
realistic share of the compute and packing has something to win.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "chat.jsonl"
SEED = 1234
N_RECORDS = 560

CAPITALS = {
    "France": "Paris",
    "Germany": "Berlin",
    "Italy": "Rome",
    "Spain": "Madrid",
    "Japan": "Tokyo",
    "Canada": "Ottawa",
    "Egypt": "Cairo",
    "Kenya": "Nairobi",
    "Peru": "Lima",
    "Norway": "Oslo",
    "Greece": "Athens",
    "Chile": "Santiago",
    "India": "New Delhi",
    "Poland": "Warsaw",
    "Portugal": "Lisbon",
    "Ireland": "Dublin",
}
OPPOSITES = {
    "hot": "cold",
    "up": "down",
    "fast": "slow",
    "big": "small",
    "early": "late",
    "open": "closed",
    "light": "dark",
    "happy": "sad",
    "full": "empty",
    "old": "new",
    "strong": "weak",
    "high": "low",
}
WORDS = ["apple", "river", "garden", "planet", "window", "silver", "rocket", "pencil", "forest", "candle"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
TOPICS = {
    "data parallel training": [
        "Data parallel training keeps a full copy of the model on every device.",
        "Each device reads a different slice of every batch and computes its own gradients.",
        "The gradients are averaged across devices before the optimizer step, so all copies stay equal.",
        "It is the simplest way to train faster when the model fits on one device.",
    ],
    "sharded data parallel training": [
        "Sharded data parallel training splits the parameters, gradients and optimizer state across devices.",
        "Each device holds only its shard and gathers the full weights of a layer just before using them.",
        "After the backward pass the gradients are reduced and scattered back to the shard owners.",
        "It lets a model train on devices that could not hold a full copy of it.",
    ],
    "gradient checkpointing": [
        "Gradient checkpointing keeps only some activations during the forward pass.",
        "The missing activations are computed again during the backward pass when they are needed.",
        "It trades extra compute for a large saving in memory.",
        "It allows longer sequences or larger batches on the same device.",
    ],
    "gradient accumulation": [
        "Gradient accumulation adds up the gradients of several small batches before one optimizer step.",
        "The result matches one large batch while only a small batch is in memory at a time.",
        "The global batch is the batch per device times the accumulation steps times the number of devices.",
    ],
    "mixed precision": [
        "Mixed precision runs most operations in a sixteen bit format.",
        "The weights are kept in full precision so that small updates are not lost.",
        "It roughly halves the memory for activations and speeds up modern accelerators.",
    ],
    "low rank adapters": [
        "Low rank adapters freeze the original weights of the model.",
        "Two small matrices are trained next to each frozen weight and their product is added to it.",
        "Only a small fraction of the parameters needs gradients and optimizer state.",
        "The adapters can be saved on their own and merged into the model later.",
    ],
    "packing": [
        "Packing places several short examples one after another in a single sequence.",
        "Fewer positions are wasted on padding, so more useful tokens are processed per step.",
        "The attention of each example is kept separate from its neighbours.",
    ],
    "learning rate warmup": [
        "Warmup starts the learning rate small and raises it over the first steps.",
        "It keeps the early updates stable while the optimizer statistics are still noisy.",
        "After warmup the learning rate usually decays until the end of training.",
    ],
}
SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a concise assistant. Answer in one sentence.",
    "You are a patient teacher who explains things step by step.",
]


def _arith(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(0, 20), rng.randint(0, 20)
    if rng.random() < 0.5:
        return f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}."
    hi, lo = max(a, b), min(a, b)
    return f"What is {hi} minus {lo}?", f"{hi} minus {lo} is {hi - lo}."


def _capital(rng: random.Random) -> tuple[str, str]:
    country = rng.choice(sorted(CAPITALS))
    return f"What is the capital of {country}?", f"The capital of {country} is {CAPITALS[country]}."


def _opposite(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(sorted(OPPOSITES))
    return f"What is the opposite of {word}?", f"The opposite of {word} is {OPPOSITES[word]}."


def _count(rng: random.Random) -> tuple[str, str]:
    start = rng.randint(1, 30)
    end = start + rng.randint(2, 25)
    return f"Count from {start} to {end}.", ", ".join(str(i) for i in range(start, end + 1)) + "."


def _spell(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(WORDS)
    return f"Spell the word {word}.", "-".join(word) + "."


def _number_word(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(0, 10)
    return f"How do you write {n} in words?", f"{n} is written as {NUMBER_WORDS[n]}."


def _sort(rng: random.Random) -> tuple[str, str]:
    nums = [rng.randint(0, 99) for _ in range(rng.randint(3, 9))]
    shown = ", ".join(map(str, nums))
    return f"Sort these numbers from smallest to largest: {shown}.", ", ".join(map(str, sorted(nums))) + "."


def _explain(rng: random.Random) -> tuple[str, str]:
    topic = rng.choice(sorted(TOPICS))
    sentences = TOPICS[topic]
    keep = sentences[: rng.randint(2, len(sentences))]
    question = rng.choice(["Explain {t}.", "What is {t}?", "Can you describe {t} briefly?"]).format(t=topic)
    return question, " ".join(keep)


SHORT = [_arith, _capital, _opposite, _spell, _number_word]
LONG = [_count, _sort, _explain]


def _record(rng: random.Random) -> dict[str, object]:
    messages: list[dict[str, str]] = []
    if rng.random() < 0.2:
        messages.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
    turns = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
    for _ in range(turns):
        maker = rng.choice(LONG) if rng.random() < 0.4 else rng.choice(SHORT)
        question, answer = maker(rng)
        messages.append({"role": "user", "content": question})
        messages.append({"role": "assistant", "content": answer})
    return {"messages": messages}


def main() -> None:
    rng = random.Random(SEED)
    lines = [json.dumps(_record(rng), ensure_ascii=False) for _ in range(N_RECORDS)]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} records, {OUT.stat().st_size} bytes to {OUT}")


if __name__ == "__main__":
    main()
