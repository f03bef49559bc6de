"""The file side of batch inference (training/infer.py): records in, results out, safe resume.

Standard library only (pyarrow lazily, for Parquet input), so it is cheap to test.

Input: a JSONL, JSON (a list of objects, or JSON lines) or Parquet file. Each record is kept in
file order and numbered from 0; that number is its `index` in the output. A line that is not a
JSON object is not dropped: it becomes an `InvalidRecord` and ends up in the output with its error.

Output: one JSON object per line (`index`, `completion`, `error`, ...). The main process appends
each finished batch as complete lines in one write, then flushes and fsyncs, so a killed run loses
at most the batch in flight. `scan_output` reads back what an interrupted run wrote (a last line
cut off by the kill is ignored and cut away before appending); `finalize` rewrites the file in
index order at the end (temporary file, fsync, atomic rename). A small `OUT.settings.json` beside
the output remembers what produced it, so resuming with another dataset, model or decoding
settings is refused instead of mixing two runs' answers in one file.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.run_reporter import UserError

# Held while a batch is written: the stop-signal watcher takes it before exiting, so SIGINT/SIGTERM
# never cut a line in half (SIGKILL can; scan_output copes with that).
WRITE_LOCK = threading.Lock()
SETTINGS_SUFFIX = ".settings.json"


class DataError(UserError):
    """The input file as a whole is unusable (missing, unknown type, unreadable): one line, exit 2."""


class RecordError(Exception):
    """One record cannot be used (no prompt, malformed messages, too long): recorded in the output."""


@dataclass(frozen=True)
class InvalidRecord:
    """A line of the input that is not a JSON object; kept so its index is reported, not skipped."""

    reason: str


# -- input ------------------------------------------------------------------------------------


def load_records(path: Path, max_samples: int | None = None) -> list[Any]:
    """The records of `path` in file order (dicts, or InvalidRecord for unusable lines)."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        records = _load_parquet(path)
    elif suffix in (".jsonl", ".json"):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: could not be read: {exc}") from exc
        records = _parse_json(text, path) if suffix == ".json" else _parse_json_lines(text)
    else:
        raise DataError(f"{path}: unsupported file type {path.suffix!r} (use .jsonl, .json or .parquet)")
    if not records:
        raise DataError(f"{path}: no records")
    return records[:max_samples] if max_samples is not None else records


def _parse_json_lines(text: str) -> list[Any]:
    records: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            records.append(InvalidRecord(f"line {number}: not valid JSON ({exc.msg})"))
            continue
        records.append(value if isinstance(value, dict) else InvalidRecord(f"line {number}: not a JSON object"))
    return records


