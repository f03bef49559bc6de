"""CPU cores, NUMA nodes, RAM and network interfaces.

On Linux everything comes from /sys and /proc (microseconds, no imports; IPv4 addresses with one
ioctl per interface); elsewhere, or when /sys is not readable, from psutil, imported lazily.
Nothing here raises: an unreadable value is reported as None / empty (or the logical core count
from `os.cpu_count()`). The interfaces let a multi-node check suggest NCCL_SOCKET_IFNAME.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from tui.core.hardware.base import CpuInfo, SystemInfo


class SystemSource(Protocol):
    def collect(self) -> SystemInfo: ...


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


class LiveSystem:
    """This machine. `root` lets tests point /sys and /proc at a recorded tree."""

    def __init__(self, root: Path | str = "/") -> None:
        self.root = Path(root)
        self._static: CpuInfo | None = None
        self._interfaces: dict[str, tuple[str, ...]] | None = None

    def collect(self) -> SystemInfo:
        if self._static is None:
            self._static = self._cpu()
        total, available = self._memory()
        if self._interfaces is None:
            self._interfaces = network_interfaces(self.root)
        return SystemInfo(
            cpu=self._static,
            memory_total_mib=total,
            memory_available_mib=available,
            network_interfaces=self._interfaces,
        )

    # -- CPU -------------------------------------------------------------------------------------

    def _cpu(self) -> CpuInfo:
        logical = os.cpu_count() or 1
        cpu_dir = self.root / "sys/devices/system/cpu"
        physical = self._physical_from_sys(cpu_dir)
        numa = self._numa_nodes()
        model = self._model()
        if physical is None:
            physical = _psutil_physical()
        return CpuInfo(logical_cores=logical, physical_cores=physical, numa_nodes=numa, model=model)

    def _physical_from_sys(self, cpu_dir: Path) -> int | None:
        cores: set[tuple[str, str]] = set()
        try:
            entries = [p for p in cpu_dir.iterdir() if re.fullmatch(r"cpu\d+", p.name)]
        except OSError:
            return None
        for entry in entries:
            core = _read(entry / "topology/core_id")
            package = _read(entry / "topology/physical_package_id")
            if core is None or package is None:
                continue
            cores.add((package.strip(), core.strip()))
        return len(cores) or None

    def _numa_nodes(self) -> int | None:
        node_dir = self.root / "sys/devices/system/node"
        try:
            count = sum(1 for p in node_dir.iterdir() if re.fullmatch(r"node\d+", p.name))
        except OSError:
            return None
        return count or None

    def _model(self) -> str | None:
        text = _read(self.root / "proc/cpuinfo")
        if not text:
            return None
        match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        return match.group(1).strip() if match else None

    # -- memory ----------------------------------------------------------------------------------

    def _memory(self) -> tuple[int, int | None]:
        text = _read(self.root / "proc/meminfo")
        if text:
            values = {
                m.group(1): int(m.group(2)) // 1024 for m in re.finditer(r"^(\w+):\s+(\d+) kB", text, re.MULTILINE)
            }
            if "MemTotal" in values:
                return values["MemTotal"], values.get("MemAvailable")
        try:
            import psutil

            vm = psutil.virtual_memory()
            return int(vm.total) // (1024 * 1024), int(vm.available) // (1024 * 1024)
        except Exception:  # psutil missing or unsupported platform: RAM unknown
            return 0, None


def _ipv4(name: str) -> str | None:
    import fcntl
    import socket
    import struct

    siocgifaddr = 0x8915
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            packed = fcntl.ioctl(sock.fileno(), siocgifaddr, struct.pack("256s", name.encode()[:15]))
    except OSError:
        return None  # no IPv4 address on it
    return socket.inet_ntoa(packed[20:24])


def network_interfaces(root: Path | str = "/") -> dict[str, tuple[str, ...]]:
    """{interface: (addresses...)}; interfaces without an address are left out."""
    base = Path(root)
    try:
        names = sorted(p.name for p in (base / "sys/class/net").iterdir())
    except OSError:
        return _psutil_interfaces()
    out: dict[str, list[str]] = {}
    live = base == Path("/")
    for name in names:
        address = _ipv4(name) if live else None
        if address:
            out.setdefault(name, []).append(address)
    text = _read(base / "proc/net/if_inet6") or ""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[5] in names:
            import ipaddress

            try:
                address = str(ipaddress.IPv6Address(int(parts[0], 16)))
            except ValueError:
                continue
            out.setdefault(parts[5], []).append(address)
    return {name: tuple(addresses) for name, addresses in out.items()}


def _psutil_interfaces() -> dict[str, tuple[str, ...]]:
    try:
        import socket

        import psutil

        found = psutil.net_if_addrs()
    except Exception:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, addresses in found.items():
        values = tuple(a.address for a in addresses if a.family in (socket.AF_INET, socket.AF_INET6))
        if values:
            out[name] = values
    return out


def _psutil_physical() -> int | None:
    try:
        import psutil

        value = psutil.cpu_count(logical=False)
    except Exception:
        return None
    return int(value) if value else None


class ReplaySystem:
    """A recorded `{"cpu": {...}, "memory_total_mib": .., "network": {"interfaces": {..}}}`
    (the snapshot's own keys)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        cpu = data.get("cpu", {})
        self._info = SystemInfo(
            cpu=CpuInfo(
                logical_cores=int(cpu.get("logical_cores", 1)),
                physical_cores=cpu.get("physical_cores"),
                numa_nodes=cpu.get("numa_nodes"),
                model=cpu.get("model"),
            ),
            memory_total_mib=int(data.get("memory_total_mib", 0)),
            memory_available_mib=data.get("memory_available_mib"),
            network_interfaces={
                str(k): tuple(v) for k, v in (data.get("network", {}).get("interfaces", {}) or {}).items()
            },
        )

    def collect(self) -> SystemInfo:
        return self._info
