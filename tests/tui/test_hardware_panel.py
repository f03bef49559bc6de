"""The hardware panel and screen, driven with Pilot over replayed hardware; one snapshot."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from tui.app.screens.hardware import HardwareScreen
from tui.app.widgets.hardware_panel import HardwarePanel
from tui.core.hardware import HardwareInfo, StaticProbe, load_snapshot
from tui.core.hardware.replay import replay_probe

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "hardware"
H100 = FIX / "h100-8x-sxm"
GUIDE_8 = {
    "compute_environment": "LOCAL_MACHINE",
    "distributed_type": "MULTI_GPU",
    "mixed_precision": "bf16",
    "num_processes": 8,
}


def text_of(app: App[Any], selector: str) -> str:
    """The plain text of a Static's content (a rich renderable or a string)."""
    import io

    from rich.console import Console

    content = app.screen.query_one(selector, Static).content
    console = Console(width=120, file=io.StringIO(), record=True)
    console.print(content)
    return console.export_text()


class PanelApp(App[None]):
    BINDINGS = [Binding("x", "count", "count")]

    def __init__(self, probe: Any, interval: float = 0.05) -> None:
        super().__init__()
        self.probe = probe
        self.interval = interval
        self.keys = 0
        self.messages: list[Any] = []

    def compose(self) -> ComposeResult:
        yield HardwarePanel(self.probe, interval=self.interval, id="panel")

    def action_count(self) -> None:
        self.keys += 1


