"""Probes built from recorded outputs, so the real probe code runs without the hardware.

A replay fixture is a folder:

    machine.json        {"description", "system": {cpu, memory_total_mib, ...}, "env": {...},
                         "hostname", "fp8_backends", "software",
                         "nvidia_smi": "ok" | "missing" | "hang",
                         "base": "../other-machine" (optional: inherit everything not given),
                         "nvml_fail": {...} (optional: failure injection, see ReplayNvml)}
    nvml.json           what each pynvml call returns (absent: libnvidia-ml.so not found)
    nvidia-smi/         the text nvidia-smi printed for each query (file names in SMI_FILES)
    torch.json          optional: what torch.cuda reports (absent: torch cannot see a GPU)

`ReplayNvml` emulates the pynvml functions `nvml.py` calls and raises real `pynvml.NVMLError`s;
`ReplayRunner` answers nvidia-smi command lines with the recorded text; `ReplayTorch` emulates
the few `torch.cuda` calls of `torch_probe.py`. `replay_probe(path)` wires them into the normal
`HardwareProbe` chain. A path to a `.json` file is read as a `sftplay-hardware/1` snapshot and
returned as is (`StaticProbe`).

For tests and diagnostics only (SFTPLAY_HARDWARE_REPLAY); never used to decide anything real.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tui.core.errors import UsageError
from tui.core.hardware.base import load_snapshot
from tui.core.hardware.nvidia_smi import (
    APPS_QUERY,
    GPU_FIELDS,
    HEADER_QUERY,
    P2P_QUERY,
    TOPO_QUERY,
    CommandResult,
    NvidiaSmiSource,
    gpu_query,
)
from tui.core.hardware.nvml import NvmlSource
from tui.core.hardware.probe import GpuSource, HardwareProbe, StaticProbe
from tui.core.hardware.system import ReplaySystem
from tui.core.hardware.torch_probe import TorchSource

SMI_FILES = {
    "query-gpu": "query-gpu.csv",
    "query-gpu-nocc": "query-gpu-nocc.csv",
    "query-compute-apps": "query-compute-apps.csv",
    "topo-p2p-r": "topo-p2p-r.txt",
    "topo-m": "topo-m.txt",
    "header": "nvidia-smi.txt",
}

#: Injected hangs wait on this event, which nothing sets: they block (in a daemon thread) for
#: HANG_SECONDS, far beyond any probe budget, like a stuck driver call.
_NEVER = threading.Event()
HANG_SECONDS = 300.0


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: cannot read replay fixture ({exc})") from None


# -- NVML --------------------------------------------------------------------------------------


class ReplayNvml:
    """The slice of pynvml's API that nvml.py uses, answering from `nvml.json`.

    Failure injection: `fail` maps a function name to an NVML error name ("DRIVER_NOT_LOADED",
    "GPU_IS_LOST", ...) or to {"error": NAME, "after": k} (the first k calls succeed), or to
    "HANG" (the call blocks, like a stuck driver). Per device, `unsupported` lists functions
    that answer NOT_SUPPORTED.
    """

    def __init__(self, data: Mapping[str, Any] | None, fail: Mapping[str, Any] | None = None) -> None:
        import pynvml  # the real error classes and constants; importing it loads no library

        self._pynvml = pynvml
        self.NVMLError = pynvml.NVMLError
        for name in dir(pynvml):
            if name.startswith("NVML_"):
                setattr(self, name, getattr(pynvml, name))
        self._data: Mapping[str, Any] = data or {}
        self._fail: dict[str, Any] = dict(self._data.get("fail", {}))
        self._fail.update(fail or {})
        if data is None:
            self._fail.setdefault("nvmlInit", "LIBRARY_NOT_FOUND")
        self._calls: dict[str, int] = {}
        self._initialised = False
        self.init_calls = 0

    # failure injection
    def _enter(self, fn: str) -> None:
        count = self._calls.get(fn, 0)
        self._calls[fn] = count + 1
        spec = self._fail.get(fn)
        if spec is None:
            return
        if spec == "HANG":
            _NEVER.wait(HANG_SECONDS)
            raise self._error("TIMEOUT")
        if isinstance(spec, Mapping):
            if count < int(spec.get("after", 0)):
                return
            spec = spec["error"]
        raise self._error(str(spec))

    def _error(self, name: str) -> Exception:
        code = getattr(self._pynvml, f"NVML_ERROR_{name}", self._pynvml.NVML_ERROR_UNKNOWN)
        return self._pynvml.NVMLError(code)  # type: ignore[no-any-return]

    def _device(self, handle: Any, fn: str) -> Mapping[str, Any]:
        self._enter(fn)
        if not self._initialised:
            raise self._error("UNINITIALIZED")
        device: Mapping[str, Any] = self._data["devices"][handle.index]
        if fn in device.get("unsupported", ()):
            raise self._error("NOT_SUPPORTED")
        return device

    # lifecycle
    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        self.init_calls += 1
        self._enter("nvmlInit")
        self._initialised = True

    def nvmlShutdown(self) -> None:  # noqa: N802
        self._enter("nvmlShutdown")
        self._initialised = False

    # system
    def nvmlSystemGetDriverVersion(self) -> str:  # noqa: N802
        self._enter("nvmlSystemGetDriverVersion")
        return str(self._data["driver_version"])

    def nvmlSystemGetCudaDriverVersion(self) -> int:  # noqa: N802
        self._enter("nvmlSystemGetCudaDriverVersion")
        return int(self._data["cuda_driver_version"])

    def nvmlSystemGetProcessName(self, pid: int) -> str:  # noqa: N802
        self._enter("nvmlSystemGetProcessName")
        names = self._data.get("process_names", {})
        if str(pid) not in names:
            raise self._error("NOT_FOUND")
        return str(names[str(pid)])

    # devices
    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        self._enter("nvmlDeviceGetCount")
        if not self._initialised:
            raise self._error("UNINITIALIZED")
        return len(self._data.get("devices", []))

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:  # noqa: N802
        self._enter("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self._data.get("devices", [])):
            raise self._error("INVALID_ARGUMENT")
        return SimpleNamespace(index=index)

    def nvmlDeviceGetName(self, handle: Any) -> str:  # noqa: N802
        return str(self._device(handle, "nvmlDeviceGetName")["name"])

    def nvmlDeviceGetUUID(self, handle: Any) -> str:  # noqa: N802
        return str(self._device(handle, "nvmlDeviceGetUUID")["uuid"])

    def nvmlDeviceGetPciInfo(self, handle: Any) -> Any:  # noqa: N802
        return SimpleNamespace(busId=self._device(handle, "nvmlDeviceGetPciInfo")["pci_bus_id"])

    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any:  # noqa: N802
        memory = self._device(handle, "nvmlDeviceGetMemoryInfo")["memory"]
        return SimpleNamespace(total=memory["total"], used=memory["used"], free=memory["free"])

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]:  # noqa: N802
        major, minor = self._device(handle, "nvmlDeviceGetCudaComputeCapability")["cuda_compute_capability"]
        return int(major), int(minor)

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any:  # noqa: N802
        util = self._device(handle, "nvmlDeviceGetUtilizationRates")["utilization"]
        return SimpleNamespace(gpu=util["gpu"], memory=util["memory"])

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:  # noqa: N802
        return int(self._device(handle, "nvmlDeviceGetTemperature")["temperature_gpu"])

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:  # noqa: N802
        return int(self._device(handle, "nvmlDeviceGetPowerUsage")["power_usage_mw"])

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:  # noqa: N802
        return int(self._device(handle, "nvmlDeviceGetEnforcedPowerLimit")["enforced_power_limit_mw"])

    def _procs(self, handle: Any, fn: str, key: str) -> list[Any]:
        device = self._device(handle, fn)
        return [SimpleNamespace(pid=p["pid"], usedGpuMemory=p.get("usedGpuMemory")) for p in device.get(key, [])]

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[Any]:  # noqa: N802
        return self._procs(handle, "nvmlDeviceGetComputeRunningProcesses", "compute_processes")

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: Any) -> list[Any]:  # noqa: N802
        return self._procs(handle, "nvmlDeviceGetGraphicsRunningProcesses", "graphics_processes")

    def nvmlDeviceGetP2PStatus(self, handle1: Any, handle2: Any, index: int) -> int:  # noqa: N802
        self._device(handle1, "nvmlDeviceGetP2PStatus")
        if index != 0:
            raise self._error("INVALID_ARGUMENT")  # only the READ capability is recorded
        return int(self._data["p2p_read"][handle1.index][handle2.index])

    def _link(self, handle: Any, link: int, fn: str) -> Mapping[str, Any]:
        device = self._device(handle, fn)
        links = device.get("nvlink")
        if links is None:
            raise self._error("NOT_SUPPORTED")
        if not 0 <= link < len(links):
            raise self._error("INVALID_ARGUMENT")
        entry: Mapping[str, Any] = links[link]
        return entry

    def nvmlDeviceGetNvLinkState(self, handle: Any, link: int) -> int:  # noqa: N802
        return int(self._link(handle, link, "nvmlDeviceGetNvLinkState")["state"])

    def nvmlDeviceGetNvLinkRemoteDeviceType(self, handle: Any, link: int) -> int:  # noqa: N802
        return int(self._link(handle, link, "nvmlDeviceGetNvLinkRemoteDeviceType")["remote_type"])

    def nvmlDeviceGetNvLinkRemotePciInfo(self, handle: Any, link: int) -> Any:  # noqa: N802
        entry = self._link(handle, link, "nvmlDeviceGetNvLinkRemotePciInfo")
        return SimpleNamespace(busId=entry["remote_bus_id"])


# -- nvidia-smi --------------------------------------------------------------------------------


class ReplayRunner:
    """Answers nvidia-smi command lines with recorded text. `mode`: ok, missing or hang."""

    def __init__(self, folder: Path | None, mode: str = "ok") -> None:
        self.folder = folder
        self.mode = mode if folder is not None or mode != "ok" else "missing"
        self.calls: list[list[str]] = []

    def _key(self, args: Sequence[str]) -> str:
        args = list(args)
        if args == list(APPS_QUERY):
            return "query-compute-apps"
        if args == gpu_query(GPU_FIELDS):
            return "query-gpu"
        if args and args[0].startswith("--query-gpu="):
            return "query-gpu-nocc"
        if args == P2P_QUERY:
            return "topo-p2p-r"
        if args == TOPO_QUERY:
            return "topo-m"
        if args == HEADER_QUERY:
            return "header"
        return "unknown"

    def run(self, commands: Sequence[Sequence[str]], timeout: float) -> list[CommandResult]:
        self.calls.extend(list(c) for c in commands)
        if self.mode == "missing":
            raise FileNotFoundError("nvidia-smi")
        if self.mode == "hang":
            _NEVER.wait(timeout)
            raise TimeoutError(f"no answer within {timeout:g} s")
        results: list[CommandResult] = []
        for args in commands:
            key = self._key(args)
            assert self.folder is not None
            path = self.folder / SMI_FILES.get(key, "unknown")
            if not path.exists():
                results.append(CommandResult(2, "", f"(no recording for nvidia-smi {' '.join(args)})"))
                continue
            text = path.read_text(encoding="utf-8")
            rc_path = path.with_suffix(".rc")
            rc = int(rc_path.read_text().strip()) if rc_path.exists() else 0
            results.append(CommandResult(rc, text if rc == 0 else "", "" if rc == 0 else text))
        return results


# -- torch -------------------------------------------------------------------------------------


class ReplayTorch:
    """`torch.cuda` as torch.json recorded it: {"cuda": "12.1", "devices": [{name, total_memory,
    major, minor, uuid}], "peer": [[bool]]}."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        devices = list(data.get("devices", []))
        peer = data.get("peer")

        class _Cuda:
            @staticmethod
            def is_available() -> bool:
                return bool(devices)

            @staticmethod
            def device_count() -> int:
                return len(devices)

            @staticmethod
            def get_device_properties(index: int) -> Any:
                return SimpleNamespace(**devices[index])

            @staticmethod
            def can_device_access_peer(i: int, j: int) -> bool:
                return bool(peer[i][j]) if peer else False

        self.cuda = _Cuda()
        self.version = SimpleNamespace(cuda=data.get("cuda"), hip=None)


