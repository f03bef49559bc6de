"""The SFTPLAY_METRIC line format: how the training script reports progress to whoever watches it.

This module is the single definition of the contract between `training/sft_train.py` (the writer)
and the TUI's parser (`tui/core/metrics.py`, written against this docstring). It imports only the
standard library so either side can use it.

Format
------
Rank 0 (only) writes one line per event on **stdout**::

    SFTPLAY_METRIC {"type": "log", "step": 10, ...}

- The prefix is exactly ``SFTPLAY_METRIC `` (upper case, one trailing space), at the start of the
  line. Everything after it is one JSON object on one line (``json.dumps``, no newlines inside,
  ``NaN``/``Infinity`` written as ``null``), followed by ``\\n``.
- Each line is written with a single ``write`` call and flushed, so lines from other ranks
  (which share the terminal/pipe) cannot split it. Anything not starting with the prefix is
  ordinary log output.
- Every object has ``"type"`` (one of ``start``, ``log``, ``eval``, ``end``, ``infer_progress``), ``"v"`` (format
  version, currently 1) and ``"time"`` (Unix seconds, float). Unknown keys must be ignored by
  readers; keys are only ever added, never renamed, within a version.

Record types (fields that can be unknown are ``null``):

``start`` (once, when training begins, after the model is wrapped for distribution)
    world_size (int), distributed_type (str, accelerate's name, e.g. "MULTI_CPU", "FSDP"),
    model (str), num_parameters (int), trainable_parameters (int), output_dir (str),
    config (object: mixed_precision, distributed ("none"/"ddp"/"fsdp1"/"fsdp2"/...),
    per_device_train_batch_size, gradient_accumulation_steps, global_batch_size, max_steps,
    max_seq_length, packing, gradient_checkpointing ("off"/"transformers"/"fsdp"), peft
    ("none"/"lora"/"qlora"), learning_rate, plus optional extras), resumed_from_step (int).
``log`` (every ``logging_steps`` optimizer steps)
    step, max_steps (int), epoch (float), loss, learning_rate, grad_norm (float),
    tokens_per_second (non-padding input tokens over all ranks, since the previous log line),
    samples_per_second (sequences over all ranks, same window), peak_memory_mib (rank 0's peak:
    CUDA allocated memory on GPU, resident set size on CPU), memory_kind ("cuda"/"cpu"),
    elapsed_s (since training began in this process), eta_s (estimated seconds to max_steps).
``eval`` (after each evaluation)
    step, max_steps (int), epoch (float), eval_loss (float), metrics (object: every ``eval_*``
    value reported by the trainer, prefix removed).
``end`` (exactly once per run that got as far as parsing its arguments)
    status ("completed", "failed", "interrupted"), output_dir (str or null), final_loss (last
    logged training loss or null), step (last global step or null), elapsed_s (float or null),
    error (one-line reason or null).

``infer_progress`` (batch inference, training/infer.py: after each batch round is written)
    done (records in the output file, including those from an earlier, interrupted run),
    total (int), failed (records written with an error), records_per_second (records generated
    by this run per second since generation began, null before the first round), eta_s
    (remaining / records_per_second, null when unknown), elapsed_s (float).

Inference uses the same ``start`` record (model, world size; ``task`` = "inference", output_dir is
the output file, config holds the generation options, ``total``/``already_done`` count records)
and ``end`` record (final_loss and step null; ``records`` and ``failed`` added).

The end record is written on rank 0 even when the run fails early (bad argument, missing file) or
is stopped by SIGINT/SIGTERM, so a watcher always learns how the run finished.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, Literal, TextIO

PREFIX = "SFTPLAY_METRIC "
FORMAT_VERSION = 1
RECORD_TYPES = ("start", "log", "eval", "end", "infer_progress")
EndStatus = Literal["completed", "failed", "interrupted"]

LOG_FIELDS = (
    "step",
    "max_steps",
    "epoch",
    "loss",
    "learning_rate",
    "grad_norm",
    "tokens_per_second",
    "samples_per_second",
    "peak_memory_mib",
    "elapsed_s",
    "eta_s",
)


def _clean(value: Any) -> Any:
    """JSON cannot carry NaN/inf portably; readers get null instead of a parse error."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _clean(value.item())
    return value


