"""Pilot tests of the run view, the runs list and the launch screen, in a tiny host app.

The live tests launch the fake trainer through real `accelerate launch` with 2 CPU ranks; the
others use a deterministic finished-run folder (tests.support.runs.make_finished_run).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, ProgressBar, Static

from tests.support.runs import (
    FAKE_TRAINER,
    MULTI_CPU_2,
    SINGLE_CPU,
    all_pids,
    make_finished_run,
    still_running,
    until,
    wait_log,
    wait_workers,
    write_config,
)
from tests.support.training_runs import embedded_cache_fixture  # noqa: F401  (fixture)
from tui.app.screens.launch import LaunchScreen
from tui.app.screens.modals.confirm_stop import ConfirmStop
from tui.app.screens.run import RunScreen
from tui.app.screens.runs import RunsScreen
from tui.app.widgets.metrics_panel import MetricsPanel
from tui.app.widgets.run_log import RunLog
from tui.core.launch import LaunchRequest, plan_launch
from tui.core.paths import runs_dir
from tui.core.runs import FAILED, STOPPED, SUCCEEDED, load_run, start_run

SIZE = (120, 44)


class Host(App[None]):
    """Pushes one screen; records every message for assertions."""

    def __init__(self, make: Callable[[], Screen]) -> None:  # type: ignore[type-arg]
        super().__init__()
        self.make = make
        self.result: object = "unset"

    def on_mount(self) -> None:
        self.push_screen(self.make(), self._done)

    def _done(self, result: object) -> None:
        self.result = result


def start(tmp_path: Path, *args: str, config: str = MULTI_CPU_2):  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, config)
    return start_run(plan_launch(LaunchRequest(config_file=path, script=FAKE_TRAINER, args=args, cwd=tmp_path)))


def text_of(screen: Screen, selector: str) -> str:  # type: ignore[type-arg]
    return str(screen.query_one(selector, Static).render())


@pytest.mark.slow
async def test_live_progress_then_close_the_app_and_reattach(tmp_path: Path) -> None:
    run = start(tmp_path, "--steps", "12", "--sleep", "0.25", "--tqdm")
    app = Host(lambda: RunScreen(run.path, use_probe=False))
    async with app.run_test(size=SIZE) as pilot:
        panel = app.screen.query_one(MetricsPanel)
        await until(pilot, lambda: (panel.snapshot.step or 0) >= 2, what="live metrics")
        assert load_run(run.path).active
        bar = app.screen.query_one("#metrics-progress", ProgressBar)
        assert bar.total == 12 and 2 <= bar.progress < 12
        assert "tokens/s 1,00" in text_of(app.screen, "#metrics-stats")
        assert "running" in text_of(app.screen, "#run-head")
        log = app.screen.query_one(RunLog)
        await until(pilot, lambda: any(line.startswith("[rank1]:") for line in log.view.lines), what="rank 1 lines")
    # The app is closed; the run goes on without anyone watching.
    assert load_run(run.path).active
    wait_log(run, "[rank1]:rank 1 finished", timeout_s=120)

    again = Host(lambda: RunScreen(run.path, use_probe=False))
    async with again.run_test(size=SIZE) as pilot:
        screen = again.screen
        await until(pilot, lambda: screen.query_one(MetricsPanel).snapshot.end_status == "completed", what="end")
        await until(pilot, lambda: screen.run.state == SUCCEEDED, what="succeeded")
        bar = screen.query_one("#metrics-progress", ProgressBar)
        assert bar.progress == bar.total == 12
        assert "succeeded" in text_of(screen, "#run-head") and "exit code 0" in text_of(screen, "#run-head")
        log = screen.query_one(RunLog)
        await until(pilot, lambda: log.finished, what="the whole log read")
        assert "[rank0]:rank 0 step 12 done" in log.view.lines
        assert "[rank0]:12/12 [############]" in log.view.lines  # tqdm \r records collapsed
        assert not screen.has_class("-failed")


@pytest.mark.slow
async def test_a_real_two_rank_training_run_shows_its_progress_and_metrics(
    tmp_path: Path, embedded_cache: Path
) -> None:
    """training/sft_train.py (the embedded tiny Llama), 2 connected CPU ranks, watched live."""
    script = Path(__file__).resolve().parents[2] / "training" / "sft_train.py"
    env = {
        "XDG_CACHE_HOME": str(embedded_cache),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    args = ("--output_dir", str(tmp_path / "out"), "--max_steps", "6", "--logging_steps", "2")
    args += ("--save_strategy", "no", "--report_to", "none")
    request = LaunchRequest(
        config_file=write_config(tmp_path, MULTI_CPU_2), script=script, args=args, cwd=tmp_path, env=env
    )
    run = start_run(plan_launch(request))
    app = Host(lambda: RunScreen(run.path, use_probe=False))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        panel = screen.query_one(MetricsPanel)
        await until(pilot, lambda: (panel.snapshot.step or 0) >= 2, timeout_s=240, what="the first logged step")
        stats = text_of(screen, "#metrics-stats")
        assert "world size 2" in stats and "MULTI_CPU" in stats
        assert "loss " in stats and "loss -" not in stats  # a real number, not the placeholder
        await until(pilot, lambda: screen.run.state == SUCCEEDED, timeout_s=240, what="the run to succeed")
        await until(pilot, lambda: panel.snapshot.end_status == "completed", what="the end record")
        bar = screen.query_one("#metrics-progress", ProgressBar)
        assert bar.total == 6 and bar.progress == 6
        assert "step 6/6 · completed" in str(screen.query_one("#metrics-progress-text").render())
        assert panel.snapshot.tokens_per_second and panel.snapshot.tokens_per_second > 0
        log = screen.query_one(RunLog)
        await until(pilot, lambda: log.finished, what="the whole log read")
        assert any(line.startswith("[rank1]:") for line in log.view.lines)


@pytest.mark.slow
async def test_stop_key_asks_then_stops_every_process(tmp_path: Path) -> None:
    run = start(tmp_path, "--steps", "100000", "--sleep", "0.1")
    run = wait_workers(run, 2)
    wait_log(run, "[rank1]:rank 1 step 1 done")
    records = all_pids(run)
    messages: list[Message] = []
    app = Host(lambda: RunScreen(run.path, use_probe=False, grace_s=15.0))
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await pilot.pause(0.2)
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmStop), what="the confirmation")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), what="back to the run")
        assert load_run(run.path).active and still_running(records) == [r.pid for r in records]
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmStop), what="the confirmation")
        await pilot.press("y")
        screen = app.screen
        await until(pilot, lambda: isinstance(screen, RunScreen) and screen.stop_report is not None, what="the stop")
        assert isinstance(screen, RunScreen) and screen.stop_report is not None
        assert screen.stop_report.all_gone
        assert any(isinstance(m, RunScreen.StopFinished) for m in messages)
        await until(pilot, lambda: screen.run.state == STOPPED, what="state stopped")
        assert "all 3 processes of the run are gone" in text_of(screen, "#run-stop-report")
    assert still_running(records) == []


@pytest.mark.slow
async def test_a_crashed_rank_is_summarised_at_the_top(tmp_path: Path) -> None:
    run = start(tmp_path, "--steps", "50", "--sleep", "0.1", "--crash-rank", "1", "--crash-step", "3")
    app = Host(lambda: RunScreen(run.path, use_probe=False))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.run.state == FAILED, timeout_s=120, what="the failure")
        await pilot.pause(0.1)
        assert screen.has_class("-failed")
        summary = text_of(screen, "#run-failure")
        assert "rank 1 exited with code 1: RuntimeError: fake failure on rank 1 at step 3" in summary
        assert "launcher exit code 1" in summary and "failing rank 1" in summary
        assert "Traceback (most recent call last):" in summary and "in main" in summary


async def test_finished_run_log_search_rank_filter_and_follow(tmp_path: Path) -> None:
    path = make_finished_run(tmp_path, lines=400)
    app = Host(lambda: RunScreen(path, use_probe=False, log_max_lines=150))
    async with app.run_test(size=SIZE) as pilot:
        log = app.screen.query_one(RunLog)
        await until(pilot, lambda: log.finished and log.view.line_count > 0, what="the log")
        await pilot.pause(0.1)
        assert log.view.line_count == 150  # bounded in memory; the rest stays on disk
        assert log.lines_skipped > 0
        assert log.view.lines[-1].startswith("=====")
        await pilot.press("r")  # rank 0 only
        await until(
            pilot,
            lambda: log.view.line_count > 0 and all(x.startswith("[rank0]:") for x in log.view.lines),
            what="rank 0 filter",
        )
        await pilot.press("r", "r")  # rank 1, then the launcher's own lines
        await until(
            pilot,
            lambda: log.view.line_count > 0 and not any(x.startswith("[rank") for x in log.view.lines),
            what="launcher filter",
        )
        await pilot.press("r")  # all again
        await until(pilot, lambda: log.view.line_count == 150, what="all ranks")
        await pilot.press("slash")
        await pilot.press(*"step 95 rank 1", "enter")
        await pilot.pause(0.1)
        y = int(log.view.scroll_offset.y)
        assert log.view.lines[y] == "[rank1]:step 95 rank 1 batch ok"
        assert not log.view.auto_scroll  # searching pauses following
        await pilot.press("end")
        assert log.view.auto_scroll


async def test_failed_run_folder_shows_the_summary(tmp_path: Path) -> None:
    path = make_finished_run(tmp_path)
    app = Host(lambda: RunScreen(path, use_probe=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        summary = text_of(app.screen, "#run-failure")
        assert "rank 1 exited with code 1: RuntimeError: CUDA out of memory (simulated)" in summary
        panel = app.screen.query_one(MetricsPanel)
        await until(pilot, lambda: panel.snapshot.step == 10, what="metrics")
        assert "812 MiB" in text_of(app.screen, "#metrics-stats")


async def test_gpu_sampler_is_shown(tmp_path: Path) -> None:
    from tui.app.widgets.metrics_panel import GpuSample

    path = make_finished_run(tmp_path, failed=False)
    sampler = lambda: [GpuSample(0, "H100", 87, 40000, 81559)]  # noqa: E731
    app = Host(lambda: RunScreen(path, gpu_sampler=sampler))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "util 87%" in text_of(app.screen, "#metrics-gpus"), what="GPU line")
        assert "40,000/81,559 MiB" in text_of(app.screen, "#metrics-gpus")


async def test_runs_list_opens_a_run(tmp_path: Path) -> None:
    root = runs_dir()
    make_finished_run(root, "20260102-030405-sft_train", failed=True)
    make_finished_run(root, "20260103-030405-sft_train", failed=False)
    opened: list[Message] = []
    app = Host(lambda: RunsScreen(use_probe=False))
    async with app.run_test(size=SIZE, message_hook=opened.append) as pilot:
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2, what="two rows")
        assert [table.get_row_at(i)[1] for i in range(2)] == ["succeeded", "failed"]
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run view")
        assert app.screen.run_dir.name == "20260102-030405-sft_train"  # type: ignore[attr-defined]
        assert any(isinstance(m, RunsScreen.Opened) for m in opened)


async def test_launch_screen_shows_the_exact_command_and_blocks_on_errors(tmp_path: Path) -> None:
    from tui.core.checks import Finding

    config = write_config(tmp_path, MULTI_CPU_2)
    verdict: list[Finding] = []
    app = Host(lambda: LaunchScreen(config, project_dir=tmp_path, checker=lambda p, c: list(verdict)))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, LaunchScreen)
        await until(pilot, lambda: screen.checked_for is not None, what="the checks")
        command = text_of(screen, "#launch-command")
        assert "ACCELERATE_USE_CPU=true" in command and "--multi_gpu" in command
        assert command.rstrip().endswith("sft_train.py")
        assert not screen.query_one("#launch-go").disabled
        script = screen.query_one("#launch-script")
        script.value = "missing.py"  # type: ignore[attr-defined]
        await pilot.pause(0.1)
        assert "no such training script" in text_of(screen, "#launch-command")
        assert screen.query_one("#launch-go").disabled
        verdict.append(Finding("processes.too-many", "error", "8 processes but 4 GPUs"))
        script.value = str(FAKE_TRAINER)  # type: ignore[attr-defined]
        await until(
            pilot, lambda: screen.checked_for == (screen.plan.display if screen.plan else None), what="checks again"
        )
        assert screen.query_one("#launch-go").disabled  # errors block
        shown = [str(w.render()) for w in screen.query("#launch-findings Static")]
        assert "error [processes.too-many]: 8 processes but 4 GPUs" in shown
        args = screen.query_one("#launch-args")
        args.value = "--steps 3 --name 'two words'"  # type: ignore[attr-defined]
        await pilot.pause(0.1)
        assert screen.plan is not None and screen.plan.argv[-4:] == ("--steps", "3", "--name", "two words")


@pytest.mark.slow
async def test_warnings_ask_before_launching(tmp_path: Path) -> None:
    from tui.app.screens.modals.confirm_launch import ConfirmLaunch
    from tui.core.checks import Finding

    config = write_config(tmp_path, SINGLE_CPU)
    warning = Finding("memory.tight", "warning", "the model may not fit in GPU 0's free memory")
    app = Host(lambda: LaunchScreen(config, project_dir=tmp_path, checker=lambda p, c: [warning]))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, LaunchScreen)
        screen.query_one("#launch-script").value = str(FAKE_TRAINER)  # type: ignore[attr-defined]
        screen.query_one("#launch-args").value = "--steps 1"  # type: ignore[attr-defined]
        await until(
            pilot,
            lambda: (
                screen.plan is not None
                and screen.plan.argv[-3:] == (str(FAKE_TRAINER), "--steps", "1")
                and screen.checked_for == screen.plan.display
            ),
            what="the final command checked",
        )
        assert not screen.query_one("#launch-go").disabled  # warnings do not block
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, ConfirmLaunch), what="the question")
        assert "may not fit" in str(app.screen.query_one("#confirm-launch-list Static", Static).render())
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen, what="back on the launch screen")
        await pilot.pause(0.3)
        assert app.result == "unset" and not list(runs_dir().glob("*"))  # nothing started
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, ConfirmLaunch), what="the question again")
        await pilot.press("y")
        await until(pilot, lambda: app.result != "unset", timeout_s=60, what="the launch")
    run_dir = app.result
    assert isinstance(run_dir, Path)
    from tests.support.runs import wait_final_status

    assert wait_final_status(load_run(run_dir)).state == SUCCEEDED


@pytest.mark.slow
async def test_launch_screen_launches_and_remembers(tmp_path: Path) -> None:
    from tui.core.launch import recall_choices

    config = write_config(tmp_path, SINGLE_CPU)
    app = Host(lambda: LaunchScreen(config, project_dir=tmp_path, checker=None))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.query_one("#launch-script").value = str(FAKE_TRAINER)  # type: ignore[attr-defined]
        screen.query_one("#launch-args").value = "--steps 2"  # type: ignore[attr-defined]
        await until(
            pilot,
            lambda: (
                screen.plan is not None
                and screen.plan.argv[-3:] == (str(FAKE_TRAINER), "--steps", "2")
                and screen.checked_for == screen.plan.display
                and not screen.query_one("#launch-go").disabled
            ),
            what="ready to launch",
        )
        await pilot.press("ctrl+l")
        await until(pilot, lambda: app.result != "unset", timeout_s=60, what="the launch")
    run_dir = app.result
    assert isinstance(run_dir, Path) and (run_dir / "run.json").is_file()
    spec = json.loads((run_dir / "run.json").read_text())
    assert spec["args"] == ["--steps", "2"] and spec["env"]["ACCELERATE_USE_CPU"] == "true"
    remembered = recall_choices(tmp_path)
    assert remembered is not None and remembered.script == str(FAKE_TRAINER) and remembered.args == ["--steps", "2"]
    from tests.support.runs import wait_final_status

    assert wait_final_status(load_run(run_dir)).state == SUCCEEDED


def test_run_screen_snapshot(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = make_finished_run(tmp_path)
    app = Host(lambda: RunScreen(path, use_probe=False, clock=False))

    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        screen = app.screen

        def shown() -> bool:  # what the picture shows, not just what the reader threads have read
            return (
                isinstance(screen, RunScreen)
                and "end of run" in text_of(screen, "#run-log-bar")
                and "44 lines in view" in text_of(screen, "#run-log-bar")
                and "step 10/20 · failed" in str(screen.query_one("#metrics-progress-text").render())
                and screen.query_one(MetricsPanel)._plotted[1] > 0
            )

        await until(pilot, shown, what="everything loaded and drawn")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


async def test_cluster_run_log_is_grouped_by_node(tmp_path: Path) -> None:
    """A whole-cluster run (multinode --launch): the filter cycles nodes, not ranks."""
    path = make_finished_run(tmp_path, failed=False, lines=8)
    lines = [f"[node{n} host-{n}] step {s} on node {n}" for s in range(3) for n in (0, 1)]
    lines.insert(0, "sftplay: submitted SLURM job 42")
    (path / "output.log").write_text("\n".join(lines) + "\n")
    spec = json.loads((path / "run.json").read_text())
    spec["node_groups"] = 2
    (path / "run.json").write_text(json.dumps(spec))
    app = Host(lambda: RunScreen(path, use_probe=False))
    async with app.run_test(size=SIZE) as pilot:
        log = app.screen.query_one(RunLog)
        await until(pilot, lambda: log.finished and log.view.line_count == 7, what="the log")
        assert "all nodes" in str(log.query_one("#run-log-bar", Static).render())
        await pilot.press("r", "r")  # node 0, then node 1
        await until(
            pilot,
            lambda: log.view.line_count == 3 and all(x.startswith("[node1 host-1]") for x in log.view.lines),
            what="node 1 filter",
        )
        assert "node 1" in str(log.query_one("#run-log-bar", Static).render())
        await pilot.press("r")  # the launcher's own lines
        await until(pilot, lambda: log.view.lines == ["sftplay: submitted SLURM job 42"], what="launcher lines")
