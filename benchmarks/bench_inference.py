"""Batch-inference throughput: training/infer.py with 1 process vs 2 processes, in one run.

On this kind of machine (CPU only) it runs, with the embedded tiny model, the bundled chat data
and the same greedy settings:

1. one process, plain `python training/infer.py`, torch's default intra-op threads (all cores),
2. one process with OMP_NUM_THREADS=1 (what each rank of run 3 gets: torch elastic sets it),
3. two processes: `accelerate launch` with a 2-process MULTI_CPU config, built by the launcher's
   own `plan_launch` (so it adds --multi_gpu and ACCELERATE_USE_CPU=true), `--use_accelerate`.

Two numbers per run: generation records/s (the script's last infer_progress record: records
generated since generation began; model loading, tokenization and imports excluded) and end to
end records/s (records / wall time of the whole command, start-up included). It prints the
2-process / 1-process ratios and why they are what they are on this machine.

Where CUDA GPUs are visible it also runs 1 GPU vs min(2, GPUs) GPUs (MULTI_GPU) with the same
settings; skipped with a line saying so otherwise (--no-gpu skips it).

    python benchmarks/bench_inference.py [--records 512] [--max-new-tokens 48] [--repeats 1] [--json OUT]

With --repeats N the configurations run N times, interleaved, and medians are reported. The
machine may be shared with other work: the load average before and after is printed with the
numbers so a disturbed measurement can be recognised.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.runs import MULTI_CPU_2  # noqa: E402
from training.metrics_protocol import parse_line  # noqa: E402

INFER = ROOT / "training" / "infer.py"
DATA = ROOT / "training" / "data" / "chat.jsonl"

GPU_CONFIG = """\
compute_environment: LOCAL_MACHINE
distributed_type: {kind}
mixed_precision: 'no'
num_machines: 1
num_processes: {n}
gpu_ids: all
use_cpu: false
"""


def _base_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        XDG_CACHE_HOME=str(cache),
        PYTHONUNBUFFERED="1",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        TRANSFORMERS_NO_ADVISORY_WARNINGS="1",
    )
    for key in ("HF_HOME", "OMP_NUM_THREADS", "ACCELERATE_USE_CPU"):
        env.pop(key, None)
    return env


def _measure(argv: list[str], env: dict[str, str], output: Path) -> dict[str, Any]:
    output.unlink(missing_ok=True)
    started = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"bench_inference: run failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-3000:]}")
    records = [r for r in map(parse_line, done.stdout.splitlines()) if r is not None]
    progress = [r for r in records if r["type"] == "infer_progress"]
    end = next(r for r in records if r["type"] == "end")
    return {
        "records": end["records"],
        "generation_rps": progress[-1]["records_per_second"],
        "end_to_end_rps": end["records"] / wall,
        "wall_s": wall,
        "world_size": next(r for r in records if r["type"] == "start")["world_size"],
    }


def _plan(config_text: str, folder: Path, name: str, args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The exact command `sftplay-tui launch --infer` would run for this config (no rank prefixes)."""
    from tui.core.launch import LaunchRequest, plan_launch

    config = folder / f"{name}.yaml"
    config.write_text(config_text, encoding="utf-8")
    request = LaunchRequest(config_file=config, script=INFER, args=tuple(args), cwd=ROOT, rank_prefixes=False)
    plan = plan_launch(request, runs_root=folder / "runs")
    return list(plan.argv), dict(plan.env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=512)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-gpu", action="store_true")
    opts = parser.parse_args()

    from training.embedded import ensure_embedded_model

    folder = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    cache = folder / "cache"
    ensure_embedded_model(cache)  # built once, outside the timings
    output = folder / "out.jsonl"
    common = ["--data", str(DATA), "--output", str(output), "--overwrite", "--max_samples", str(opts.records)]
    common += ["--max_new_tokens", str(opts.max_new_tokens), "--batch_size", str(opts.batch_size)]
    env = _base_env(cache)
    cores = os.cpu_count() or 1

    two_argv, two_env = _plan(MULTI_CPU_2, folder, "cpu2", ["--use_accelerate", *common])
    configs: dict[str, tuple[list[str], dict[str, str]]] = {
        f"1 process, {cores} threads": ([sys.executable, str(INFER), *common], {**env, "CUDA_VISIBLE_DEVICES": ""}),
        "1 process, 1 thread": ([sys.executable, str(INFER), *common], {**env, "OMP_NUM_THREADS": "1"}),
        "2 processes (accelerate)": (two_argv, {**env, **two_env}),
    }
    load_before = os.getloadavg()
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    for _ in range(opts.repeats):
        for name, (argv, run_env) in configs.items():  # interleaved: a disturbance hits all alike
            results[name].append(_measure(argv, run_env, output))
    load_after = os.getloadavg()

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    print(
        f"batch inference, embedded tiny model, {opts.records} records x {opts.max_new_tokens} new tokens, "
        f"greedy, batch {opts.batch_size}, {cores} CPU cores, median of {opts.repeats}"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1-minute)")
    print(f"{'configuration':28} {'generation rec/s':>17} {'end-to-end rec/s':>17} {'wall s':>8}")
    for name in configs:
        print(
            f"{name:28} {median(name, 'generation_rps'):17.1f} {median(name, 'end_to_end_rps'):17.1f} "
            f"{median(name, 'wall_s'):8.1f}"
        )
    one_default, one_thread, two = configs
    ratio = median(two, "generation_rps") / median(one_default, "generation_rps")
    ratio_1t = median(two, "generation_rps") / median(one_thread, "generation_rps")
    ratio_e2e = median(two, "end_to_end_rps") / median(one_default, "end_to_end_rps")
    print(f"2 processes / 1 process ({cores} threads): generation {ratio:.2f}x, end to end {ratio_e2e:.2f}x")
    print(f"2 processes / 1 process (1 thread):       generation {ratio_1t:.2f}x")
    rates = {
        "one": median(one_default, "generation_rps"),
        "one_1t": median(one_thread, "generation_rps"),
        "two": median(two, "generation_rps"),
    }
    print(_explain(rates, cores, load_before[0], load_after[0]))

    gpu = None if opts.no_gpu else _gpu(folder, common, env)
    if opts.json:
        opts.json.write_text(
            json.dumps(
                {
                    "cpu": {k: v for k, v in results.items()},
                    "ratio_generation": ratio,
                    "ratio_generation_vs_1_thread": ratio_1t,
                    "ratio_end_to_end": ratio_e2e,
                    "load_average": [load_before[0], load_after[0]],
                    "gpu": gpu,
                },
                indent=2,
            )
        )
    return 0


