"""The run view: command and state on top, the failure (if any) right under it, metrics, the log.

`RunScreen(run_dir)` works the same for a run it just launched, a run started by an earlier app
or by `sftplay-tui launch` (reattach: everything is read from the run folder), and a finished
run. A thread worker polls status.json (a replaceable message per change); the log and metrics
widgets have their own readers. `s` stops the run after a confirmation; the stop runs in a
thread and its report is shown and posted (`RunScreen.StopFinished`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from tui.app.screens.modals.confirm_stop import ConfirmStop
from tui.app.widgets.metrics_panel import GpuSampler, MetricsPanel
from tui.app.widgets.run_log import DEFAULT_MAX_LINES, RunLog
from tui.core.errors import UsageError
from tui.core.metrics import format_duration
from tui.core.process import DEFAULT_GRACE_S, GpuPidLister, StopReport, gpu_pids_from_probe
from tui.core.runs import FAILED, LOST, STOPPED, SUCCEEDED, Run, load_run, stop_run

_STATE_STYLE = {
    SUCCEEDED: "bold green",
    FAILED: "bold red",
    STOPPED: "bold yellow",
    LOST: "bold magenta",
}


def failure_text(run: Run) -> str:
    """The failure summary shown at the top: headline, exit codes, rank, last traceback."""
    failure = run.status.failure
    lines: list[str] = []
    if run.state == LOST:
        lines.append(
            "[b]The run's supervisor is gone and the launcher is no longer running; the exit code was "
            "not recorded.[/b] The log below is complete up to the end."
        )
    if failure is None:
        if run.status.note:
            lines.append(escape(run.status.note))
        return "\n".join(lines)
    lines.append(f"[b]{escape(failure.headline)}[/b]")
    facts = [f"launcher exit code {run.exit_code}"]
    if failure.rank is not None:
        facts.append(f"failing rank {failure.rank}")
    if failure.rank_exit_code is not None:
        facts.append(f"rank exit code {failure.rank_exit_code}")
    lines.append(" · ".join(facts))
    if failure.traceback:
        lines.append("")
        lines.extend(escape(line) for line in failure.traceback)
    elif failure.context:
        lines.append("last lines of that rank:")
        lines.extend(escape(line) for line in failure.context)
    if run.status.note:
        lines.append(escape(run.status.note))
    return "\n".join(lines)


class RunScreen(Screen[None]):
    """One run, live or finished; see the module docstring."""

    DEFAULT_CSS = """
    RunScreen { layout: vertical; }
    RunScreen #run-head { height: auto; padding: 0 1; background: $panel; }
    RunScreen #run-command { height: auto; padding: 0 1; color: $text-muted; }
    RunScreen #run-failure {
        display: none; height: auto; max-height: 16; overflow-y: auto;
        padding: 0 1; border: round $error; color: $text;
    }
    RunScreen.-failed #run-failure { display: block; }
    RunScreen #run-stop-report { display: none; height: auto; padding: 0 1; color: $warning; }
    RunScreen.-stop-report #run-stop-report { display: block; }
    RunScreen MetricsPanel { height: auto; }
    RunScreen RunLog { height: 1fr; min-height: 6; }
    """

    BINDINGS = [
        Binding("s", "stop", "Stop run"),
        Binding("c", "copy_command", "Copy command"),
        Binding("escape", "back", "Back"),
    ]

    @dataclass
    class StatusChanged(Message):
        """The run's state, exit code or failure changed (newest replaces older)."""

        run: Run

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, RunScreen.StatusChanged)

    @dataclass
    class StopFinished(Message):
        """A stop requested from this screen is done; `report` says what happened."""

        run_dir: Path
        report: StopReport

    def __init__(
        self,
        run_dir: Path,
        *,
        gpu_sampler: GpuSampler | None = None,
        use_probe: bool = True,
        gpu_pids: GpuPidLister | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        log_max_lines: int = DEFAULT_MAX_LINES,
        poll_s: float = 0.5,
        clock: bool = True,
    ) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.run = load_run(run_dir)
        self.gpu_sampler = gpu_sampler
        self.use_probe = use_probe
        self.gpu_pids = gpu_pids
        self.grace_s = grace_s
        self.log_max_lines = log_max_lines
        self.poll_s = poll_s
        self.clock = clock
        self.stopping = False
        self.stop_report: StopReport | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="run-top"):
            yield Static(self._head_text(), id="run-head")
            yield Static(escape(self.run.command), id="run-command")
            yield Static("", id="run-failure")
            yield Static("", id="run-stop-report")
        yield MetricsPanel(self.run_dir, gpu_sampler=self.gpu_sampler, use_probe=self.use_probe and self.run.active)
        yield RunLog(self.run_dir, max_lines=self.log_max_lines)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.run.id
        self._show(self.run)
        self.query_one(RunLog).view.focus()
        self._watch_status()

    @work(thread=True, exclusive=True, group="run-status")
    def _watch_status(self) -> None:
        worker = get_current_worker()
        last = self._key(self.run)
        while not worker.is_cancelled:
            time.sleep(self.poll_s)
            try:
                run = load_run(self.run_dir)
            except UsageError:
                continue
            key = self._key(run)
            if key != last or (run.active and self.clock):
                last = key
                self.post_message(self.StatusChanged(run))

    @staticmethod
    def _key(run: Run) -> tuple[object, ...]:
        return (run.state, run.exit_code, run.status.failure, len(run.status.workers), run.status.note)

    @on(StatusChanged)
    def _status_changed(self, message: StatusChanged) -> None:
        message.stop()
        self._show(message.run)

    def _head_text(self) -> str:
        run = self.run
        style = _STATE_STYLE.get(run.state, "bold cyan")
        parts = [f"[b]Run {escape(run.id)}[/b]", f"[{style}]{run.state}[/{style}]"]
        duration = run.duration()
        if duration is not None:
            parts.append(format_duration(duration))
        if run.exit_code is not None:
            parts.append(f"exit code {run.exit_code}")
        workers = [w for w in run.status.workers if w.rank is not None]
        if run.active and workers:
            parts.append(f"{len(workers)} rank(s): pids " + ", ".join(str(w.pid) for w in workers))
        parts.append(f"config {escape(run.config_file)}")
        return " · ".join(parts)

    def _show(self, run: Run) -> None:
        self.run = run
        self.query_one("#run-head", Static).update(self._head_text())
        self.query_one(MetricsPanel).set_run_state(run.state, run.active)
        text = failure_text(run) if run.state in (FAILED, LOST) else ""
        self.query_one("#run-failure", Static).update(text)
        self.set_class(bool(text), "-failed")
        if run.state == STOPPED and self.stop_report is None:
            report = (run.stop or {}).get("report")
            summary = report.get("summary") if isinstance(report, dict) else None
            if isinstance(summary, str):
                self.query_one("#run-stop-report", Static).update(escape(summary))
                self.add_class("-stop-report")

    # -- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_copy_command(self) -> None:
        self.app.copy_to_clipboard(self.run.command)
        self.notify("command copied to the clipboard")

    def action_stop(self) -> None:
        run = load_run(self.run_dir)
        if not run.active:
            self.notify(f"run {run.id} is not running ({run.state}).")
            return
        if self.stopping:
            self.notify("already stopping...")
            return

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self.stopping = True
                self.notify(f"stopping run {run.id}...")
                self._stop(run)

        self.app.push_screen(ConfirmStop(run.id, self.grace_s), decided)

    @work(thread=True, exclusive=True, group="run-stop")
    def _stop(self, run: Run) -> None:
        lister = self.gpu_pids if self.gpu_pids is not None else gpu_pids_from_probe()
        report = stop_run(run, grace_s=self.grace_s, gpu_pids=lister, by="the run view")
        self.post_message(self.StopFinished(self.run_dir, report))

    @on(StopFinished)
    def _stop_finished(self, message: StopFinished) -> None:
        # Let the message bubble on to the app as well (it may want to refresh lists).
        self.stopping = False
        self.stop_report = message.report
        report = message.report
        self.query_one("#run-stop-report", Static).update(escape(report.summary))
        self.add_class("-stop-report")
        self.notify(report.summary, severity="information" if report.all_gone else "error", timeout=10)
        with contextlib.suppress(UsageError):
            self._show(load_run(self.run_dir))
