"""Turns Trainer events into SFTPLAY_METRIC records (format: training/metrics_protocol.py).

`RunReporter` lives for the whole script: it knows whether this process writes (rank 0), the last
loss and step, and writes the single "end" record however the run ends (completed, failed, or
interrupted from the signal thread). `MetricsCallback` is the TrainerCallback that feeds it.

Throughput is measured between two log events (not since start) so the TUI's tokens/s follows
the run as it changes; the token count is the Trainer's own non-padding count summed over ranks
(`include_num_input_tokens_seen="non_padding"`), so packed and padded runs compare honestly.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from training import metrics_protocol as mp
from training.run_reporter import RunReporter

logger = logging.getLogger("sftplay.train")


def peak_memory_mib() -> tuple[float, str]:
    """This process's peak memory: CUDA allocated on GPU, resident set size on CPU."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.max_memory_allocated() / 2**20, "cuda"
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return rss_kib / 1024, "cpu"


class MetricsCallback(TrainerCallback):
    """Writes start/log/eval records on rank 0; the start record is built lazily by `start_fields`.

    `start_fields(model)` is called at train begin, when the model is already wrapped (DDP/FSDP),
    so the record can say what really runs; `on_wrapped(model)` runs on every rank at that moment
    (used to log how much of the model each rank holds).
    """

    def __init__(
        self,
        reporter: RunReporter,
        start_fields: Callable[[Any, TrainerState], dict[str, Any]],
        samples_per_step: int,
        on_wrapped: Callable[[Any], None] | None = None,
    ) -> None:
        self.reporter = reporter
        self.start_fields = start_fields
        self.samples_per_step = samples_per_step
        self.on_wrapped = on_wrapped
        self._t0 = 0.0
        self._start_step = 0
        self._last_time = 0.0
        self._last_step = 0
        self._last_tokens = 0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        now = time.monotonic()
        self._t0 = self._last_time = now
        self._start_step = self._last_step = state.global_step
        self._last_tokens = state.num_input_tokens_seen
        self.reporter.step = state.global_step
        model = kwargs.get("model")
        if self.on_wrapped is not None:
            self.on_wrapped(model)
        if self.reporter.is_main:
            self.reporter.emit(mp.start_record(**self.start_fields(model, state)))

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not logs:
            return
        step = state.global_step
        self.reporter.step = step
        if "loss" in logs:
            self.reporter.last_loss = float(logs["loss"])
        if not self.reporter.is_main:
            return
        eval_metrics = {k[5:]: v for k, v in logs.items() if k.startswith("eval_")}
        if eval_metrics:
            self.reporter.emit(
                mp.eval_record(
                    step=step,
                    max_steps=state.max_steps,
                    epoch=logs.get("epoch", state.epoch),
                    eval_loss=eval_metrics.get("loss"),
                    metrics=eval_metrics,
                )
            )
            return
        if "loss" not in logs:
            return  # the end-of-training summary (train_runtime, ...): the end record covers it
        now = time.monotonic()
        dt = max(now - self._last_time, 1e-9)
        tokens = state.num_input_tokens_seen
        tokens_ps = (tokens - self._last_tokens) / dt if tokens else None
        samples_ps = (step - self._last_step) * self.samples_per_step / dt
        done = step - self._start_step
        elapsed = now - self._t0
        eta = elapsed / done * max(state.max_steps - step, 0) if done > 0 else None
        peak, kind = peak_memory_mib()
        self.reporter.emit(
            mp.log_record(
                step=step,
                max_steps=state.max_steps,
                epoch=logs.get("epoch", state.epoch),
                loss=logs.get("loss"),
                learning_rate=logs.get("learning_rate"),
                grad_norm=logs.get("grad_norm"),
                tokens_per_second=round(tokens_ps, 2) if tokens_ps is not None else None,
                samples_per_second=round(samples_ps, 3),
                peak_memory_mib=round(peak, 1),
                memory_kind=kind,
                elapsed_s=round(elapsed, 3),
                eta_s=round(eta, 2) if eta is not None else None,
            )
        )
        self._last_time, self._last_step, self._last_tokens = now, step, tokens
