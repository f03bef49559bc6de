"""GPUs through `nvidia-smi` CSV queries: the second source, when NVML cannot be loaded.

Commands (run concurrently, all bounded by one deadline; a hung nvidia-smi is killed):
- `--query-gpu=index,name,uuid,memory.total,memory.used,compute_cap,utilization.gpu,
  temperature.gpu,power.draw,power.limit,pci.bus_id,driver_version --format=csv,noheader,nounits`
  (drivers before 510 lack `compute_cap`: retried without it, the capability then comes from
  the model name);
- `--query-compute-apps=gpu_uuid,pid,process_name,used_memory --format=csv,noheader,nounits`;
- `topo -p2p r` (the P2P read matrix: OK / CNS / GNS / TNS / NS / U, X on the diagonal);
- `topo -m` (NV# cells: the number of bonded NVLinks between two GPUs);
- plain `nvidia-smi` once, for the "CUDA Version:" of its header.

The runner is injectable: `ReplayRunner` (replay.py) feeds recorded text through these parsers.
Topology and versions are read once and cached across refreshes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from tui.core.hardware.base import GpuInfo, GpuProcess, GpuReport, unknown_p2p
from tui.core.hardware.errors import ProbeError
from tui.core.hardware.gpu_models import compute_capability_from_name

GPU_FIELDS = (
    "index",
    "name",
    "uuid",
    "memory.total",
    "memory.used",
    "compute_cap",
    "utilization.gpu",
    "temperature.gpu",
    "power.draw",
    "power.limit",
    "pci.bus_id",
    "driver_version",
)
APP_FIELDS = ("gpu_uuid", "pid", "process_name", "used_memory")


def gpu_query(fields: Sequence[str] = GPU_FIELDS) -> list[str]:
    return [f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]


APPS_QUERY = [f"--query-compute-apps={','.join(APP_FIELDS)}", "--format=csv,noheader,nounits"]
P2P_QUERY = ["topo", "-p2p", "r"]
TOPO_QUERY = ["topo", "-m"]
HEADER_QUERY: list[str] = []

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NA = re.compile(r"^\[?(N/A|Not Supported|Unknown Error|Insufficient Permissions|Requested functionality.*)\]?$", re.I)


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str = ""


class Runner(Protocol):
    def run(self, commands: Sequence[Sequence[str]], timeout: float) -> list[CommandResult]:
        """Run `nvidia-smi <args>` for each entry; raise FileNotFoundError when the binary is
        missing and TimeoutError when the deadline passes."""
        ...


class SubprocessRunner:
    """Starts every command at once, waits for all within `timeout`, kills what is left."""

    def __init__(self, executable: str = "nvidia-smi") -> None:
        self.executable = executable

    def run(self, commands: Sequence[Sequence[str]], timeout: float) -> list[CommandResult]:
        if os.sep not in self.executable and shutil.which(self.executable) is None:
            raise FileNotFoundError(self.executable)  # cheaper than a fork that fails
        deadline = time.monotonic() + timeout
        procs: list[subprocess.Popen[str]] = []
        try:
            for args in commands:
                procs.append(
                    subprocess.Popen(
                        [self.executable, *args],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        errors="replace",
                        env={**os.environ, "LC_ALL": "C"},
                    )
                )
            results: list[CommandResult] = []
            for proc in procs:
                remaining = max(deadline - time.monotonic(), 0.01)
                try:
                    out, err = proc.communicate(timeout=remaining)
                except subprocess.TimeoutExpired:
                    raise TimeoutError(f"no answer within {timeout:g} s") from None
                results.append(CommandResult(proc.returncode, out, err))
            return results
        except PermissionError as exc:
            raise FileNotFoundError(str(exc)) from None
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    with contextlib.suppress(subprocess.TimeoutExpired, OSError, ValueError):
                        proc.communicate(timeout=1)


def _value(text: str) -> str | None:
    text = text.strip()
    return None if not text or _NA.match(text) else text


def _int(text: str) -> int | None:
    value = _value(text)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _float(text: str) -> float | None:
    value = _value(text)
    if value is None:
        return None
    try:
        return round(float(value), 1)
    except ValueError:
        return None


def _rows(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text), skipinitialspace=True) if row and any(c.strip() for c in row)]


def parse_gpu_csv(text: str, fields: Sequence[str] = GPU_FIELDS) -> tuple[list[GpuInfo], str | None]:
    """The --query-gpu output -> GPUs (without processes) and the driver version."""
    gpus: list[GpuInfo] = []
    driver: str | None = None
    for number, row in enumerate(_rows(text), start=1):
        if len(row) != len(fields):
            raise ProbeError(f"unexpected nvidia-smi --query-gpu line {number}: {','.join(row)!r}")
        cell = dict(zip(fields, row, strict=True))
        index = _int(cell["index"])
        name = _value(cell["name"]) or "unknown GPU"
        total = _int(cell["memory.total"])
        if index is None or total is None:
            raise ProbeError(f"nvidia-smi --query-gpu line {number} has no index or memory: {row!r}")
        cc: tuple[int, int] | None = None
        raw_cc = _value(cell.get("compute_cap", ""))
        if raw_cc and re.fullmatch(r"\d+\.\d+", raw_cc):
            major, minor = raw_cc.split(".")
            cc = (int(major), int(minor))
        if cc is None:
            cc = compute_capability_from_name(name)
        driver = driver or _value(cell.get("driver_version", ""))
        gpus.append(
            GpuInfo(
                index=index,
                name=name,
                uuid=_value(cell["uuid"]),
                memory_total_mib=total,
                memory_used_mib=_int(cell["memory.used"]) or 0,
                compute_capability=cc,
                utilization_pct=_int(cell["utilization.gpu"]),
                temperature_c=_int(cell["temperature.gpu"]),
                power_w=_float(cell["power.draw"]),
                power_limit_w=_float(cell["power.limit"]),
                pci_bus_id=_value(cell["pci.bus_id"]),
            )
        )
    return gpus, driver


def parse_apps_csv(text: str) -> dict[str, list[GpuProcess]]:
    """--query-compute-apps output -> {gpu uuid: processes}."""
    out: dict[str, list[GpuProcess]] = {}
    for row in _rows(text):
        if len(row) < 4:
            continue
        # A process name may itself contain commas: everything between pid and memory is the name.
        uuid, pid_text, used_text = row[0].strip(), row[1], row[-1]
        name = ", ".join(row[2:-1]).strip()
        pid = _int(pid_text)
        if pid is None:
            continue
        out.setdefault(uuid, []).append(GpuProcess(pid=pid, name=name or "?", used_mib=_int(used_text) or 0))
    return out


def _matrix_rows(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """Header cells and {row label: cells} of a `topo` matrix (tab separated)."""
    header: list[str] = []
    rows: dict[str, list[str]] = {}
    for raw in _ANSI.sub("", text).splitlines():
        if not raw.strip() or raw.strip().startswith("Legend"):
            if rows:
                break
            continue
        cells = [c.strip() for c in raw.split("\t")]
        if not header and cells and cells[0] == "" and any(re.fullmatch(r"GPU\d+", c) for c in cells):
            header = [c for c in cells[1:]]
            continue
        label = cells[0]
        if header and re.fullmatch(r"GPU\d+", label):
            rows[label] = cells[1:]
    return header, rows


def _fill_matrix(text: str, n: int, matrix: list[list[Any]], cell: Callable[[str], Any]) -> None:
    """Set matrix[i][j] (i != j) from an `nvidia-smi topo` table's GPUi row / GPUj column."""
    header, rows = _matrix_rows(text)
    columns = {label: k for k, label in enumerate(header) if re.fullmatch(r"GPU\d+", label)}
    for i in range(n):
        cells = rows.get(f"GPU{i}")
        if cells is None:
            continue
        for j in range(n):
            k = columns.get(f"GPU{j}")
            if i == j or k is None or k >= len(cells):
                continue
            matrix[i][j] = cell(cells[k])


