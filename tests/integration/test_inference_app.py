"""The app's Inference action end to end: from the launch screen (ctrl+g) to a real run of
training/infer.py with the current config, its progress shown in the run view.

The default inference arguments are used as the screen offers them (the bundled chat data, the
embedded model), shortened with --max_samples so the run takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input, Label, ProgressBar, Static

from tests.support.inference import INFER, RUN_ENV, read_rows
from tests.support.runs import SINGLE_CPU, until, wait_final_status, write_config
from tests.support.training_runs import embedded_cache_fixture  # noqa: F401 (the session fixture)
from tui.app.screens.launch import LaunchScreen
from tui.app.screens.run import RunScreen
from tui.app.widgets.metrics_panel import MetricsPanel
from tui.core.launch import recall_choices
from tui.core.runs import SUCCEEDED, load_run

pytestmark = pytest.mark.slow
SIZE = (120, 50)


class Host(App[None]):
    """Opens the launch screen; a launched run opens in the run view, as the real app does."""

    def __init__(self, make: object) -> None:
        super().__init__()
        self.make = make
        self.run_dir: Path | None = None

    def on_mount(self) -> None:
        self.push_screen(self.make(), self._opened)  # type: ignore[operator]

    def _opened(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir
        if run_dir is not None:
            self.push_screen(RunScreen(run_dir, use_probe=False))


async def test_inference_from_the_launch_screen_shows_progress_in_the_run_view(
    tmp_path: Path, embedded_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(embedded_cache))  # the embedded model, built once per session
    config = write_config(tmp_path, SINGLE_CPU)
    app = Host(lambda: LaunchScreen(config, project_dir=tmp_path, checker=None, extra_env=RUN_ENV))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, LaunchScreen)
        field = screen.query_one("#launch-infer-args", Input)
        assert field.value.startswith("--use_accelerate --data ") and "chat.jsonl" in field.value
        field.value += " --max_samples 12 --max_new_tokens 8 --batch_size 4"
        await until(
            pilot,
            lambda: (
                screen.infer_plan is not None
                and screen.infer_plan.argv[-1] == "4"
                and not screen.query_one("#launch-infer").disabled
            ),
            what="ready to run inference",
        )
        await pilot.press("ctrl+g")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), timeout_s=60, what="the run view")
        view = app.screen
        panel = view.query_one(MetricsPanel)
        await until(pilot, lambda: panel.snapshot.end_status is not None, timeout_s=180, what="the end record")
        await pilot.pause(0.3)
        snap = panel.snapshot
        assert snap.end_status == "completed", view.query_one("#run-failure", Static).render()
        assert snap.infer_done == snap.infer_total == 12 and snap.records_per_second
        bar = view.query_one("#metrics-progress", ProgressBar)
        assert bar.total == 12 and bar.progress == 12
        assert "12/12 records" in str(view.query_one("#metrics-progress-text", Label).render())
        assert "records/s" in str(view.query_one("#metrics-stats", Static).render())

    assert app.run_dir is not None
    run = wait_final_status(load_run(app.run_dir))  # the end record comes just before the exit
    assert run.state == SUCCEEDED and str(INFER) in run.spec["argv"]
    rows = read_rows(tmp_path / "outputs" / "inference.jsonl")  # relative to the project folder
    assert [r["index"] for r in rows] == list(range(12)) and all(r["error"] is None for r in rows)
    remembered = recall_choices(tmp_path)
    assert remembered is not None and remembered.infer_args[-2:] == ["--batch_size", "4"]
    assert json.loads((app.run_dir / "run.json").read_text())["env"]["OMP_NUM_THREADS"] == "1"
