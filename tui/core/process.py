"""Processes of a run: start detached, record every worker, stop all of them, prove it.

Facts this is built on (shared/notes/accelerate-launch-facts.md, accelerate 1.15 / torch 2.13):
- torch elastic starts each worker in its OWN session, so signalling the launcher's process group
  never reaches the workers; SIGKILLing the launcher first orphans them (and their GPU memory).
- SIGINT/SIGTERM to the launcher makes it forward the signal to every worker and exit.
- On the single-process path the script shares the launcher's group.

So the safe stop is: (1) SIGINT the launcher's group, (2) after a grace period SIGTERM it (and any
recorded worker whose launcher is already gone), (3) after another grace period SIGKILL each
recorded worker's group, then the launcher's group: workers before the launcher, never the other
way round. Worker pids are recorded (children, recursively) while the launcher lives, both by the
run's supervisor and again by the stopper right before and during the stop, so a worker started a
moment ago is not missed. Each pid is kept with its creation time so a recycled pid is never hit.
Finally every recorded process is checked gone and, where a GPU probe can list GPU processes,
that none of them still holds GPU memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tui.core.paths import project_root

#: Seconds between SIGINT and SIGTERM, and between SIGTERM and SIGKILL.
DEFAULT_GRACE_S = 5.0
#: A function listing the pids that hold GPU memory now (None: no GPU or no way to know).
GpuPidLister = Callable[[], Collection[int] | None]


@dataclass(frozen=True)
class ProcessRecord:
    """A process of a run, identified by pid AND creation time (pids get recycled)."""

    pid: int
    create_time: float
    pgid: int | None = None
    rank: int | None = None
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "create_time": self.create_time,
            "pgid": self.pgid,
            "rank": self.rank,
            "name": self.name,
        }

    @classmethod
    def from_json(cls, data: Any) -> ProcessRecord | None:
        if not isinstance(data, Mapping):
            return None
        pid, created = data.get("pid"), data.get("create_time")
        if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(created, int | float):
            return None
        pgid, rank, name = data.get("pgid"), data.get("rank"), data.get("name")
        return cls(
            pid=pid,
            create_time=float(created),
            pgid=pgid if isinstance(pgid, int) else None,
            rank=rank if isinstance(rank, int) else None,
            name=name if isinstance(name, str) else "",
        )


def _rank_of(proc: psutil.Process) -> int | None:
    """The RANK a worker was started with (torch elastic sets it); None when unreadable."""
    try:
        value = proc.environ().get("RANK")
    except (psutil.Error, OSError):
        return None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def record_of(proc: psutil.Process, *, with_rank: bool = False) -> ProcessRecord | None:
    try:
        with proc.oneshot():
            created = proc.create_time()
            name = proc.name()
        pgid = os.getpgid(proc.pid)
    except (psutil.Error, OSError):
        return None
    return ProcessRecord(
        pid=proc.pid,
        create_time=created,
        pgid=pgid,
        rank=_rank_of(proc) if with_rank else None,
        name=name,
    )


def live_process(record: ProcessRecord) -> psutil.Process | None:
    """The process if it still runs (same pid, same creation time, not a zombie), else None."""
    try:
        proc = psutil.Process(record.pid)
        if abs(proc.create_time() - record.create_time) > 0.05:
            return None  # the pid now belongs to someone else
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None  # exited; only waiting for its parent to collect the exit code
    except (psutil.Error, OSError):
        return None
    return proc


def is_alive(record: ProcessRecord | None) -> bool:
    return record is not None and live_process(record) is not None


def descendants(root: ProcessRecord, known: Iterable[ProcessRecord] = ()) -> list[ProcessRecord]:
    """Every live descendant of `root` (children, recursively), with their ranks when known.

    Processes in `known` that already have a rank are not read again (reading a process's
    environment for its RANK is the costly part when this runs every half second).
    """
    proc = live_process(root)
    if proc is None:
        return []
    try:
        children = proc.children(recursive=True)
    except (psutil.Error, OSError):
        return []
    done = {(r.pid, round(r.create_time, 2)): r for r in known if r.rank is not None}
    records: list[ProcessRecord] = []
    for child in children:
        try:
            key = (child.pid, round(child.create_time(), 2))
        except (psutil.Error, OSError):
            continue
        record = done.get(key) or record_of(child, with_rank=True)
        if record is not None:
            records.append(record)
    return records


def merge_records(known: Iterable[ProcessRecord], new: Iterable[ProcessRecord]) -> list[ProcessRecord]:
    """`known` plus the records of `new` not already there (matched by pid and creation time).

    A known record without a rank takes the newer one's: a worker seen right after the fork,
    before it exec'd the training script, has the launcher's environment (no RANK) and name.
    """
    result = list(known)
    index = {(r.pid, round(r.create_time, 2)): i for i, r in enumerate(result)}
    for record in new:
        key = (record.pid, round(record.create_time, 2))
        if key not in index:
            index[key] = len(result)
            result.append(record)
        elif result[index[key]].rank is None and record.rank is not None:
            result[index[key]] = record
    return result


# -- starting ---------------------------------------------------------------------------------


def spawn_detached(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, stdout: int | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session: no terminal signals reach it and it outlives its parent."""
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if stdout is not None else subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def supervisor_argv(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "tui.core.supervisor", str(run_dir)]


