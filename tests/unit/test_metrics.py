"""Parsing what runs print: metric records, rank prefixes, tqdm records, failures."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tui.core.metrics import (
    LineSplitter,
    MetricsState,
    analyse_failure,
    classify,
    display_line,
    parse_metric_line,
    progress_line,
    split_rank,
)

LOG = {"type": "log", "step": 5, "max_steps": 10, "loss": 1.5, "learning_rate": 1e-4, "elapsed_s": 10.0}


def test_plain_metric_line() -> None:
    assert parse_metric_line("SFTPLAY_METRIC " + json.dumps(LOG)) == LOG


def test_rank_prefix_and_tqdm_records_are_tolerated() -> None:
    line = "[rank0]: 40%|####  | 4/10\r 50%|#####| 5/10\rSFTPLAY_METRIC " + json.dumps(LOG)
    assert parse_metric_line(line) == LOG
    assert parse_metric_line("[default0]:SFTPLAY_METRIC " + json.dumps(LOG) + "\r") == LOG


def test_unknown_types_are_kept_and_junk_is_not_a_record() -> None:
    assert parse_metric_line('SFTPLAY_METRIC {"type": "infer_progress", "done": 3}')["type"] == "infer_progress"
    for junk in [
        "SFTPLAY_METRIC",
        "SFTPLAY_METRIC {",
        "SFTPLAY_METRIC [1, 2]",
        'SFTPLAY_METRIC {"step": 1}',
        'SFTPLAY_METRIC {"type": 3}',
        "loss 1.0",
        "",
    ]:
        assert parse_metric_line(junk) is None


@given(st.text())
def test_arbitrary_lines_never_raise(text: str) -> None:
    parse_metric_line(text)
    parse_metric_line("SFTPLAY_METRIC " + text)
    split_rank(text)
    display_line(text)
    classify(text)


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "step",
                    "max_steps",
                    "loss",
                    "learning_rate",
                    "eta_s",
                    "elapsed_s",
                    "done",
                    "total",
                    "status",
                    "final_loss",
                ]
            ),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.floats(),
                st.text(),
                st.sampled_from(["start", "log", "eval", "end", "infer_progress"]),
            ),
        )
    )
)
def test_arbitrary_records_never_break_the_state(records: list[dict]) -> None:
    state = MetricsState()
    for record in records:
        state.feed(record)
    snap = state.snapshot()
    assert snap.fraction is None or 0.0 <= snap.fraction <= 1.0
    progress_line(snap)


def test_progress_and_eta_from_log_records() -> None:
    state = MetricsState()
    state.feed({"type": "start", "world_size": 2, "distributed_type": "MULTI_CPU", "config": {"max_steps": 10}})
    state.feed({**LOG, "eta_s": None})
    snap = state.snapshot()
    assert snap.step == 5 and snap.max_steps == 10 and snap.fraction == 0.5
    assert snap.eta_s == 10.0  # computed from elapsed / step when the trainer gives none
    assert snap.loss_series == ((5.0, 1.5),) and snap.world_size == 2
    assert "step 5/10" in progress_line(snap) and "loss 1.5000" in progress_line(snap)
    state.feed({"type": "end", "status": "completed", "final_loss": 1.2})
    assert state.snapshot().eta_s == 0.0 and state.snapshot().final_loss == 1.2


def test_inference_progress() -> None:
    state = MetricsState()
    state.feed({"type": "infer_progress", "done": 25, "total": 100, "records_per_second": 5.0, "eta_s": 15})
    snap = state.snapshot()
    assert snap.fraction == 0.25 and snap.eta_s == 15.0
    assert "25/100 records" in progress_line(snap)


def test_chart_series_are_downsampled_but_keep_the_newest() -> None:
    state = MetricsState(chart_points=50)
    for step in range(1, 1001):
        state.feed({"type": "log", "step": step, "loss": 1.0 / step})
    series = state.snapshot().loss_series
    assert len(series) == 50 and series[-1] == (1000.0, 0.001) and series[0] == (1.0, 1.0)


@given(st.lists(st.text(alphabet="ab\u00e9\u4e2d\r \t", max_size=8), max_size=20), st.data())
def test_line_splitter_is_chunking_independent(lines: list[str], data: st.DataObject) -> None:
    blob = "".join(line + "\n" for line in lines).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(blob)), max_size=6)))
    splitter = LineSplitter()
    out: list[str] = []
    start = 0
    for cut in [*cuts, len(blob)]:
        out.extend(splitter.feed(blob[start:cut]))
        start = cut
    out.extend(splitter.flush())
    # One line per "\n"; a CRLF line end loses its "\r", whatever the chunk boundaries.
    assert out == [line.removesuffix("\r") for line in lines]


def test_display_line_collapses_tqdm_redraws_and_keeps_the_prefix() -> None:
    assert display_line("[rank1]: 10%|#\r 20%|##\r") == "[rank1]: 20%|##"
    assert split_rank("[rank12]:hello") == (12, "hello")
    assert split_rank("[default0]:x") == (0, "x")
    assert split_rank("hello [rank0]:") == (None, "hello [rank0]:")
    assert split_rank("[0]:") == (None, "[0]:")  # torch elastic's root-cause index, not a rank


def test_classify() -> None:
    assert classify("RuntimeError: boom") == "error"
    assert classify("Traceback (most recent call last):") == "error"
    assert classify("UserWarning: careful") == "warning"
    assert classify("W1126 07:21:19.519000 123 api.py:753] Received 2 death signal") == "warning"
    assert classify("step 5 loss 1.0") is None


ELASTIC_CRASH = """\
[rank0]:step 3
[rank1]:Traceback (most recent call last):
[rank0]:step 4
[rank1]:  File "/x/train.py", line 8, in <module>
[rank1]:    raise RuntimeError("boom")
[rank1]:RuntimeError: boom
E1126 07:13:42.918000 6864 torch/distributed/elastic/multiprocessing/api.py:1002] failed (exitcode: 1) \
local_rank: 1 (pid: 6885) of binary: /usr/bin/python3
Traceback (most recent call last):
  File "/venv/bin/accelerate", line 6, in <module>
    sys.exit(main())
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
train.py FAILED
------------------------------------------------------------
Failures:
  <NO_OTHER_FAILURES>
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-11-26_07:13:42
  host      : localhost
  rank      : 1 (local_rank: 1)
  exitcode  : 1 (pid: 6885)
  error_file: <N/A>
