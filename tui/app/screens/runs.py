"""The runs list: every run folder with state, start, duration, config and last loss.

Enter opens the run view (reattaching to a live run, or showing a finished one). The list is
read in a thread worker (a folder scan plus one small file per run) and refreshed every few
seconds while the screen is shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from tui.core.runs import list_runs


@dataclass(frozen=True)
class RunRow:
    id: str
    path: Path
    state: str
    started: str
    duration: str
    exit_code: str
    last_loss: str
    config: str


def _rows(root: Path | None) -> list[RunRow]:
    rows = []
    for run in list_runs(root):
        started, duration, exit_code, last_loss, config = run.summary_cells()
        rows.append(RunRow(run.id, run.path, run.state, started, duration, exit_code, last_loss, config))
    return rows


class RunsScreen(Screen[None]):
    """All runs, newest first; Enter opens one in `RunScreen`."""

    DEFAULT_CSS = """
    RunsScreen #runs-title { height: 1; padding: 0 1; background: $panel; }
    RunsScreen DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("enter", "open", "Open"),
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "back", "Back"),
    ]

    @dataclass
    class Loaded(Message):
        rows: list[RunRow]

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, RunsScreen.Loaded)

    @dataclass
    class Opened(Message):
        """A run was opened from the list (the screen pushes `RunScreen` itself)."""

        run_dir: Path

    def __init__(self, root: Path | None = None, *, refresh_s: float = 3.0, use_probe: bool = True) -> None:
        super().__init__()
        self.root = root
        self.refresh_s = refresh_s
        self.use_probe = use_probe
        self.rows: list[RunRow] = []

    def compose(self) -> ComposeResult:
        yield Static("Runs (Enter: open / reattach)", id="runs-title")
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True, id="runs-table")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("run", "state", "started", "duration", "exit", "last loss", "config")
        self._loader()

    @work(thread=True, exclusive=True, group="runs-loader")
    def _loader(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            self.post_message(self.Loaded(_rows(self.root)))
            deadline = time.monotonic() + self.refresh_s
            while time.monotonic() < deadline and not worker.is_cancelled:
                time.sleep(0.1)

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        message.stop()
        if message.rows == self.rows:
            return
        table = self.query_one(DataTable)
        selected = self.rows[table.cursor_row].id if self.rows and 0 <= table.cursor_row < len(self.rows) else None
        self.rows = message.rows
        table.clear()
        for row in message.rows:
            table.add_row(
                row.id, row.state, row.started, row.duration, row.exit_code, row.last_loss, row.config, key=row.id
            )
        if selected is not None:
            index = next((i for i, r in enumerate(self.rows) if r.id == selected), 0)
            table.move_cursor(row=index)
        self.query_one("#runs-title", Static).update(
            f"Runs: {len(self.rows)} (Enter: open / reattach)"
            if self.rows
            else "No runs yet: launch one from the review screen or with `sftplay-tui launch`."
        )

    def action_refresh(self) -> None:
        self.post_message(self.Loaded(_rows(self.root)))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if not self.rows or not (0 <= table.cursor_row < len(self.rows)):
            return
        from tui.app.screens.run import RunScreen

        row = self.rows[table.cursor_row]
        self.post_message(self.Opened(row.path))
        self.app.push_screen(RunScreen(row.path, use_probe=self.use_probe))

    def action_back(self) -> None:
        self.app.pop_screen()
