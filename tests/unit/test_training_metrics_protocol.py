"""The SFTPLAY_METRIC line contract (training/metrics_protocol.py) that tui/core/metrics.py parses."""

from __future__ import annotations

import io
import json
import math

import pytest

from training import metrics_protocol as mp


def _log(**over: object) -> dict[str, object]:
    fields: dict[str, object] = dict(
        step=10,
        max_steps=100,
        epoch=0.5,
        loss=2.5,
        learning_rate=1e-4,
        grad_norm=0.7,
        tokens_per_second=1234.5,
        samples_per_second=8.0,
        peak_memory_mib=512.0,
        elapsed_s=12.0,
        eta_s=108.0,
    )
    fields.update(over)
    return mp.log_record(**fields)  # type: ignore[arg-type]


def test_line_is_prefix_plus_one_json_object() -> None:
    line = mp.format_line(_log())
    assert line.startswith("SFTPLAY_METRIC {") and mp.PREFIX == "SFTPLAY_METRIC "
    assert "\n" not in line
    obj = json.loads(line[len(mp.PREFIX) :])
    assert obj["type"] == "log" and obj["v"] == mp.FORMAT_VERSION and isinstance(obj["time"], float)
    assert all(obj[f] is not None for f in mp.LOG_FIELDS)


def test_non_finite_numbers_become_null_not_invalid_json() -> None:
    line = mp.format_line(_log(loss=math.nan, grad_norm=math.inf))
    obj = json.loads(line[len(mp.PREFIX) :])  # strict JSON: NaN would not parse in most readers
    assert obj["loss"] is None and obj["grad_norm"] is None and obj["step"] == 10


@pytest.mark.parametrize(
    "record",
    [
        mp.start_record(
            world_size=2,
            distributed_type="MULTI_CPU",
            model="m",
            num_parameters=10,
            trainable_parameters=5,
            output_dir="o",
            config={"mixed_precision": "no", "per_device_train_batch_size": 4},
        ),
        mp.eval_record(step=5, max_steps=10, epoch=0.1, eval_loss=1.5, metrics={"loss": 1.5}),
        mp.end_record(status="interrupted", output_dir="o", final_loss=None, error="stopped by SIGTERM"),
    ],
)
def test_parse_round_trip_and_launcher_prefixes(record: dict[str, object]) -> None:
    line = mp.format_line(record)
    assert mp.parse_line(line + "\n") == record
    assert mp.parse_line("[rank0]: " + line) == record  # accelerate --tee/--role prefixes
    assert mp.parse_line(line[:-5]) is None  # a cut line is not a record
    assert mp.parse_line("loss 1.5 SFTPLAY_METRIC") is None


def test_unknown_type_and_status_are_rejected() -> None:
    with pytest.raises(ValueError):
        mp.end_record(status="done", output_dir=None, final_loss=None)  # type: ignore[arg-type]
    assert mp.parse_line(mp.PREFIX + '{"type": "progress"}') is None


class _Counting(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


def test_emitter_one_write_per_line_single_end_and_silent_off_rank_zero() -> None:
    stream = _Counting()
    emitter = mp.Emitter(enabled=True, stream=stream)
    assert emitter.emit(_log())
    assert stream.writes == 1 and stream.getvalue().endswith("}\n")
    end = mp.end_record(status="completed", output_dir="o", final_loss=1.0)
    assert emitter.emit(end)
    assert not emitter.emit(mp.end_record(status="failed", output_dir="o", final_loss=1.0))
    lines = stream.getvalue().splitlines()
    assert [mp.parse_line(line)["type"] for line in lines] == ["log", "end"]  # type: ignore[index]

    quiet = _Counting()
    other_rank = mp.Emitter(enabled=False, stream=quiet)
    assert not other_rank.emit(_log()) and quiet.writes == 0