def spawn_supervisor(run_dir: Path, *, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start the run's supervisor (see `tui.core.supervisor`), detached, from the package root.

    Its working folder is the folder holding `tui/` so `-m tui.core.supervisor` imports this very
    package; the supervisor starts the launcher in the run's own working folder. Its own errors
    go to `supervisor.log` in the run folder. A daemon thread collects its exit status so a
    long-lived caller (the app) keeps no zombie.
    """
    log = os.open(run_dir / "supervisor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        proc = spawn_detached(supervisor_argv(run_dir), cwd=project_root(), env=env, stdout=log)
    finally:
        os.close(log)
    threading.Thread(target=proc.wait, name=f"reap-supervisor-{proc.pid}", daemon=True).start()
    return proc


def reap(pid: int, timeout_s: float = 5.0) -> int | None:
    """Collect a forked child's exit status (None if it is not our child or still running)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


def can_fork() -> bool:
    """Forking is safe only with no other thread (their locks would stay held in the child)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def fork_supervisor(run_dir: Path) -> int:
    """Run the supervisor in a forked child (new session) of this single-threaded process.

    Saves a Python start-up and the supervisor's imports (~0.1-0.2 s) on the way to the launcher:
    the headless `launch` uses it; the app (threads) uses `spawn_supervisor`. The caller reaps
    the child (`os.waitpid`) or exits (then init does).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        log = os.open(run_dir / "supervisor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        from tui.core.supervisor import main

        code = main([str(run_dir)])
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


# -- stopping ---------------------------------------------------------------------------------


@dataclass
class StopReport:
    """What a stop did, step by step, and what (if anything) is left."""

    steps: list[str] = field(default_factory=list)
    signals: list[tuple[float, str, int]] = field(default_factory=list)
    forced: list[int] = field(default_factory=list)
    leftovers: list[int] = field(default_factory=list)
    gpu_holders: list[int] = field(default_factory=list)
    gpu_checked: bool = False
    all_gone: bool = False
    seconds: float = 0.0
    pids: list[int] = field(default_factory=list)

    @property
    def summary(self) -> str:
        if not self.pids:
            return "nothing to stop: no process of the run was running."
        n = len(self.pids)
        if self.all_gone:
            how = "after SIGKILL of " + ", ".join(map(str, self.forced)) if self.forced else "gracefully"
            text = f"stopped {how} in {self.seconds:.1f} s; all {n} processes of the run are gone"
        else:
            text = f"NOT all stopped: still running: {', '.join(map(str, self.leftovers))}"
        if self.gpu_checked:
            text += (
                "; no GPU memory held by them"
                if not self.gpu_holders
                else f"; GPU memory still held by pids {', '.join(map(str, self.gpu_holders))}"
            )
        return text + "."

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "signals": [{"t": round(t, 3), "signal": s, "target": pid} for t, s, pid in self.signals],
            "forced": self.forced,
            "leftovers": self.leftovers,
            "gpu_holders": self.gpu_holders,
            "gpu_checked": self.gpu_checked,
            "all_gone": self.all_gone,
            "seconds": round(self.seconds, 3),
            "pids": self.pids,
            "summary": self.summary,
        }


class _Stopper:
    def __init__(
        self, launcher: ProcessRecord | None, workers: Sequence[ProcessRecord], hurry: Callable[[], bool] | None
    ) -> None:
        self.launcher = launcher
        self.records = list(workers)
        self.report = StopReport()
        self.t0 = time.monotonic()
        self.hurry = hurry or (lambda: False)
        self.own_pgid = os.getpgrp()

    def refresh(self) -> None:
        if self.launcher is not None:
            self.records = merge_records(self.records, descendants(self.launcher, self.records))

    def alive(self) -> list[ProcessRecord]:
        everyone = ([self.launcher] if self.launcher else []) + self.records
        return [r for r in everyone if is_alive(r)]

    def note(self, text: str) -> None:
        self.report.steps.append(f"{time.monotonic() - self.t0:6.2f}s {text}")

    def signal_group(self, record: ProcessRecord, sig: signal.Signals) -> None:
        """Signal the group `record` leads, or just the process when it leads none of its own."""
        if live_process(record) is None:
            return
        pgid = record.pgid
        try:
            current = os.getpgid(record.pid)
        except OSError:
            return
        # Never signal our own group (a run process that somehow shares it would take us down).
        if pgid is not None and pgid == current and pgid != self.own_pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(record.pid, sig)
        self.report.signals.append((time.monotonic() - self.t0, sig.name, record.pid))

    def wait(self, seconds: float) -> bool:
        """Wait until everything is gone (True) or `seconds` pass; keeps recording new workers."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.refresh()
            if not self.alive():
                return True
            if self.hurry():
                return False
            time.sleep(0.05)
        self.refresh()
        return not self.alive()


def stop_processes(
    launcher: ProcessRecord | None,
    workers: Sequence[ProcessRecord] = (),
    *,
    grace_s: float = DEFAULT_GRACE_S,
    gpu_pids: GpuPidLister | None = None,
    hurry: Callable[[], bool] | None = None,
    gpu_release_wait_s: float = 5.0,
) -> StopReport:
    """Stop a launcher and its workers as the module docstring says; report every step.

    `hurry()` returning True (a second Ctrl+C) skips the rest of the grace periods.
    """
    s = _Stopper(launcher, workers, hurry)
    s.refresh()
    s.report.pids = sorted({r.pid for r in ([launcher] if launcher else []) + s.records})
    if not s.alive():
        s.report.all_gone = True
        s.note("nothing was running")
        return _finish(s, gpu_pids, gpu_release_wait_s)
    gone = False
    for sig in (signal.SIGINT, signal.SIGTERM):
        if launcher is not None and is_alive(launcher):
            s.note(f"{sig.name} to the launcher's process group (pid {launcher.pid}); it forwards it to the workers")
            s.signal_group(launcher, sig)
        else:
            # The launcher is gone but workers live on (orphaned): signal them directly.
            for record in s.records:
                if is_alive(record):
                    s.note(f"{sig.name} to orphaned worker {record.pid}")
                    s.signal_group(record, sig)
        gone = s.wait(grace_s)
        if gone:
            s.note(f"all processes exited after {sig.name}")
            break
    if not gone:
        # Workers first: SIGKILLing the launcher first would orphan them.
        for record in s.records:
            if is_alive(record):
                s.note(f"SIGKILL to worker {record.pid}'s process group")
                s.signal_group(record, signal.SIGKILL)
                s.report.forced.append(record.pid)
        if launcher is not None and is_alive(launcher):
            s.note(f"SIGKILL to the launcher's process group (pid {launcher.pid})")
            s.signal_group(launcher, signal.SIGKILL)
            s.report.forced.append(launcher.pid)
        gone = s.wait(3.0)
    s.report.all_gone = gone
    s.report.pids = sorted({r.pid for r in ([launcher] if launcher else []) + s.records})
    s.report.leftovers = [r.pid for r in s.alive()]
    return _finish(s, gpu_pids, gpu_release_wait_s)


def _finish(s: _Stopper, gpu_pids: GpuPidLister | None, wait_s: float) -> StopReport:
    if gpu_pids is not None:
        ours = set(s.report.pids)
        deadline = time.monotonic() + wait_s
        while True:
            # The driver frees memory a moment after the process dies: poll briefly.
            try:
                listed = gpu_pids()
            except Exception:
                listed = None
            if listed is None:
                break
            s.report.gpu_checked = True
            s.report.gpu_holders = sorted(ours & set(listed))
            if not s.report.gpu_holders or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        if s.report.gpu_checked:
            s.note(
                "GPU memory released"
                if not s.report.gpu_holders
                else f"GPU memory still held by {s.report.gpu_holders}"
            )
    s.report.seconds = time.monotonic() - s.t0
    return s.report


def gpu_pids_from_probe() -> GpuPidLister | None:
    """Pids holding GPU memory, from the hardware probe; None on a machine without GPUs.

    One probe is kept for every call (NVML is initialised once); the probe decides the source
    (NVML, nvidia-smi, ...). On a machine where it sees no GPU there is nothing to verify.
    """
    try:
        from tui.core.hardware import get_probe

        probe = get_probe()
        first = probe.probe()
    except Exception:
        return None
    if not first.gpus:
        probe.close()
        return None

    def listed() -> Collection[int] | None:
        try:
            info = probe.probe()
        except Exception:
            return None
        return {p.pid for gpu in info.gpus for p in gpu.processes}

    return listed