============================================================
""".splitlines()


def test_failure_of_a_rank_under_torch_elastic() -> None:
    failure = analyse_failure(ELASTIC_CRASH, 1)
    assert (failure.rank, failure.rank_exit_code, failure.exit_code) == (1, 1, 1)
    assert failure.exception == "RuntimeError: boom"
    assert failure.traceback[0].startswith("Traceback") and failure.traceback[-1] == "RuntimeError: boom"
    assert "step 4" not in "\n".join(failure.traceback)  # rank 0's interleaved line is not part of it
    assert failure.headline == "rank 1 exited with code 1: RuntimeError: boom"


def test_a_ranks_own_stdout_inside_its_traceback_is_not_the_exception() -> None:
    # stdout and stderr are separate pipes: a print just before the raise can land mid-traceback.
    lines = [
        "[rank1]:Traceback (most recent call last):",
        "[rank1]:rank 1 about to fail at step 2",
        '[rank1]:  File "/x/train.py", line 8, in <module>',
        "[rank1]:    raise RuntimeError('boom')",
        "[rank1]:torch.OutOfMemoryError: CUDA out of memory.",
        *ELASTIC_CRASH[6:],
    ]
    failure = analyse_failure(lines, 1)
    assert failure.exception == "torch.OutOfMemoryError: CUDA out of memory."
    assert "rank 1 about to fail at step 2" not in failure.traceback


def test_an_exception_without_a_message_ends_the_traceback() -> None:
    lines = ["Traceback (most recent call last):", '  File "t.py", line 1, in <module>', "KeyboardInterrupt"]
    assert analyse_failure(lines, 130).exception == "KeyboardInterrupt"


def test_failure_without_traceback_shows_the_ranks_last_lines() -> None:
    lines = [
        "[rank1]:loading",
        "[rank1]:about to die",
        "[rank0]:fine",
        *[line.replace("exitcode  : 1", "exitcode  : -9") for line in ELASTIC_CRASH[6:]],
    ]
    failure = analyse_failure(lines, 1)
    assert failure.rank == 1 and failure.rank_exit_code == -9 and failure.signal_name == "SIGKILL"
    assert failure.traceback == () and failure.context == ("loading", "about to die")
    assert "killed by SIGKILL" in failure.headline


def test_single_process_failure_with_chained_exceptions() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "t.py", line 1, in <module>',
        "KeyError: 'a'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "t.py", line 3, in <module>',
        "ValueError: bad",
    ]
    failure = analyse_failure(lines, 1)
    assert failure.rank is None and failure.exception == "ValueError: bad"
    assert failure.headline == "the run exited with code 1: ValueError: bad"


def test_failure_round_trips_through_json() -> None:
    failure = analyse_failure(ELASTIC_CRASH, 1)
    from tui.core.metrics import FailureSummary

    assert FailureSummary.from_json(json.loads(json.dumps(failure.to_json()))) == failure


def test_glued_rank_fragments_become_lines() -> None:
    from tui.core.metrics import display_lines

    assert display_lines(["[rank1]:\r1/12 [#][rank0]:UserWarning: careful"]) == [
        "[rank1]:1/12 [#]",
        "[rank0]:UserWarning: careful",
    ]
    assert display_lines(["[rank0]:\r1/3 [#][rank0]:\r2/3 [##][rank0]:step 3 done"]) == [
        "[rank0]:2/3 [##]",
        "[rank0]:step 3 done",
    ]
    plain = ["[rank0]:a", "[rank1]:b", "launcher line"]
    assert display_lines(plain) is plain  # the fast path returns the batch untouched
    assert display_lines(["partial[rank0]:x"]) == ["partial", "[rank0]:x"]


@given(st.lists(st.text(alphabet="[]:rank0123\r xy", max_size=30), max_size=10))
def test_display_lines_never_raises_and_keeps_text(lines: list[str]) -> None:
    from tui.core.metrics import display_lines

    out = display_lines(lines)
    if not any("\r" in x or "[" in x for x in lines):
        assert out == lines


def test_last_metric_records_reads_whole_lines_from_the_tail(tmp_path: Path) -> None:
    from tui.core.metrics import last_metric_records

    lines = [json.dumps({"type": "log", "step": i}) for i in range(3)]
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines) + "\n")
    size = path.stat().st_size
    # Exactly the file's size: nothing is cut, every record counts.
    assert [r["step"] for r in last_metric_records(path, tail_bytes=size)] == [0, 1, 2]
    # One byte less: the first line is cut and left out.
    assert [r["step"] for r in last_metric_records(path, tail_bytes=size - 1)] == [1, 2]
    assert last_metric_records(tmp_path / "missing.jsonl") == []
