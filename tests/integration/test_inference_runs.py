"""Real runs of training/infer.py: one process, two CPU ranks through `sftplay-tui launch --infer`,
a run stopped mid-way and resumed, failing records, a LoRA adapter directory, and user mistakes.

The two-rank runs go through the launcher (a MULTI_CPU config; it adds --multi_gpu and
ACCELERATE_USE_CPU=true so the ranks connect). Greedy decoding must give the same answer for a
record whatever process and batch it lands in, so the two-rank and resumed outputs are compared
with the single-process run record by record.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import sftplay
from tests.support.inference import (
    BAD_RECORDS,
    INFER,
    RUN_ENV,
    build_sharp_model,
    infer_args,
    read_rows,
    write_dataset,
)
from tests.support.runs import MULTI_CPU_2, all_pids, still_running, wait_final_status, wait_for, write_config
from tests.support.training_runs import embedded_cache_fixture  # noqa: F401 (the session fixture)
from training.metrics_protocol import parse_line
from tui.core.launch import LaunchRequest, plan_launch
from tui.core.metrics import MetricsState
from tui.core.runs import STOPPED, SUCCEEDED, find_run, load_run, start_run, stop_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory, embedded_cache: Path) -> dict[str, Any]:
    from training.embedded import ensure_embedded_model

    folder = tmp_path_factory.mktemp("inference")
    model = build_sharp_model(ensure_embedded_model(embedded_cache), folder / "model")
    data = folder / "data.jsonl"
    return {"folder": folder, "model": model, "data": data, "total": write_dataset(data)}


def _python_infer(args: list[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(INFER), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **RUN_ENV},
    )


@pytest.fixture(scope="module")
def baseline(workload: dict[str, Any]) -> dict[str, Any]:
    """The single-process run (plain `python`, no --use_accelerate), batches of 16."""
    output = workload["folder"] / "single.jsonl"
    result = _python_infer(infer_args(workload["data"], output, workload["model"]))
    assert result.returncode == 0, result.stderr[-4000:]
    records = [r for r in map(parse_line, result.stdout.splitlines()) if r is not None]
    return {"rows": read_rows(output), "records": records, "stderr": result.stderr}


def _answers(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["index"], r["completion"], r["finish_reason"], r["completion_tokens"], r["error"]) for r in rows]


def test_one_process_answers_every_record_in_order(workload: dict[str, Any], baseline: dict[str, Any]) -> None:
    rows, total = baseline["rows"], workload["total"]
    assert [r["index"] for r in rows] == list(range(total))
    good = [r for r in rows if r["error"] is None]
    assert len(good) == total - len(BAD_RECORDS)
    assert all(r["completion"] and r["completion_tokens"] == 24 or r["finish_reason"] == "stop" for r in good)
    # The answers depend on the prompt (else comparing runs below would prove nothing).
    assert len({r["completion"] for r in good}) > len(good) // 2
    assert rows[3]["id"] == "p3" and rows[3]["reference"] == "?"  # passed through from the record
    assert any("reference" in r for r in rows if r["index"] not in (3, 10))  # chat: the assistant turn

    kinds = [r["type"] for r in baseline["records"]]
    assert kinds[0] == "start" and kinds[-1] == "end" and "infer_progress" in kinds
    start = baseline["records"][0]
    assert start["task"] == "inference" and start["world_size"] == 1 and start["total"] == total
    last = [r for r in baseline["records"] if r["type"] == "infer_progress"][-1]
    assert last["done"] == last["total"] == total and last["failed"] == len(BAD_RECORDS)
    assert last["records_per_second"] > 0 and last["eta_s"] == 0
    end = baseline["records"][-1]
    assert end["status"] == "completed" and end["records"] == total and end["failed"] == len(BAD_RECORDS)


def test_a_failing_record_is_written_with_its_error(baseline: dict[str, Any]) -> None:
    rows = baseline["rows"]
    for index, reason in BAD_RECORDS.items():
        assert rows[index]["completion"] is None and reason in rows[index]["error"], rows[index]
    assert "3 record(s) failed" in baseline["stderr"]


def test_two_ranks_through_sftplay_launch_match_the_single_process_run(
    workload: dict[str, Any], baseline: dict[str, Any], cli_env: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    output = tmp_path / "two.jsonl"
    # Batches of 4, not 16: other batch compositions and paddings than the baseline's.
    args = ["--use_accelerate", *infer_args(workload["data"], output, workload["model"], "--batch_size", "4")]
    launch = ["launch", "--config-file", str(config), "--infer", "--yes", "--", *args]
    result = sftplay(launch, {**cli_env, **RUN_ENV}, tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:] + result.stdout[-4000:]
    rows = read_rows(output)
    assert [r["index"] for r in rows] == list(range(workload["total"]))  # each once, in the input's order
    assert _answers(rows) == _answers(baseline["rows"])  # greedy: same answers, wherever generated

    run = find_run("last")
    assert run.state == SUCCEEDED and Path(run.spec["argv"][-len(args) - 1]) == INFER
    state = MetricsState()
    for line in run.metrics_path.read_text().splitlines():
        state.feed(json.loads(line))
    snap = state.snapshot()
    assert snap.world_size == 2 and snap.distributed_type == "MULTI_CPU"
    assert snap.infer_done == snap.infer_total == workload["total"] and snap.fraction == 1.0
    assert snap.infer_failed == len(BAD_RECORDS) and snap.end_status == "completed"
    # Both ranks generated a share, and the shares add up to every record.
    log = run.log_path.read_text()
    shares = {}
    for rank in (0, 1):
        line = next(x for x in log.splitlines() if f"process {rank} of 2:" in x)
        shares[rank] = int(line.split(f"process {rank} of 2: ")[1].split(" record")[0])
    assert shares[0] > 0 and shares[1] > 0 and sum(shares.values()) == workload["total"], shares


@pytest.mark.parametrize("how", ["stop", "sigkill"])
def test_an_interrupted_run_resumes_without_duplicates(
    workload: dict[str, Any], baseline: dict[str, Any], tmp_path: Path, how: str
) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    output = tmp_path / "resumed.jsonl"
    # One record per batch: many small rounds, so the stop lands mid-way.
    args = ("--use_accelerate", *infer_args(workload["data"], output, workload["model"], "--batch_size", "1"))
    request = LaunchRequest(config_file=config, script=INFER, args=args, cwd=tmp_path, env=RUN_ENV)
    first = start_run(plan_launch(request))
    wait_for(lambda: output.is_file() and output.read_bytes().count(b"\n") >= 2, 120, "the first written rounds")
    records = all_pids(load_run(first.path))
    if how == "stop":
        report = stop_run(load_run(first.path), grace_s=10.0)
        assert report.all_gone, report.steps
    else:  # no goodbye at all: every process of the run dies at once, mid-write or not
        for record in records:
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGKILL)
        wait_for(lambda: still_running(records) == [], 30, "the killed processes to go")
    assert still_running(records) == []
    before = read_rows(output)
    assert 2 <= len(before) < workload["total"], f"the {how} did not land mid-way ({len(before)} records)"
    assert len({r["index"] for r in before}) == len(before)
    if how == "stop":
        assert wait_final_status(first).state == STOPPED
        ended = [r for r in map(parse_line, first.log_path.read_text().splitlines()) if r and r["type"] == "end"]
        assert ended and ended[-1]["status"] == "interrupted"
        # What a SIGKILL in the middle of a write leaves behind: a cut-off last line.
        with output.open("ab") as handle:
            handle.write(b'{"index": 39, "completion": "cut off in the midd')

    second = wait_final_status(start_run(plan_launch(request)), timeout_s=240)
    assert second.state == SUCCEEDED, second.log_path.read_text()[-4000:]
    rows = read_rows(output)
    assert [r["index"] for r in rows] == list(range(workload["total"]))  # no duplicate, nothing missing
    assert _answers(rows) == _answers(baseline["rows"])
    metrics = [json.loads(x) for x in second.metrics_path.read_text().splitlines()]
    start, end = metrics[0], metrics[-1]
    assert start["type"] == "start" and start["already_done"] == len(before)
    assert end["type"] == "end" and end["generated"] == workload["total"] - len(before)  # the rest only
    if how == "stop":
        assert "the last line of" in second.log_path.read_text()  # the cut line was noticed and redone


def test_a_lora_adapter_directory_is_loaded_on_its_base(workload: dict[str, Any], baseline: dict[str, Any]) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = workload["folder"] / "adapter"
    base = AutoModelForCausalLM.from_pretrained(workload["model"])
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:  # zero at init: make the adapter change the answers
                param.normal_(0.0, 0.5, generator=generator)
    peft_model.save_pretrained(adapter)  # adapter_config.json names the base directory
    AutoTokenizer.from_pretrained(workload["model"]).save_pretrained(adapter)

    output = adapter / "answers.jsonl"
    result = _python_infer(
        ["--data", str(workload["data"]), "--output", str(output), "--model_name_or_path", str(adapter)]
        + ["--max_new_tokens", "24", "--max_samples", "8"]
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rows = read_rows(output)
    start = next(r for r in map(parse_line, result.stdout.splitlines()) if r and r["type"] == "start")
    assert start["config"]["adapter"] == str(adapter)
    differ = [
        r["index"] for r in rows if r["error"] is None and r["completion"] != baseline["rows"][r["index"]]["completion"]
    ]
    assert differ, "the adapter did not change any answer"

    # The script merges the adapter into the weights; the unmerged PEFT model must answer the same.
    from training.infer import generate_batch, generation_config, load_for_inference, parse_args, render
    from training.inference_io import load_records

    model_args, args = parse_args(
        ["--data", "x", "--output", "y", "--model_name_or_path", str(adapter), "--max_new_tokens", "24"]
        + ["--no_merge_adapter"]
    )
    loaded = load_for_inference(model_args, args, 0)
    assert type(loaded.model).__name__.startswith("Peft")
    items = [render(i, r, loaded.tokenizer, args, 1024) for i, r in enumerate(load_records(workload["data"], 8))]
    gen = generation_config(loaded.model, loaded.tokenizer, args)
    expected = generate_batch(loaded.model.eval(), loaded.tokenizer, gen, [x for x in items if x.ids], args)
    got = {r["index"]: r["completion"] for r in rows}
    assert expected and all(got[r["index"]] == r["completion"] for r in expected), (expected, got)


def test_a_missing_data_file_exits_2_with_one_line_and_an_end_record(tmp_path: Path) -> None:
    result = _python_infer(["--data", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o.jsonl")])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"infer.py: error: data file not found: {tmp_path / 'nope.jsonl'}"
    assert "Traceback" not in result.stderr
    end = [r for r in map(parse_line, result.stdout.splitlines()) if r and r["type"] == "end"]
    assert len(end) == 1 and end[0]["status"] == "failed"


def test_several_processes_without_use_accelerate_are_refused(tmp_path: Path) -> None:
    # Each process would answer everything and write the same file: refuse before loading anything.
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "x"}\n', encoding="utf-8")
    env = {**os.environ, **RUN_ENV, "WORLD_SIZE": "2", "RANK": "0"}
    result = subprocess.run(
        [sys.executable, str(INFER), "--data", str(data), "--output", str(tmp_path / "o.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 2 and "add --use_accelerate" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_resuming_with_other_settings_is_refused(workload: dict[str, Any], baseline: dict[str, Any]) -> None:
    output = workload["folder"] / "single.jsonl"  # the baseline's output, written with 24 new tokens
    result = _python_infer(infer_args(workload["data"], output, workload["model"])[:-2] + ["--max_new_tokens", "8"])
    assert result.returncode == 2 and "different max_new_tokens" in result.stderr and "--overwrite" in result.stderr
    assert read_rows(output) == baseline["rows"]  # untouched
