"""The hardware screen: the live hardware panel and what `check` finds for a config on it.

Hosts `HardwarePanel`; each time the panel posts a new record, the config (read once, in a
thread worker) is checked against it with `tui.core.checks.check_config` and the findings are
listed, errors first, below what the wizard would suggest for this machine (`tui.core.hints`).
Without a config file it shows the panel and the suggestions only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.app.widgets.hardware_panel import HardwarePanel

if TYPE_CHECKING:
    from tui.core.checks import Finding, Launcher
    from tui.core.hardware import HardwareInfo, Probe

_STYLE = {"error": "bold red", "warning": "yellow"}


class HardwareScreen(Screen[None]):
    """`config_file`: the accelerate config to check (None: none). `config`: a dict to check
    instead of a file (e.g. the wizard's draft). `probe`: injected for tests."""

    DEFAULT_CSS = """
    HardwareScreen #hardware-body { padding: 0 1; }
    HardwareScreen #hardware-findings-title { margin-top: 1; text-style: bold; }
    HardwareScreen #hardware-findings { height: auto; }
    HardwareScreen #hardware-hints { height: auto; margin-top: 1; }
    """

    BINDINGS = [
        Binding("r", "refresh", "Refresh now"),
        Binding("escape", "back", "Back"),
    ]

    class ConfigLoaded(Message):
        def __init__(
            self, config: Mapping[str, Any] | None, lines: Mapping[tuple[str, ...], int], error: str | None
        ) -> None:
            super().__init__()
            self.config = config
            self.lines = lines
            self.error = error

    def __init__(
        self,
        config_file: Path | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        probe: Probe | None = None,
        interval: float = 1.5,
        launcher: Launcher = "accelerate",
    ) -> None:
        super().__init__()
        self.config_file = config_file
        self._config: Mapping[str, Any] | None = config
        self._lines: Mapping[tuple[str, ...], int] = {}
        self._config_error: str | None = None
        self._probe = probe
        self.interval = interval
        self.launcher: Launcher = launcher
        self.findings: list[Finding] = []
        self._info: HardwareInfo | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="hardware-body"):
            yield HardwarePanel(self._probe, interval=self.interval, id="hardware-panel")
            yield Static("", id="hardware-hints")
            yield Static("", id="hardware-findings-title")
            yield Static("", id="hardware-findings")
        yield Footer()

    def on_mount(self) -> None:
        if self._config is None and self.config_file is not None:
            self._load_config(self.config_file)
        self._show_findings()

    @work(thread=True, group="hardware-config", exit_on_error=False)
    def _load_config(self, path: Path) -> None:
        from tui.core.accelerate_config import load_config_file
        from tui.core.errors import UsageError

        try:
            loaded = load_config_file(path)
        except UsageError as exc:
            self.post_message(self.ConfigLoaded(None, {}, exc.message))
            return
        self.post_message(self.ConfigLoaded(loaded.data, loaded.lines, None))

    def on_hardware_screen_config_loaded(self, message: ConfigLoaded) -> None:
        self._config, self._lines, self._config_error = message.config, message.lines, message.error
        self._show_findings()

    def on_hardware_panel_updated(self, message: HardwarePanel.Updated) -> None:
        from tui.core.hardware.render import hints_text

        self._info = message.info
        self.query_one("#hardware-hints", Static).update(hints_text(message.info))
        self._show_findings()

    def _show_findings(self) -> None:
        title = self.query_one("#hardware-findings-title", Static)
        body = self.query_one("#hardware-findings", Static)
        if self._config_error:
            title.update("Check")
            body.update(Text(self._config_error, style="bold red"))
            return
        if self._config is None:
            if self.config_file is None:
                title.update("")
                body.update("")
            else:
                title.update("Check")
                body.update(Text(f"Reading {self.config_file}...", style="dim"))
            return
        name = self.config_file.name if self.config_file else "this config"
        if self._info is None:
            title.update(f"Check of {name}")
            body.update(Text("waiting for the hardware...", style="dim"))
            return
        from tui.core.checks import check_config

        self.findings = check_config(self._config, self._info, lines=self._lines, launcher=self.launcher)
        errors = sum(1 for f in self.findings if f.severity == "error")
        warnings = len(self.findings) - errors
        title.update(
            f"Check of {name}: {errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}"
        )
        if not self.findings:
            body.update(Text("ok: the config fits this machine.", style="green"))
            return
        text = Text()
        for finding in self.findings:
            if text:
                text.append("\n")
            text.append(f"{finding.severity} ", style=_STYLE[finding.severity])
            text.append(f"[{finding.rule}] ", style="dim")
            text.append(finding.what)
            text.append(f"\n    why: {finding.why}", style="dim")
            text.append(f"\n    fix: {finding.fix}", style="cyan")
        body.update(text)

    def action_refresh(self) -> None:
        self.query_one(HardwarePanel).refresh_hardware()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
