"""Hardware probes: what GPUs, topology, CPU/RAM and launch-relevant environment this machine has.

Front ends call `get_probe()` (keep it for live refreshes; `close()` it when done) or
`probe_hardware()` for one record, and `load_snapshot()` to read a `gpu-info --json` file.
Sources: nvml.py -> nvidia_smi.py -> torch_probe.py -> none (probe.py); replay.py replays
recorded outputs for tests. Nothing here imports torch except torch_probe, lazily, last.
"""

from tui.core.hardware.base import (
    SCHEMA,
    CpuInfo,
    GpuInfo,
    GpuProcess,
    GpuReport,
    HardwareInfo,
    SnapshotError,
    SystemInfo,
    load_snapshot,
    parse_snapshot,
)
from tui.core.hardware.errors import ProbeError
from tui.core.hardware.probe import (
    REPLAY_ENV,
    HardwareProbe,
    Probe,
    StaticProbe,
    get_probe,
    probe_hardware,
)

__all__ = [
    "REPLAY_ENV",
    "SCHEMA",
    "CpuInfo",
    "GpuInfo",
    "GpuProcess",
    "GpuReport",
    "HardwareInfo",
    "HardwareProbe",
    "Probe",
    "ProbeError",
    "SnapshotError",
    "StaticProbe",
    "SystemInfo",
    "get_probe",
    "load_snapshot",
    "parse_snapshot",
    "probe_hardware",
]