def _record(kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    if kind not in RECORD_TYPES:
        raise ValueError(f"unknown record type {kind!r}")
    return {"type": kind, "v": FORMAT_VERSION, "time": round(time.time(), 3), **_clean(dict(fields))}


def start_record(
    *,
    world_size: int,
    distributed_type: str,
    model: str,
    num_parameters: int,
    trainable_parameters: int,
    output_dir: str,
    config: Mapping[str, Any],
    resumed_from_step: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    return _record(
        "start",
        {
            "world_size": world_size,
            "distributed_type": distributed_type,
            "model": model,
            "num_parameters": num_parameters,
            "trainable_parameters": trainable_parameters,
            "output_dir": output_dir,
            "config": dict(config),
            "resumed_from_step": resumed_from_step,
            **extra,
        },
    )


def log_record(
    *,
    step: int,
    max_steps: int,
    epoch: float | None,
    loss: float | None,
    learning_rate: float | None,
    grad_norm: float | None,
    tokens_per_second: float | None,
    samples_per_second: float | None,
    peak_memory_mib: float | None,
    elapsed_s: float,
    eta_s: float | None,
    memory_kind: str = "cpu",
    **extra: Any,
) -> dict[str, Any]:
    return _record(
        "log",
        {
            "step": step,
            "max_steps": max_steps,
            "epoch": epoch,
            "loss": loss,
            "learning_rate": learning_rate,
            "grad_norm": grad_norm,
            "tokens_per_second": tokens_per_second,
            "samples_per_second": samples_per_second,
            "peak_memory_mib": peak_memory_mib,
            "memory_kind": memory_kind,
            "elapsed_s": elapsed_s,
            "eta_s": eta_s,
            **extra,
        },
    )


def eval_record(
    *, step: int, max_steps: int, epoch: float | None, eval_loss: float | None, metrics: Mapping[str, Any]
) -> dict[str, Any]:
    return _record(
        "eval",
        {"step": step, "max_steps": max_steps, "epoch": epoch, "eval_loss": eval_loss, "metrics": dict(metrics)},
    )


def end_record(
    *,
    status: EndStatus,
    output_dir: str | None,
    final_loss: float | None,
    step: int | None = None,
    elapsed_s: float | None = None,
    error: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    if status not in ("completed", "failed", "interrupted"):
        raise ValueError(f"unknown end status {status!r}")
    return _record(
        "end",
        {
            "status": status,
            "output_dir": output_dir,
            "final_loss": final_loss,
            "step": step,
            "elapsed_s": elapsed_s,
            "error": error,
            **extra,
        },
    )


def infer_progress_record(
    *,
    done: int,
    total: int,
    failed: int,
    records_per_second: float | None,
    eta_s: float | None,
    elapsed_s: float,
    **extra: Any,
) -> dict[str, Any]:
    return _record(
        "infer_progress",
        {
            "done": done,
            "total": total,
            "failed": failed,
            "records_per_second": records_per_second,
            "eta_s": eta_s,
            "elapsed_s": elapsed_s,
            **extra,
        },
    )


def format_line(record: Mapping[str, Any]) -> str:
    """The full line without its newline: prefix + compact JSON (never contains a newline)."""
    return PREFIX + json.dumps(record, separators=(", ", ": "), allow_nan=False, sort_keys=False)


def parse_line(line: str) -> dict[str, Any] | None:
    """The record on a metric line, or None for any other line (ordinary logs, partial lines).

    A reference reader, used by the tests and benchmarks; the TUI has its own in tui/core.
    Tolerates a trailing newline / carriage return and a launcher prefix such as ``[rank0]:``.
    """
    text = line.rstrip("\r\n")
    at = text.find(PREFIX)
    if at < 0:
        return None
    try:
        obj = json.loads(text[at + len(PREFIX) :])
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("type") not in RECORD_TYPES:
        return None
    return obj


class Emitter:
    """Writes records on stdout, one `write` call per line, only where `enabled` (rank 0).

    A lock keeps a record written from the signal thread (the "interrupted" end record) from
    interleaving with one written by the training loop.
    """

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self._stream = stream
        self._lock = threading.Lock()
        self.ended = False

    def emit(self, record: Mapping[str, Any], *, timeout: float = -1) -> bool:
        if not self.enabled:
            return False
        if record.get("type") == "end" and self.ended:  # exactly one end record per run
            return False
        line = format_line(record) + "\n"
        if not self._lock.acquire(timeout=timeout):
            return False
        try:
            if record.get("type") == "end":
                if self.ended:
                    return False
                self.ended = True
            stream = self._stream or sys.stdout
            stream.write(line)
            stream.flush()
        finally:
            self._lock.release()
        return True