class _Unavailable:
    """A source standing for a library the recorded machine did not have."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def collect(self) -> Any:
        from tui.core.hardware.errors import ProbeError

        raise ProbeError(self.reason, permanent=True)

    def close(self) -> None:
        return None


# -- wiring ------------------------------------------------------------------------------------


def load_machine(folder: Path) -> dict[str, Any]:
    """machine.json merged over its `base` chain (paths resolved against each folder)."""
    path = folder / "machine.json"
    if not path.exists():
        raise UsageError(f"{folder}: not a replay fixture (no machine.json).")
    own = _read_json(path)
    if not isinstance(own, dict):
        raise UsageError(f"{path}: expected an object.")
    base = own.pop("base", None)
    # Recorded outputs come from the nearest folder that has them (a base folder's otherwise).
    data: dict[str, Any] = load_machine((folder / str(base)).resolve()) if base else {}
    data.update(own)
    for key, name in (("_nvml", "nvml.json"), ("_smi", "nvidia-smi"), ("_torch", "torch.json")):
        if (folder / name).exists():
            data[key] = str(folder / name)
        else:
            data.setdefault(key, None)
    if own.get("nvml") is False:  # this machine has no NVML library
        data["_nvml"] = None
    data["_folder"] = str(folder)
    return data


def replay_sources(machine: Mapping[str, Any], *, nvml_fail: Mapping[str, Any] | None = None) -> list[GpuSource]:
    nvml_data = _read_json(Path(machine["_nvml"])) if machine.get("_nvml") else None
    fail = {**machine.get("nvml_fail", {}), **(nvml_fail or {})}
    smi_folder = Path(machine["_smi"]) if machine.get("_smi") else None
    smi_mode = str(machine.get("nvidia_smi", "ok" if smi_folder else "missing"))
    sources: list[GpuSource] = [
        NvmlSource(ReplayNvml(nvml_data, fail)),
        NvidiaSmiSource(ReplayRunner(smi_folder, smi_mode), timeout=float(machine.get("smi_timeout", 0.5))),
    ]
    if machine.get("_torch"):
        sources.append(TorchSource(ReplayTorch(_read_json(Path(machine["_torch"])))))
    else:
        sources.append(_Unavailable("torch", "torch cannot see a GPU on the recorded machine"))
    return sources


def replay_probe(
    path: str | Path,
    *,
    timeout: float = 2.0,
    nvml_fail: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> HardwareProbe | StaticProbe:
    """A probe answering from a replay folder, or a snapshot file (StaticProbe)."""
    p = Path(path).expanduser()
    if p.is_file() or p.suffix == ".json":
        return StaticProbe(load_snapshot(p))
    if not p.is_dir():
        raise UsageError(f"{p}: no such replay fixture folder or snapshot file.")
    machine = load_machine(p)
    return HardwareProbe(
        replay_sources(machine, nvml_fail=nvml_fail),
        system=ReplaySystem(machine.get("system", {})),
        env=env if env is not None else machine.get("env", {}),
        timeout=timeout,
        fp8_backends=machine.get("fp8_backends", ()),
        software=machine.get("software", {}),
        hostname=machine.get("hostname", p.name),
        clock=lambda: str(machine.get("taken_at", "2025-01-01T00:00:00+00:00")),
    )
