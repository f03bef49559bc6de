"""The hardware record every probe returns, and its `sftplay-hardware/1` JSON form.

A `HardwareInfo` is a frozen snapshot of what matters for launching accelerate on one machine:
the GPUs (memory, compute capability, load, who holds memory), how they talk to each other
(P2P matrix, NVLink counts), the CPU and RAM, and the environment variables that change what
accelerate and torch see (CUDA_VISIBLE_DEVICES, the ranks a scheduler already set, NCCL knobs).

`to_dict()`/`to_json()` write the snapshot that `sftplay-tui gpu-info --json` prints;
`from_json()`/`load_snapshot()` read one back (e.g. taken on the GPU box, checked on a laptop)
and raise `SnapshotError` (a `UsageError`: one clear line, exit 2) naming the bad field.

This module is pure data: no probing, no heavy imports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from tui.core.errors import UsageError

SCHEMA = "sftplay-hardware/1"
SOURCES: tuple[str, ...] = ("nvml", "nvidia-smi", "torch", "none")
Source = Literal["nvml", "nvidia-smi", "torch", "none"]


class SnapshotError(UsageError):
    """A hardware snapshot file that cannot be read: the message names the file and the field."""


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU (pid as the driver reports it: host pids in containers)."""

    pid: int
    name: str
    used_mib: int


#: A process holding at least this much on a GPU makes it "busy" (a desktop's Xorg does not).
BUSY_PROCESS_MIB = 256
#: Memory used with no visible process (another container's job) that makes a GPU "busy".
BUSY_MEMORY_MIB = 1024


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    uuid: str | None
    memory_total_mib: int
    memory_used_mib: int
    compute_capability: tuple[int, int] | None
    utilization_pct: int | None = None
    temperature_c: int | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    pci_bus_id: str | None = None
    processes: tuple[GpuProcess, ...] = ()

    @property
    def busy_processes(self) -> tuple[GpuProcess, ...]:
        """The processes on this GPU big enough to make it "busy" (BUSY_PROCESS_MIB or more)."""
        return tuple(p for p in self.processes if p.used_mib >= BUSY_PROCESS_MIB)

    @property
    def cc_text(self) -> str:
        cc = self.compute_capability
        return f"{cc[0]}.{cc[1]}" if cc else "?"


@dataclass(frozen=True)
class CpuInfo:
    logical_cores: int
    physical_cores: int | None = None
    numa_nodes: int | None = None
    model: str | None = None


@dataclass(frozen=True)
class SystemInfo:
    """CPU and RAM: what a system source collects."""

    cpu: CpuInfo
    memory_total_mib: int
    memory_available_mib: int | None = None
    #: {interface: addresses} (IPv4 and IPv6), e.g. {"eth0": ("10.0.0.4",), "ib0": (...)}.
    network_interfaces: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class GpuReport:
    """What one GPU source collects (the system part and the environment come from elsewhere)."""

    gpus: tuple[GpuInfo, ...] = ()
    driver_version: str | None = None
    cuda_version: str | None = None
    p2p: tuple[tuple[bool | None, ...], ...] = ()
    nvlink: tuple[tuple[int, ...], ...] = ()
    #: True when the source already hides GPUs that CUDA_VISIBLE_DEVICES excludes (torch does).
    visible_devices_applied: bool = False
    notes: tuple[str, ...] = ()


def _frozen_env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(sorted((env or {}).items())))


