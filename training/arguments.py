"""Command-line arguments of the SFT script: dataclasses parsed by transformers' HfArgumentParser.

Four groups of our own (model, data, LoRA/QLoRA, run) plus transformers' `TrainingArguments`, so
every Trainer option (`--learning_rate`, `--max_steps`, `--save_steps`, `--resume_from_checkpoint`,
`--gradient_checkpointing`, ...) works as users know it. A single `.json`/`.yaml` file with the same
keys can replace the command line (HfArgumentParser's convention).

Mistakes never produce a traceback: an unknown option fails with one line naming it and the
closest valid ones (SFT-Play's "Some specified arguments are not used by the HfArgumentParser:
['--cache_dir', ...]" was a wall of text that did not say what was meant). The check runs before
`TrainingArguments` is built, because building it starts torch.distributed: a bad argument must
make every rank exit at once, not leave some waiting for a peer.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

from transformers import HfArgumentParser, TrainingArguments

from training.run_reporter import UserError

# Defaults that differ from TrainingArguments' own, applied only when the user did not set them.
# Why each: logging every 500 steps would leave the TUI's charts empty for most runs; token counting
# feeds tokens/s in the metric lines; the TensorBoard directory is the contract.
SCRIPT_DEFAULTS: dict[str, Any] = {
    "output_dir": "outputs/sftplay-sft",
    "logging_steps": 10,
    "include_num_input_tokens_seen": "non_padding",
    "save_strategy": "steps",
    "save_steps": 500,
}
# With the embedded default model (no --model_name_or_path): a randomly initialised tiny model needs
# a far larger learning rate than fine-tuning does, and a short run, for the loss to fall visibly on
# a CPU within a minute.
EMBEDDED_DEFAULTS: dict[str, Any] = {
    "learning_rate": 3e-3,
    "warmup_steps": 5,
    "max_steps": 60,
    "per_device_train_batch_size": 8,
    "logging_steps": 5,
    "max_seq_length": 256,
}


class ArgumentsError(UserError):
    """A user mistake in the arguments: reported as one line, exit status 2, no traceback."""

    same_on_every_rank = True


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Local directory or hub id of a causal LM. Leave unset for the embedded tiny Llama-style "
            "model, built locally (random weights) and cached: no download."
        },
    )
    cache_dir: str | None = field(
        default=None,
        metadata={"help": "Where the model, the tokenizer and the dataset are downloaded/cached (all three)."},
    )
    torch_dtype: Literal["auto", "bfloat16", "float16", "float32"] = field(
        default="auto", metadata={"help": "dtype to load the weights in; 'auto' uses the checkpoint's."}
    )
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Allow model/tokenizer code from the checkpoint (only for trusted ones)."}
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "Attention kernel: eager, sdpa, flash_attention_2, ... (default: auto)."}
    )
    low_cpu_mem_usage: bool = field(
        default=True,
        metadata={
            "help": "Load weights without a second full copy in RAM (transformers 5 always does; kept for "
            "compatibility with older scripts and configs)."
        },
    )


@dataclass
class DataArguments:
    data_path: str | None = field(
        default=None,
        metadata={
            "help": "Local .jsonl, .json or .parquet file. Leave both this and --dataset_name unset for the "
            "bundled chat dataset (training/data/chat.jsonl)."
        },
    )
    dataset_name: str | None = field(default=None, metadata={"help": "A datasets hub id or loading script."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Configuration of --dataset_name."})
    dataset_split: str = field(default="train", metadata={"help": "Split of --dataset_name to train on."})
    eval_data_path: str | None = field(default=None, metadata={"help": "Local file to evaluate on."})
    eval_split: str | None = field(default=None, metadata={"help": "Split of --dataset_name to evaluate on."})
    eval_fraction: float = field(
        default=0.0, metadata={"help": "Hold out this fraction (0-0.5) of the training data for evaluation."}
    )
    messages_column: str = field(default="messages", metadata={"help": "Column with chat messages."})
    prompt_column: str = field(default="prompt", metadata={"help": "Column with the prompt (prompt/response)."})
    response_column: str = field(default="response", metadata={"help": "Column with the response."})
    max_seq_length: int = field(
        default=1024, metadata={"help": "Truncate (or, with --packing, pack) sequences to this many tokens."}
    )
    packing: bool = field(
        default=False, metadata={"help": "Pack several examples per sequence (no padding, separate attention)."}
    )
    completion_only_loss: bool | None = field(
        default=None,
        metadata={
            "help": "Train on the responses only: completions for prompt/response data, assistant turns for "
            "chat data. Default: on for prompt/response data, off for chat data."
        },
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Use only the first N training records (quick trials)."}
    )

    def __post_init__(self) -> None:
        if self.data_path and self.dataset_name:
            raise ArgumentsError("give either --data_path or --dataset_name, not both")
        if not 0.0 <= self.eval_fraction <= 0.5:
            raise ArgumentsError(f"--eval_fraction must be between 0 and 0.5, got {self.eval_fraction}")
        if self.max_seq_length < 8:
            raise ArgumentsError(f"--max_seq_length must be at least 8, got {self.max_seq_length}")
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise ArgumentsError(f"--max_train_samples must be positive, got {self.max_train_samples}")


@dataclass
class LoraArguments:
    use_lora: bool = field(default=False, metadata={"help": "Train LoRA adapters instead of all weights."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (scale = alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA path."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["all-linear"],
        metadata={"help": "Module names to adapt, or all-linear (every linear layer but the output head)."},
    )
    load_in_4bit: bool = field(
        default=False,
        metadata={"help": "QLoRA: load the base model in 4-bit (needs a CUDA GPU and bitsandbytes); implies LoRA."},
    )
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = field(default="nf4", metadata={"help": "4-bit data type."})

    def __post_init__(self) -> None:
        if self.load_in_4bit:
            self.use_lora = True
        if self.lora_r < 1:
            raise ArgumentsError(f"--lora_r must be at least 1, got {self.lora_r}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ArgumentsError(f"--lora_dropout must be in [0, 1), got {self.lora_dropout}")


@dataclass
class RunArguments:
    auto_batch_size: bool = field(
        default=False,
        metadata={
            "help": "Choose the per-device batch and gradient accumulation from free memory to reach "
            "--global_batch_size (prints the arithmetic). Unlike --auto_find_batch_size it never retries."
        },
    )
    global_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Target sequences per optimizer step over all processes, for --auto_batch_size "
            "(default: per-device batch x accumulation x processes as given)."
        },
    )
    memory_safety_margin: float = field(
        default=0.15, metadata={"help": "Fraction of free memory --auto_batch_size leaves unused."}
    )

    def __post_init__(self) -> None:
        if self.global_batch_size is not None and self.global_batch_size < 1:
            raise ArgumentsError(f"--global_batch_size must be positive, got {self.global_batch_size}")
        if not 0.0 <= self.memory_safety_margin < 0.9:
            raise ArgumentsError(f"--memory_safety_margin must be in [0, 0.9), got {self.memory_safety_margin}")


DATACLASSES: tuple[type, ...] = (ModelArguments, DataArguments, LoraArguments, RunArguments, TrainingArguments)


@dataclass
class ParsedArgs:
    model: ModelArguments
    data: DataArguments
    lora: LoraArguments
    run: RunArguments
    training: TrainingArguments
    explicit: frozenset[str]  # dataclass fields the user set (command line or file)

    @property
    def embedded_model(self) -> bool:
        return self.model.model_name_or_path is None


def _is_rank_zero() -> bool:
    return os.environ.get("RANK", "0") == "0"


class _Parser(HfArgumentParser):
    """HfArgumentParser that raises instead of printing usage + exiting, and is quiet off rank 0."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentsError(message)

    def _print_message(self, message: str, file: Any = None) -> None:
        # --help output (and anything else argparse prints) once, not once per rank.
        if _is_rank_zero():
            super()._print_message(message, file)


