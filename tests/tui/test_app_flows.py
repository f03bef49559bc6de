"""The app's screens wired together: home -> presets -> review -> written file; home -> hardware."""

from __future__ import annotations

from pathlib import Path

import yaml
from rich.syntax import Syntax
from textual.widgets import DataTable, Static

from tests.support.runs import until
from tui.app.app import SftplayApp
from tui.app.screens.review import ReviewScreen
from tui.core.hardware import load_snapshot
from tui.core.host import HostCapabilities

SNAPSHOTS = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "snapshots"


async def test_home_preset_to_review_to_file(tmp_path: Path) -> None:
    from tui.app.screens.presets import PresetsScreen

    target = tmp_path / "cfg.yaml"
    app = SftplayApp(config_file=str(target), hardware=load_snapshot(SNAPSHOTS / "rtx4090-2x.json"))
    app.host = HostCapabilities(transformers=True)
    app.session.host = app.host
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")  # "Start from a preset"
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PresetsScreen)
        row = [entry.name for entry in screen.entries].index("rtx4090-2x")
        screen.choose(row)
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert [type(s).__name__ for s in app.screen_stack][-2:] == ["WizardScreen", "ReviewScreen"]
        assert sum(isinstance(s, ReviewScreen) for s in app.screen_stack) == 1  # one review, not one per path
        assert "NCCL_P2P_DISABLE=1" in str(app.screen.query_one("#target").render())
        await pilot.press("w")
        await pilot.pause()
        # Back from the review lands on the wizard's last question, every answer kept.
        await pilot.press("escape")
        await pilot.pause()
        assert app.session.current().id == "mixed_precision"
    data = yaml.safe_load(target.read_text())
    assert (data["distributed_type"], data["num_processes"], data["mixed_precision"]) == ("MULTI_GPU", 2, "bf16")


async def test_review_write_and_launch_backs_up_diffs_and_opens_the_launch_screen(tmp_path: Path) -> None:
    from tui.app.screens.launch import LaunchScreen
    from tui.app.screens.presets import PresetsScreen

    target = tmp_path / "cfg.yaml"
    target.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nmixed_precision: 'no'\n")
    app = SftplayApp(config_file=str(target), hardware=load_snapshot(SNAPSHOTS / "no-gpu.json"))
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter")  # "Start from a preset"
        await pilot.pause()
        presets = app.screen
        assert isinstance(presets, PresetsScreen)
        presets.choose([entry.name for entry in presets.entries].index("cpu"))
        await pilot.pause()
        review = app.screen
        assert isinstance(review, ReviewScreen)
        shown = review.query_one("#diff", Static).content
        assert isinstance(shown, Syntax)
        diff = shown.code
        assert "-distributed_type: 'NO'" in diff and "+distributed_type: MULTI_CPU" in diff
        assert "it will be backed up first" in str(review.query_one("#target").render())
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, LaunchScreen)
        assert app.screen.config_file == target
    assert yaml.safe_load(target.read_text())["distributed_type"] == "MULTI_CPU"
    backups = list(tmp_path.glob("cfg.yaml.*.bak"))
    assert len(backups) == 1 and "distributed_type: 'NO'" in backups[0].read_text()


async def test_home_hardware_screen_shows_the_machine(tmp_path: Path) -> None:
    from tui.app.screens.hardware import HardwareScreen

    app = SftplayApp(config_file=str(tmp_path / "none.yaml"), hardware=load_snapshot(SNAPSHOTS / "h100-8x.json"))
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await pilot.pause(0.5)
        assert isinstance(app.screen, HardwareScreen)
        info = app.screen._info
        assert info is not None and len(info.gpus) == 8 and "H100" in info.gpus[0].name


async def test_launch_without_a_config_says_what_to_do(tmp_path: Path) -> None:
    app = SftplayApp(config_file=str(tmp_path / "missing.yaml"), hardware=load_snapshot(SNAPSHOTS / "no-gpu.json"))
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "down", "enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "HomeScreen"
        assert any("No config at" in str(n.message) for n in app._notifications)


async def test_the_presets_screen_reuses_the_apps_probe_of_the_machine(tmp_path: Path) -> None:
    from tui.app.screens.presets import PresetsScreen
    from tui.core.hardware import StaticProbe

    calls: list[int] = []

    class CountingProbe(StaticProbe):
        def probe(self):  # type: ignore[no-untyped-def]
            calls.append(1)
            return super().probe()

    app = SftplayApp(
        config_file=str(tmp_path / "c.yaml"), probe=CountingProbe(load_snapshot(SNAPSHOTS / "a100-4x.json"))
    )
    async with app.run_test(size=(130, 40)) as pilot:
        await until(pilot, lambda: app.hardware is not None, what="the app's probe")
        await pilot.press("down", "enter")  # "Start from a preset"
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PresetsScreen)
        assert screen.hardware is app.hardware and screen.probe is None
        assert screen.query_one(DataTable).cursor_row == [e.name for e in screen.entries].index("a100-4x")
    assert calls == [1]