@dataclass(frozen=True)
class HardwareInfo:
    """One machine, as a probe or a snapshot file saw it."""

    source: Source
    gpus: tuple[GpuInfo, ...]
    cpu: CpuInfo
    memory_total_mib: int
    driver_version: str | None = None
    cuda_version: str | None = None
    #: p2p[i][j]: can GPU i read GPU j's memory peer-to-peer (None: unknown; diagonal None).
    p2p: tuple[tuple[bool | None, ...], ...] = ()
    #: nvlink[i][j]: active NVLink links between GPU i and GPU j (0 on the diagonal).
    nvlink: tuple[tuple[int, ...], ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    memory_available_mib: int | None = None
    visible_devices_applied: bool = False
    #: Installed fp8 backends (TE, torchao, MS-AMP) where the record was taken; None: unknown.
    fp8_backends: tuple[str, ...] | None = None
    software: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hostname: str | None = None
    taken_at: str | None = None
    #: {interface: addresses}; multi-node checks suggest NCCL_SOCKET_IFNAME from it.
    network_interfaces: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: Why earlier sources were skipped ("nvml: NVML Shared Library Not Found", ...).
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Normalise so that equal snapshots compare equal and nobody can mutate the mappings.
        object.__setattr__(self, "env", _frozen_env(self.env))
        object.__setattr__(self, "software", _frozen_env(self.software))
        object.__setattr__(
            self,
            "network_interfaces",
            MappingProxyType({k: tuple(v) for k, v in sorted(self.network_interfaces.items())}),
        )
        n = len(self.gpus)
        if not self.p2p or len(self.p2p) != n:
            object.__setattr__(self, "p2p", unknown_p2p(n))
        if not self.nvlink or len(self.nvlink) != n:
            object.__setattr__(self, "nvlink", tuple(tuple(0 for _ in range(n)) for _ in range(n)))

    # -- views ---------------------------------------------------------------------------------

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)

    def gpu(self, index: int) -> GpuInfo | None:
        for gpu in self.gpus:
            if gpu.index == index:
                return gpu
        return None

    @property
    def has_nvlink(self) -> bool:
        return any(count for row in self.nvlink for count in row)

    # -- JSON ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The `sftplay-hardware/1` snapshot (the shape `gpu-info --json` prints)."""
        return {
            "schema": SCHEMA,
            "source": self.source,
            "driver_version": self.driver_version,
            "cuda_version": self.cuda_version,
            "gpus": [
                {
                    "index": g.index,
                    "name": g.name,
                    "uuid": g.uuid,
                    "memory_total_mib": g.memory_total_mib,
                    "memory_used_mib": g.memory_used_mib,
                    "compute_capability": list(g.compute_capability) if g.compute_capability else None,
                    "utilization_pct": g.utilization_pct,
                    "temperature_c": g.temperature_c,
                    "power_w": g.power_w,
                    "power_limit_w": g.power_limit_w,
                    "pci_bus_id": g.pci_bus_id,
                    "processes": [{"pid": p.pid, "name": p.name, "used_mib": p.used_mib} for p in g.processes],
                }
                for g in self.gpus
            ],
            "p2p": [list(row) for row in self.p2p],
            "nvlink": [list(row) for row in self.nvlink],
            "cpu": {
                "logical_cores": self.cpu.logical_cores,
                "physical_cores": self.cpu.physical_cores,
                "numa_nodes": self.cpu.numa_nodes,
                "model": self.cpu.model,
            },
            "memory_total_mib": self.memory_total_mib,
            "memory_available_mib": self.memory_available_mib,
            "env": dict(self.env),
            "visible_devices_applied": self.visible_devices_applied,
            "fp8_backends": list(self.fp8_backends) if self.fp8_backends is not None else None,
            "software": dict(self.software),
            "network": {"interfaces": {k: list(v) for k, v in self.network_interfaces.items()}},
            "hostname": self.hostname,
            "taken_at": self.taken_at,
            "notes": list(self.notes),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any], source: str = "snapshot") -> HardwareInfo:
        """Read a snapshot (text or parsed dict); `SnapshotError` names the bad field."""
        return parse_snapshot(data, source)


def unknown_p2p(n: int) -> tuple[tuple[bool | None, ...], ...]:
    return tuple(tuple(None for _ in range(n)) for _ in range(n))


# -- reading snapshots -------------------------------------------------------------------------


