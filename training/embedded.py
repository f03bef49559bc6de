"""The embedded default model: a tiny Llama-style model and BPE tokenizer, built locally, cached.

With no `--model_name_or_path` the script must train without any network access (CI, air-gapped
boxes, a first try of the TUI). So we build a model from a `LlamaConfig` with random weights and
train a byte-level BPE tokenizer with `tokenizers` on the bundled chat data, with a chat template.

Building takes a few seconds; it happens once per cache directory. The result is keyed by a hash
of everything that shapes it (builder version, model config, tokenizer settings, corpus bytes,
tokenizers version), so a change rebuilds instead of reusing a stale copy. Several ranks (or
several runs) may start at once: each builds into its own temporary directory and renames it into
place; `rename` is atomic, the first one wins and the others discard their copy. No lock, so a
crashed builder can never leave the cache stuck.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_DATA = DATA_DIR / "chat.jsonl"
BUILDER_VERSION = 1
MARKER = "SFTPLAY_EMBEDDED_OK"
#: The embedded model's name in logs, records and the inference settings file.
EMBEDDED_NAME = "embedded-tiny-llama"

BOS, EOS, PAD = "<s>", "<|end|>", "<pad>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]
SPECIAL_TOKENS = [PAD, BOS, EOS, *ROLE_TOKENS]
VOCAB_SIZE = 1024

# {% generation %} marks the assistant's text so TRL can train on completions only; the end-of-turn
# token sits inside it so the model also learns to stop.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

# About 190k parameters: big enough to learn the templated data's structure, small enough that a
# 2-process CPU run of a few dozen steps takes seconds.
MODEL_CONFIG: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 176,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
    "tie_word_embeddings": True,
    "rms_norm_eps": 1e-5,
}
SEED = 0


def _corpus(path: Path = DEFAULT_DATA) -> list[str]:
    texts: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                for message in json.loads(line)["messages"]:
                    texts.append(message["content"])
    return texts


def cache_key() -> str:
    import tokenizers

    h = hashlib.sha256()
    h.update(
        json.dumps(
            {
                "builder": BUILDER_VERSION,
                "model": MODEL_CONFIG,
                "vocab": VOCAB_SIZE,
                "special": SPECIAL_TOKENS,
                "template": CHAT_TEMPLATE,
                "tokenizers": tokenizers.__version__,
                "seed": SEED,
            },
            sort_keys=True,
        ).encode()
    )
    h.update(DEFAULT_DATA.read_bytes())
    return h.hexdigest()[:16]


def default_cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """--cache_dir if given, else $XDG_CACHE_HOME/sftplay-tui, else ~/.cache/sftplay-tui."""
    if cache_dir:
        return Path(cache_dir).expanduser() / "sftplay-tui"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "sftplay-tui"


def _build(target: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=ROLE_TOKENS,
        model_max_length=MODEL_CONFIG["max_position_embeddings"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(target)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **MODEL_CONFIG,
    )
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(target)
    (target / MARKER).write_text(json.dumps({"builder": BUILDER_VERSION}) + "\n", encoding="utf-8")


def ensure_embedded_model(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory of the embedded model + tokenizer, building it first if needed."""
    root = default_cache_root(cache_dir)
    final = root / f"embedded-llama-{cache_key()}"
    if (final / MARKER).is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        _build(tmp)
        if final.exists() and not (final / MARKER).is_file():
            # A directory without the marker was not made by a finished build (e.g. copied by hand):
            # move it aside rather than trust it.
            os.replace(final, root / f".stale-{final.name}-{os.getpid()}")
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / MARKER).is_file():
                raise
            # Another process finished first; its copy is identical (same seed, same inputs).
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
