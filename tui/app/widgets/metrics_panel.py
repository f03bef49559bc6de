"""The metrics panel: progress with ETA, loss and learning-rate charts, throughput, memory, GPUs.

Fed from the run's metrics.jsonl (written by the run supervisor from the trainer's SFTPLAY_METRIC
lines): a thread worker reads new records, keeps a `MetricsState` and posts an immutable
`MetricsSnapshot` (a replaceable message: only the newest matters). GPU utilisation and memory
come from a sampler (by default the hardware probe, `tui.core.hardware`, when it can see GPUs),
polled every few seconds in the same thread. The widget never reads files on the UI thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Label, ProgressBar, Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from tui.core.metrics import LineSplitter, MetricsSnapshot, MetricsState, format_duration, parse_metric_line
from tui.core.runs import METRICS_FILE, FileTail


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    utilization_pct: int | None
    memory_used_mib: int
    memory_total_mib: int


GpuSampler = Callable[[], list[GpuSample]]


class ProbeGpuSampler:
    """A GpuSampler over the hardware probe (`tui.core.hardware`); `close()` releases the probe
    (NVML stays initialised until then)."""

    def __init__(self, probe: Any) -> None:
        self.probe = probe

    def __call__(self) -> list[GpuSample]:
        try:
            info: Any = self.probe.probe()
        except Exception:
            return []
        return [
            GpuSample(
                index=g.index,
                name=g.name,
                utilization_pct=g.utilization_pct,
                memory_used_mib=g.memory_used_mib,
                memory_total_mib=g.memory_total_mib,
            )
            for g in getattr(info, "gpus", ())
        ]

    def close(self) -> None:
        self.probe.close()


def probe_gpu_sampler() -> ProbeGpuSampler | None:
    """A sampler over this machine's GPUs; None when the probe sees no GPU.

    Call it from a worker thread: the first probe may take a moment (NVML, or nvidia-smi).
    """
    try:
        from tui.core.hardware import get_probe

        probe = get_probe()
        if not probe.probe().gpus:
            probe.close()
            return None
    except Exception:
        return None
    return ProbeGpuSampler(probe)


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


class MetricsPanel(Vertical):
    """Progress, charts and numbers for one run (`run_dir`), or fed by `show()` when None."""

    DEFAULT_CSS = """
    MetricsPanel { height: auto; }
    MetricsPanel #metrics-progress-row { height: 1; }
    MetricsPanel #metrics-progress { width: 1fr; }
    MetricsPanel #metrics-progress Bar { width: 1fr; }
    MetricsPanel #metrics-progress-text { width: auto; padding: 0 1; }
    MetricsPanel #metrics-stats { height: auto; padding: 0 1; }
    MetricsPanel #metrics-charts { height: 10; }
    MetricsPanel PlotextPlot { width: 1fr; height: 10; }
    MetricsPanel #metrics-gpus { height: auto; padding: 0 1; color: $text-muted; }
    """

    @dataclass
    class Updated(Message):
        """A new snapshot of the run's metrics; newer replaces older in the queue."""

        snapshot: MetricsSnapshot

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, MetricsPanel.Updated)

    @dataclass
    class GpusSampled(Message):
        samples: list[GpuSample]

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, MetricsPanel.GpusSampled)

    def __init__(
        self,
        run_dir: Path | None = None,
        *,
        gpu_sampler: GpuSampler | None = None,
        use_probe: bool = True,
        poll_s: float = 0.25,
        gpu_every_s: float = 2.0,
        id: str | None = None,  # noqa: A002 (textual's name)
    ) -> None:
        super().__init__(id=id)
        self.run_dir = run_dir
        self.gpu_sampler = gpu_sampler
        # The probe is created in the reader thread: its first call may take a moment.
        self._want_probe = use_probe and gpu_sampler is None
        self.poll_s = poll_s
        self.gpu_every_s = gpu_every_s
        self.snapshot = MetricsSnapshot()
        self._plotted = (-1, -1)
        #: The run's state when it is over (set by the run view): shown instead of an ETA.
        self.ended_state: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="metrics-progress-row"):
            yield ProgressBar(total=None, show_eta=False, show_percentage=True, id="metrics-progress")
            yield Label("waiting for the first metrics...", id="metrics-progress-text")
        yield Static("", id="metrics-stats")
        with Horizontal(id="metrics-charts"):
            yield PlotextPlot(id="loss-plot")
            yield PlotextPlot(id="lr-plot")
        yield Static("", id="metrics-gpus")

    def on_mount(self) -> None:
        for plot_id, title in (("#loss-plot", "loss"), ("#lr-plot", "learning rate")):
            plt = self.query_one(plot_id, PlotextPlot).plt
            plt.title(title)
        if self.run_dir is not None or self.gpu_sampler is not None or self._want_probe:
            self._reader()

    @work(thread=True, exclusive=True, group="metrics-reader")
    def _reader(self) -> None:
        worker = get_current_worker()
        state = MetricsState()
        tail = FileTail(self.run_dir / METRICS_FILE) if self.run_dir is not None else None
        splitter = LineSplitter()
        next_gpu = 0.0
        own_sampler = probe_gpu_sampler() if self.gpu_sampler is None and self._want_probe else None
        sampler = self.gpu_sampler or own_sampler
        try:
            while not worker.is_cancelled:
                changed = False
                if tail is not None:
                    while data := tail.read():
                        for line in splitter.feed(data):
                            record = _record(line)
                            if record is not None:
                                state.feed(record)
                                changed = True
                if changed:
                    self.post_message(self.Updated(state.snapshot()))
                now = time.monotonic()
                if sampler is not None and now >= next_gpu:
                    next_gpu = now + self.gpu_every_s
                    try:
                        samples = sampler()
                    except Exception:
                        samples = []
                    if samples:
                        self.post_message(self.GpusSampled(samples))
                time.sleep(self.poll_s)
        finally:
            if tail is not None:
                tail.close()
            if own_sampler is not None:
                own_sampler.close()

    @on(Updated)
    def _updated(self, message: Updated) -> None:
        message.stop()
        self.show(message.snapshot)

    @on(GpusSampled)
    def _gpus(self, message: GpusSampled) -> None:
        message.stop()
        self.show_gpus(message.samples)

    def show(self, snap: MetricsSnapshot) -> None:
        """Display a snapshot (UI thread)."""
        self.snapshot = snap
        bar = self.query_one("#metrics-progress", ProgressBar)
        if snap.infer_total:
            bar.update(total=snap.infer_total, progress=snap.infer_done or 0)
        elif snap.max_steps:
            bar.update(total=snap.max_steps, progress=snap.step or 0)
        elif snap.end_status == "completed":
            bar.update(total=1, progress=1)
        text: list[str] = []
        if snap.infer_total:
            text.append(f"{snap.infer_done or 0}/{snap.infer_total} records")
        elif snap.step is not None:
            text.append(f"step {snap.step}/{snap.max_steps or '?'}")
        if snap.end_status:
            text.append(snap.end_status)
        elif self.ended_state is not None:
            text.append(self.ended_state)
        elif snap.eta_s is not None:
            text.append(f"ETA {format_duration(snap.eta_s)}")
        self.query_one("#metrics-progress-text", Label).update(" · ".join(text) or "waiting for the first metrics...")
        if snap.infer_total:
            # An inference run (training/infer.py): no loss or learning rate, records instead.
            rows = [
                f"records/s {_fmt(snap.records_per_second, ',.1f')}   failed {_fmt(snap.infer_failed, 'd')}   "
                f"ETA {format_duration(snap.eta_s)}   elapsed {format_duration(snap.elapsed_s)}"
            ]
        else:
            rows = [
                f"loss {_fmt(snap.last_loss, '.4f')}   lr {_fmt(snap.learning_rate, '.3g')}   "
                f"grad norm {_fmt(snap.grad_norm, '.3g')}   epoch {_fmt(snap.epoch, '.2f')}",
                f"tokens/s {_fmt(snap.tokens_per_second, ',.0f')}   "
                f"samples/s {_fmt(snap.samples_per_second, ',.1f')}   "
                f"peak memory {_fmt(snap.peak_memory_mib, ',.0f', ' MiB')}   elapsed {format_duration(snap.elapsed_s)}",
            ]
        if snap.eval_loss is not None:
            rows.append(f"eval loss {snap.eval_loss:.4f}")
        who = [
            f"world size {snap.world_size}" if snap.world_size else "",
            snap.distributed_type or "",
            snap.model or "",
        ]
        if any(who):
            rows.append("   ".join(w for w in who if w))
        if snap.end_error:
            rows.append(f"error: {snap.end_error}")
        self.query_one("#metrics-stats", Static).update("\n".join(rows))
        # Loss and learning-rate charts mean nothing for inference: hide them rather than show empty axes.
        self.query_one("#metrics-charts").display = not snap.infer_total
        self._plot(snap)

    def set_run_state(self, state: str, active: bool) -> None:
        """Tell the panel whether the run is still going (a finished run shows no ETA)."""
        ended = None if active else state
        if ended != self.ended_state:
            self.ended_state = ended
            self.show(self.snapshot)

    def _plot(self, snap: MetricsSnapshot) -> None:
        key = (len(snap.loss_series), snap.records)
        if key == self._plotted:
            return
        self._plotted = key
        for plot_id, title, series, color in (
            ("#loss-plot", "loss", snap.loss_series, "cyan"),
            ("#lr-plot", "learning rate", snap.lr_series, "magenta"),
        ):
            plot = self.query_one(plot_id, PlotextPlot)
            plt = plot.plt
            plt.clear_data()
            plt.title(title)
            if series:
                # An explicit colour: plotext otherwise cycles colours with every redraw.
                plt.plot([p[0] for p in series], [p[1] for p in series], marker="braille", color=color)
            plot.refresh()

    def show_gpus(self, samples: list[GpuSample]) -> None:
        lines = [
            f"GPU {s.index} {s.name}: util {_fmt(s.utilization_pct, 'd', '%')}   "
            f"memory {s.memory_used_mib:,}/{s.memory_total_mib:,} MiB"
            for s in samples
        ]
        self.query_one("#metrics-gpus", Static).update("\n".join(lines))


def _record(line: str) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError:
        # metrics.jsonl holds plain JSON; tolerate a raw log line too.
        return parse_metric_line(line)
    return record if isinstance(record, dict) and isinstance(record.get("type"), str) else None
