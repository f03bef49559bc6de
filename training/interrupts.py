"""Prompt, reliable stop on SIGINT/SIGTERM: write the "interrupted" end record, then exit non-zero.

Why a thread and not `signal.signal`: a Python signal handler only runs in the main thread, between
bytecodes. During distributed training the main thread is often inside a long C call (a gloo/NCCL
collective waiting for a peer that has already exited, a big matmul), so a handler could run late
or never and the launcher would SIGKILL the worker after its 30 s grace period, with no end record.
Instead the two signals are blocked in the main thread *before* torch starts any thread (every
thread created afterwards inherits the mask) and one small daemon thread waits for them with
`sigwait`, which returns no matter what the main thread is doing.

Forked children (dataset map workers, dataloader workers) get the signals unblocked again so they
still die normally.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_installed = False


def _unblock_in_child() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def install(on_signal: Callable[[int], None]) -> None:
    """Block SIGINT/SIGTERM here and call `on_signal(signum)` from a watcher thread, then exit.

    `on_signal` should be quick (write one line). The process then leaves with 128 + signum via
    `os._exit`: nothing else runs, on purpose. Atexit hooks or collectives could block on peers
    that are being stopped at the same moment.
    """
    global _installed
    if _installed:
        return
    _installed = True
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    os.register_at_fork(after_in_child=_unblock_in_child)

    def watch() -> None:
        signum = signal.sigwait(STOP_SIGNALS)
        try:
            on_signal(signum)
        finally:
            os._exit(128 + signum)

    threading.Thread(target=watch, name="sftplay-stop-signals", daemon=True).start()
