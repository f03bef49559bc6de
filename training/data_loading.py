"""Load the training (and evaluation) data and bring it into one of the two shapes TRL trains on.

Accepted inputs: a local JSONL/JSON/Parquet file (`--data_path`) or a `datasets` name
(`--dataset_name`), both cached under `--cache_dir` when given; with neither, the bundled
`training/data/chat.jsonl`. Accepted columns:

- chat: a `messages` column (list of {"role", "content"}), rendered with the tokenizer's chat
  template by TRL ("conversational" format);
- instruction: `prompt` + `response` columns (names configurable), renamed to TRL's
  `prompt`/`completion` ("prompt-completion" format).

Everything else is dropped so the trainer never sees unexpected columns. Problems that are the
user's (missing file, unknown suffix, wrong columns) raise DataError with a one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from datasets import Dataset, DatasetDict, load_dataset

from training.arguments import DataArguments
from training.embedded import DEFAULT_DATA
from training.run_reporter import UserError

LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}
DataFormat = Literal["chat", "prompt_completion"]


class DataError(UserError):
    """A problem with the user's data: reported as one line, no traceback."""


@dataclass
class LoadedData:
    train: Dataset
    eval: Dataset | None
    format: DataFormat
    source: str


def _load_local(path_str: str, cache_dir: str | None) -> Dataset:
    path = Path(path_str).expanduser()
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    builder = LOCAL_FORMATS.get(path.suffix.lower())
    if builder is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r} (use .jsonl, .json or .parquet)")
    try:
        loaded = load_dataset(builder, data_files=str(path), split="train", cache_dir=cache_dir)
    except Exception as exc:  # datasets raises many types for malformed files; the user needs the reason
        raise DataError(f"{path}: could not be read as {builder}: {str(exc).splitlines()[0]}") from exc
    assert isinstance(loaded, Dataset)
    return loaded


def _load_hub(name: str, config: str | None, split: str, cache_dir: str | None) -> Dataset:
    try:
        loaded = load_dataset(name, config, split=split, cache_dir=cache_dir)
    except Exception as exc:
        raise DataError(f"dataset {name!r} (split {split!r}) could not be loaded: {str(exc).splitlines()[0]}") from exc
    if isinstance(loaded, DatasetDict):  # defensive: split=None is not allowed above, but be explicit
        raise DataError(f"dataset {name!r}: choose a split with --dataset_split")
    assert isinstance(loaded, Dataset)
    return loaded


def _check_messages(sample: Any, column: str) -> None:
    ok = isinstance(sample, list) and all(isinstance(m, dict) and "role" in m and "content" in m for m in sample)
    if not ok:
        raise DataError(f"column {column!r} must hold lists of {{'role': ..., 'content': ...}} messages")


def normalise(ds: Dataset, args: DataArguments, what: str = "training data") -> tuple[Dataset, DataFormat]:
    """Keep only the columns TRL needs, named the way TRL expects."""
    columns = list(ds.column_names)
    if len(ds) == 0:
        raise DataError(f"{what} is empty")
    if args.messages_column in columns:
        _check_messages(ds[0][args.messages_column], args.messages_column)
        if args.messages_column != "messages":
            ds = ds.rename_column(args.messages_column, "messages")
        return ds.select_columns(["messages"]), "chat"
    if args.prompt_column in columns and args.response_column in columns:
        ds = ds.select_columns([args.prompt_column, args.response_column])
        renames = {args.prompt_column: "prompt", args.response_column: "completion"}
        ds = ds.rename_columns({k: v for k, v in renames.items() if k != v})
        return ds, "prompt_completion"
    raise DataError(
        f"{what} has columns {columns}; expected a {args.messages_column!r} column (chat) or "
        f"{args.prompt_column!r} and {args.response_column!r} columns "
        "(set --messages_column / --prompt_column / --response_column)"
    )


def load_data(args: DataArguments, cache_dir: str | None, seed: int = 42) -> LoadedData:
    if args.dataset_name:
        train = _load_hub(args.dataset_name, args.dataset_config_name, args.dataset_split, cache_dir)
        source = f"{args.dataset_name}[{args.dataset_split}]"
    else:
        path = args.data_path or str(DEFAULT_DATA)
        train = _load_local(path, cache_dir)
        source = path
    train, fmt = normalise(train, args)

    evaluation: Dataset | None = None
    if args.eval_data_path:
        evaluation, eval_fmt = normalise(_load_local(args.eval_data_path, cache_dir), args, "evaluation data")
        if eval_fmt != fmt:
            raise DataError(f"evaluation data is in {eval_fmt} format but training data is in {fmt} format")
    elif args.eval_split:
        if not args.dataset_name:
            raise DataError("--eval_split needs --dataset_name (use --eval_data_path for a local file)")
        hub_eval = _load_hub(args.dataset_name, args.dataset_config_name, args.eval_split, cache_dir)
        evaluation, _ = normalise(hub_eval, args, "evaluation data")
    elif args.eval_fraction > 0:
        if len(train) < 4:
            raise DataError(f"--eval_fraction needs at least 4 training records, found {len(train)}")
        parts = train.train_test_split(test_size=args.eval_fraction, seed=seed)
        train, evaluation = parts["train"], parts["test"]

    if args.max_train_samples is not None:
        train = train.select(range(min(args.max_train_samples, len(train))))
    return LoadedData(train=train, eval=evaluation, format=fmt, source=source)
