"""Real `accelerate launch` runs of training/sft_train.py on CPU: DDP, FSDP1/2, failures, stop.

Two CPU ranks connect over gloo because the tests set ACCELERATE_USE_CPU=true with a MULTI_GPU /
FSDP config (what `sftplay-tui launch` does). FSDP on CPU additionally goes through
tests/fixtures/sft_shim.py, which relabels accelerate's state so FSDP engages (see its docstring);
the tests then check that each rank really holds only part of the parameters.
"""

from __future__ import annotations

import json
import math
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support.training_runs import (
    ROOT,
    SCRIPT,
    SHIM,
    Run,
    embedded_cache_fixture,  # noqa: F401  (fixture)
    kill_group,
    launch,
    launch_cmd,
    leftovers,
    run_env,
)
from training.metrics_protocol import LOG_FIELDS, PREFIX, parse_line

pytestmark = pytest.mark.slow


def _assert_log_records(run: Run, steps: list[int]) -> None:
    logs = run.logs
    assert [r["step"] for r in logs] == steps, run.explain()
    for r in logs:
        missing = [f for f in LOG_FIELDS if f not in r]
        assert not missing, f"log record lacks {missing}: {r}"
        assert r["max_steps"] == steps[-1]
        assert math.isfinite(r["loss"]) and r["learning_rate"] > 0 and r["grad_norm"] > 0
        assert r["tokens_per_second"] > 0 and r["samples_per_second"] > 0
        assert r["peak_memory_mib"] > 0 and r["elapsed_s"] > 0 and r["eta_s"] >= 0
    assert logs[-1]["eta_s"] == 0


def _losses(run: Run) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in run.logs}


def _every_metric_line_is_whole(run: Run) -> None:
    lines = [line for line in run.stdout.splitlines() if PREFIX in line]
    assert lines and all(line.startswith(PREFIX) for line in lines), "a metric line was split or prefixed"
    assert len(lines) == len(run.records), "a metric line did not parse"


def test_ddp_two_cpu_ranks_train_report_and_resume(embedded_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = run_env(embedded_cache)
    common = ["--output_dir", str(out), "--max_steps", "20", "--logging_steps", "5", "--save_steps", "10"]
    first = launch("ddp_2proc.yaml", [*common, "--eval_fraction", "0.1", "--eval_steps", "10"], env)
    assert first.returncode == 0, first.explain()

    start = first.start
    assert start["world_size"] == 2 and start["distributed_type"] == "MULTI_CPU", start
    assert start["config"]["distributed"] == "ddp" and start["config"]["global_batch_size"] == 16
    assert start["num_parameters"] == start["trainable_parameters"] > 100_000
    _assert_log_records(first, [5, 10, 15, 20])
    losses = _losses(first)
    assert losses[20] < losses[5] - 0.5, f"loss did not fall: {losses}"
    assert [e["step"] for e in first.of_type("eval")] == [10, 20]
    assert all(math.isfinite(e["eval_loss"]) for e in first.of_type("eval"))
    end = first.end
    assert end["status"] == "completed" and end["output_dir"] == str(out) and end["final_loss"] == losses[20]
    _every_metric_line_is_whole(first)
    assert list((out / "runs").rglob("events.out.tfevents.*")), "no TensorBoard events under output_dir/runs"

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(out)
    assert sum(p.numel() for p in model.parameters()) == start["num_parameters"]
    assert AutoTokenizer.from_pretrained(out).chat_template

    # Resume from the step-10 checkpoint: the same batches in the same order give the same losses.
    second = launch(
        "ddp_2proc.yaml",
        [
            *common,
            "--eval_fraction",
            "0.1",
            "--eval_steps",
            "10",
            "--resume_from_checkpoint",
            str(out / "checkpoint-10"),
        ],
        env,
    )
    assert second.returncode == 0, second.explain()
    assert second.start["resumed_from_step"] == 10
    resumed = _losses(second)
    assert sorted(resumed) == [15, 20]
    for step in (15, 20):
        assert resumed[step] == pytest.approx(losses[step], rel=1e-4), (resumed, losses)


@pytest.mark.parametrize(("config", "version"), [("fsdp2_2proc.yaml", 2), ("fsdp1_2proc.yaml", 1)])
def test_fsdp_really_shards_saves_and_resumes(embedded_cache: Path, tmp_path: Path, config: str, version: int) -> None:
    out = tmp_path / f"fsdp{version}"
    env = run_env(embedded_cache, SFTPLAY_SHIM_FSDP_ON_CPU="1")
    common = ["--output_dir", str(out), "--max_steps", "20", "--logging_steps", "5", "--save_steps", "10"]
    first = launch(config, common, env, script=SHIM)
    assert first.returncode == 0, first.explain()

    start = first.start
    assert start["distributed_type"] == "FSDP" and start["config"]["distributed"] == f"fsdp{version}", start
    assert start["config"]["fsdp_wrap"] == "LlamaDecoderLayer"
    assert "taken from the model's _no_split_modules" in first.stderr
    total = start["num_parameters"]
    # Sharded: rank 0 holds about half the parameter elements (plus padding), not all of them.
    assert start["local_parameter_elements"] <= 0.55 * total, start
    held = [line for line in first.stderr.splitlines() if "parameter elements" in line]
    assert len(held) == 2, first.explain()
    for line in held:
        local = int(line.split(" holds ")[1].split(" of ")[0].replace(",", ""))
        assert local <= 0.55 * total, line
    _assert_log_records(first, [5, 10, 15, 20])
    losses = _losses(first)
    assert losses[20] < losses[5] - 0.5, losses

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out)  # the full (gathered) model, loadable on its own
    assert sum(p.numel() for p in model.parameters()) == total

    second = launch(config, [*common, "--resume_from_checkpoint", str(out / "checkpoint-10")], env, script=SHIM)
    assert second.returncode == 0, second.explain()
    resumed = _losses(second)
    assert sorted(resumed) == [15, 20]
    for step in (15, 20):
        assert resumed[step] == pytest.approx(losses[step], rel=1e-4), (resumed, losses)


