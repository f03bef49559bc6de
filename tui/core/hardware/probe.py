"""The probe chain: NVML, then nvidia-smi, then torch, then "no GPU"; bounded in time.

`get_probe()` builds the chain (or, for tests and diagnostics only, a replay of recorded
outputs when SFTPLAY_HARDWARE_REPLAY names a fixture folder or a snapshot file);
`HardwareProbe.probe()` asks each source in turn and returns the first answer as a
`HardwareInfo`, with the CPU/RAM facts, the relevant environment and the reasons earlier
sources were skipped (`notes`). Each source runs in a daemon thread with a time budget: a hung
driver call or binary costs at most that budget, and the source is not asked again. A source
that fails for good (library or binary missing, driver not loaded) is skipped on later refreshes;
other failures are retried on the next `probe()`.

A probe object is meant to be kept (the live panel calls `probe()` every second or two): sources
cache what does not change (names, topology) and hold NVML initialised until `close()`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

from tui.core.hardware.base import GpuReport, HardwareInfo, Source, SystemInfo
from tui.core.hardware.env import collect_env
from tui.core.hardware.errors import ProbeError
from tui.core.hardware.system import LiveSystem, SystemSource

REPLAY_ENV = "SFTPLAY_HARDWARE_REPLAY"
DEFAULT_TIMEOUT = 8.0
#: Importing torch can take many seconds on a cold disk.
TORCH_TIMEOUT = 60.0
PACKAGES = ("torch", "accelerate", "transformers", "deepspeed", "nvidia-ml-py")


class GpuSource(Protocol):
    name: str

    def collect(self) -> GpuReport: ...

    def close(self) -> None: ...


class Probe(Protocol):
    """What front ends hold: anything with `probe()` and `close()`."""

    def probe(self) -> HardwareInfo: ...

    def close(self) -> None: ...


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def installed_software() -> tuple[tuple[str, ...], dict[str, str]]:
    """(fp8 backends installed here, versions of the software that matter), without imports."""
    from tui.core.distributions import installed_version
    from tui.core.host import detect_host

    fp8 = detect_host().fp8_backends
    # From the dist-info folders: importlib.metadata alone costs gpu-info 20-30 ms of start-up.
    versions = {package: version for package in PACKAGES if (version := installed_version(package))}
    return fp8, versions


def _run_bounded(fn: Callable[[], GpuReport], timeout: float) -> GpuReport:
    """Run `fn` in a daemon thread; ProbeError(permanent) if it does not return in time."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # handed to the caller below
            box.append(exc)

    thread = threading.Thread(target=target, name="sftplay-hardware-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ProbeError(f"no answer within {timeout:g} s", permanent=True)
    result = box[0]
    if isinstance(result, BaseException):
        raise result
    return cast(GpuReport, result)


class HardwareProbe:
    """Tries each GPU source in order; see the module docstring."""

    def __init__(
        self,
        sources: Sequence[GpuSource],
        *,
        system: SystemSource | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        fp8_backends: Sequence[str] | None = None,
        software: Mapping[str, str] | None = None,
        hostname: str | None = None,
        clock: Callable[[], str] | None = None,
        detect_software: bool = True,
    ) -> None:
        self.sources = list(sources)
        self.system: SystemSource = system or LiveSystem()
        self._env = env
        self.timeout = timeout
        self._fp8 = tuple(fp8_backends) if fp8_backends is not None else None
        self._software_versions = dict(software) if software is not None else None
        self._detect_software = detect_software
        self.hostname = hostname
        self.clock = clock or _now
        self._dead: dict[str, str] = {}
        self.last_source: str | None = None

    def _budget(self, source: GpuSource) -> float:
        return TORCH_TIMEOUT if source.name == "torch" and self.timeout == DEFAULT_TIMEOUT else self.timeout

    def _software(self) -> tuple[tuple[str, ...] | None, dict[str, str]]:
        if self._detect_software and (self._fp8 is None or self._software_versions is None):
            fp8, software = installed_software()
            self._fp8 = fp8 if self._fp8 is None else self._fp8
            self._software_versions = software if self._software_versions is None else self._software_versions
        return self._fp8, dict(self._software_versions or {})

    def probe(self) -> HardwareInfo:
        notes: list[str] = []
        report: GpuReport | None = None
        used: str = "none"
        for source in self.sources:
            if source.name in self._dead:
                notes.append(f"{source.name}: {self._dead[source.name]}")
                continue
            try:
                report = _run_bounded(source.collect, self._budget(source))
            except ProbeError as exc:
                notes.append(f"{source.name}: {exc}")
                if exc.permanent:
                    self._dead[source.name] = str(exc)
                continue
            except Exception as exc:  # a bug or an unexpected library error must not crash the caller
                notes.append(f"{source.name}: unexpected {type(exc).__name__}: {exc}")
                continue
            used = source.name
            break
        if report is None:
            report = GpuReport()
        self.last_source = used
        system = self._collect_system(notes)
        fp8, software = self._software()
        env = collect_env(self._env if self._env is not None else os.environ)
        return HardwareInfo(
            source=cast(Source, used),
            gpus=report.gpus,
            cpu=system.cpu,
            memory_total_mib=system.memory_total_mib,
            memory_available_mib=system.memory_available_mib,
            driver_version=report.driver_version,
            cuda_version=report.cuda_version,
            p2p=report.p2p,
            nvlink=report.nvlink,
            env=env,
            visible_devices_applied=report.visible_devices_applied,
            fp8_backends=fp8,
            software=software,
            network_interfaces=system.network_interfaces,
            hostname=self.hostname if self.hostname is not None else os.uname().nodename,
            taken_at=self.clock(),
            notes=tuple(notes) + report.notes,
        )

    def _collect_system(self, notes: list[str]) -> SystemInfo:
        try:
            return self.system.collect()
        except Exception as exc:  # never crash on a strange /sys
            from tui.core.hardware.base import CpuInfo

            notes.append(f"system: {exc}")
            return SystemInfo(cpu=CpuInfo(logical_cores=os.cpu_count() or 1), memory_total_mib=0)

    def close(self) -> None:
        for source in self.sources:
            with contextlib.suppress(Exception):  # closing must never raise
                source.close()

    def __enter__(self) -> HardwareProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StaticProbe:
    """Always the same record: a snapshot file, or a value a test built."""

    def __init__(self, info: HardwareInfo) -> None:
        self.info = info
        self.last_source: str | None = info.source

    def probe(self) -> HardwareInfo:
        return self.info

    def close(self) -> None:
        return None

    def __enter__(self) -> StaticProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_sources(*, smi_timeout: float = 5.0) -> list[GpuSource]:
    from tui.core.hardware.nvidia_smi import NvidiaSmiSource
    from tui.core.hardware.nvml import NvmlSource
    from tui.core.hardware.torch_probe import TorchSource

    return [NvmlSource(), NvidiaSmiSource(timeout=smi_timeout), TorchSource()]


def get_probe(*, env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT) -> HardwareProbe | StaticProbe:
    """The probe for this machine: NVML -> nvidia-smi -> torch -> none.

    For tests and diagnostics only: when SFTPLAY_HARDWARE_REPLAY (read from `env`, default the
    process environment) names a replay fixture folder or a `sftplay-hardware/1` snapshot file,
    that recording is replayed instead of probing this machine.
    """
    environ = os.environ if env is None else env
    replay = environ.get(REPLAY_ENV)
    if replay:
        from tui.core.hardware.replay import replay_probe

        return replay_probe(replay, timeout=min(timeout, 2.0))
    return HardwareProbe(default_sources(smi_timeout=min(timeout, 5.0)), env=env, timeout=timeout)


def probe_hardware(*, env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT) -> HardwareInfo:
    """One record of this machine (see `get_probe`)."""
    with get_probe(env=env, timeout=timeout) as probe:
        return probe.probe()
