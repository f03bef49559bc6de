"""Property tests: any snapshot JSON or config YAML gives a value or a clear error, never a traceback."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.core.accelerate_config import parse_config_text
from tui.core.checks import check_config
from tui.core.errors import UsageError
from tui.core.hardware import HardwareInfo, SnapshotError, load_snapshot, parse_snapshot
from tui.core.hints import hardware_hints

SNAP = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "snapshots"
BASES = {p.stem: json.loads(p.read_text()) for p in sorted(SNAP.glob("*.json"))}
HARDWARE = [load_snapshot(p) for p in sorted(SNAP.glob("*.json"))]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mutate(data: Any, path: list[Any], value: Any) -> Any:
    """Replace the node at `path` (indices taken modulo the container's size) by `value`."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict) and data:
        key = sorted(data)[head % len(data)]
        return {**data, key: _mutate(data[key], rest, value)}
    if isinstance(data, list) and data:
        i = head % len(data)
        return [*data[:i], _mutate(data[i], rest, value), *data[i + 1 :]]
    return value


@SETTINGS
@given(
    base=st.sampled_from(sorted(BASES)),
    path=st.lists(st.integers(min_value=0, max_value=50), max_size=5),
    value=json_values,
)
def test_mutated_snapshots_load_or_fail_clearly(base: str, path: list[int], value: Any) -> None:
    data = _mutate(BASES[base], path, value)
    try:
        info = parse_snapshot(data, "snap.json")
    except SnapshotError as exc:
        assert str(exc).startswith("snap.json: ")
        assert "\n" not in str(exc)
        return
    assert isinstance(info, HardwareInfo)
    # Whatever loads must also check and hint without crashing.
    check_config({"distributed_type": "MULTI_GPU", "num_processes": 2, "mixed_precision": "bf16"}, info)
    hardware_hints(info, fp8_backends=[])
    assert HardwareInfo.from_json(info.to_json()) == info


@SETTINGS
@given(text=st.one_of(st.text(max_size=200), json_values.map(json.dumps)))
def test_arbitrary_snapshot_text_never_raises_anything_else(text: str) -> None:
    with contextlib.suppress(SnapshotError):
        parse_snapshot(text, "s.json")


config_values = st.one_of(
    scalars,
    st.sampled_from(
        ["MULTI_GPU", "multi_gpu", "FSDP", "NO", "MULTI_CPU", "DEEPSPEED", "all", "0,1", "bf16", "fp8", "fp16"]
    ),
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=10), scalars, max_size=3),
)
config_keys = st.sampled_from(
    [
        "compute_environment",
        "distributed_type",
        "mixed_precision",
        "num_processes",
        "num_machines",
        "machine_rank",
        "gpu_ids",
        "use_cpu",
        "main_process_ip",
        "fsdp_config",
        "fp8_config",
        "mpirun_config",
        "deepspeed_config",
        "fp16",
        "typo_key",
    ]
)


@SETTINGS
@given(config=st.dictionaries(config_keys, config_values, max_size=8), hw=st.sampled_from(HARDWARE))
def test_arbitrary_configs_check_without_traceback(config: dict[str, Any], hw: HardwareInfo) -> None:
    text = yaml.safe_dump(config)
    try:
        data = parse_config_text(text, "c.yaml", as_json=False)
    except UsageError:
        return
    for launcher in ("accelerate", "sftplay-tui"):
        for finding in check_config(data, hw, launcher=launcher, fp8_backends=[]):  # type: ignore[arg-type]
            line = finding.render("c.yaml")
            assert "\n" not in line and finding.severity in ("error", "warning")


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_yaml_text_is_usage_error_or_checked(text: str) -> None:
    try:
        data = parse_config_text(text, "c.yaml", as_json=False)
    except UsageError:
        return
    check_config(data, HARDWARE[0], fp8_backends=[])