class _Reader:
    """Typed access to a parsed snapshot with errors like `file: gpus[1].memory_total_mib: ...`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> SnapshotError:
        at = f"{where}: " if where else ""
        return SnapshotError(f"{self.source}: {at}{message}")

    def obj(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected an object, found {_kind(value)}.")
        return value

    def lst(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, found {_kind(value)}.")
        return value

    def integer(self, value: Any, where: str, *, minimum: int | None = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self.fail(where, f"expected a whole number, found {_kind(value)}.")
        if minimum is not None and value < minimum:
            raise self.fail(where, f"expected a number >= {minimum}, found {value}.")
        return int(value)

    def opt_integer(self, value: Any, where: str) -> int | None:
        return None if value is None else self.integer(value, where, minimum=None)

    def number(self, value: Any, where: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a number or null, found {_kind(value)}.")
        return float(value)

    def text(self, value: Any, where: str, *, optional: bool = True) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(where, f"expected text{' or null' if optional else ''}, found {_kind(value)}.")
        return value

    def str_map(self, value: Any, where: str) -> dict[str, str]:
        if value is None:
            return {}
        mapping = self.obj(value, where)
        out: dict[str, str] = {}
        for key, item in mapping.items():
            if not isinstance(key, str) or not isinstance(item, str):
                raise self.fail(f"{where}.{key}", f"expected text, found {_kind(item)}.")
            out[key] = item
        return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def parse_snapshot(data: str | bytes | Mapping[str, Any], source: str = "snapshot") -> HardwareInfo:
    r = _Reader(source)
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            line = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
            raise r.fail("", f"not valid JSON{line}; create one with `sftplay-tui gpu-info --json > FILE`.") from None
    top = r.obj(data, "")
    schema = top.get("schema")
    if schema != SCHEMA:
        found = 'no "schema" key' if schema is None else f"schema {schema!r}"
        raise r.fail("", f"not a {SCHEMA} snapshot ({found}); create one with `sftplay-tui gpu-info --json > FILE`.")
    source_name = top.get("source", "none")
    if source_name not in SOURCES:
        raise r.fail("source", f"expected one of {', '.join(SOURCES)}, found {_kind(source_name)}.")

    gpus: list[GpuInfo] = []
    for i, raw in enumerate(r.lst(top.get("gpus", []), "gpus")):
        where = f"gpus[{i}]"
        g = r.obj(raw, where)
        for required in ("name", "memory_total_mib"):
            if required not in g:
                raise r.fail(where, f'missing "{required}".')
        cc_raw = g.get("compute_capability")
        cc: tuple[int, int] | None = None
        if cc_raw is not None:
            parts = r.lst(cc_raw, f"{where}.compute_capability")
            if len(parts) != 2:
                raise r.fail(f"{where}.compute_capability", "expected [major, minor].")
            cc = (
                r.integer(parts[0], f"{where}.compute_capability[0]"),
                r.integer(parts[1], f"{where}.compute_capability[1]"),
            )
        procs: list[GpuProcess] = []
        for j, praw in enumerate(r.lst(g.get("processes", []), f"{where}.processes")):
            pw = f"{where}.processes[{j}]"
            p = r.obj(praw, pw)
            procs.append(
                GpuProcess(
                    pid=r.integer(p.get("pid"), f"{pw}.pid"),
                    name=r.text(p.get("name", ""), f"{pw}.name", optional=False) or "",
                    used_mib=r.integer(p.get("used_mib", 0), f"{pw}.used_mib"),
                )
            )
        gpus.append(
            GpuInfo(
                index=r.integer(g.get("index", i), f"{where}.index"),
                name=r.text(g.get("name"), f"{where}.name", optional=False) or "",
                uuid=r.text(g.get("uuid"), f"{where}.uuid"),
                memory_total_mib=r.integer(g.get("memory_total_mib"), f"{where}.memory_total_mib"),
                memory_used_mib=r.integer(g.get("memory_used_mib", 0), f"{where}.memory_used_mib"),
                compute_capability=cc,
                utilization_pct=r.opt_integer(g.get("utilization_pct"), f"{where}.utilization_pct"),
                temperature_c=r.opt_integer(g.get("temperature_c"), f"{where}.temperature_c"),
                power_w=r.number(g.get("power_w"), f"{where}.power_w"),
                power_limit_w=r.number(g.get("power_limit_w"), f"{where}.power_limit_w"),
                pci_bus_id=r.text(g.get("pci_bus_id"), f"{where}.pci_bus_id"),
                processes=tuple(procs),
            )
        )
    indexes = [g.index for g in gpus]
    if len(set(indexes)) != len(indexes):
        raise r.fail("gpus", f"GPU indexes repeat: {indexes}.")
    n = len(gpus)
    p2p = _matrix(r, top.get("p2p"), n, "p2p", cell=lambda v, w: _p2p_cell(r, v, w))
    nvlink = _matrix(r, top.get("nvlink"), n, "nvlink", cell=lambda v, w: r.integer(v, w))

    cpu_raw = r.obj(top.get("cpu", {}), "cpu")
    cpu = CpuInfo(
        logical_cores=r.integer(cpu_raw.get("logical_cores", 1), "cpu.logical_cores", minimum=1),
        physical_cores=r.opt_integer(cpu_raw.get("physical_cores"), "cpu.physical_cores"),
        numa_nodes=r.opt_integer(cpu_raw.get("numa_nodes"), "cpu.numa_nodes"),
        model=r.text(cpu_raw.get("model"), "cpu.model"),
    )
    fp8_raw = top.get("fp8_backends")
    fp8: tuple[str, ...] | None = None
    if fp8_raw is not None:
        fp8 = tuple(
            r.text(v, f"fp8_backends[{k}]", optional=False) or "" for k, v in enumerate(r.lst(fp8_raw, "fp8_backends"))
        )
    raw_notes = r.lst(top.get("notes", []), "notes")
    notes = tuple(r.text(v, f"notes[{k}]", optional=False) or "" for k, v in enumerate(raw_notes))
    visible_applied = top.get("visible_devices_applied", False)
    if not isinstance(visible_applied, bool):
        raise r.fail("visible_devices_applied", f"expected true/false, found {_kind(visible_applied)}.")
    return HardwareInfo(
        source=source_name,
        gpus=tuple(gpus),
        cpu=cpu,
        memory_total_mib=r.integer(top.get("memory_total_mib", 0), "memory_total_mib"),
        memory_available_mib=r.opt_integer(top.get("memory_available_mib"), "memory_available_mib"),
        driver_version=r.text(top.get("driver_version"), "driver_version"),
        cuda_version=r.text(top.get("cuda_version"), "cuda_version"),
        p2p=p2p,
        nvlink=nvlink,
        env=r.str_map(top.get("env"), "env"),
        visible_devices_applied=visible_applied,
        fp8_backends=fp8,
        software=r.str_map(top.get("software"), "software"),
        network_interfaces=_interfaces(r, top.get("network")),
        hostname=r.text(top.get("hostname"), "hostname"),
        taken_at=r.text(top.get("taken_at"), "taken_at"),
        notes=notes,
    )


def _interfaces(r: _Reader, value: Any) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    network = r.obj(value, "network")
    raw = network.get("interfaces")
    if raw is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, addresses in r.obj(raw, "network.interfaces").items():
        where = f"network.interfaces.{name}"
        items = r.lst(addresses, where)
        out[str(name)] = tuple(r.text(a, f"{where}[{k}]", optional=False) or "" for k, a in enumerate(items))
    return out


def _p2p_cell(r: _Reader, value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise r.fail(where, f"expected true, false or null, found {_kind(value)}.")


def _matrix(r: _Reader, value: Any, n: int, name: str, cell: Any) -> tuple[tuple[Any, ...], ...]:
    if value is None:
        return ()
    rows = r.lst(value, name)
    if len(rows) != n:
        raise r.fail(name, f"expected {n} rows (one per GPU), found {len(rows)}.")
    out: list[tuple[Any, ...]] = []
    for i, row in enumerate(rows):
        cells = r.lst(row, f"{name}[{i}]")
        if len(cells) != n:
            raise r.fail(f"{name}[{i}]", f"expected {n} entries (one per GPU), found {len(cells)}.")
        out.append(tuple(cell(v, f"{name}[{i}][{j}]") for j, v in enumerate(cells)))
    return tuple(out)


def load_snapshot(path: str | Path) -> HardwareInfo:
    """Read a `gpu-info --json` file; missing or malformed files raise `SnapshotError`."""
    p = Path(path).expanduser()
    if not p.exists():
        raise SnapshotError(f"{p}: no such snapshot file; create one with `sftplay-tui gpu-info --json > {p.name}`.")
    if p.is_dir():
        raise SnapshotError(f"{p}: is a folder, not a snapshot file.")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"{p}: cannot read it ({exc.strerror or exc}).") from None
    return parse_snapshot(raw, str(p))
