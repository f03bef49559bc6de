"""Training throughput: training/sft_train.py vs a plain TRL script, and packing vs padding.

One invocation runs, each as a 2-process CPU DDP job through `accelerate launch` (gloo, with
ACCELERATE_USE_CPU=true), same embedded model, bundled data and settings:

1. plain  : benchmarks/plain_trl_sft.py (SFTTrainer + SFTConfig, nothing else), padded batches
2. sftplay: training/sft_train.py, padded batches
3. packed : training/sft_train.py --packing

and prints useful (non-padding) tokens per second for each, measured identically: tokens seen
between the first and the last log event divided by the time between them (so start-up, data
preparation and the first step's warm-up are excluded from every run alike).

Targets: sftplay / plain >= 1.0; packed / sftplay (useful tokens/s) >= 1.5.

    python benchmarks/bench_training.py [--steps 40] [--repeats 1] [--json OUT]

With --repeats N each configuration runs N times, interleaved, and the median is reported (the
machine may be shared; interleaving spreads any disturbance over all three).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.metrics_protocol import parse_line  # noqa: E402

CONFIG = ROOT / "tests" / "fixtures" / "accelerate" / "ddp_2proc.yaml"
DATA = ROOT / "training" / "data" / "chat.jsonl"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        XDG_CACHE_HOME=str(cache),
        PYTHONUNBUFFERED="1",
        ACCELERATE_USE_CPU="true",
        OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 2) // 2)),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    env.pop("HF_HOME", None)
    return env


def _launch(script: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(CONFIG),
        "--main_process_port",
        str(_free_port()),
        str(script),
        *args,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"benchmark run failed ({script.name} {' '.join(args)}): exit {proc.returncode}")
    return proc


def _rate_from_points(points: list[tuple[float, int]]) -> float:
    (t0, n0), (t1, n1) = points[0], points[-1]
    return (n1 - n0) / (t1 - t0)


def run_sftplay(cache: Path, out: Path, settings: dict[str, str], packing: bool) -> float:
    args = [
        "--output_dir",
        str(out),
        "--max_steps",
        settings["steps"],
        "--per_device_train_batch_size",
        settings["batch"],
        "--max_seq_length",
        settings["seq"],
        "--learning_rate",
        settings["lr"],
        "--logging_steps",
        settings["log_steps"],
        "--save_strategy",
        "no",
    ]
    if packing:
        args.append("--packing")
    proc = _launch(ROOT / "training" / "sft_train.py", args, _env(cache))
    logs = [r for r in map(parse_line, proc.stdout.splitlines()) if r and r["type"] == "log"]
    # tokens in each window after the first = tokens/s x window length; same quantity as the plain run
    tokens = 0.0
    for prev, cur in zip(logs, logs[1:], strict=False):
        tokens += cur["tokens_per_second"] * (cur["elapsed_s"] - prev["elapsed_s"])
    return tokens / (logs[-1]["elapsed_s"] - logs[0]["elapsed_s"])


def run_plain(cache: Path, out: Path, model_dir: Path, settings: dict[str, str]) -> float:
    measure = out / "measure.json"
    _launch(
        ROOT / "benchmarks" / "plain_trl_sft.py",
        [
            str(model_dir),
            str(DATA),
            str(out),
            str(measure),
            settings["steps"],
            settings["batch"],
            settings["seq"],
            settings["lr"],
            settings["log_steps"],
        ],
        _env(cache),
    )
    points = [(t, n) for t, n, _step in json.loads(measure.read_text())]
    return _rate_from_points(points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    opts = parser.parse_args()
    settings = {
        "steps": str(opts.steps),
        "batch": str(opts.batch),
        "seq": str(opts.seq),
        "lr": "3e-3",
        "log_steps": "5",
    }
    with tempfile.TemporaryDirectory(prefix="sftplay-bench-") as tmp:
        cache = Path(tmp) / "cache"
        from training.embedded import ensure_embedded_model

        model_dir = ensure_embedded_model(cache)
        results: dict[str, list[float]] = {"plain": [], "sftplay": [], "packed": []}
        started = time.monotonic()
        for i in range(opts.repeats):
            results["plain"].append(run_plain(cache, Path(tmp) / f"plain{i}", model_dir, settings))
            results["sftplay"].append(run_sftplay(cache, Path(tmp) / f"ours{i}", settings, packing=False))
            results["packed"].append(run_sftplay(cache, Path(tmp) / f"packed{i}", settings, packing=True))
        wall = time.monotonic() - started

    med = {k: statistics.median(v) for k, v in results.items()}
    ratio = med["sftplay"] / med["plain"]
    pack_ratio = med["packed"] / med["sftplay"]
    print(
        f"training throughput, 2-process CPU DDP, embedded model, batch {opts.batch}/device, seq {opts.seq}, "
        f"{opts.steps} steps, median of {opts.repeats} (useful = non-padding tokens/s over both ranks)"
    )
    print(f"  plain TRL script         {med['plain']:10.0f} tokens/s")
    print(f"  sft_train.py             {med['sftplay']:10.0f} tokens/s   {ratio:.2f}x plain   (target >= 1.0x)")
    print(f"  sft_train.py --packing   {med['packed']:10.0f} tokens/s   {pack_ratio:.2f}x padded  (target >= 1.5x)")
    print(f"  ({wall:.0f} s for all runs; raw: {json.dumps({k: [round(x) for x in v] for k, v in results.items()})})")
    if opts.json:
        opts.json.write_text(
            json.dumps({"tokens_per_second": med, "ratio_vs_plain": ratio, "packing_ratio": pack_ratio}) + "\n"
        )


if __name__ == "__main__":
    main()
