"""Runs on disk: one folder per launch under `$XDG_STATE_HOME/sftplay-tui/runs/<id>/`.

```
run.json        what was launched: argv, the copyable command, env overrides, config, cwd
config.yaml     a copy of the accelerate config as it was at launch (suffix of the original)
command.sh      the same command as a script (cd + env + accelerate launch ...)
output.log      everything the launcher and the ranks printed, as it came (stdout+stderr)
metrics.jsonl   the SFTPLAY_METRIC records, one JSON object a line
status.json     state, times, exit code, pids, failure summary (written by the supervisor only)
stop.json       a stop request and, once done, the stop report (written by the stopper only)
ranks/          per-rank stdout/stderr files from torch elastic (--tee/--log_dir)
supervisor.log  the supervisor's own errors (normally empty)
```

Why a supervisor: only a process's parent can learn its exit code. So the launcher is started
by a tiny detached supervisor (`tui.core.supervisor`, its own session) that waits for it and
writes status.json, whether or not an app or CLI is still watching. The launcher writes straight
into output.log (not through a pipe), so even if the supervisor were killed the run keeps going
and its log stays complete; `load_run` then reports the run as "running" while the launcher
lives and "lost" (exit code unknown) once it is gone, instead of "running" forever.

Each file has exactly one writer, so nothing needs locking: the supervisor owns status.json
and metrics.jsonl, the stopper owns stop.json, the launcher owns output.log.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core.errors import UsageError
from tui.core.files import atomic_write
from tui.core.metrics import (
    FailureSummary,
    MetricsState,
    format_duration,
    last_metric_records,
    load_metrics_file,
    number,
)
from tui.core.paths import runs_dir
from tui.core.process import (
    DEFAULT_GRACE_S,
    GpuPidLister,
    ProcessRecord,
    StopReport,
    can_fork,
    fork_supervisor,
    is_alive,
    spawn_supervisor,
    stop_processes,
)

if TYPE_CHECKING:  # the supervisor imports this module: keep pydantic (via launch) out of its start-up
    from tui.core.launch import LaunchPlan

RUN_FILE = "run.json"
STATUS_FILE = "status.json"
LOG_FILE = "output.log"
METRICS_FILE = "metrics.jsonl"
STOP_FILE = "stop.json"
COMMAND_FILE = "command.sh"

STARTING, RUNNING = "starting", "running"
SUCCEEDED, FAILED, STOPPED, LOST = "succeeded", "failed", "stopped", "lost"
ACTIVE_STATES = (STARTING, RUNNING)
FINAL_STATES = (SUCCEEDED, FAILED, STOPPED, LOST)
#: A run still "starting" this long after creation without a supervisor record is lost.
START_TIMEOUT_S = 60.0


def _now() -> float:
    return time.time()


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Atomic (tmp + rename) so a reader never sees half a file."""
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", backup=False)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class RunStatus:
    """status.json, as the supervisor wrote it."""

    state: str = STARTING
    created_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    supervisor: ProcessRecord | None = None
    launcher: ProcessRecord | None = None
    workers: tuple[ProcessRecord, ...] = ()
    failure: FailureSummary | None = None
    leftovers: tuple[int, ...] = ()
    stop_requested: bool = False
    note: str | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "exit_code": self.exit_code,
            "supervisor": self.supervisor.to_json() if self.supervisor else None,
            "launcher": self.launcher.to_json() if self.launcher else None,
            "workers": [w.to_json() for w in self.workers],
            "failure": self.failure.to_json() if self.failure else None,
            "leftovers": list(self.leftovers),
            "stop_requested": self.stop_requested,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RunStatus:
        if not data:
            return cls(state=LOST, note="status.json is missing or unreadable")
        state = data.get("state")
        exit_code = data.get("exit_code")
        workers = data.get("workers")
        leftovers = data.get("leftovers")
        note = data.get("note")
        return cls(
            state=state if isinstance(state, str) else LOST,
            created_at=number(data.get("created_at")),
            started_at=number(data.get("started_at")),
            ended_at=number(data.get("ended_at")),
            exit_code=exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
            supervisor=ProcessRecord.from_json(data.get("supervisor")),
            launcher=ProcessRecord.from_json(data.get("launcher")),
            workers=tuple(
                r
                for r in (ProcessRecord.from_json(w) for w in (workers if isinstance(workers, list) else []))
                if r is not None
            ),
            failure=FailureSummary.from_json(data.get("failure")),
            leftovers=tuple(p for p in (leftovers if isinstance(leftovers, list) else []) if isinstance(p, int)),
            stop_requested=bool(data.get("stop_requested")),
            note=note if isinstance(note, str) else None,
        )


