"""The app's side of inference without running anything: the launch screen's Inference command and
button, and the metrics panel showing an inference run (Pilot tests; the real run is in
tests/integration/test_inference_app.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from tests.support.runs import MULTI_CPU_2, until, write_config
from tui.app.screens.launch import LaunchScreen
from tui.app.widgets.metrics_panel import MetricsPanel
from tui.core.checks import Finding
from tui.core.launch import default_infer_script
from tui.core.metrics import MetricsState

SIZE = (120, 50)


class Host(App[None]):
    def __init__(self, make: Callable[[], Screen]) -> None:  # type: ignore[type-arg]
        super().__init__()
        self.make = make

    def on_mount(self) -> None:
        self.push_screen(self.make())


async def test_inference_command_is_shown_and_blocked_like_launch(tmp_path: Path) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    verdict: list[Finding] = []
    app = Host(lambda: LaunchScreen(config, project_dir=tmp_path, checker=lambda p, c: list(verdict)))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, LaunchScreen)
        await until(pilot, lambda: screen.checked_for is not None, what="the checks")
        command = str(screen.query_one("#launch-infer-command", Static).render())
        # The same config, the same launcher fixes, the bundled infer.py, the default arguments.
        assert "ACCELERATE_USE_CPU=true" in command and "--multi_gpu" in command
        assert f"{default_infer_script()} --use_accelerate --data" in command.replace("\n", "")
        assert not screen.query_one("#launch-infer").disabled

        infer_args = screen.query_one("#launch-infer-args", Input)
        infer_args.value = "--data 'unclosed"
        await pilot.pause(0.1)
        assert screen.query_one("#launch-infer").disabled  # a broken command cannot start
        assert not screen.query_one("#launch-go").disabled  # training is unaffected
        assert "check the quotes" in str(screen.query_one("#launch-infer-command", Static).render())

        verdict.append(Finding("processes.too-many", "error", "8 processes but 4 GPUs"))
        infer_args.value = "--use_accelerate --data d.jsonl --output o.jsonl"
        await until(
            pilot,
            lambda: (
                screen.infer_plan is not None
                and screen.plan is not None
                and screen.checked_for == screen.plan.display
                and bool(screen.findings)
            ),
            what="the checks again",
        )
        assert screen.query_one("#launch-infer").disabled  # config errors block inference too
        assert screen.infer_plan.argv[-5:] == ("--use_accelerate", "--data", "d.jsonl", "--output", "o.jsonl")
        await pilot.press("ctrl+g")
        await pilot.pause(0.1)
        assert isinstance(app.screen, LaunchScreen) and not screen.launching  # nothing started


class PanelHost(App[None]):
    def compose(self) -> ComposeResult:
        yield MetricsPanel(None, use_probe=False)


async def test_the_metrics_panel_shows_records_instead_of_loss() -> None:
    state = MetricsState()
    state.feed({"type": "start", "world_size": 2, "distributed_type": "MULTI_CPU", "model": "m", "task": "inference"})
    state.feed(
        {"type": "infer_progress", "done": 30, "total": 40, "failed": 2, "records_per_second": 7.5, "eta_s": 80.0}
        | {"elapsed_s": 4.0}
    )
    app = PanelHost()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(MetricsPanel)
        panel.show(state.snapshot())
        await pilot.pause(0.05)
        progress = str(panel.query_one("#metrics-progress-text", Label).render())
        stats = str(panel.query_one("#metrics-stats", Static).render())
        assert "30/40 records" in progress and "ETA 1m20s" in progress
        assert "records/s 7.5" in stats and "failed 2" in stats and "loss" not in stats
        assert "world size 2" in stats
        assert not panel.query_one("#metrics-charts").display  # no empty loss charts