def test_unknown_argument_stops_every_rank_with_one_line(embedded_cache: Path, tmp_path: Path) -> None:
    run = launch(
        "ddp_2proc.yaml",
        ["--output_dir", str(tmp_path / "x"), "--cache_dri", "y"],
        run_env(embedded_cache),
        timeout=150,
    )
    assert run.returncode != 0
    said = [line for line in run.stderr.splitlines() if "unknown argument" in line]
    assert len(said) == 1, run.explain()  # rank 0 only
    assert said[0].startswith("sft_train.py: error: unknown argument --cache_dri; closest valid: --cache_dir")
    assert f'File "{SCRIPT}' not in run.stderr and "training/arguments.py" not in run.stderr  # no traceback
    assert not run.of_type("start")
    assert run.end["status"] == "failed" and "--cache_dri" in run.end["error"]
    assert run.seconds < 120


def test_crashing_rank_fails_the_run_without_hanging(embedded_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "crash"
    env = run_env(embedded_cache, SFTPLAY_SHIM_CRASH_RANK="1", SFTPLAY_SHIM_CRASH_STEP="3")
    run = launch(
        "ddp_2proc.yaml",
        ["--output_dir", str(out), "--max_steps", "500", "--logging_steps", "1"],
        env,
        script=SHIM,
        timeout=180,
    )
    assert run.returncode != 0
    assert "rank 1 crashes on purpose" in run.stderr
    assert all(r["step"] < 3 for r in run.logs), "training went on after rank 1 died"
    assert run.end["status"] in ("failed", "interrupted"), run.end
    assert not leftovers(str(out)), "processes of the crashed run are still alive"


def test_sigterm_ends_with_interrupted_record_and_no_leftovers(embedded_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "stopped"
    cmd = launch_cmd(
        "ddp_2proc.yaml", SCRIPT, ["--output_dir", str(out), "--max_steps", "100000", "--logging_steps", "2"]
    )
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=run_env(embedded_cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 150
        while True:
            line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
            assert line is not None, "the run ended before its first log record:\n" + "".join(seen)
            seen.append(line)
            record = parse_line(line)
            if record and record["type"] == "log":
                break
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)  # the launcher forwards it to both workers
        returncode = proc.wait(timeout=60)
        took = time.monotonic() - stopped_at
    finally:
        if proc.poll() is None:
            kill_group(proc)
    while (line := lines.get(timeout=10)) is not None:
        seen.append(line)
    records = [r for r in map(parse_line, seen) if r]
    assert returncode != 0
    assert took < 15, f"stopping took {took:.1f}s"
    ends = [r for r in records if r["type"] == "end"]
    assert len(ends) == 1 and ends[0]["status"] == "interrupted" and "SIGTERM" in ends[0]["error"], ends
    assert ends[0]["step"] is not None and ends[0]["step"] >= 2
    assert not leftovers(str(out)), "workers survived the stop"


def test_gradient_checkpointing_trains_and_keeps_use_cache(embedded_cache: Path, tmp_path: Path) -> None:
    model_dir = next((embedded_cache / "sftplay-tui").glob("embedded-llama-*"))
    assert json.loads((model_dir / "config.json").read_text())["use_cache"] is True  # else the test proves nothing
    out = tmp_path / "gc"
    run = launch(
        "single.yaml",
        [
            "--output_dir",
            str(out),
            "--max_steps",
            "15",
            "--logging_steps",
            "5",
            "--save_steps",
            "15",
            "--gradient_checkpointing",
            # and let --auto_batch_size pick the batch for a global batch of 12 (it prints why)
            "--auto_batch_size",
            "--global_batch_size",
            "12",
        ],
        run_env(embedded_cache, cpu_ranks=False),
    )
    assert run.returncode == 0, run.explain()
    config = run.start["config"]
    assert config["gradient_checkpointing"] == "transformers"
    assert run.start["gradient_checkpointing_active"] is True
    assert config["auto_batch_size"] is True and config["estimated_peak_memory_mib"] > 0
    assert config["per_device_train_batch_size"] * config["gradient_accumulation_steps"] == 12
    assert "auto batch size: free memory" in run.stderr and "checkpointed:" in run.stderr
    losses = _losses(run)
    assert losses[15] < losses[5], losses
    for saved in (out / "config.json", out / "checkpoint-15" / "config.json"):
        assert json.loads(saved.read_text())["use_cache"] is True, f"{saved} lost use_cache"


def test_lora_packing_on_prompt_response_files(embedded_cache: Path, tmp_path: Path) -> None:
    from datasets import Dataset

    pairs = []
    for line in (ROOT / "training" / "data" / "chat.jsonl").read_text().splitlines()[:240]:
        msgs = [m for m in json.loads(line)["messages"] if m["role"] != "system"]
        pairs.append({"prompt": msgs[0]["content"], "response": msgs[1]["content"], "extra": 1})
    train, held_out = tmp_path / "train.jsonl", tmp_path / "eval.parquet"
    train.write_text("".join(json.dumps(p) + "\n" for p in pairs[:200]))
    Dataset.from_list(pairs[200:]).to_parquet(str(held_out))
    out = tmp_path / "lora"
    run = launch(
        "single.yaml",
        [
            "--output_dir",
            str(out),
            "--data_path",
            str(train),
            "--eval_data_path",
            str(held_out),
            "--use_lora",
            "--lora_r",
            "8",
            "--packing",
            "--max_steps",
            "12",
            "--logging_steps",
            "4",
            "--eval_steps",
            "12",
            "--save_steps",
            "12",
            "--learning_rate",
            "1e-2",
        ],
        run_env(embedded_cache, cpu_ranks=False),
    )
    assert run.returncode == 0, run.explain()
    start = run.start
    assert start["config"]["peft"] == "lora" and start["config"]["packing"] is True
    assert start["config"]["data_format"] == "prompt_completion"
    assert 0 < start["trainable_parameters"] < start["num_parameters"] / 4
    assert "packing: one row per packed bin" in run.stderr
    losses = _losses(run)
    assert losses[12] < losses[4], losses
    assert run.of_type("eval")
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["r"] == 8 and (out / "adapter_model.safetensors").is_file()


def test_connector_splits_and_gathers_across_two_processes(tmp_path: Path) -> None:
    from tests.support.training_runs import FIXTURES

    n = 11
    run = launch(
        "ddp_2proc.yaml",
        [str(tmp_path), str(n)],
        run_env(tmp_path / "cache"),
        script=FIXTURES / "connector_probe.py",
        timeout=120,
    )
    assert run.returncode == 0, run.explain()
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in range(2)]
    gathered = json.loads((tmp_path / "gathered.json").read_text())
    assert [r["count"] for r in ranks] == [2, 2] and [r["main"] for r in ranks] == [True, False]
    assert {r["distributed_type"] for r in ranks} == {"MULTI_CPU"}
    # contiguous split: every index exactly once, in order, sizes 6 and 5
    assert ranks[0]["plain"] + ranks[1]["plain"] == list(range(n)) and len(ranks[0]["plain"]) == 6
    # balanced split: every index exactly once, loads within one record's length of each other
    owned = sorted(ranks[0]["balanced"] + ranks[1]["balanced"])
    assert owned == list(range(n))
    assert abs(ranks[0]["load"] - ranks[1]["load"]) <= max(gathered["lengths"])
    owner = {i: r["index"] for r in ranks for i in r["balanced"]}
    assert gathered["gathered"] == [f"item-{i}@rank{owner[i]}" for i in range(n)]
    assert ranks[0]["gathered_len"] == ranks[1]["gathered_len"] == n and ranks[1]["everyone"] == [0, 1]