@dataclass(frozen=True)
class Run:
    """One run folder, read at a moment in time."""

    path: Path
    spec: Mapping[str, Any]
    status: RunStatus
    #: The state after checking that the processes it claims are running really are.
    state: str
    stop: Mapping[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def log_path(self) -> Path:
        return self.path / LOG_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def command(self) -> str:
        value = self.spec.get("display")
        return value if isinstance(value, str) else ""

    @property
    def config_file(self) -> str:
        value = self.spec.get("config_file")
        return value if isinstance(value, str) else "?"

    @property
    def target(self) -> str:
        value = self.spec.get("target")
        return value if isinstance(value, str) else "?"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def started_at(self) -> float | None:
        return self.status.started_at or self.status.created_at or number(self.spec.get("created_at"))

    def duration(self, now: float | None = None) -> float | None:
        start = self.started_at
        if start is None:
            return None
        end = self.status.ended_at
        if end is None:
            end = (now or _now()) if self.active else None
        return None if end is None else max(0.0, end - start)

    @property
    def exit_code(self) -> int | None:
        return self.status.exit_code

    def last_loss(self) -> float | None:
        for record in reversed(last_metric_records(self.metrics_path)):
            if record.get("type") == "log" and number(record.get("loss")) is not None:
                return number(record.get("loss"))
            if record.get("type") == "end" and number(record.get("final_loss")) is not None:
                return number(record.get("final_loss"))
        return None

    def summary_cells(self) -> tuple[str, str, str, str, str]:
        """(started, duration, exit code, last loss, config) as shown in run lists ("-" if unknown)."""
        start, loss = self.started_at, self.last_loss()
        return (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start)) if start else "-",
            format_duration(self.duration()),
            "-" if self.exit_code is None else str(self.exit_code),
            "-" if loss is None else f"{loss:.4f}",
            self.config_file,
        )

    def metrics(self) -> MetricsState:
        return load_metrics_file(self.metrics_path)


def effective_state(status: RunStatus, spec: Mapping[str, Any] | None = None, now: float | None = None) -> str:
    """The real state: a run whose status says running but whose processes are gone is lost."""
    if status.state not in ACTIVE_STATES:
        return status.state
    if is_alive(status.supervisor):
        return status.state
    if is_alive(status.launcher):
        return RUNNING  # the supervisor died, the training did not; it is still running
    created = status.created_at or number((spec or {}).get("created_at"))
    never_started = status.supervisor is None and status.launcher is None
    if never_started and created is not None and (now or _now()) - created < START_TIMEOUT_S:
        return STARTING  # the supervisor has not written its pid yet
    return LOST


def load_run(path: Path) -> Run:
    spec = read_json(path / RUN_FILE)
    if spec is None:
        raise UsageError(f"{path}: not a run folder (no readable {RUN_FILE}).")
    status = RunStatus.from_json(read_json(path / STATUS_FILE))
    return Run(
        path=path,
        spec=spec,
        status=status,
        state=effective_state(status, spec),
        stop=read_json(path / STOP_FILE),
    )


def list_runs(root: Path | None = None) -> list[Run]:
    """Every run folder, newest first; folders that are not runs are skipped."""
    base = root if root is not None else runs_dir()
    try:
        entries = [p for p in base.iterdir() if p.is_dir() and (p / RUN_FILE).is_file()]
    except OSError:
        return []
    runs: list[Run] = []
    for entry in entries:
        with contextlib.suppress(UsageError):
            runs.append(load_run(entry))
    runs.sort(key=lambda r: (r.started_at or 0.0, r.id), reverse=True)
    return runs


def find_run(ref: str, root: Path | None = None) -> Run:
    """A run by id, unique id prefix or substring, folder path, or `last`."""
    candidate = Path(ref).expanduser()
    if (candidate / RUN_FILE).is_file():
        return load_run(candidate)
    runs = list_runs(root)
    if not runs:
        raise UsageError(f"no runs yet in {root or runs_dir()}; start one with `sftplay-tui launch`.")
    if ref in ("last", "latest"):
        return runs[0]
    exact = [r for r in runs if r.id == ref]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.id.startswith(ref)] or [r for r in runs if ref in r.id]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no run matches {ref!r}; `sftplay-tui runs` lists them.")
    names = ", ".join(r.id for r in matches[:5])
    raise UsageError(f"{ref!r} matches {len(matches)} runs ({names}...); give more of the id.")


# -- creating and starting --------------------------------------------------------------------


