"""GPUs through NVML (nvidia-ml-py's `pynvml`): the first and fastest source.

NVML answers in milliseconds without creating a CUDA context, sees every GPU of the machine
(CUDA_VISIBLE_DEVICES does not apply to it) and knows the processes holding memory, the P2P
status between each pair and the NVLink wiring.

The module object is injectable (`NvmlSource(nvml=...)`): tests pass a replay that emulates the
pynvml functions called here, raising real `pynvml.NVMLError`s, so this very code runs against
recorded values. Initialisation failures (library not found, driver not loaded) are permanent
for the process; other NVML errors during collection are raised as `ProbeError` and the probe
chain falls back to the next source. Per-field "not supported" answers just leave the field empty.

Static facts (names, UUIDs, compute capability, P2P, NVLink) are read once and cached: a live
panel refreshing every second only re-reads memory, utilisation, temperature, power, processes.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from tui.core.hardware.base import GpuInfo, GpuProcess, GpuReport
from tui.core.hardware.errors import ProbeError

MIB = 1024 * 1024


def _load_pynvml() -> Any:
    try:
        import pynvml
    except ImportError as exc:  # nvidia-ml-py not installed
        raise ProbeError(f"nvidia-ml-py is not installed ({exc})", permanent=True) from None
    return pynvml


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class NvmlSource:
    name = "nvml"

    def __init__(self, nvml: Any = None) -> None:
        self._nvml = nvml
        self._initialised = False
        self._static: dict[int, dict[str, Any]] = {}
        self._topology: tuple[tuple[tuple[bool | None, ...], ...], tuple[tuple[int, ...], ...]] | None = None
        self._versions: tuple[str | None, str | None] | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def _module(self) -> Any:
        if self._nvml is None:
            self._nvml = _load_pynvml()
        return self._nvml

    def _init(self) -> Any:
        nv = self._module()
        if not self._initialised:
            try:
                nv.nvmlInit()
            except nv.NVMLError as exc:
                raise ProbeError(f"nvmlInit failed: {exc}", permanent=True) from None
            except OSError as exc:  # a broken libnvidia-ml.so
                raise ProbeError(f"cannot load NVML: {exc}", permanent=True) from None
            self._initialised = True
        return nv

    def close(self) -> None:
        # A collection stuck in a driver call holds the lock forever: then there is nothing to
        # shut down that we could reach, and closing must not hang too.
        if not self._lock.acquire(timeout=0.2):
            return
        try:
            if self._initialised and self._nvml is not None:
                with contextlib.suppress(Exception):  # shutting down must never raise
                    self._nvml.nvmlShutdown()
            self._initialised = False
        finally:
            self._lock.release()

    # -- collection ------------------------------------------------------------------------------

    def collect(self) -> GpuReport:
        with self._lock:
            nv = self._init()
            try:
                return self._collect(nv)
            except nv.NVMLError as exc:
                # A GPU fell off the bus, a reset is pending, the driver went away: let the next
                # source try, and re-initialise next time.
                self._initialised = False
                self._static.clear()
                self._topology = None
                raise ProbeError(f"NVML error while reading the GPUs: {exc}") from None

    def _optional(self, nv: Any, fn: str, *args: Any) -> Any:
        """A field some GPUs or drivers do not report: None instead of an error."""
        try:
            return getattr(nv, fn)(*args)
        except nv.NVMLError as exc:
            if getattr(exc, "value", None) in _fatal_codes(nv):
                raise
            return None
        except AttributeError:  # an older pynvml without this function
            return None

    def _collect(self, nv: Any) -> GpuReport:
        if self._versions is None:
            driver = self._optional(nv, "nvmlSystemGetDriverVersion")
            cuda_raw = self._optional(nv, "nvmlSystemGetCudaDriverVersion")
            cuda = f"{int(cuda_raw) // 1000}.{(int(cuda_raw) % 1000) // 10}" if cuda_raw else None
            self._versions = (_text(driver) if driver is not None else None, cuda)
        count = int(nv.nvmlDeviceGetCount())
        handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        gpus: list[GpuInfo] = []
        for index, handle in enumerate(handles):
            static = self._static.get(index)
            if static is None:
                static = self._read_static(nv, handle)
                self._static[index] = static
            memory = nv.nvmlDeviceGetMemoryInfo(handle)
            util = self._optional(nv, "nvmlDeviceGetUtilizationRates", handle)
            temp = self._optional(nv, "nvmlDeviceGetTemperature", handle, nv.NVML_TEMPERATURE_GPU)
            power = self._optional(nv, "nvmlDeviceGetPowerUsage", handle)
            gpus.append(
                GpuInfo(
                    index=index,
                    name=static["name"],
                    uuid=static["uuid"],
                    memory_total_mib=int(memory.total) // MIB,
                    memory_used_mib=int(memory.used) // MIB,
                    compute_capability=static["cc"],
                    utilization_pct=int(util.gpu) if util is not None else None,
                    temperature_c=int(temp) if temp is not None else None,
                    power_w=round(int(power) / 1000.0, 1) if power is not None else None,
                    power_limit_w=static["power_limit"],
                    pci_bus_id=static["bus"],
                    processes=self._processes(nv, handle),
                )
            )
        if self._topology is None or len(self._topology[0]) != count:
            self._topology = (self._p2p(nv, handles), self._nvlink(nv, handles, [g.pci_bus_id for g in gpus]))
        p2p, nvlink = self._topology
        driver, cuda = self._versions
        return GpuReport(gpus=tuple(gpus), driver_version=driver, cuda_version=cuda, p2p=p2p, nvlink=nvlink)

    def _read_static(self, nv: Any, handle: Any) -> dict[str, Any]:
        name = _text(nv.nvmlDeviceGetName(handle))
        uuid = self._optional(nv, "nvmlDeviceGetUUID", handle)
        cc = self._optional(nv, "nvmlDeviceGetCudaComputeCapability", handle)
        pci = self._optional(nv, "nvmlDeviceGetPciInfo", handle)
        limit = self._optional(nv, "nvmlDeviceGetEnforcedPowerLimit", handle)
        return {
            "name": name,
            "uuid": _text(uuid) if uuid is not None else None,
            "cc": (int(cc[0]), int(cc[1])) if cc is not None else None,
            "bus": _normal_bus_id(_text(pci.busId)) if pci is not None else None,
            "power_limit": round(int(limit) / 1000.0, 1) if limit is not None else None,
        }

    def _processes(self, nv: Any, handle: Any) -> tuple[GpuProcess, ...]:
        seen: dict[int, GpuProcess] = {}
        for fn in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
            procs = self._optional(nv, fn, handle) or []
            for proc in procs:
                pid = int(proc.pid)
                used = getattr(proc, "usedGpuMemory", None)
                used_mib = int(used) // MIB if used is not None else 0
                if pid in seen:
                    used_mib = max(used_mib, seen[pid].used_mib)
                seen[pid] = GpuProcess(pid=pid, name=self._process_name(nv, pid), used_mib=used_mib)
        return tuple(sorted(seen.values(), key=lambda p: p.pid))

    def _process_name(self, nv: Any, pid: int) -> str:
        name = self._optional(nv, "nvmlSystemGetProcessName", pid)
        if name:
            return _text(name)
        try:  # another container's pid, or no permission: try our own /proc
            with open(f"/proc/{pid}/comm", encoding="utf-8") as fh:
                return fh.read().strip() or "?"
        except OSError:
            return "?"

    def _p2p(self, nv: Any, handles: list[Any]) -> tuple[tuple[bool | None, ...], ...]:
        n = len(handles)
        read_index = nv.NVML_P2P_CAPS_INDEX_READ
        if isinstance(read_index, tuple):  # pynvml defines it as `0,` (a tuple) by accident
            read_index = read_index[0]
        rows: list[tuple[bool | None, ...]] = []
        for i in range(n):
            row: list[bool | None] = []
            for j in range(n):
                if i == j:
                    row.append(None)
                    continue
                status = self._optional(nv, "nvmlDeviceGetP2PStatus", handles[i], handles[j], read_index)
                row.append(None if status is None else int(status) == int(nv.NVML_P2P_STATUS_OK))
            rows.append(tuple(row))
        return tuple(rows)

    def _nvlink(self, nv: Any, handles: list[Any], buses: list[str | None]) -> tuple[tuple[int, ...], ...]:
        """Active links between each pair: direct GPU-GPU links counted per peer; links into an
        NVSwitch connect every pair of switch-attached GPUs (counted as the smaller side, which is
        what `nvidia-smi topo -m` prints as NV#)."""
        n = len(handles)
        direct = [[0] * n for _ in range(n)]
        switch_links = [0] * n
        bus_to_index = {bus: k for k, bus in enumerate(buses) if bus}
        max_links = int(getattr(nv, "NVML_NVLINK_MAX_LINKS", 18))
        switch_type = getattr(nv, "NVML_NVLINK_DEVICE_TYPE_SWITCH", 2)
        for i, handle in enumerate(handles):
            for link in range(max_links):
                try:
                    state = nv.nvmlDeviceGetNvLinkState(handle, link)
                except nv.NVMLError as exc:
                    if getattr(exc, "value", None) in _fatal_codes(nv):
                        raise
                    if link == 0:
                        break  # no NVLink on this GPU at all
                    continue
                if int(state) != int(nv.NVML_FEATURE_ENABLED):
                    continue
                kind = self._optional(nv, "nvmlDeviceGetNvLinkRemoteDeviceType", handle, link)
                if kind is not None and int(kind) == int(switch_type):
                    switch_links[i] += 1
                    continue
                remote = self._optional(nv, "nvmlDeviceGetNvLinkRemotePciInfo", handle, link)
                if remote is None:
                    continue
                j = bus_to_index.get(_normal_bus_id(_text(remote.busId)))
                if j is not None and j != i:
                    direct[i][j] += 1
        for i in range(n):
            for j in range(n):
                if i != j and switch_links[i] and switch_links[j]:
                    direct[i][j] = max(direct[i][j], min(switch_links[i], switch_links[j]))
        return tuple(tuple(row) for row in direct)


def _normal_bus_id(bus: str) -> str:
    """NVML prints 00000000:18:00.0, nvidia-smi the same; older tools 0000:18:00.0. Compare on
    the last three fields, upper case."""
    parts = bus.strip().upper().split(":")
    if len(parts) >= 3:
        domain = parts[-3].lstrip("0").rjust(8, "0")
        return f"{domain}:{parts[-2]}:{parts[-1]}"
    return bus.strip().upper()


def _fatal_codes(nv: Any) -> tuple[int, ...]:
    """Errors that mean the whole device or driver is gone, not one missing field."""
    names = (
        "NVML_ERROR_GPU_IS_LOST",
        "NVML_ERROR_DRIVER_NOT_LOADED",
        "NVML_ERROR_UNINITIALIZED",
        "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
        "NVML_ERROR_RESET_REQUIRED",
    )
    return tuple(int(getattr(nv, n)) for n in names if hasattr(nv, n))