def _parse_json(text: str, path: Path) -> list[Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return _parse_json_lines(text)  # datasets accepts JSON lines in a .json file too
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise DataError(f"{path}: expected a list of records")
    return [v if isinstance(v, dict) else InvalidRecord(f"item {i}: not a JSON object") for i, v in enumerate(value)]


def _load_parquet(path: Path) -> list[Any]:
    try:
        import pyarrow.parquet as pq

        return list(pq.read_table(path).to_pylist())
    except Exception as exc:  # pyarrow raises several types for a bad file; the user needs the reason
        raise DataError(f"{path}: could not be read as Parquet: {str(exc).splitlines()[0]}") from exc


@dataclass(frozen=True)
class Columns:
    messages: str = "messages"
    prompt: str = "prompt"
    response: str = "response"


@dataclass(frozen=True)
class Prompt:
    """What to generate from: chat messages (for the chat template) or a plain prompt string."""

    kind: str  # "chat" or "prompt"
    messages: tuple[Mapping[str, Any], ...] = ()
    text: str = ""
    reference: Any = None  # the record's own answer, if it had one (for comparing)


def prompt_of(record: Any, columns: Columns = Columns()) -> Prompt:
    """The prompt of one record; RecordError (kept in the output) when it has none."""
    if isinstance(record, InvalidRecord):
        raise RecordError(record.reason)
    if not isinstance(record, Mapping):
        raise RecordError("not a JSON object")
    if columns.messages in record:
        messages = record[columns.messages]
        if not (
            isinstance(messages, list)
            and messages
            and all(isinstance(m, Mapping) and isinstance(m.get("role"), str) and "content" in m for m in messages)
        ):
            raise RecordError(f"{columns.messages!r} must be a non-empty list of {{'role', 'content'}} messages")
        # An evaluation set usually holds the expected answer as the last assistant turn: generate
        # that turn instead, and keep the expected one as the reference.
        turns = list(messages)
        reference = None
        if turns[-1]["role"] == "assistant":
            reference = turns.pop()["content"]
        if not turns:
            raise RecordError(f"{columns.messages!r} holds only an assistant turn: nothing to answer")
        return Prompt("chat", messages=tuple(turns), reference=reference)
    if columns.prompt in record:
        text = record[columns.prompt]
        if not isinstance(text, str) or not text:
            raise RecordError(f"{columns.prompt!r} must be a non-empty string")
        return Prompt("prompt", text=text, reference=record.get(columns.response))
    raise RecordError(f"no {columns.messages!r} or {columns.prompt!r} field (keys: {sorted(map(str, record))[:8]})")


# -- output -----------------------------------------------------------------------------------


@dataclass
class OutputScan:
    """What an output file already holds."""

    done: dict[int, bool] = field(default_factory=dict)  # index -> written with an error
    valid_bytes: int = 0  # length of the complete lines; anything after is a cut-off last line
    truncated: bool = False
    bad_lines: int = 0  # complete lines that are not result objects (skipped)

    @property
    def failed(self) -> int:
        return sum(self.done.values())


def parse_result_line(raw: bytes) -> dict[str, Any] | None:
    """A result object from one output line, or None if the line is not one."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    index = value.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        return None
    return value


def scan_output(path: Path) -> OutputScan:
    """The indices already written to `path` (the first copy wins) and where its complete lines end."""
    scan = OutputScan()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return scan
    end = data.rfind(b"\n") + 1  # a last line without its newline was cut off mid-write
    scan.valid_bytes = end
    scan.truncated = end < len(data)
    for raw in data[:end].split(b"\n"):
        if not raw.strip():
            continue
        result = parse_result_line(raw)
        if result is None:
            scan.bad_lines += 1
            continue
        scan.done.setdefault(result["index"], result.get("error") is not None)
    return scan


def encode_results(results: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False, separators=(", ", ": ")).encode() + b"\n" for r in results)


class OutputWriter:
    """Appends batches of results to the output file; only the main process creates one."""

    def __init__(self, path: Path, scan: OutputScan) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = path.open("ab")
        if scan.truncated or self._handle.tell() != scan.valid_bytes:
            # Cut the partial last line off, or the next batch would be glued onto it.
            self._handle.truncate(scan.valid_bytes)
            self._handle.seek(scan.valid_bytes)

    def write(self, results: Sequence[Mapping[str, Any]]) -> None:
        if not results:
            return
        data = encode_results(results)
        with WRITE_LOCK:
            self._handle.write(data)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def finalize(path: Path) -> tuple[int, int]:
    """Rewrite `path` in index order, one line per index; returns (records, failed)."""
    by_index: dict[int, bytes] = {}
    failed = 0
    for raw in path.read_bytes().split(b"\n"):
        result = parse_result_line(raw) if raw.strip() else None
        if result is None or result["index"] in by_index:
            continue
        by_index[result["index"]] = raw.rstrip(b"\r") + b"\n"
        failed += result.get("error") is not None
    data = b"".join(by_index[i] for i in sorted(by_index))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    with WRITE_LOCK:
        os.replace(tmp, path)
    _fsync_dir(path.parent)
    return len(by_index), failed


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- what produced an output ------------------------------------------------------------------


def settings_path(output: Path) -> Path:
    return output.with_name(output.name + SETTINGS_SUFFIX)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def settings_mismatch(output: Path, settings: Mapping[str, Any]) -> str | None:
    """Why `output` cannot be resumed with `settings` (None when it can, or has no record)."""
    try:
        stored = json.loads(settings_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict):
        return None
    changed = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
    if not changed:
        return None
    return (
        f"{output} was written with different {', '.join(changed)}; resuming would mix two runs' answers. "
        "Pass --overwrite to start again, or choose another --output"
    )


def write_settings(output: Path, settings: Mapping[str, Any]) -> None:
    target = settings_path(output)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dict(settings), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, target)
