"""The run's single writer of SFTPLAY_METRIC records, alive from the first line of the script.

Kept free of torch/transformers imports: it is created (and the stop-signal watcher that uses it is
installed) before anything heavy is imported, so even a run stopped or failing during start-up
ends with exactly one "end" record.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from training import metrics_protocol as mp


class RunReporter:
    """Holds what the end record needs (output dir, last loss and step) and writes records on rank 0."""

    def __init__(self, is_main: bool, stream: TextIO | None = None) -> None:
        self.emitter = mp.Emitter(enabled=is_main, stream=stream)
        self.output_dir: str | None = None
        self.last_loss: float | None = None
        self.step: int | None = None
        self.started_at = time.monotonic()

    @property
    def is_main(self) -> bool:
        return self.emitter.enabled

    def emit(self, record: Mapping[str, Any]) -> None:
        self.emitter.emit(record)

    def end(self, status: mp.EndStatus, error: str | None = None, *, timeout: float = -1, **extra: Any) -> bool:
        """The run's one end record; `extra` adds fields (inference: records, failed, generated)."""
        return self.emitter.emit(
            mp.end_record(
                status=status,
                output_dir=self.output_dir,
                final_loss=self.last_loss,
                step=self.step,
                elapsed_s=round(time.monotonic() - self.started_at, 3),
                error=error,
                **extra,
            ),
            timeout=timeout,
        )


# -- the scripts' entry points ---------------------------------------------------------------------

EXIT_USAGE = 2


class UserError(Exception):
    """A mistake the user can fix (arguments, data, model path, batch size): one line, exit 2.

    Every such error of the scripts derives from it, so `guarded_main` catches them all without
    importing the modules that raise them (they import transformers/datasets, which may be what
    is missing). `same_on_every_rank`: every rank finds it (the arguments), so one rank says it.
    """

    same_on_every_rank = False


def configure_logging(logger: logging.Logger) -> None:
    """`logger`'s lines on stderr, every rank, prefixed with the rank (others' lines keep theirs)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"[sftplay rank{os.environ.get('RANK', '0')}] %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def env_int(name: str, default: int = 0) -> int:
    """An integer from the environment (RANK, WORLD_SIZE, ...), `default` when unset or malformed."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def guarded_main(
    body: Callable[[], int],
    reporter: RunReporter,
    *,
    script: str,
    speaks: Callable[[UserError], bool],
) -> int:
    """Run a script's body so every way out ends with one "end" record.

    A `UserError` is one line on stderr, printed where `speaks(exc)` (once per run or per node, not
    once per rank), and exit status 2; anything else is recorded and re-raised so its traceback
    reaches the log.
    """
    try:
        return body()
    except UserError as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        if speaks(exc):
            sys.stderr.write(f"{script}: error: {message}\n")
            sys.stderr.flush()
        reporter.end("failed", error=message)
        return EXIT_USAGE
    except BaseException as exc:
        if isinstance(exc, SystemExit) and exc.code in (0, None):  # --help
            raise
        reporter.end("failed", error=f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        raise
