"""The sftplay-tui Textual app: composes the screens and wires them to the core.

The app holds the wizard session, the target config path and the latest hardware record (probed
in a thread worker after the first screen is up). Every decision is made in `tui.core`; screens
other than the first are imported when first opened, so the first screen is interactive quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App
from textual.binding import Binding

from tui.app.messages import AnswersChosen, ConfigWritten, LaunchWanted
from tui.app.screens.home import HomeAction, HomeScreen
from tui.core.accelerate_version import version_note
from tui.core.graph.state import Draft
from tui.core.host import detect_host
from tui.core.paths import default_config_path
from tui.core.questions import Question
from tui.core.session import WizardSession

if TYPE_CHECKING:
    from tui.core.hardware import HardwareInfo, Probe
    from tui.core.hints import HardwareHints


#: Seconds between the first paint and the background hardware probe.
PROBE_DELAY_S = 0.8


class SftplayApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "sftplay-tui"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(
        self,
        config_file: str | None = None,
        start: str | None = None,
        *,
        hardware: HardwareInfo | None = None,
        probe: Probe | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.target = Path(config_file).expanduser() if config_file else default_config_path()
        self.start = start
        self.host = detect_host()
        self.session = WizardSession(host=self.host)
        self.preset_env: dict[str, str] = {}
        #: Config keys a preset sets that no question writes (applied on top of the answers).
        self.overrides: dict[str, Any] = {}
        #: Injected (tests, snapshots) or probed in the background after start-up.
        self.hardware = hardware
        self.probe = probe
        self._fixed_hardware = hardware is not None
        self.hints: HardwareHints | None = None

    # -- start-up --------------------------------------------------------------------------
    def home_actions(self) -> list[HomeAction]:
        return [
            ("wizard", "Answer accelerate's questions", "each explained; writes the same YAML as accelerate config"),
            (
                "presets",
                "Start from a preset",
                "2x RTX 4090, 4x A100, 8x H100, FSDP, single GPU, CPU: matched to this machine",
            ),
            ("hardware", "Hardware", "GPUs, memory, busy processes, P2P/NVLink, env; checks for the config"),
            ("launch", "Launch a run", "accelerate launch of training/ (or your script) with this config"),
            ("runs", "Runs", "running and finished runs: reattach, logs, metrics, stop"),
            ("quit", "Quit", ""),
        ]

    def on_mount(self) -> None:
        if self.start == "wizard":
            # Straight to the first question; the home screen is composed only when left for.
            from tui.app.screens.wizard import WizardScreen

            wizard = WizardScreen(self.session, self.wizard_unavailable, self.wizard_suggest)
            self.push_screen(wizard, lambda _result: self.push_screen(self.home_screen()))
        else:
            self.push_screen(self.home_screen())
        note = version_note()
        if note:
            self.notify(note, severity="warning", timeout=12)
        if self.hardware is not None:
            self._hardware_ready(self.hardware)
        else:
            # Well after the first paint: probing (NVML, nvidia-smi, psutil) in a thread still takes
            # the interpreter lock, and the first question needs no hardware.
            self.call_after_refresh(lambda: self.set_timer(PROBE_DELAY_S, self.load_hardware))

    @work(thread=True, exclusive=True, group="hardware")
    def load_hardware(self) -> None:
        from tui.core.hardware import probe_hardware

        # An injected probe belongs to whoever injected it; our own is closed (NVML shut down).
        info = self.probe.probe() if self.probe is not None else probe_hardware()
        self.call_from_thread(self._hardware_ready, info)

    def _hardware_ready(self, info: HardwareInfo) -> None:
        from tui.core.hints import hardware_hints

        self.hardware = info
        self.hints = hardware_hints(info)

    def home_screen(self) -> HomeScreen:
        return HomeScreen(self.target, self.home_actions())

    # -- hardware-aware wizard -------------------------------------------------------------
    def wizard_suggest(self, draft: Draft, question: Question) -> tuple[Any, str] | None:
        if self.hints is None:
            return None
        from tui.core.hints import suggested_answer

        value = suggested_answer(self.hints, draft, question.id)
        if value is None or value == question.default_value(draft):
            return None
        return value, f"Pre-selected for this machine ({self._machine_words()}); accelerate's default differs."

    def wizard_unavailable(self, draft: Draft, question: Question) -> dict[str, str]:
        if self.hints is None:
            return {}
        from tui.core.hints import unavailable_choices

        return unavailable_choices(self.hints, question.id)

    def _machine_words(self) -> str:
        info = self.hardware
        if info is None or not info.gpus:
            return "no GPU"
        names = sorted({g.name for g in info.gpus})
        return f"{len(info.gpus)}x {' / '.join(names)}"

    def review_findings(self, config: dict[str, Any], path: Path) -> list[tuple[str, str]]:
        from tui.app.screens.review import schema_findings

        if self.hardware is None:
            return schema_findings(config, path)
        from tui.core.checks import check_config

        findings = check_config(config, self.hardware, launcher="accelerate")  # errors first already
        return [(f.severity, f.render()) for f in findings]

    # -- screens ---------------------------------------------------------------------------
    def action_wizard(self) -> None:
        from tui.app.screens.wizard import WizardScreen

        self.push_screen(WizardScreen(self.session, self.wizard_unavailable, self.wizard_suggest))

    def review_screen(self) -> Any:
        from tui.app.screens.review import ReviewScreen

        return ReviewScreen(
            self.session,
            self.target,
            findings=self.review_findings,
            extra_env=self.preset_env,
            overrides=self.overrides,
        )

    def action_presets(self) -> None:
        from tui.app.screens.presets import PresetsScreen

        if self.hardware is not None:  # the record the app probed (or was given): no second probe
            self.push_screen(PresetsScreen(self.host, hardware=self.hardware))
        else:
            self.push_screen(PresetsScreen(self.host))

    def action_hardware(self) -> None:
        from tui.app.screens.hardware import HardwareScreen
        from tui.core.hardware import StaticProbe

        probe = self.probe
        if probe is None and self._fixed_hardware and self.hardware is not None:
            probe = StaticProbe(self.hardware)
        config = self.target if self.target.is_file() else None
        self.push_screen(HardwareScreen(config, probe=probe))

    def action_launch(self) -> None:
        from tui.app.screens.launch import LaunchScreen

        if not self.target.is_file():
            self.notify(
                f"No config at {self.target} yet: answer the questions (or choose a preset) first.",
                severity="warning",
            )
            return

        def opened(run_dir: Path | None) -> None:
            if run_dir is not None:
                self.open_run(run_dir)

        self.push_screen(LaunchScreen(self.target, extra_env=self.preset_env), opened)

    def open_run(self, run_dir: Path) -> None:
        from tui.app.screens.run import RunScreen

        self.push_screen(RunScreen(run_dir))

    def action_runs(self) -> None:
        from tui.app.screens.runs import RunsScreen

        self.push_screen(RunsScreen())

    # -- messages --------------------------------------------------------------------------
    @on(AnswersChosen)
    def open_answers(self, message: AnswersChosen) -> None:
        """Pre-fill the wizard with a set of answers (a preset) and go to the review."""
        from tui.app.screens.wizard import WizardScreen

        self.session = WizardSession.from_answers(message.answers, self.host)
        self.preset_env = dict(message.env or {})
        self.overrides = dict(message.overrides)
        # A complete set of answers: the wizard opens the review itself when it is shown.
        self.push_screen(WizardScreen(self.session, self.wizard_unavailable, self.wizard_suggest))

    @on(ConfigWritten)
    def config_written(self, message: ConfigWritten) -> None:
        self.log(f"config written: {message.path}")

    @on(LaunchWanted)
    def launch_wanted(self, message: LaunchWanted) -> None:
        self.action_launch()
