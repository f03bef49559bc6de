"""Time `sftplay-tui write --preset` next to `accelerate config default`, in one run.

Both write an accelerate config file non-interactively; accelerate's imports torch on the way.
Runs are interleaved (so a busy machine slows both alike), each in a fresh process with HOME,
XDG_* and HF_HOME in a temporary folder. Prints each median and the ratio; the target is a
ratio under 0.2 (a fifth). `--runs N` (default 7).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".state"),
        PYTHONPATH=str(ROOT),
    )
    env.pop("HF_HOME", None)
    return env


def _accelerate() -> list[str]:
    found = Path(sys.executable).with_name("accelerate")
    if found.exists():
        return [str(found)]
    on_path = shutil.which("accelerate")
    if on_path:
        return [on_path]
    raise SystemExit("accelerate is not installed: `pip install 'accelerate>=1.15,<1.16'`")


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--preset", default="rtx4090-2x")
    args = parser.parse_args()
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = _env(home)
        ours_file = str(home / "ours.yaml")
        ours_cmd = [sys.executable, "-m", "tui", "write", "--preset", args.preset, "--config-file", ours_file]
        theirs_cmd = [*_accelerate(), "config", "default", "--config_file", str(home / "theirs.yaml")]
        _time(ours_cmd, env)  # warm the disk cache for both before measuring
        (home / "theirs.yaml").unlink(missing_ok=True)
        _time(theirs_cmd, env)
        for _ in range(args.runs):
            ours.append(_time(ours_cmd, env))
            (home / "theirs.yaml").unlink(missing_ok=True)  # `config default` refuses to overwrite
            theirs.append(_time(theirs_cmd, env))
    ours_median = statistics.median(ours)
    theirs_median = statistics.median(theirs)
    ratio = ours_median / theirs_median
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at the end")
    for label, median, times in (
        (f"sftplay-tui write --preset {args.preset}", ours_median, ours),
        ("accelerate config default", theirs_median, theirs),
    ):
        print(f"{label:<36} median {median:.3f} s (min {min(times):.3f}, max {max(times):.3f}, {len(times)} runs)")
    print(f"ratio {ratio:.3f} (target < 0.2): {'ok' if ratio < 0.2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
