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

Where a CUDA GPU is visible it also runs one short single-GPU job of a ~0.5B Llama-style model
built from a config (random init, bf16, --auto_batch_size, packing) and reports tokens/s, MFU
(6 x parameters x tokens/s over the GPU's dense bf16 peak) and peak memory against the auto batch
size estimate. Skipped (with a line saying so) on machines without a GPU; --no-gpu skips it.

    python benchmarks/bench_training.py [--steps 40] [--repeats 1] [--json OUT] [--no-gpu]

With --repeats N each configuration runs N times, interleaved, and the median is reported (the
machine may be shared; interleaving spreads any disturbance over all three).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.metrics_protocol import parse_line  # noqa: E402
from tui.core.launch import free_port  # noqa: E402

CONFIG = ROOT / "tests" / "fixtures" / "accelerate" / "ddp_2proc.yaml"
DATA = ROOT / "training" / "data" / "chat.jsonl"


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
        str(free_port()),
        str(script),
        *args,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        log = Path(tempfile.gettempdir()) / f"sftplay-bench-failed-{int(time.time())}.log"
        log.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"benchmark run failed ({script.name}): exit {proc.returncode}; full output in {log}")
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


# Dense bf16 peak TFLOP/s by device name fragment (no sparsity); override with --peak-tflops.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "4090": 165.0}

# ~0.5B parameters with the embedded tokenizer's small vocabulary (all in the transformer blocks).
GPU_MODEL = {
    "hidden_size": 1280,
    "intermediate_size": 4224,
    "num_hidden_layers": 24,
    "num_attention_heads": 20,
    "num_key_value_heads": 4,
    "max_position_embeddings": 2048,
}


def run_gpu(cache: Path, tmp: Path, steps: int, peak_tflops: float | None) -> dict[str, float] | None:
    import torch

    if not torch.cuda.is_available():
        print("GPU run: skipped (no CUDA device visible)")
        return None
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from training.embedded import ensure_embedded_model

    tokenizer = AutoTokenizer.from_pretrained(ensure_embedded_model(cache))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **GPU_MODEL,
    )
    model_dir = tmp / "gpu-model"
    with torch.device("meta"):
        n_params = sum(p.numel() for p in LlamaForCausalLM(config).parameters())
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    env = _env(cache)
    env.pop("ACCELERATE_USE_CPU", None)
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        "1",
        "--mixed_precision",
        "bf16",
        "--main_process_port",
        str(free_port()),
        str(ROOT / "training" / "sft_train.py"),
        "--model_name_or_path",
        str(model_dir),
        "--torch_dtype",
        "bfloat16",
        "--bf16",
        "--output_dir",
        str(tmp / "gpu-out"),
        "--max_steps",
        str(steps),
        "--logging_steps",
        "5",
        "--save_strategy",
        "no",
        "--learning_rate",
        "1e-4",
        "--max_seq_length",
        "1024",
        "--packing",
        "--auto_batch_size",
        "--global_batch_size",
        "64",
        "--gradient_checkpointing",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"GPU benchmark run failed: exit {proc.returncode}")
    records = [r for r in map(parse_line, proc.stdout.splitlines()) if r]
    start = next(r for r in records if r["type"] == "start")
    logs = [r for r in records if r["type"] == "log"]
    tokens = sum(
        c["tokens_per_second"] * (c["elapsed_s"] - p["elapsed_s"]) for p, c in zip(logs, logs[1:], strict=False)
    )
    tps = tokens / (logs[-1]["elapsed_s"] - logs[0]["elapsed_s"])
    name = torch.cuda.get_device_name(0)
    peak = peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    # 6 N per token for forward + backward, plus one more forward (2 N) with gradient checkpointing
    flops_per_token = 8 * n_params
    mfu = tps * flops_per_token / (peak * 1e12) if peak else None
    cfg = start["config"]
    print(f"GPU run: {name}, {n_params / 1e6:.0f}M parameters, bf16, seq 1024 packed, gradient checkpointing")
    print(
        f"  auto batch: {cfg['per_device_train_batch_size']} per device x {cfg['gradient_accumulation_steps']} "
        f"accumulation; estimated peak {cfg['estimated_peak_memory_mib']:.0f} MiB, "
        f"measured {max(r['peak_memory_mib'] for r in logs):.0f} MiB"
    )
    print(
        f"  {tps:,.0f} tokens/s"
        + (f", MFU {mfu:.1%} (of {peak:.0f} TFLOP/s, 8N FLOPs/token)" if mfu is not None else ", MFU: unknown GPU")
    )
    return {"tokens_per_second": tps, "mfu": mfu or 0.0, "peak_memory_mib": max(r["peak_memory_mib"] for r in logs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU run even where a GPU exists")
    parser.add_argument("--peak-tflops", type=float, help="dense bf16 peak of the GPU, for MFU")
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
        raw = json.dumps({k: [round(x) for x in v] for k, v in results.items()})
        print(f"  ({wall:.0f} s for all runs; raw: {raw})", flush=True)
        gpu = None if opts.no_gpu else run_gpu(cache, Path(tmp), 30, opts.peak_tflops)

    if opts.json:
        opts.json.write_text(
            json.dumps({"tokens_per_second": med, "ratio_vs_plain": ratio, "packing_ratio": pack_ratio, "gpu": gpu})
            + "\n"
        )


if __name__ == "__main__":
    main()