def _p2p_status(status: str) -> bool | None:
    status = status.upper()
    return True if status == "OK" else None if status in ("X", "U", "") else False


def _nvlink_count(status: str) -> int:
    match = re.fullmatch(r"NV(\d+)", status)
    return int(match.group(1)) if match else 0


def parse_p2p_matrix(text: str, n: int) -> tuple[tuple[bool | None, ...], ...]:
    """`topo -p2p r` -> p2p[i][j] (OK: True; CNS/GNS/TNS/NS: False; X/U/missing: None)."""
    matrix: list[list[Any]] = [list(row) for row in unknown_p2p(n)]
    _fill_matrix(text, n, matrix, _p2p_status)
    return tuple(tuple(row) for row in matrix)


def parse_nvlink_matrix(text: str, n: int) -> tuple[tuple[int, ...], ...]:
    """`topo -m` -> nvlink[i][j]: the NV# count (0 for PIX/PXB/PHB/NODE/SYS)."""
    matrix: list[list[Any]] = [[0] * n for _ in range(n)]
    _fill_matrix(text, n, matrix, _nvlink_count)
    return tuple(tuple(row) for row in matrix)


def parse_cuda_version(text: str) -> str | None:
    match = re.search(r"CUDA Version\s*:?\s*([\d.]+)", text)
    return match.group(1) if match else None


