"""The run supervisor: `python -m tui.core.supervisor RUN_DIR`, one per run, detached.

It is the launcher's parent, which is what makes a run's status trustworthy after the app is
closed: only a parent learns the exit code. It
- starts `accelerate launch ...` (run.json) in its own session, output straight into output.log;
- while the launcher lives: records worker pids (children, recursively, with their RANK) into
  status.json and copies SFTPLAY_METRIC records from the log into metrics.jsonl;
- when the launcher exits: records the exit code, the failing rank and the last traceback, stops
  any worker the launcher left behind (e.g. after the launcher was SIGKILLed), and writes the final
  state (succeeded / failed / stopped).
SIGTERM to the supervisor stops the run the safe way (tui.core.process); SIGINT and SIGHUP are
ignored (it has no terminal; a stray Ctrl+C must not cost the exit code).

It imports only the light core (no pydantic, no Textual, no torch) so it starts in ~0.1 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

from tui.core.metrics import METRIC_MARKER_BYTES, analyse_failure, parse_metric_line, read_tail_lines
from tui.core.process import (
    DEFAULT_GRACE_S,
    ProcessRecord,
    descendants,
    is_alive,
    merge_records,
    record_of,
    stop_processes,
)
from tui.core.runs import (
    FAILED,
    LOG_FILE,
    METRICS_FILE,
    RUN_FILE,
    RUNNING,
    STARTING,
    STATUS_FILE,
    STOP_FILE,
    STOPPED,
    SUCCEEDED,
    FileTail,
    RunStatus,
    read_json,
    record_stop_report,
    write_json,
)

#: How often worker pids are re-recorded while the launcher lives.
RECORD_INTERVAL_S = 0.5


class Supervisor:
    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.spec: dict[str, Any] = read_json(run_dir / RUN_FILE) or {}
        self.status = RunStatus.from_json(read_json(run_dir / STATUS_FILE))
        self.workers: list[ProcessRecord] = []
        self.term_requested = False
        self.tail = FileTail(run_dir / LOG_FILE)
        self.pending = b""
        self.metrics = (run_dir / METRICS_FILE).open("ab")

    def write(self, **changes: Any) -> None:
        data = self.status.to_json()
        data.update(changes)
        data["workers"] = [w.to_json() for w in self.workers]
        self.status = RunStatus.from_json(data)
        write_json(self.dir / STATUS_FILE, self.status.to_json())

    def on_term(self, signum: int, frame: FrameType | None) -> None:
        self.term_requested = True

    def pump_metrics(self, final: bool = False) -> None:
        """Copy new metric records from the log; fast path skips chunks without the marker."""
        while True:
            data = self.tail.read()
            if not data:
                break
            data = self.pending + data
            cut = data.rfind(b"\n")
            if cut < 0:
                self.pending = data
                continue
            self.pending = data[cut + 1 :]
            if METRIC_MARKER_BYTES in data[:cut]:
                self._extract(data[:cut])
        if final and self.pending:
            self._extract(self.pending)
            self.pending = b""
        self.metrics.flush()

    def _extract(self, block: bytes) -> None:
        for raw in block.split(b"\n"):
            if METRIC_MARKER_BYTES in raw:
                record = parse_metric_line(raw.decode("utf-8", "replace"))
                if record is not None:
                    self.metrics.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")

    def run(self) -> int:
        me = record_of(psutil.Process())
        created = self.status.created_at or time.time()
        self.write(supervisor=me.to_json() if me else None, created_at=created, state=STARTING)
        argv = self.spec.get("argv")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not argv:
            self.write(state=FAILED, ended_at=time.time(), note="run.json has no command")
            return 2
        if (self.dir / STOP_FILE).exists():
            self.write(state=STOPPED, ended_at=time.time(), stop_requested=True, note="stopped before it started")
            return 0
        signal.signal(signal.SIGTERM, self.on_term)
        # A no-op handler rather than SIG_IGN: ignored signals stay ignored across exec, and the
        # launcher must react to SIGINT; handlers are reset to the default in the child.
        signal.signal(signal.SIGINT, _ignore)
        signal.signal(signal.SIGHUP, _ignore)
        env = dict(os.environ)
        overrides = self.spec.get("env")
        if isinstance(overrides, dict):
            env.update({str(k): str(v) for k, v in overrides.items()})
        cwd = self.spec.get("cwd") if isinstance(self.spec.get("cwd"), str) else None
        log_fd = os.open(self.dir / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                start_new_session=True,
                close_fds=True,
                restore_signals=True,
            )
        except OSError as exc:
            os.write(log_fd, f"sftplay-tui: cannot start {argv[0]}: {exc.strerror or exc}\n".encode())
            os.close(log_fd)
            self.write(state=FAILED, ended_at=time.time(), exit_code=127, note=f"cannot start: {exc}")
            return 0
        os.close(log_fd)
        launcher = record_of(psutil.Process(proc.pid)) if _exists(proc.pid) else None
        if launcher is None:  # exited within microseconds; still record who it was
            launcher = ProcessRecord(pid=proc.pid, create_time=time.time(), pgid=proc.pid, name=argv[0])
        self.write(state=RUNNING, started_at=time.time(), launcher=launcher.to_json())
        code = self._watch(proc, launcher)
        return self._finish(code, launcher)

    def _watch(self, proc: subprocess.Popen[bytes], launcher: ProcessRecord) -> int:
        next_record = 0.0
        settled = time.monotonic()
        stopping = False
        while True:
            try:
                return proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if now >= next_record:
                found = merge_records(self.workers, descendants(launcher, self.workers))
                if found != self.workers:
                    self.workers = found
                    self.write()
                    settled = now
                # Workers appear at the start; once the set has been stable a while, look less
                # often (each look scans the process table). Stops re-scan on their own anyway.
                interval = RECORD_INTERVAL_S if now - settled < 30 else 4 * RECORD_INTERVAL_S
                next_record = now + interval
            self.pump_metrics()
            if self.term_requested and not stopping:
                stopping = True
                if not (self.dir / STOP_FILE).exists():
                    write_json(self.dir / STOP_FILE, {"requested_at": time.time(), "by": "SIGTERM to supervisor"})
                record_stop_report(self.dir, stop_processes(launcher, self.workers, grace_s=DEFAULT_GRACE_S))

    def _finish(self, code: int, launcher: ProcessRecord) -> int:
        self.pump_metrics(final=True)
        ended = time.time()
        leftovers = [w for w in self.workers if is_alive(w)]
        note = None
        if leftovers:
            # The launcher is gone but workers live on (it was SIGKILLed, or crashed): stop them,
            # or they would keep running (and keep GPU memory) with nobody watching.
            report = stop_processes(None, leftovers, grace_s=2.0)
            note = f"the launcher left {len(leftovers)} worker(s) behind; {report.summary}"
        stopped = (self.dir / STOP_FILE).exists()
        failure = None
        if code != 0:
            failure = analyse_failure(read_tail_lines(self.dir / LOG_FILE), code).to_json()
        state = SUCCEEDED if code == 0 else STOPPED if stopped else FAILED
        self.write(
            state=state,
            ended_at=ended,
            exit_code=code,
            failure=failure,
            stop_requested=stopped,
            leftovers=[w.pid for w in self.workers if is_alive(w)],
            note=note,
        )
        self.metrics.close()
        self.tail.close()
        return 0


def _ignore(signum: int, frame: FrameType | None) -> None:
    return None


def _exists(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not (Path(args[0]) / RUN_FILE).is_file():
        print("usage: python -m tui.core.supervisor RUN_DIR (a folder with run.json)", file=sys.stderr)
        return 2
    supervisor = Supervisor(Path(args[0]))
    try:
        return supervisor.run()
    except Exception:
        # Last resort: say what happened where the run view will show it.
        traceback.print_exc()
        try:
            if is_alive(supervisor.status.launcher):
                # The training goes on without us; load_run reports it running, then lost.
                supervisor.write(note="the supervisor crashed; see supervisor.log")
            else:
                supervisor.write(state=FAILED, ended_at=time.time(), note="the supervisor crashed; see supervisor.log")
        except Exception:
            pass
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
