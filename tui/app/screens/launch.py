"""Launch: choose the script (or module) and its arguments, see the exact command, check, launch.

The command shown is exactly what will run (`tui.core.launch.plan_launch`), rebuilt as you type;
`c` copies it. The pre-launch checks run in a thread worker (the hardware probe may take a
moment; it is taken once, at the first check, and serves every re-check while the command is
edited): errors disable Launch, warnings ask for confirmation. The choices are remembered per
project folder (the folder the app was started in). Launching starts the run detached (it
survives the app) and dismisses the screen with the run folder; `LaunchScreen.Launched` is
posted too, so the app can open `RunScreen(run_dir)`.

Inference (ctrl+g) runs the bundled batch inference, training/infer.py, with the same config and
its own arguments (remembered apart from the training ones); its progress (records done / total,
records/s, ETA) shows in the same run view. The config checks are the same for both commands
(they depend on the config only), so one check result serves both buttons.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet, Static

from tui.app.screens.modals.confirm_launch import ConfirmLaunch
from tui.core.checks import Finding
from tui.core.errors import UsageError
from tui.core.launch import (
    Checker,
    LaunchChoices,
    LaunchPlan,
    LaunchRequest,
    ProbeOnceChecker,
    blocking,
    check_launch,
    default_infer_script,
    default_script,
    plan_launch,
    recall_choices,
    remember_choices,
    split_args,
    warnings_of,
)
from tui.core.runs import start_run

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


class LaunchScreen(Screen[Path | None]):
    """Build, check and launch the command for `config_file`; dismisses with the run folder."""

    DEFAULT_CSS = """
    LaunchScreen #launch-body { padding: 0 2; height: 1fr; }
    LaunchScreen .launch-label { margin-top: 1; }
    LaunchScreen RadioSet { height: auto; }
    LaunchScreen #launch-command {
        height: auto; padding: 0 1; margin-top: 1; border: round $accent; background: $surface;
    }
    LaunchScreen #launch-findings { height: auto; max-height: 12; margin-top: 1; }
    LaunchScreen #launch-buttons { height: auto; margin-top: 1; }
    LaunchScreen #launch-buttons Button { margin-right: 2; }
    LaunchScreen .-hidden { display: none; }
    """
    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch"),
        Binding("ctrl+g", "infer", "Inference"),
        Binding("ctrl+y", "copy_command", "Copy command"),
        Binding("escape", "cancel", "Back"),
    ]

    @dataclass
    class Launched(Message):
        """A run was started; open `RunScreen(run_dir)` to watch it."""

        run_dir: Path

    @dataclass
    class FindingsReady(Message):
        display: str
        findings: list[Finding]

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LaunchScreen.FindingsReady)

    @dataclass
    class StartFailed(Message):
        error: str

    def __init__(
        self,
        config_file: Path,
        *,
        project_dir: Path | None = None,
        checker: Checker | None | Literal["probe-once"] = "probe-once",
        extra_env: dict[str, str] | None = None,
        runs_root: Path | None = None,
    ) -> None:
        super().__init__()
        self.config_file = config_file
        self.project_dir = project_dir or Path.cwd()
        # By default one probe of the machine serves every re-check while the command is edited.
        self.checker = ProbeOnceChecker() if checker == "probe-once" else checker
        self.extra_env = dict(extra_env or {})
        self.runs_root = runs_root
        self.plan: LaunchPlan | None = None
        self.plan_error: str | None = None
        self.infer_plan: LaunchPlan | None = None
        self.infer_error: str | None = None
        self.findings: list[Finding] = []
        self.checked_for: str | None = None
        self.launching = False
        remembered = recall_choices(self.project_dir) or LaunchChoices()
        self.use_module = bool(remembered.module)
        self.initial_script = remembered.script or str(default_script())
        self.initial_module = remembered.module or ""
        self.initial_args = " ".join(_quote(a) for a in remembered.args)
        self.initial_infer_args = " ".join(_quote(a) for a in remembered.infer_args or _default_infer_args())

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="launch-body"):
            yield Static(f"[b]Launch a run[/b] with the config {escape(str(self.config_file))}")
            yield Label("Run", classes="launch-label")
            with RadioSet(id="launch-kind"):
                yield RadioButton("a training script", value=not self.use_module, id="launch-kind-script")
                yield RadioButton("a Python module (-m)", value=self.use_module, id="launch-kind-module")
            yield Input(
                self.initial_script,
                placeholder="path/to/train.py",
                id="launch-script",
                classes="-hidden" if self.use_module else "",
            )
            yield Input(
                self.initial_module,
                placeholder="package.module",
                id="launch-module",
                classes="" if self.use_module else "-hidden",
            )
            yield Label("Training arguments (shell syntax)", classes="launch-label")
            yield Input(self.initial_args, placeholder="--max_steps 20 --output_dir out", id="launch-args")
            yield Label("Command (exactly what runs; ctrl+y copies it)", classes="launch-label")
            yield Static("", id="launch-command")
            yield Label("Inference arguments (training/infer.py, shell syntax)", classes="launch-label")
            yield Input(
                self.initial_infer_args,
                placeholder="--use_accelerate --data FILE --output OUT.jsonl",
                id="launch-infer-args",
            )
            yield Static("", id="launch-infer-command")
            yield Vertical(id="launch-findings")
            with Horizontal(id="launch-buttons"):
                yield Button("Launch (ctrl+l)", variant="primary", id="launch-go")
                yield Button("Inference (ctrl+g)", id="launch-infer")
                yield Button("Copy command", id="launch-copy")
                yield Button("Back", id="launch-back")
        yield Footer()

    def on_mount(self) -> None:
        self._replan()

    # -- building the plan --------------------------------------------------------------------

    def request(self) -> LaunchRequest:
        args = split_args(self.query_one("#launch-args", Input).value)
        if self.use_module:
            module = self.query_one("#launch-module", Input).value.strip()
            if not module:
                raise UsageError("give the module to run (e.g. scripts.train).")
            return LaunchRequest(self.config_file, module=module, args=args, cwd=self.project_dir, env=self.extra_env)
        script = self.query_one("#launch-script", Input).value.strip()
        if not script:
            raise UsageError("give the training script to run.")
        return LaunchRequest(
            self.config_file, script=Path(script).expanduser(), args=args, cwd=self.project_dir, env=self.extra_env
        )

    def infer_request(self) -> LaunchRequest:
        args = split_args(self.query_one("#launch-infer-args", Input).value)
        return LaunchRequest(
            self.config_file, script=default_infer_script(), args=args, cwd=self.project_dir, env=self.extra_env
        )

    def _checked_target(self) -> LaunchPlan | None:
        """The plan whose checks count: either command's (they share the config)."""
        return self.plan or self.infer_plan

    def _replan(self) -> None:
        try:
            self.plan = plan_launch(self.request(), runs_root=self.runs_root)
            self.plan_error = None
        except UsageError as exc:
            self.plan, self.plan_error = None, exc.message
        try:
            self.infer_plan = plan_launch(self.infer_request(), runs_root=self.runs_root)
            self.infer_error = None
        except UsageError as exc:
            self.infer_plan, self.infer_error = None, exc.message
        infer_command = self.query_one("#launch-infer-command", Static)
        if self.infer_plan is not None:
            infer_command.update(escape(self.infer_plan.display))
        else:
            infer_command.update(f"[red]{escape(self.infer_error or '')}[/red]")
        command = self.query_one("#launch-command", Static)
        target = self._checked_target()
        if self.plan is not None:
            command.update(escape(self.plan.display))
        else:
            command.update(f"[red]{escape(self.plan_error or '')}[/red]")
        if target is not None:
            self._check(target)
        else:
            self.findings = []
            self.checked_for = None
            self._show_findings()
        self._update_buttons()

    @work(thread=True, exclusive=True, group="launch-check")
    def _check(self, plan: LaunchPlan) -> None:
        findings = check_launch(plan, self.checker)
        self.post_message(self.FindingsReady(plan.display, findings))

    @on(FindingsReady)
    def _findings_ready(self, message: FindingsReady) -> None:
        message.stop()
        target = self._checked_target()
        if target is None or message.display != target.display:
            return  # a result for an older command
        self.findings = message.findings
        self.checked_for = message.display
        self._show_findings()
        self._update_buttons()

    def _show_findings(self) -> None:
        box = self.query_one("#launch-findings", Vertical)
        box.remove_children()
        widgets = []
        for finding in self.findings:
            style = _SEVERITY_STYLE.get(finding.severity, "")
            widgets.append(Static(f"[{style}]{finding.severity}[/{style}] {escape(finding.details())}"))
        target = self._checked_target()
        if target is not None and self.checked_for == target.display and not self.findings:
            widgets.append(Static("[green]checks passed[/green]"))
        if widgets:
            box.mount_all(widgets)

    def _update_buttons(self) -> None:
        target = self._checked_target()
        checked = (
            target is not None
            and self.checked_for == target.display
            and not blocking(self.findings)
            and not self.launching
        )
        self.query_one("#launch-go", Button).disabled = not (checked and self.plan is not None)
        self.query_one("#launch-infer", Button).disabled = not (checked and self.infer_plan is not None)

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        self._replan()

    @on(RadioSet.Changed, "#launch-kind")
    def _kind_changed(self, event: RadioSet.Changed) -> None:
        self.use_module = event.pressed.id == "launch-kind-module"
        self.query_one("#launch-script", Input).set_class(self.use_module, "-hidden")
        self.query_one("#launch-module", Input).set_class(not self.use_module, "-hidden")
        self._replan()

    # -- actions ------------------------------------------------------------------------------

    @on(Button.Pressed, "#launch-copy")
    def action_copy_command(self) -> None:
        if self.plan is not None:
            self.app.copy_to_clipboard(self.plan.display)
            self.notify("command copied to the clipboard")

    @on(Button.Pressed, "#launch-back")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#launch-go")
    def action_launch(self) -> None:
        self._launch(self.plan, self.plan_error)

    @on(Button.Pressed, "#launch-infer")
    def action_infer(self) -> None:
        self._launch(self.infer_plan, self.infer_error)

    def _launch(self, plan: LaunchPlan | None, error: str | None) -> None:
        target = self._checked_target()
        if plan is None or target is None or self.checked_for != target.display or self.launching:
            if error:
                self.notify(error, severity="error")
            return
        if blocking(self.findings):
            self.notify("fix the errors first", severity="error")
            return
        warnings = warnings_of(self.findings)
        if warnings:

            def decided(go: bool | None) -> None:
                if go:
                    self._go(plan)

            self.app.push_screen(ConfirmLaunch(warnings), decided)
        else:
            self._go(plan)

    def _go(self, plan: LaunchPlan) -> None:
        self.launching = True
        self._update_buttons()
        # Both commands' arguments are remembered, whichever one runs (each as typed, if it parses).
        training = self.plan.request if self.plan is not None else None
        remembered = recall_choices(self.project_dir) or LaunchChoices()
        remember_choices(
            LaunchChoices(
                config_file=str(plan.request.config_file),
                script=str(training.script) if training and training.script else remembered.script,
                module=training.module if training else remembered.module,
                args=list(training.args) if training else remembered.args,
                infer_args=list(self.infer_plan.request.args) if self.infer_plan else remembered.infer_args,
            ),
            self.project_dir,
        )
        self._start(plan)

    @work(thread=True, exclusive=True, group="launch-start")
    def _start(self, plan: LaunchPlan) -> None:
        try:
            run = start_run(plan)
        except UsageError as exc:
            self.post_message(self.StartFailed(exc.message))
            return
        self.post_message(self.Launched(run.path))

    @on(StartFailed)
    def _start_failed(self, message: StartFailed) -> None:
        message.stop()
        self.launching = False
        self.notify(message.error, severity="error", timeout=10)
        self._replan()

    @on(Launched)
    def _launched(self, message: Launched) -> None:
        # Not stopped: the app sees it too. Dismissing returns the folder to push_screen's callback.
        self.dismiss(message.run_dir)


def _default_infer_args() -> list[str]:
    """A first inference run: the bundled chat data, answered by the embedded model (or --model_name_or_path)."""
    data = default_infer_script().parent / "data" / "chat.jsonl"
    return ["--use_accelerate", "--data", str(data), "--output", "outputs/inference.jsonl"]


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