class NvidiaSmiSource:
    name = "nvidia-smi"

    def __init__(self, runner: Runner | None = None, *, timeout: float = 5.0) -> None:
        self.runner: Runner = runner or SubprocessRunner()
        self.timeout = timeout
        self._fields: tuple[str, ...] = GPU_FIELDS
        self._static: tuple[tuple[tuple[bool | None, ...], ...], tuple[tuple[int, ...], ...], str | None] | None = None
        self._static_n = -1

    def close(self) -> None:
        return None

    def _run(self, commands: Sequence[Sequence[str]]) -> list[CommandResult]:
        try:
            return self.runner.run(commands, self.timeout)
        except FileNotFoundError:
            raise ProbeError("nvidia-smi is not installed (not on PATH)", permanent=True) from None
        except TimeoutError:
            raise ProbeError(f"nvidia-smi gave no answer within {self.timeout:g} s", permanent=True) from None
        except OSError as exc:
            raise ProbeError(f"cannot run nvidia-smi: {exc}", permanent=True) from None

    def collect(self) -> GpuReport:
        want_static = self._static is None
        commands: list[list[str]] = [gpu_query(self._fields), APPS_QUERY]
        if want_static:
            commands += [P2P_QUERY, TOPO_QUERY, HEADER_QUERY]
        results = self._run(commands)
        gpu_result = results[0]
        if gpu_result.returncode != 0 and "compute_cap" in (gpu_result.stdout + gpu_result.stderr):
            # Drivers before 510 do not know the field: ask again without it.
            self._fields = tuple(f for f in GPU_FIELDS if f != "compute_cap")
            gpu_result = self._run([gpu_query(self._fields)])[0]
        output = gpu_result.stdout + gpu_result.stderr
        if gpu_result.returncode != 0:
            if "No devices were found" in output:
                return GpuReport(notes=("nvidia-smi: no devices were found",))
            first = output.strip().splitlines()[0] if output.strip() else f"exit status {gpu_result.returncode}"
            raise ProbeError(f"nvidia-smi failed: {first}", permanent=gpu_result.returncode in (9, 12, 127))
        gpus, driver = parse_gpu_csv(gpu_result.stdout, self._fields)
        apps = parse_apps_csv(results[1].stdout) if results[1].returncode == 0 else {}
        gpus = [replace(g, processes=tuple(sorted(apps.get(g.uuid or "", ()), key=lambda p: p.pid))) for g in gpus]
        n = len(gpus)
        if want_static or self._static is None or self._static_n != n:
            if not want_static:
                extra = self._run([P2P_QUERY, TOPO_QUERY, HEADER_QUERY])
                results = results[:2] + extra
            p2p = parse_p2p_matrix(results[2].stdout, n) if results[2].returncode == 0 else unknown_p2p(n)
            nvlink = parse_nvlink_matrix(results[3].stdout, n) if results[3].returncode == 0 else ()
            cuda = parse_cuda_version(results[4].stdout)
            self._static = (p2p, nvlink, cuda)
            self._static_n = n
        p2p, nvlink, cuda = self._static
        return GpuReport(gpus=tuple(gpus), driver_version=driver, cuda_version=cuda, p2p=p2p, nvlink=nvlink)
