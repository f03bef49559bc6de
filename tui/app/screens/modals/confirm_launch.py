"""Ask before launching despite warnings from the pre-launch checks (errors never get here)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.core.checks import Finding


class ConfirmLaunch(ModalScreen[bool]):
    """Dismisses with True to launch anyway."""

    DEFAULT_CSS = """
    ConfirmLaunch { align: center middle; }
    ConfirmLaunch > #confirm-launch-box {
        width: 80; height: auto; max-height: 80%; padding: 1 2; border: thick $warning; background: $surface;
    }
    ConfirmLaunch #confirm-launch-list { height: auto; max-height: 16; }
    ConfirmLaunch #confirm-launch-buttons { height: auto; margin-top: 1; align-horizontal: right; }
    ConfirmLaunch Button { margin-left: 2; }
    """
    BINDINGS = [Binding("y", "confirm", "Launch"), Binding("n,escape", "cancel", "Back")]

    def __init__(self, warnings: Sequence[Finding]) -> None:
        super().__init__()
        self.warnings = list(warnings)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-launch-box"):
            yield Static(f"[b]Launch despite {len(self.warnings)} warning(s)?[/b]")
            with VerticalScroll(id="confirm-launch-list"):
                for finding in self.warnings:
                    yield Static(f"[yellow]•[/yellow] {escape(finding.render())}")
            with Horizontal(id="confirm-launch-buttons"):
                yield Button("Back (n)", id="confirm-launch-no")
                yield Button("Launch (y)", variant="warning", id="confirm-launch-yes")

    @on(Button.Pressed, "#confirm-launch-yes")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-launch-no")
    def action_cancel(self) -> None:
        self.dismiss(False)
