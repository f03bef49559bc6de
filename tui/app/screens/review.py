"""Review before writing: the target path, findings, the YAML, and a diff against the current file.

Writing is atomic and an existing file is backed up first (`tui.core.files.atomic_write`); the
screen says where the backup went. Any answer can still be changed from here, and "Write & launch"
goes straight on to the launch screen with the file just written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static, TabbedContent, TabPane

from tui.app.messages import ConfigWritten, LaunchWanted
from tui.app.screens.modals.pick_question import PickQuestion
from tui.core.accelerate_config import Problem, dump_config, validate_config
from tui.core.accelerate_version import installable, version_note
from tui.core.errors import UsageError
from tui.core.files import atomic_write, read_existing, unified_diff
from tui.core.session import WizardSession

#: Findings about a config on this machine: (severity, one-line text).
FindingsFn = Callable[[dict[str, Any], Path], list[tuple[str, str]]]


def schema_findings(config: dict[str, Any], path: Path) -> list[tuple[str, str]]:
    """Hardware-independent findings (the fallback when no hardware check is wired in)."""
    problems: list[Problem] = validate_config(config)
    return [(p.severity, p.render()) for p in problems]


class ReviewScreen(Screen[None]):
    BINDINGS = [
        Binding("w", "write", "Write"),
        Binding("l", "launch", "Write & launch"),
        Binding("c", "change", "Change an answer"),
        Binding("m", "config_set", "Config set (multi-node)", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(
        self,
        session: WizardSession,
        target: Path,
        findings: FindingsFn | None = None,
        extra_env: dict[str, str] | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.target = target
        self.findings_fn = findings or schema_findings
        self.extra_env = extra_env or {}
        self.overrides = overrides or {}
        self.written: Path | None = None

    def config(self) -> dict[str, Any]:
        config = self.session.config()
        if self.overrides:
            from tui.core.presets.keys import set_path

            for key, value in self.overrides.items():
                set_path(config, key, value)
        return installable(config)[0]

    def compose(self) -> ComposeResult:
        with Vertical(id="review-head"):
            yield Static(id="target")
            yield Static(id="findings")
        with TabbedContent(id="review-tabs"):
            with TabPane("YAML to write", id="tab-yaml"), VerticalScroll():
                yield Static(id="yaml")
            with TabPane("Diff against current file", id="tab-diff"), VerticalScroll():
                yield Static(id="diff")
        with Horizontal(id="review-buttons"):
            yield Button("Write", id="write", variant="primary")
            yield Button("Write & launch", id="launch")
            yield Button("Change an answer", id="change")
            yield Button("Write the config set (multi-node)", id="config-set")
            yield Button("Back", id="back")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_view()
        self.query_one("#config-set", Button).display = self._multi_node()

    def _multi_node(self) -> bool:
        machines = self.config().get("num_machines", 1)
        return isinstance(machines, int) and machines > 1

    def refresh_view(self) -> None:
        config = self.config()
        text = dump_config(config, self.target)
        old = read_existing_quiet(self.target)
        exists = old is not None
        state = "exists: it will be backed up first" if exists else "new file"
        header = Text.assemble(("Target  ", "dim"), (str(self.target), "bold"), (f"  ({state})", "dim"))
        note = version_note()
        if note:
            header.append(f"\n{note}", style="yellow")
        if self.extra_env:
            env = " ".join(f"{k}={v}" for k, v in self.extra_env.items())
            header.append(f"\nRecommended environment: {env}", style="cyan")
        self.query_one("#target", Static).update(header)
        self.query_one("#findings", Static).update(self._findings_text(config))
        lexer = "json" if str(self.target).endswith(".json") else "yaml"
        self.query_one("#yaml", Static).update(Syntax(text, lexer, theme="ansi_dark", background_color="default"))
        diff = unified_diff(old, text, self.target)
        if old == text:
            self.query_one("#diff", Static).update(Text("The file already has exactly this content.", style="dim"))
        elif not exists:
            self.query_one("#diff", Static).update(Text("No file there yet: all of it is new.", style="dim"))
        else:
            self.query_one("#diff", Static).update(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))

    def _findings_text(self, config: dict[str, Any]) -> Text:
        findings = self.findings_fn(config, self.target)
        if not findings:
            return Text("✓ No problems found with this config on this machine.", style="green")
        text = Text()
        for severity, line in findings:
            style = "bold red" if severity == "error" else "yellow"
            mark = "✗" if severity == "error" else "!"
            text.append(f"{mark} {line}\n", style=style)
        return text

    # -- actions ---------------------------------------------------------------------------
    def action_write(self) -> bool:
        """Write the file (backing up what was there); False when that failed (already notified)."""
        config = self.config()
        try:
            result = atomic_write(self.target, dump_config(config, self.target))
        except UsageError as exc:
            self.notify(exc.message, severity="error", timeout=10)
            return False
        self.written = result.path
        if not result.changed:
            self.notify(f"{result.path} already had this content; nothing changed.")
        else:
            backup = f" Previous file backed up to {result.backup}." if result.backup else ""
            self.notify(f"Wrote {result.path}.{backup}", timeout=10)
        self.post_message(ConfigWritten(result.path, result.backup))
        self.refresh_view()
        return True

    def action_launch(self) -> None:
        """Write the config (a no-op when the file already has it), then open the launch screen.

        The launch screen runs its own checks against the written file and asks before launching,
        so nothing starts from this key alone.
        """
        if self.action_write():
            self.post_message(LaunchWanted(self.target))

    def action_change(self) -> None:
        def reopen(question_id: str | None) -> None:
            if question_id is None:
                return
            while self.session.confirmed and self.session.confirmed[-1] != question_id:
                self.session.back()
            self.session.back()
            self.dismiss(None)

        self.app.push_screen(PickQuestion(self.session.transcript()), reopen)

    def action_config_set(self) -> None:
        if not self._multi_node():
            self.notify("This config is for one machine; the config set is for num_machines > 1.")
            return
        from tui.app.screens.modals.config_set import ConfigSetModal

        self.app.push_screen(ConfigSetModal(self.config(), Path.cwd() / "sftplay-multinode"))

    def action_back(self) -> None:
        if self.session.confirmed:
            self.session.back()
        self.dismiss(None)

    @on(Button.Pressed, "#write")
    def _write(self) -> None:
        self.action_write()

    @on(Button.Pressed, "#launch")
    def _launch(self) -> None:
        self.action_launch()

    @on(Button.Pressed, "#change")
    def _change(self) -> None:
        self.action_change()

    @on(Button.Pressed, "#config-set")
    def _config_set(self) -> None:
        self.action_config_set()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.action_back()


def read_existing_quiet(path: Path) -> str | None:
    try:
        return read_existing(path)
    except UsageError:
        return None
