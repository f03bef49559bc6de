"""The sftplay-tui Textual app: composes the screens and wires them to the core.

The app holds the wizard session and the target config path; every decision is made in
`tui.core`. Screens other than the first are imported when first opened, so the first screen is
interactive quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import App
from textual.binding import Binding

from tui.app.messages import AnswersChosen, ConfigWritten
from tui.app.screens.home import HomeAction, HomeScreen
from tui.core.accelerate_version import version_note
from tui.core.host import detect_host
from tui.core.paths import default_config_path
from tui.core.session import WizardSession


class SftplayApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "sftplay-tui"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, config_file: str | None = None, start: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = Path(config_file).expanduser() if config_file else default_config_path()
        self.start = start
        self.host = detect_host()
        self.session = WizardSession(host=self.host)
        self.preset_env: dict[str, str] = {}

    # -- screens ---------------------------------------------------------------------------
    def home_actions(self) -> list[HomeAction]:
        return [
            (
                "wizard",
                "Answer accelerate's questions",
                "each explained; writes the same YAML as accelerate config",
            ),
            ("quit", "Quit", ""),
        ]

    def on_mount(self) -> None:
        self.push_screen(HomeScreen(self.target, self.home_actions()))
        note = version_note()
        if note:
            self.notify(note, severity="warning", timeout=12)
        if self.start == "wizard":
            self.action_wizard()

    def action_wizard(self) -> None:
        from tui.app.screens.wizard import WizardScreen

        self.push_screen(WizardScreen(self.session))

    def review_screen(self) -> Any:
        from tui.app.screens.review import ReviewScreen

        return ReviewScreen(self.session, self.target, extra_env=self.preset_env)

    # -- messages --------------------------------------------------------------------------
    @on(AnswersChosen)
    def open_answers(self, message: AnswersChosen) -> None:
        """Pre-fill the wizard with a set of answers (a preset) and go to the review."""
        from tui.app.screens.wizard import WizardScreen

        self.session = WizardSession.from_answers(message.answers, self.host)
        self.preset_env = dict(message.env or {})
        self.push_screen(WizardScreen(self.session))

    @on(ConfigWritten)
    def config_written(self, message: ConfigWritten) -> None:
        self.log(f"config written: {message.path}")
