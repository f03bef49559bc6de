"""Confirm before stopping a run: it cannot be resumed from where it was unless it checkpointed."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmStop(ModalScreen[bool]):
    """Dismisses with True to stop, False to keep the run going."""

    DEFAULT_CSS = """
    ConfirmStop { align: center middle; }
    ConfirmStop > #confirm-stop-box {
        width: 64; height: auto; padding: 1 2; border: thick $error; background: $surface;
    }
    ConfirmStop #confirm-stop-buttons { height: auto; margin-top: 1; align-horizontal: right; }
    ConfirmStop Button { margin-left: 2; }
    """
    BINDINGS = [
        Binding("y", "confirm", "Stop"),
        Binding("n,escape", "cancel", "Keep running"),
    ]

    def __init__(self, run_id: str, grace_s: float) -> None:
        super().__init__()
        self.run_id = run_id
        self.grace_s = grace_s

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-stop-box"):
            yield Static(f"[b]Stop run {self.run_id}?[/b]")
            yield Static(
                f"SIGINT to the launcher (it forwards it to every rank), SIGTERM after {self.grace_s:g} s, "
                f"then SIGKILL to each remaining worker and the launcher after another {self.grace_s:g} s. "
                "Progress since the last checkpoint is lost."
            )
            with Horizontal(id="confirm-stop-buttons"):
                yield Button("Keep running (n)", id="confirm-stop-no")
                yield Button("Stop (y)", variant="error", id="confirm-stop-yes")

    def on_mount(self) -> None:
        self.query_one("#confirm-stop-no", Button).focus()

    @on(Button.Pressed, "#confirm-stop-yes")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-stop-no")
    def action_cancel(self) -> None:
        self.dismiss(False)
