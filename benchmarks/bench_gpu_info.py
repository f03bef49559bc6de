"""`sftplay-tui gpu-info --json` next to `accelerate env`, in one run.

Wall time from process start to exit, median of N runs each, interleaved so both see the same
machine load. Three sftplay-tui variants:
- live: this machine's real probe chain (on a box without NVIDIA driver it ends at "none"
  without importing torch: a +cpu torch, or no /dev/nvidia*, rules the torch probe out);
- nvml replay / nvidia-smi replay: the recorded 8x H100 machine through the real NVML and
  nvidia-smi code (SFTPLAY_HARDWARE_REPLAY, test/diagnostic only), i.e. the path a GPU box takes.
Targets (issue 4): under 0.3 s and under a fifth of `accelerate env`'s time.
Run: `.venv/bin/python benchmarks/bench_gpu_info.py [runs]`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FIX = ROOT / "tests" / "fixtures" / "hardware"


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    return elapsed


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    base = {k: v for k, v in os.environ.items() if k != "SFTPLAY_HARDWARE_REPLAY"}
    ours = [str(BIN / "sftplay-tui"), "gpu-info", "--json"]
    variants = {
        "sftplay-tui gpu-info --json (live)          ": (ours, base),
        "sftplay-tui gpu-info --json (nvml replay)   ": (
            ours,
            {**base, "SFTPLAY_HARDWARE_REPLAY": str(FIX / "h100-8x-sxm")},
        ),
        "sftplay-tui gpu-info --json (smi replay)    ": (
            ours,
            {**base, "SFTPLAY_HARDWARE_REPLAY": str(FIX / "failures" / "nvml-init-driver-not-loaded")},
        ),
        "accelerate env                              ": ([str(BIN / "accelerate"), "env"], base),
    }
    samples: dict[str, list[float]] = {label: [] for label in variants}
    for cmd, env in variants.values():  # warm the disk cache once
        _time(cmd, env)
    for _ in range(runs):
        for label, (cmd, env) in variants.items():
            samples[label].append(_time(cmd, env))
    print(f"runs per command: {runs} (interleaved); machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    medians = {label: statistics.median(values) for label, values in samples.items()}
    for label, values in samples.items():
        print(f"{label}: median {medians[label]:.3f} s  (min {min(values):.3f}, max {max(values):.3f})")
    theirs = medians["accelerate env                              "]
    for label, median in medians.items():
        if label.startswith("sftplay"):
            print(f"ratio {label.strip()} / accelerate env: {median / theirs:.2f}  (target < 0.20; absolute < 0.3 s)")


if __name__ == "__main__":
    main()