def create_run_dir(plan: LaunchPlan) -> Path:
    """The run folder with everything known before the start; status `starting`."""
    path = plan.run_dir
    try:
        path.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise UsageError(f"{path}: a run folder with this id already exists; launch again.") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot create the run folder ({exc.strerror}).") from None
    config_copy = path / ("config" + (plan.request.config_file.suffix or ".yaml"))
    try:
        shutil.copyfile(plan.request.config_file, config_copy)
    except OSError as exc:
        raise UsageError(f"{plan.request.config_file}: cannot copy the config ({exc.strerror}).") from None
    created = _now()
    request = plan.request
    spec = {
        "argv": list(plan.argv),
        "display": plan.display,
        "env": dict(plan.env),
        "cwd": str(request.cwd),
        "config_file": str(request.config_file),
        "config_copy": config_copy.name,
        "script": str(request.script) if request.script else None,
        "module": request.module,
        "args": list(request.args),
        "target": plan.target,
        "num_processes": plan.num_processes,
        "node_groups": plan.node_groups,
        "notes": list(plan.notes),
        "created_at": created,
    }
    write_json(path / RUN_FILE, spec)
    script = (
        "#!/bin/sh\n# The command of this run, as launched by sftplay-tui.\n"
        f"cd {shlex.quote(str(request.cwd))} || exit 1\n"
        f"exec env {plan.display}\n"
    )
    atomic_write(path / COMMAND_FILE, script, backup=False)
    (path / LOG_FILE).touch()
    (path / METRICS_FILE).touch()
    write_json(path / STATUS_FILE, RunStatus(state=STARTING, created_at=created).to_json())
    return path


def start_run(plan: LaunchPlan, *, wait_s: float = 20.0, fork: bool = False) -> Run:
    """Create the run folder, start its supervisor, and return once the launcher has a pid.

    `fork=True` (single-threaded callers such as the headless CLI) forks the supervisor instead
    of starting a new interpreter. Returns earlier with a final state if the supervisor could not
    start the launcher.
    """
    path = create_run_dir(plan)
    if fork and can_fork():
        pid = fork_supervisor(path)

        def exited() -> bool:
            return os.waitpid(pid, os.WNOHANG) != (0, 0)
    else:
        proc = spawn_supervisor(path)

        def exited() -> bool:
            return proc.poll() is not None

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        run = load_run(path)
        if run.status.launcher is not None or run.status.final:
            return run
        if exited():
            break
        time.sleep(0.01)
    run = load_run(path)
    if run.status.launcher is None and not run.status.final:
        err = (path / "supervisor.log").read_text(encoding="utf-8", errors="replace").strip()
        detail = err.splitlines()[-1] if err else "no message"
        raise UsageError(f"the run supervisor did not start the launcher ({detail}); see {path}/supervisor.log")
    return run


# -- stopping ---------------------------------------------------------------------------------


def request_stop(run: Run, by: str = "user") -> None:
    if run.stop is None:
        write_json(run.path / STOP_FILE, {"requested_at": _now(), "by": by, "pid": os.getpid()})


def record_stop_report(run_dir: Path, report: StopReport) -> None:
    """Add the report of a finished stop to the run's stop.json (kept with the request)."""
    stop = read_json(run_dir / STOP_FILE) or {}
    stop["report"] = report.to_json()
    stop["finished_at"] = _now()
    write_json(run_dir / STOP_FILE, stop)


def stop_run(
    run: Run,
    *,
    grace_s: float = DEFAULT_GRACE_S,
    gpu_pids: GpuPidLister | None = None,
    hurry: Callable[[], bool] | None = None,
    by: str = "user",
) -> StopReport:
    """Stop a run (see tui.core.process) and keep the report in stop.json."""
    request_stop(run, by)
    status = RunStatus.from_json(read_json(run.path / STATUS_FILE))
    # The supervisor may still be about to start the launcher: give it a moment to record it.
    deadline = time.monotonic() + 5.0
    while status.launcher is None and not status.final and is_alive(status.supervisor):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
        status = RunStatus.from_json(read_json(run.path / STATUS_FILE))
    report = stop_processes(status.launcher, status.workers, grace_s=grace_s, gpu_pids=gpu_pids, hurry=hurry)
    record_stop_report(run.path, report)
    return report


def wait_final(run: Run, timeout_s: float = 30.0, poll_s: float = 0.02) -> Run:
    """Re-read the run until its state is final (the supervisor writes it right after the exit)."""
    deadline = time.monotonic() + timeout_s
    current = load_run(run.path)
    while current.active and time.monotonic() < deadline:
        time.sleep(poll_s)
        current = load_run(run.path)
    return current


# -- following files --------------------------------------------------------------------------


@dataclass
class FileTail:
    """Reads what was appended to a file since the last call (a log or metrics.jsonl)."""

    path: Path
    offset: int = 0
    chunk_size: int = 1 << 20
    _handle: Any = field(default=None, repr=False)

    def start_at_tail(self, tail_bytes: int) -> None:
        """Begin `tail_bytes` before the end, at a line start (a big finished log opens fast)."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return
        if size <= tail_bytes:
            return
        with self.path.open("rb") as handle:
            handle.seek(size - tail_bytes)
            handle.readline()
            self.offset = handle.tell()

    def read(self, limit: int | None = None) -> bytes:
        if self._handle is None:
            try:
                self._handle = self.path.open("rb")
            except OSError:
                return b""
        handle = self._handle
        try:
            if os.fstat(handle.fileno()).st_size < self.offset:
                self.offset = 0  # truncated: start over
            handle.seek(self.offset)
            data: bytes = handle.read(limit or self.chunk_size)
        except OSError:
            return b""
        self.offset += len(data)
        return data

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
