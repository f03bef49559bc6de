"""Launch overhead: `sftplay-tui launch` against the same `accelerate launch` command run directly.

Both run the same short 2-rank CPU job with the same command line (the exact argv and
environment overrides that `sftplay-tui launch` shows, --tee/--log_dir included) and send their
output to a file. sftplay-tui adds: its own start-up, the config load and pre-launch checks, the
run folder, the detached supervisor (Python start-up) and following the log to stdout until the
supervisor records the end. Wall time from process start to exit, median of N runs each,
interleaved (A B, B A, ...) so both see the same machine load. Target (issue 7): <= 1.05x.

The default job is the fake trainer with --accelerate-state (it imports torch and accelerate and
all-reduces over gloo, like a training script's start) plus 20 short steps; `--sft` runs the
bundled training/sft_train.py for a few steps instead (slower: it builds the tiny model).
Run: `.venv/bin/python benchmarks/bench_launch_overhead.py [--runs N] [--sft]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.runs import FAKE_TRAINER, MULTI_CPU_2  # noqa: E402
from tui.core.launch import LaunchRequest, plan_launch  # noqa: E402


def timed(cmd: list[str], env: dict[str, str], cwd: Path, out: Path) -> tuple[float, float, float, float]:
    """(wall seconds, CPU seconds of the whole process tree, wall start, wall end)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with out.open("wb") as handle:
        wall_start = time.time()
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, timeout=600)
        elapsed = time.perf_counter() - start
        wall_end = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]}... exited {proc.returncode}; see {out}:\n{out.read_text()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, wall_start, wall_end


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sft", action="store_true", help="run training/sft_train.py instead of the fake trainer")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = dict(os.environ)
        env["XDG_STATE_HOME"] = str(root / "state")
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        config = root / "cpu2.yaml"
        config.write_text(MULTI_CPU_2)
        if options.sft:
            script = ROOT / "training" / "sft_train.py"
            args = [
                "--max_steps",
                "5",
                "--logging_steps",
                "1",
                "--output_dir",
                str(root / "out"),
                "--report_to",
                "none",
            ]
        else:
            script = FAKE_TRAINER
            args = ["--accelerate-state", "--steps", "20", "--sleep", "0.05"]
        ours_cmd = [
            sys.executable,
            "-m",
            "tui",
            "launch",
            "--config-file",
            str(config),
            "--script",
            str(script),
            "--yes",
            "--",
            *args,
        ]
        print(f"launch overhead: {options.runs} runs each, 2 CPU ranks, {script.name} {' '.join(args)}")
        print(
            f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (shared with other "
            "engineers' jobs: compare the two columns, not absolute times)"
        )
        ours: list[float] = []
        direct: list[float] = []
        cpu_ours: list[float] = []
        cpu_direct: list[float] = []
        added: list[float] = []
        runs = root / "state" / "sftplay-tui" / "runs"
        for i in range(options.runs):
            plan = plan_launch(
                LaunchRequest(config_file=config, script=script, args=tuple(args), cwd=root),
                run_dir=root / "direct" / str(i),
            )
            (root / "direct" / str(i)).mkdir(parents=True)
            direct_env = {**env, **plan.env}

            def run_direct() -> None:
                wall, cpu, _, _ = timed(list(plan.argv), direct_env, root, root / f"direct-{i}.log")  # noqa: B023
                direct.append(wall)
                cpu_direct.append(cpu)

            if i % 2 == 0:  # alternate the order (A B, B A, ...) so a drift in load cancels out
                run_direct()
            wall, cpu, t0, t1 = timed(ours_cmd, env, root, root / f"ours-{i}.log")
            ours.append(wall)
            cpu_ours.append(cpu)
            if i % 2 == 1:
                run_direct()
            newest = max(runs.iterdir(), key=lambda p: p.stat().st_mtime)
            status = json.loads((newest / "status.json").read_text())
            # What sftplay-tui adds around the launcher's own lifetime: before it starts, after it ends.
            before, after = status["started_at"] - t0, t1 - status["ended_at"]
            added.append(before + after)
            print(
                f"  run {i + 1}: accelerate launch {direct[-1]:.2f} s ({cpu_direct[-1]:.1f} s CPU)   "
                f"sftplay-tui launch {ours[-1]:.2f} s ({cpu_ours[-1]:.1f} s CPU; "
                f"{before:.2f} s before the launcher started, {after:.2f} s after it ended)"
            )
        a, b = statistics.median(direct), statistics.median(ours)
        extra = statistics.median(added)
        print(
            f"median wall: accelerate launch {a:.2f} s, sftplay-tui launch {b:.2f} s, ratio {b / a:.3f}x "
            f"(+{b - a:.2f} s); target <= 1.05x: {'met' if b / a <= 1.05 else 'NOT met'}"
        )
        print(
            f"median time sftplay-tui adds around the launcher: {extra:.2f} s = {(a + extra) / a:.3f}x of the "
            f"direct run (less sensitive to the machine's load than the wall-time ratio)"
        )
        print(
            f"median CPU of the whole process tree: accelerate launch {statistics.median(cpu_direct):.2f} s, "
            f"sftplay-tui launch {statistics.median(cpu_ours):.2f} s"
        )
        print(f"the direct command: {plan.display}")


if __name__ == "__main__":
    main()
