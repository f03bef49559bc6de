"""The output side of batch inference (training/inference_io.py): resume parsing, safe appends, order.

These are the pieces that decide whether a killed run, started again, skips exactly what it
already wrote: a truncated last line must be ignored and cut away, duplicates must not survive the
final rewrite, and an output written with other settings must not be resumed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training import inference_io as io


def _line(index: int, error: str | None = None) -> bytes:
    return json.dumps({"index": index, "completion": f"answer {index}", "error": error}).encode() + b"\n"


def test_scan_reads_indices_and_failures(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(_line(3) + _line(0, "too long") + _line(7))
    scan = io.scan_output(out)
    assert sorted(scan.done) == [0, 3, 7] and scan.failed == 1
    assert not scan.truncated and scan.valid_bytes == out.stat().st_size


def test_a_missing_output_is_an_empty_scan(tmp_path: Path) -> None:
    scan = io.scan_output(tmp_path / "none.jsonl")
    assert scan.done == {} and scan.valid_bytes == 0 and not scan.truncated


def test_a_truncated_last_line_is_not_done_and_is_cut_before_appending(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    whole = _line(0) + _line(1)
    out.write_bytes(whole + _line(2)[:-9])  # killed in the middle of writing record 2
    scan = io.scan_output(out)
    assert sorted(scan.done) == [0, 1] and scan.truncated and scan.valid_bytes == len(whole)

    writer = io.OutputWriter(out, scan)
    writer.write([{"index": 2, "completion": "again", "error": None}])
    writer.close()
    lines = out.read_bytes().splitlines()
    assert [json.loads(line)["index"] for line in lines] == [0, 1, 2]  # nothing glued onto the cut line


def test_a_cut_line_that_still_parses_is_not_trusted(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(_line(0) + b'{"index": 1}')  # valid JSON, but no newline: the write was cut
    assert sorted(io.scan_output(out).done) == [0]


def test_junk_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(_line(0) + b"garbage\n" + b'{"index": -1}\n' + b'{"index": true}\n' + b"[1]\n" + _line(1))
    scan = io.scan_output(out)
    assert sorted(scan.done) == [0, 1] and scan.bad_lines == 4


def test_finalize_sorts_by_index_and_keeps_the_first_copy(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(_line(2) + _line(0) + _line(1, "boom") + json.dumps({"index": 0, "completion": "dup"}).encode())
    assert io.finalize(out) == (3, 1)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert rows[0]["completion"] == "answer 0"
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed into place


@settings(max_examples=150, deadline=None)
@given(
    indices=st.lists(st.integers(min_value=0, max_value=60), max_size=40),
    cut=st.integers(min_value=0, max_value=200),
)
def test_any_cut_point_loses_at_most_the_line_being_written(indices: list[int], cut: int) -> None:
    import tempfile

    data = b"".join(_line(i) for i in indices)
    end = max(0, len(data) - cut)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.jsonl"
        out.write_bytes(data[:end])
        scan = io.scan_output(out)
    complete = data[:end].count(b"\n")
    assert set(scan.done) == set(indices[:complete])
    assert scan.valid_bytes == len(b"".join(_line(i) for i in indices[:complete]))


def test_settings_mismatch_names_what_changed(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    settings_ = {"data_sha256": "abc", "max_new_tokens": 64, "temperature": 0.0}
    assert io.settings_mismatch(out, settings_) is None  # nothing recorded yet
    io.write_settings(out, settings_)
    assert io.settings_mismatch(out, settings_) is None
    problem = io.settings_mismatch(out, {**settings_, "max_new_tokens": 32, "data_sha256": "def"})
    assert problem is not None and "data_sha256, max_new_tokens" in problem and "--overwrite" in problem


def test_records_keep_file_positions_and_bad_lines(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text('{"prompt": "a"}\n\nnot json\n[1, 2]\n{"messages": []}\n', encoding="utf-8")
    records = io.load_records(data)
    assert len(records) == 4  # blank lines are not records
    assert records[0] == {"prompt": "a"}
    assert isinstance(records[1], io.InvalidRecord) and "line 3" in records[1].reason
    assert isinstance(records[2], io.InvalidRecord) and "not a JSON object" in records[2].reason
    assert io.load_records(data, max_samples=2) == records[:2]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [("in.csv", "a,b", "unsupported file type"), ("in.jsonl", "\n\n", "no records"), ("in.json", "3", "a list")],
)
def test_unusable_inputs_are_one_line_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(io.DataError, match=message):
        io.load_records(path)
    with pytest.raises(io.DataError, match="not found"):
        io.load_records(tmp_path / "missing.jsonl")


def test_prompts_from_chat_and_plain_records() -> None:
    chat = io.prompt_of({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
    assert chat.kind == "chat" and [m["role"] for m in chat.messages] == ["user"] and chat.reference == "hello"
    plain = io.prompt_of({"prompt": "2+2=", "response": "4"})
    assert plain.kind == "prompt" and plain.text == "2+2=" and plain.reference == "4"
    for bad, reason in [
        ({"messages": "hi"}, "list of"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "only an assistant turn"),
        ({"prompt": ""}, "non-empty string"),
        ({"text": "x"}, "no 'messages' or 'prompt'"),
        (io.InvalidRecord("line 3: not valid JSON"), "line 3"),
    ]:
        with pytest.raises(io.RecordError, match=reason):
            io.prompt_of(bad)