async def wait_for(condition: Any, pilot: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


async def test_panel_shows_the_replayed_machine() -> None:
    app = PanelApp(replay_probe(H100), interval=0)
    async with app.run_test(size=(120, 50)) as pilot:
        panel = app.query_one(HardwarePanel)
        await wait_for(lambda: panel.info is not None, pilot)
        assert "8x H100 80GB HBM3" in text_of(app, "#hw-summary")
        gpus = text_of(app, "#hw-gpus")
        assert "34.9/79.6 GiB" in gpus and "97%" in gpus
        assert "pid 88231 python3 35218 MiB" in text_of(app, "#hw-processes")
        assert "NV18" in text_of(app, "#hw-links")
        assert "224 threads" in text_of(app, "#hw-system")


class SequenceProbe:
    """Returns a new record each call: GPU 0's memory grows by 1 GiB per refresh."""

    def __init__(self, base: HardwareInfo, delay: float = 0.0) -> None:
        self.base = base
        self.calls = 0
        self.delay = delay
        self.closed = False
        self.threads: set[str] = set()

    def probe(self) -> HardwareInfo:
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        self.calls += 1
        gpu0 = replace(self.base.gpus[0], memory_used_mib=1024 * self.calls)
        return replace(self.base, gpus=(gpu0, *self.base.gpus[1:]))

    def close(self) -> None:
        self.closed = True


async def test_panel_refreshes_in_a_worker_thread() -> None:
    probe = SequenceProbe(load_snapshot(FIX / "snapshots" / "a100-4x.json"))
    app = PanelApp(probe, interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(HardwarePanel)
        await wait_for(lambda: panel.refreshes >= 3, pilot)
        shown = panel.info.gpus[0].memory_used_mib if panel.info else 0
        assert shown >= 3 * 1024
        assert f"{shown / 1024:.1f}/80.0 GiB" in text_of(app, "#hw-gpus")
        assert threading.main_thread().name not in probe.threads


class BlockedProbe(SequenceProbe):
    """A probe stuck (like a hung driver call) until the test releases it."""

    def __init__(self, base: HardwareInfo) -> None:
        super().__init__(base)
        self.release = threading.Event()
        self.started = threading.Event()
        self.entered = 0

    def probe(self) -> HardwareInfo:
        self.entered += 1
        self.started.set()
        self.release.wait(10)
        return super().probe()


async def test_stuck_probe_does_not_stall_input() -> None:
    probe = BlockedProbe(load_snapshot(FIX / "snapshots" / "a100-4x.json"))
    app = PanelApp(probe, interval=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(probe.started.is_set, pilot)
        for _ in range(5):
            await pilot.press("x")
        await pilot.pause(0.3)  # several refresh ticks pass while the probe is stuck
        assert app.keys == 5  # input was handled while the probe was stuck
        assert probe.calls == 0
        panel = app.query_one(HardwarePanel)
        assert panel.refreshes == 0
        assert probe.entered == 1  # ticks during the stuck probe were skipped, not piled up as threads
        probe.release.set()
        await wait_for(lambda: panel.refreshes >= 1, pilot)


def test_updated_messages_replace_older_ones() -> None:
    info = load_snapshot(FIX / "snapshots" / "no-gpu.json")
    old, new = HardwarePanel.Updated(info, 0.1), HardwarePanel.Updated(info, 0.2)
    assert new.can_replace(old)
    assert not new.can_replace(HardwarePanel.Failed("x"))


async def test_failing_probe_is_shown_not_raised() -> None:
    class Broken:
        def probe(self) -> HardwareInfo:
            raise RuntimeError("driver exploded")

        def close(self) -> None:
            pass

    app = PanelApp(Broken(), interval=0)
    async with app.run_test() as pilot:
        await wait_for(lambda: "driver exploded" in text_of(app, "#hw-error"), pilot)
        assert app.is_running


async def test_owned_probe_is_closed_injected_one_is_not() -> None:
    probe = SequenceProbe(load_snapshot(FIX / "snapshots" / "no-gpu.json"))
    app = PanelApp(probe, interval=0)
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
    assert not probe.closed


class ScreenApp(App[None]):
    def __init__(self, screen: HardwareScreen) -> None:
        super().__init__()
        self._screen = screen

    def on_mount(self) -> None:
        self.push_screen(self._screen)


async def test_screen_checks_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "default_config.yaml"
    config.write_text("distributed_type: MULTI_GPU\nmixed_precision: bf16\nnum_processes: 2\n")
    screen = HardwareScreen(config, probe=replay_probe(FIX / "rtx4090-2x"), interval=0)
    app = ScreenApp(screen)
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_for(lambda: bool(screen.findings), pilot)
        assert [f.rule for f in screen.findings] == ["topology.p2p"]
        body = text_of(app, "#hardware-findings")
        assert "export NCCL_P2P_DISABLE=1 NCCL_IB_DISABLE=1" in body
        assert "0 errors, 1 warning" in text_of(app, "#hardware-findings-title")


async def test_screen_shows_a_bad_config_file(tmp_path: Path) -> None:
    screen = HardwareScreen(
        tmp_path / "missing.yaml", probe=StaticProbe(load_snapshot(FIX / "snapshots" / "no-gpu.json"))
    )
    app = ScreenApp(screen)
    async with app.run_test() as pilot:
        await wait_for(lambda: "no such config file" in text_of(app, "#hardware-findings"), pilot)


async def test_screen_refresh_key(tmp_path: Path) -> None:
    probe = SequenceProbe(load_snapshot(FIX / "snapshots" / "a100-4x.json"))
    screen = HardwareScreen(config={**GUIDE_8, "num_processes": 4}, probe=probe, interval=0)
    app = ScreenApp(screen)
    async with app.run_test() as pilot:
        panel = screen.query_one(HardwarePanel)
        await wait_for(lambda: panel.refreshes == 1, pilot)
        await pilot.press("r")
        await wait_for(lambda: panel.refreshes == 2, pilot)
        assert "ok: the config fits this machine." in text_of(app, "#hardware-findings")


def test_hardware_screen_snapshot(snap_compare: Any) -> None:
    screen = HardwareScreen(
        config=GUIDE_8, probe=StaticProbe(load_snapshot(FIX / "snapshots" / "h100-8x.json")), interval=0
    )

    async def settle(pilot: Any) -> None:
        panel = pilot.app.screen.query_one(HardwarePanel)
        await wait_for(lambda: panel.refreshes >= 1 and pilot.app.screen.findings, pilot)
        await pilot.pause(0.1)

    assert snap_compare(ScreenApp(screen), terminal_size=(110, 48), run_before=settle)