def _explain(results: dict[str, float], cores: int, load0: float, load1: float) -> str:
    """Why the measured ratios are what they are (from the measurements, not a canned verdict)."""
    one, one_1t, two = results["one"], results["one_1t"], results["two"]
    lines = [
        f"why not 2x on {cores} cores: the two ranks do not get twice the hardware. The single process "
        f"already runs torch's matrix products on all {cores} cores (intra-op threads), so the second rank mostly "
        "competes for the same cores; each rank also tokenizes its share, runs generate()'s per-token Python "
        "loop and waits at a gather after every round of batches, and `accelerate launch` plus the gloo "
        "rendezvous cost seconds that one process never pays (hence the lower end-to-end ratio). The split "
        "pays off with one accelerator (or one set of free cores) per rank.",
        f"measured: 2 ranks / 1 process with 1 thread (what each rank gets) = {two / one_1t:.2f}x generation "
        "throughput: the part the split itself buys here.",
    ]
    if one_1t > 1.5 * one:
        lines.append(
            f"the single process with {cores} threads was {one_1t / one:.1f}x slower than with 1 thread: with other "
            "work on the machine its OpenMP threads spin waiting for cores that other processes hold, and a "
            "160k-parameter model gains little from intra-op threads anyway. The ratio against it "
            f"({two / one:.2f}x) measures that oversubscription, not the split; read the 1-thread ratio."
        )
    if max(load0, load1) > cores * 0.75:
        lines.append(
            f"note: the load average ({max(load0, load1):.1f} on {cores} cores) shows other work on this machine "
            "during the measurement; these are the numbers measured under that load."
        )
    return "\n".join(lines)


def _gpu(folder: Path, common: list[str], env: dict[str, str]) -> dict[str, Any] | None:
    try:
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:
        count = 0
    if count == 0:
        print("GPU: no CUDA GPU visible; GPU comparison skipped")
        return None
    n = min(2, count)
    one_argv, one_env = _plan(GPU_CONFIG.format(kind="NO", n=1), folder, "gpu1", common)
    runs = {"1 GPU": _measure(one_argv, {**env, **one_env}, folder / "out.jsonl")}
    if n > 1:
        many_argv, many_env = _plan(
            GPU_CONFIG.format(kind="MULTI_GPU", n=n), folder, "gpun", ["--use_accelerate", *common]
        )
        runs[f"{n} GPUs"] = _measure(many_argv, {**env, **many_env}, folder / "out.jsonl")
    for name, r in runs.items():
        print(f"GPU {name:24} {r['generation_rps']:17.1f} {r['end_to_end_rps']:17.1f} {r['wall_s']:8.1f}")
    if n > 1:
        print(f"GPU {n} / 1: generation {runs[f'{n} GPUs']['generation_rps'] / runs['1 GPU']['generation_rps']:.2f}x")
    else:
        print("GPU: only one GPU visible; no multi-GPU comparison")
    return runs


if __name__ == "__main__":
    sys.exit(main())
