"""Log pipeline under a flood: a trainer prints 1,000,000 lines as fast as it can.

What is measured, in a headless app (`run_test`) showing the real `RunScreen`:
- live: the run is started (the real supervisor; the fake trainer as the launched command, so
  the supervisor's metric extraction runs too) while the run view follows it; lines/s is the
  number of lines that went through the view's reader (read, decoded, split, prepared) divided by
  the time from the first line in the view to the last one. It cannot exceed the writer's rate,
  so the writer's own time is printed beside it.
- catch-up: the same 1,000,000-line log opened from its first byte (a view whose tail window is
  the whole file): the reader's rate when it is never waiting for the writer.
- RSS: peak resident memory of this process (the app) above its level before the flood,
  sampled every 20 ms.
- key latency: a key press ("f": follow/pause) sent the way the terminal driver sends it, every
  50 ms while the flood lasts; time from sending to the binding's handler running.
Targets (issue 7): >= 200,000 lines/s, RSS growth <= 50 MB, key latency <= 100 ms.
Run: `.venv/bin/python benchmarks/bench_log_pipeline.py [lines]`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402
from textual.app import App  # noqa: E402

from tests.support.runs import FAKE_TRAINER as FAKE  # noqa: E402
from tui.app.screens.run import RunScreen  # noqa: E402
from tui.app.widgets.run_log import RunLog  # noqa: E402
from tui.core.launch import LaunchPlan, LaunchRequest  # noqa: E402
from tui.core.runs import load_run, wait_final  # noqa: E402


class Host(App[None]):
    def __init__(self, screen: RunScreen) -> None:
        super().__init__()
        self.run_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.run_screen)


class RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)


def flood_plan(root: Path, lines: int) -> LaunchPlan:
    config = root / "cfg.yaml"
    config.write_text("distributed_type: 'NO'\nnum_processes: 1\nuse_cpu: true\n")
    request = LaunchRequest(config_file=config, script=FAKE, cwd=root)
    return LaunchPlan(
        request=request,
        argv=(sys.executable, str(FAKE), "--flood", str(lines)),
        env={"PYTHONUNBUFFERED": "1"},
        run_dir=root / "runs" / "flood",
        config={"distributed_type": "NO"},
        num_processes=1,
    )


async def live(root: Path, lines: int) -> dict[str, float]:
    plan = flood_plan(root, lines)
    from tui.core.runs import create_run_dir

    create_run_dir(plan)  # the view opens on an empty run folder, then the run starts
    from tui.core.runs import RUN_FILE

    screen = RunScreen(plan.run_dir, use_probe=False)
    app = Host(screen)
    latencies: list[float] = []
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.pause(0.5)
        log = screen.query_one(RunLog)
        handled: list[float] = []
        original = log.action_toggle_follow

        def timed_toggle() -> None:
            handled.append(time.perf_counter())
            original()

        log.action_toggle_follow = timed_toggle  # type: ignore[method-assign]
        sampler = RssSampler()
        sampler.peak = sampler.proc.memory_info().rss
        baseline = sampler.peak
        sampler.start()
        # Start the supervisor on the folder the view already watches.
        from tui.core.process import spawn_supervisor

        assert (plan.run_dir / RUN_FILE).is_file()
        t_start = time.perf_counter()
        spawn_supervisor(plan.run_dir)
        first: float | None = None
        driver = app._driver
        assert driver is not None
        next_key = time.perf_counter() + 0.05
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            if first is None and log.lines_read:
                first = now
            if log.lines_read >= lines + 3 or (log.finished and log.lines_read):
                last = now
                break
            if now >= next_key and first is not None:
                sent = time.perf_counter()
                count = len(handled)
                driver.send_message(events.Key("f", "f"))
                # Polling on purpose: the handler runs in the app's loop; we only time it.
                while len(handled) == count and time.perf_counter() - sent < 5:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
                if len(handled) > count:
                    latencies.append(handled[-1] - sent)
                next_key = time.perf_counter() + 0.05
            if now - t_start > 300:
                raise SystemExit("the flood did not finish in 5 minutes")
        sampler.running = False
        run = wait_final(load_run(plan.run_dir), timeout_s=60)
        writer_s = (run.status.ended_at or 0) - (run.status.started_at or 0)
        await pilot.pause(0.2)
        return {
            "lines_read": float(log.lines_read),
            "lines_written": float(log.lines_written),
            "lines_skipped": float(log.lines_skipped),
            "seconds": last - (first or last),
            "writer_s": writer_s,
            "rss_growth_mb": (sampler.peak - baseline) / 1e6,
            "lat_median_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
            "lat_max_ms": max(latencies) * 1000 if latencies else float("nan"),
            "lat_n": float(len(latencies)),
        }


async def catch_up(run_dir: Path, lines: int) -> dict[str, float]:
    screen = RunScreen(run_dir, use_probe=False)
    app = Host(screen)
    async with app.run_test(size=(140, 50)):
        log = screen.query_one(RunLog)
        while not log.finished:  # noqa: ASYNC110 (a thread sets it): the first look at the file's end
            await asyncio.sleep(0.01)
        sampler = RssSampler()
        baseline = sampler.proc.memory_info().rss
        sampler.peak = baseline
        sampler.start()
        start = time.perf_counter()
        before = log.lines_read
        log.tail_bytes = 1 << 40  # read the whole file from its first byte
        log.set_rank_filter(None)
        while log.lines_read - before < lines:
            await asyncio.sleep(0.005)
            if time.perf_counter() - start > 300:
                raise SystemExit("catch-up did not finish in 5 minutes")
        seconds = time.perf_counter() - start
        sampler.running = False
        return {
            "lines_read": float(log.lines_read - before),
            "seconds": seconds,
            "rss_growth_mb": (sampler.peak - baseline) / 1e6,
        }


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["XDG_STATE_HOME"] = str(root / "state")
        print(
            f"log pipeline: {lines:,} lines, machine with {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f} at start (shared machine)"
        )
        result = asyncio.run(live(root, lines))
        rate = result["lines_read"] / result["seconds"] if result["seconds"] else float("inf")
        print(
            f"live:     {result['lines_read']:,.0f} lines through the reader in {result['seconds']:.2f} s "
            f"= {rate:,.0f} lines/s (writer took {result['writer_s']:.2f} s); "
            f"{result['lines_written']:,.0f} written into the Log, {result['lines_skipped']:,.0f} skipped in memory "
            f"(max_lines bound)"
        )
        print(
            f"          RSS growth {result['rss_growth_mb']:.1f} MB; key latency median "
            f"{result['lat_median_ms']:.1f} ms, max {result['lat_max_ms']:.1f} ms over {result['lat_n']:.0f} presses"
        )
        catch = asyncio.run(catch_up(root / "runs" / "flood", lines))
        rate2 = catch["lines_read"] / catch["seconds"]
        print(
            f"catch-up: {catch['lines_read']:,.0f} lines in {catch['seconds']:.2f} s = {rate2:,.0f} lines/s; "
            f"RSS growth {catch['rss_growth_mb']:.1f} MB"
        )
        ok = (
            min(rate, rate2) >= 200_000
            and max(result["rss_growth_mb"], catch["rss_growth_mb"]) <= 50
            and (result["lat_max_ms"] <= 100)
        )
        print("targets (>= 200k lines/s, <= 50 MB, <= 100 ms):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