def build_parser() -> HfArgumentParser:
    return _Parser(DATACLASSES, prog="sft_train.py", allow_abbrev=False)  # type: ignore[arg-type]


def _long_options(parser: HfArgumentParser) -> list[str]:
    # The underscore spelling only: HfArgumentParser also accepts --cache-dir for --cache_dir, and
    # suggesting both would read like two different options.
    return sorted({s for s in parser._option_string_actions if s.startswith("--") and "-" not in s[2:]})


def unknown_option_message(token: str, valid: Sequence[str]) -> str:
    """'unknown argument --cach_dir; closest valid: --cache_dir' (the one line users see)."""
    name = token.split("=", 1)[0]
    wanted = "--" + name.lstrip("-").replace("-", "_")
    close = difflib.get_close_matches(wanted, valid, n=3, cutoff=0.6)
    if not close and name.startswith("--"):
        # Also try without the dashes/underscores so --cachedir finds --cache_dir.
        bare = {v.replace("_", "").replace("-", ""): v for v in valid}
        close = [
            bare[m]
            for m in difflib.get_close_matches(name.replace("_", "").replace("-", ""), list(bare), n=3, cutoff=0.6)
        ]
    hint = f"; closest valid: {', '.join(close)}" if close else "; run with --help for the list"
    return f"unknown argument {name}{hint}"


