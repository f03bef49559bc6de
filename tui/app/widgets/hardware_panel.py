"""The live hardware panel: GPUs with memory bars, busy processes, P2P/NVLink, CPU/RAM, env.

A thread worker calls the core probe (`tui.core.hardware`) every `interval` seconds and posts a
small `HardwarePanel.Updated` message; the UI thread draws it (the same rich renderables as
`sftplay-tui gpu-info`). Widgets are never touched from the thread, a probe still running skips
the next tick instead of piling up threads, and a newer `Updated` replaces an older one still
queued (`can_replace`), so a slow probe never stalls input.

Pass `probe=` (anything with `probe()` and `close()`, e.g. a replay or `StaticProbe`) in tests;
by default the panel builds `get_probe()` in its worker on first use and closes it on unmount.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

if TYPE_CHECKING:
    from tui.core.hardware import HardwareInfo, Probe


class HardwarePanel(Vertical):
    """Shows one machine's hardware, refreshed every `interval` seconds (0: once)."""

    DEFAULT_CSS = """
    HardwarePanel { height: auto; }
    HardwarePanel > Static { height: auto; }
    HardwarePanel .hw-section { margin-top: 1; }
    HardwarePanel #hw-error { color: $error; }
    """

    class Updated(Message):
        """A new hardware record; only the newest matters, so it replaces older queued ones."""

        def __init__(self, info: HardwareInfo, seconds: float) -> None:
            super().__init__()
            self.info = info
            self.seconds = seconds

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, HardwarePanel.Updated)

    class Failed(Message):
        """The probe itself raised (it should not: probes degrade); shown instead of crashing."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, HardwarePanel.Failed)

    def __init__(
        self,
        probe: Probe | None = None,
        *,
        interval: float = 1.5,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._probe = probe
        self._owns_probe = probe is None
        self.interval = interval
        self.info: HardwareInfo | None = None
        self.refreshes = 0
        self._probing = False

    def compose(self) -> ComposeResult:
        yield Static("Probing the hardware...", id="hw-summary")
        yield Static("", id="hw-gpus")
        yield Static("", id="hw-processes", classes="hw-section")
        yield Static("", id="hw-links", classes="hw-section")
        yield Static("", id="hw-system", classes="hw-section")
        yield Static("", id="hw-env", classes="hw-section")
        yield Static("", id="hw-error")

    def on_mount(self) -> None:
        self.refresh_hardware()
        if self.interval > 0:
            self.set_interval(self.interval, self.refresh_hardware)

    def on_unmount(self) -> None:
        if self._owns_probe and self._probe is not None:
            self._probe.close()

    # -- probing (thread) ------------------------------------------------------------------

    def refresh_hardware(self) -> None:
        """Ask for a new record now, unless one is still being probed."""
        if self._probing:
            return
        self._probing = True
        self._probe_in_thread()

    @work(thread=True, group="hardware-probe", exit_on_error=False)
    def _probe_in_thread(self) -> None:
        start = time.monotonic()
        try:
            if self._probe is None:
                from tui.core.hardware import get_probe

                self._probe = get_probe()
            info = self._probe.probe()
        except Exception as exc:  # probes degrade instead of raising; this is the last guard
            self.post_message(self.Failed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Updated(info, time.monotonic() - start))

    # -- drawing (UI thread) ---------------------------------------------------------------

    def on_hardware_panel_updated(self, message: Updated) -> None:
        self._probing = False
        self.info = message.info
        self.refreshes += 1
        self._draw(message.info)

    def on_hardware_panel_failed(self, message: Failed) -> None:
        self._probing = False
        self.query_one("#hw-error", Static).update(f"The hardware probe failed: {message.error}")

    def _draw(self, info: HardwareInfo) -> None:
        from rich.text import Text

        from tui.core.hardware.render import (
            env_table,
            gpu_table,
            processes_text,
            summary_line,
            system_line,
            topology_table,
        )

        self.query_one("#hw-summary", Static).update(summary_line(info))
        self.query_one("#hw-gpus", Static).update(gpu_table(info) if info.gpus else "")
        procs = processes_text(info)
        self.query_one("#hw-processes", Static).update(procs if procs else "")
        self.query_one("#hw-processes", Static).display = bool(procs)
        topo = topology_table(info)
        links = self.query_one("#hw-links", Static)
        links.display = topo is not None
        if topo is not None:
            from rich.console import Group

            links.update(Group(Text("Links: NV# NVLinks, P2P peer access, none: no P2P", style="bold"), topo))
        self.query_one("#hw-system", Static).update(system_line(info))
        self.query_one("#hw-env", Static).update(env_table(info))
        self.query_one("#hw-error", Static).update("")