def _explicit_from_argv(parser: HfArgumentParser, argv: Sequence[str]) -> set[str]:
    actions = parser._option_string_actions
    out: set[str] = set()
    for token in argv:
        if token.startswith("-"):
            action = actions.get(token.split("=", 1)[0])
            if action is not None:
                out.add(action.dest)
    return out


def _load_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ArgumentsError(f"{path}: expected a mapping of argument names to values")
    return data


def _apply_defaults(values: dict[str, Any], explicit: set[str]) -> None:
    for key, value in SCRIPT_DEFAULTS.items():
        if key not in explicit:
            values[key] = value
    if "ddp_find_unused_parameters" not in explicit:
        # transformers turns the search on whenever gradient checkpointing is off; a causal LM uses
        # every trainable parameter in each step, and the search costs a graph traversal per step.
        values["ddp_find_unused_parameters"] = False
    if "dataloader_pin_memory" not in explicit:
        import torch

        values["dataloader_pin_memory"] = torch.cuda.is_available()  # pinning without a GPU only warns
    if "disable_tqdm" not in explicit:
        # Progress bars arrive as \r-separated records in a captured log; the metric lines replace them.
        values["disable_tqdm"] = not sys.stderr.isatty()
    if "report_to" not in explicit:
        try:
            import tensorboard  # noqa: F401

            values["report_to"] = ["tensorboard"]
        except ImportError:
            values["report_to"] = "none"
    if values.get("model_name_or_path") is None:
        for key, value in EMBEDDED_DEFAULTS.items():
            if key in explicit:
                continue
            if key == "max_steps" and "num_train_epochs" in explicit:
                continue
            values[key] = value
    has_eval = bool(values.get("eval_data_path") or values.get("eval_split") or values.get("eval_fraction"))
    if has_eval and "eval_strategy" not in explicit:
        values["eval_strategy"] = "steps"
        if "eval_steps" not in explicit:
            values["eval_steps"] = values.get("logging_steps")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def parse_args(argv: Sequence[str] | None = None) -> ParsedArgs:
    """Parse the command line (or one .json/.yaml file); raise ArgumentsError on any mistake."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    valid = _long_options(parser)

    if len(argv) == 1 and argv[0].endswith((".json", ".yaml", ".yml")) and not argv[0].startswith("-"):
        path = Path(argv[0])
        if not path.is_file():
            raise ArgumentsError(f"argument file not found: {path}")
        data = _load_file(path)
        dests = {a.dest for a in parser._actions}
        unknown = [k for k in data if k not in dests]
        if unknown:
            raise ArgumentsError(f"{path}: " + unknown_option_message("--" + str(unknown[0]), valid))
        namespace = parser.parse_known_args([])[0]
        values = {**vars(namespace), **data}
        explicit = set(data)
    else:
        namespace, remaining = parser.parse_known_args(argv)
        if remaining:
            flags = [t for t in remaining if t.startswith("-")]
            if flags:
                raise ArgumentsError(unknown_option_message(flags[0], valid))
            raise ArgumentsError(f"unexpected value {remaining[0]!r} (options take the form --name value)")
        values = vars(namespace)
        explicit = _explicit_from_argv(parser, argv)

    _apply_defaults(values, explicit)
    built: list[Any] = []
    for dtype in DATACLASSES:
        keys = {f.name for f in dataclasses.fields(dtype) if f.init}
        try:
            built.append(dtype(**{k: v for k, v in values.items() if k in keys}))
        except ArgumentsError:
            raise
        except (ValueError, TypeError, ImportError) as exc:
            raise ArgumentsError(_one_line(exc)) from exc
    model, data, lora, run, training = built
    return ParsedArgs(model, data, lora, run, training, frozenset(explicit))
