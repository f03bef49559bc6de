"""Every probe back end against recorded outputs, and the fallback chain under failure injection."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from tui.core.hardware import HardwareInfo, get_probe, probe_hardware
from tui.core.hardware.base import GpuReport
from tui.core.hardware.errors import ProbeError
from tui.core.hardware.nvidia_smi import (
    CommandResult,
    NvidiaSmiSource,
    SubprocessRunner,
    parse_apps_csv,
    parse_cuda_version,
    parse_gpu_csv,
    parse_nvlink_matrix,
    parse_p2p_matrix,
)
from tui.core.hardware.nvml import NvmlSource
from tui.core.hardware.probe import HardwareProbe, StaticProbe
from tui.core.hardware.replay import ReplayNvml, ReplayRunner, ReplayTorch, load_machine, replay_probe
from tui.core.hardware.system import LiveSystem
from tui.core.hardware.torch_probe import TorchSource

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "hardware"
MACHINES = ["rtx4090-2x", "a100-4x-sxm", "h100-8x-sxm", "v100-4x-sxm2"]

#: What each recorded machine is, written independently of the fixture generator.
EXPECTED = {
    "rtx4090-2x": {
        "n": 2,
        "name": "NVIDIA GeForce RTX 4090",
        "cc": (8, 9),
        "total": 24564,
        "driver": "550.107.02",
        "cuda": "12.4",
        "p2p": False,
        "nvlink": 0,
    },
    "a100-4x-sxm": {
        "n": 4,
        "name": "NVIDIA A100-SXM4-80GB",
        "cc": (8, 0),
        "total": 81920,
        "driver": "535.183.01",
        "cuda": "12.2",
        "p2p": True,
        "nvlink": 4,
    },
    "h100-8x-sxm": {
        "n": 8,
        "name": "NVIDIA H100 80GB HBM3",
        "cc": (9, 0),
        "total": 81559,
        "driver": "550.54.15",
        "cuda": "12.4",
        "p2p": True,
        "nvlink": 18,
    },
    "v100-4x-sxm2": {
        "n": 4,
        "name": "Tesla V100-SXM2-32GB",
        "cc": (7, 0),
        "total": 32768,
        "driver": "470.256.02",
        "cuda": "11.4",
        "p2p": True,
        "nvlink": 2,
    },
}


def _nvml(machine: str, fail: dict[str, object] | None = None) -> NvmlSource:
    data = load_machine(FIX / machine)
    import json

    return NvmlSource(ReplayNvml(json.loads(Path(data["_nvml"]).read_text()), fail))


def _smi(machine: str, mode: str = "ok") -> NvidiaSmiSource:
    return NvidiaSmiSource(ReplayRunner(FIX / machine / "nvidia-smi", mode), timeout=0.5)


def _check_report(report: GpuReport, machine: str) -> None:
    exp = EXPECTED[machine]
    n = exp["n"]
    assert len(report.gpus) == n
    assert [g.index for g in report.gpus] == list(range(n))
    for g in report.gpus:
        assert g.name == exp["name"]
        assert g.compute_capability == exp["cc"]
        assert g.memory_total_mib == exp["total"]
        assert g.uuid and g.uuid.startswith("GPU-")
        assert g.pci_bus_id and g.pci_bus_id.startswith("00000000:")
    assert report.driver_version == exp["driver"]
    assert report.cuda_version == exp["cuda"]
    for i in range(n):
        assert report.p2p[i][i] is None
        assert report.nvlink[i][i] == 0
        for j in range(n):
            if i != j:
                assert report.p2p[i][j] is exp["p2p"]
                assert report.nvlink[i][j] == exp["nvlink"]


# -- NVML ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("machine", MACHINES)
def test_nvml_source_reads_recorded_machine(machine: str) -> None:
    _check_report(_nvml(machine).collect(), machine)


def test_nvml_reads_processes_load_and_power() -> None:
    report = _nvml("h100-8x-sxm").collect()
    busy = report.gpus[7]
    assert busy.memory_used_mib == 35730
    assert busy.utilization_pct == 97
    assert busy.temperature_c == 61
    assert busy.power_w == pytest.approx(598.2)
    assert busy.power_limit_w == 700.0
    assert [(p.pid, p.name, p.used_mib) for p in busy.processes] == [(88231, "/usr/bin/python3", 35218)]
    assert report.gpus[0].processes == ()


def test_nvml_merges_graphics_processes() -> None:
    gpu0 = _nvml("rtx4090-2x").collect().gpus[0]
    assert [(p.pid, p.used_mib) for p in gpu0.processes] == [(2143, 214), (2398, 98)]


def test_nvml_unknown_process_name_falls_back() -> None:
    source = _nvml("h100-8x-sxm")
    source._module()._data["process_names"].clear()  # the driver cannot name it (another container)
    name = source.collect().gpus[7].processes[0].name
    assert name  # /proc/<pid>/comm of whatever runs here with that pid, or "?"


def test_nvml_unsupported_fields_are_none() -> None:
    source = _nvml("a100-4x-sxm")
    device = source._module()._data["devices"][1]
    device["unsupported"] = ["nvmlDeviceGetPowerUsage", "nvmlDeviceGetTemperature", "nvmlDeviceGetUtilizationRates"]
    gpu = source.collect().gpus[1]
    assert (gpu.power_w, gpu.temperature_c, gpu.utilization_pct) == (None, None, None)
    assert gpu.memory_total_mib == 81920


def test_nvml_caches_static_facts_between_refreshes() -> None:
    source = _nvml("h100-8x-sxm")
    source.collect()
    nv = source._module()
    before = dict(nv._calls)
    source.collect()
    assert nv._calls["nvmlDeviceGetP2PStatus"] == before["nvmlDeviceGetP2PStatus"]
    assert nv._calls["nvmlDeviceGetName"] == before["nvmlDeviceGetName"]
    assert nv._calls["nvmlDeviceGetMemoryInfo"] == 2 * before["nvmlDeviceGetMemoryInfo"]
    assert nv.init_calls == 1
    source.close()
    assert nv._initialised is False


def test_nvml_init_failure_is_permanent() -> None:
    source = _nvml("h100-8x-sxm", {"nvmlInit": "DRIVER_NOT_LOADED"})
    with pytest.raises(ProbeError) as info:
        source.collect()
    assert info.value.permanent
    assert "Driver Not Loaded" in str(info.value)


def test_nvml_failure_midway_is_not_permanent_and_reinitialises() -> None:
    source = _nvml("h100-8x-sxm", {"nvmlDeviceGetMemoryInfo": {"error": "GPU_IS_LOST", "after": 3}})
    with pytest.raises(ProbeError) as info:
        source.collect()
    assert not info.value.permanent
    assert "GPU is lost" in str(info.value)
    assert source._initialised is False


def test_nvml_without_library() -> None:
    source = NvmlSource(ReplayNvml(None))
    with pytest.raises(ProbeError, match="Shared Library Not Found"):
        source.collect()


def test_nvml_real_library_absent_here_degrades() -> None:
    """On this machine (no driver) the real pynvml fails cleanly, never crashes."""
    source = NvmlSource()
    try:
        report = source.collect()
    except ProbeError as exc:
        assert exc.permanent
    else:  # a machine with a real driver
        assert isinstance(report, GpuReport)
    finally:
        source.close()


# -- nvidia-smi ------------------------------------------------------------------------------------


@pytest.mark.parametrize("machine", MACHINES)
def test_nvidia_smi_source_reads_recorded_machine(machine: str) -> None:
    _check_report(_smi(machine).collect(), machine)


@pytest.mark.parametrize("machine", MACHINES)
def test_nvml_and_nvidia_smi_agree(machine: str) -> None:
    a, b = _nvml(machine).collect(), _smi(machine).collect()
    for ga, gb in zip(a.gpus, b.gpus, strict=True):
        assert (ga.uuid, ga.memory_used_mib, ga.temperature_c, ga.utilization_pct, ga.pci_bus_id) == (
            gb.uuid,
            gb.memory_used_mib,
            gb.temperature_c,
            gb.utilization_pct,
            gb.pci_bus_id,
        )
        # nvidia-smi lists compute processes only; NVML adds graphics clients (Xorg).
        assert {p.pid for p in gb.processes} <= {p.pid for p in ga.processes}
    assert a.p2p == b.p2p
    assert a.nvlink == b.nvlink


def test_nvidia_smi_old_driver_without_compute_cap_field() -> None:
    runner = ReplayRunner(FIX / "v100-4x-sxm2" / "nvidia-smi")
    source = NvidiaSmiSource(runner, timeout=0.5)
    report = source.collect()
    assert all(g.compute_capability == (7, 0) for g in report.gpus)  # from the model name
    assert any("compute_cap" not in args[0] for args in runner.calls if args and args[0].startswith("--query-gpu"))
    # Second refresh asks the short query straight away and skips the cached topology queries.
    runner.calls.clear()
    source.collect()
    assert len(runner.calls) == 2
    assert "compute_cap" not in runner.calls[0][0]


def test_nvidia_smi_missing_and_hanging_are_permanent() -> None:
    with pytest.raises(ProbeError, match="not installed") as missing:
        _smi("a100-4x-sxm", "missing").collect()
    assert missing.value.permanent
    start = time.monotonic()
    with pytest.raises(ProbeError, match="no answer within 0.5 s") as hang:
        _smi("a100-4x-sxm", "hang").collect()
    assert hang.value.permanent
    assert time.monotonic() - start < 3


def _fake_smi(tmp_path: Path, body: str) -> str:
    script = tmp_path / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_real_subprocess_hanging_nvidia_smi_is_killed_in_time(tmp_path: Path) -> None:
    source = NvidiaSmiSource(SubprocessRunner(_fake_smi(tmp_path, "exec sleep 30")), timeout=0.3)
    start = time.monotonic()
    with pytest.raises(ProbeError, match="no answer"):
        source.collect()
    assert time.monotonic() - start < 3


def test_real_subprocess_missing_binary(tmp_path: Path) -> None:
    source = NvidiaSmiSource(SubprocessRunner(str(tmp_path / "no-such-nvidia-smi")), timeout=1)
    with pytest.raises(ProbeError, match="not installed"):
        source.collect()


def test_real_subprocess_driver_failure(tmp_path: Path) -> None:
    body = 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."; exit 9'
    source = NvidiaSmiSource(SubprocessRunner(_fake_smi(tmp_path, body)), timeout=2)
    with pytest.raises(ProbeError, match="couldn't communicate") as info:
        source.collect()
    assert info.value.permanent


def test_real_subprocess_answers_through_the_parser(tmp_path: Path) -> None:
    rec = FIX / "a100-4x-sxm" / "nvidia-smi"
    body = f"""
case "$1" in
  --query-gpu=*) cat {rec / "query-gpu.csv"} ;;
  --query-compute-apps=*) cat {rec / "query-compute-apps.csv"} ;;
  topo) if [ "$2" = "-m" ]; then cat {rec / "topo-m.txt"}; else cat {rec / "topo-p2p-r.txt"}; fi ;;
  *) cat {rec / "nvidia-smi.txt"} ;;
esac"""
    report = NvidiaSmiSource(SubprocessRunner(_fake_smi(tmp_path, body)), timeout=5).collect()
    _check_report(report, "a100-4x-sxm")


def test_no_devices_found_is_an_answer(tmp_path: Path) -> None:
    source = NvidiaSmiSource(SubprocessRunner(_fake_smi(tmp_path, "echo 'No devices were found'; exit 6")), timeout=2)
    report = source.collect()
    assert report.gpus == ()


def test_parsers_on_odd_output() -> None:
    gpus, driver = parse_gpu_csv(
        "0, NVIDIA A10G, GPU-1, 23028, [N/A], 8.6, [Not Supported], 30, [N/A], 300.00, 00000000:00:1E.0, 535.1\n\n"
    )
    assert driver == "535.1"
    assert gpus[0].memory_used_mib == 0
    assert gpus[0].utilization_pct is None and gpus[0].power_w is None
    with pytest.raises(ProbeError, match="unexpected"):
        parse_gpu_csv("0, only, three\n")
    apps = parse_apps_csv("GPU-1, 12, python, train, 500\nGPU-1, x, bad, 1\nshort\n")
    assert [(p.pid, p.name, p.used_mib) for p in apps["GPU-1"]] == [(12, "python, train", 500)]
    ansi = "\x1b[4m\tGPU0\tGPU1\t\x1b[0m\nGPU0\t X \tNV12\nGPU1\tNV12\t X \n"
    assert parse_nvlink_matrix(ansi, 2) == ((0, 12), (12, 0))
    assert parse_p2p_matrix("garbage", 2) == ((None, None), (None, None))
    assert parse_p2p_matrix(" \tGPU0\tGPU1\t\n GPU0\tX\tCNS\t\n GPU1\tU\tX\t\n", 2) == ((None, False), (None, None))
    assert parse_cuda_version("| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4 |") == "12.4"
    assert parse_cuda_version("CUDA Version                              : 11.4") == "11.4"
    assert parse_cuda_version("") is None


def test_command_result_shape() -> None:
    assert CommandResult(0, "x").stderr == ""


# -- torch -----------------------------------------------------------------------------------------


def test_torch_source_from_recording() -> None:
    import json

    data = json.loads((FIX / "failures" / "torch-only" / "torch.json").read_text())
    report = TorchSource(ReplayTorch(data)).collect()
    assert len(report.gpus) == 4
    assert report.gpus[0].compute_capability == (8, 0)
    assert report.gpus[0].memory_total_mib == 81920
    assert report.gpus[0].uuid and report.gpus[0].uuid.startswith("GPU-")
    assert report.visible_devices_applied
    assert report.p2p[0][1] is True and report.p2p[0][0] is None


def test_torch_source_without_gpu() -> None:
    with pytest.raises(ProbeError, match="is_available"):
        TorchSource(ReplayTorch({"devices": []})).collect()


def test_torch_source_skips_cpu_build_without_importing_torch() -> None:
    """Here torch is a +cpu build: the source rules itself out without importing torch."""
    before = "torch" in sys.modules
    with pytest.raises(ProbeError) as info:
        TorchSource().collect()
    assert info.value.permanent
    assert ("torch" in sys.modules) == before


# -- the chain -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "source", "gpus", "note"),
    [
        ("no-gpu", "none", 0, "nvidia-smi is not installed"),
        ("failures/nvml-init-driver-not-loaded", "nvidia-smi", 8, "Driver Not Loaded"),
        ("failures/nvml-gpu-lost-midway", "nvidia-smi", 8, "GPU is lost"),
        ("failures/nvml-hangs", "nvidia-smi", 4, "no answer within"),
        ("failures/nvidia-smi-missing", "none", 0, "nvidia-smi is not installed"),
        ("failures/nvidia-smi-hangs", "none", 0, "gave no answer"),
        ("failures/v100-old-driver-smi-only", "nvidia-smi", 4, "Shared Library Not Found"),
        ("failures/torch-only", "torch", 4, "nvidia-smi is not installed"),
        ("h100-8x-sxm", "nvml", 8, None),
    ],
)
def test_chain_degrades_in_bounded_time(folder: str, source: str, gpus: int, note: str | None) -> None:
    start = time.monotonic()
    with replay_probe(FIX / folder, timeout=1.0) as probe:
        info = probe.probe()
        again = probe.probe()
    assert time.monotonic() - start < 5
    assert info.source == source == again.source
    assert len(info.gpus) == gpus
    if note:
        assert any(note in n for n in info.notes), info.notes
    else:
        assert not info.notes


def test_hung_source_is_not_asked_again() -> None:
    with replay_probe(FIX / "failures" / "nvml-hangs", timeout=0.5) as probe:
        probe.probe()
        start = time.monotonic()
        probe.probe()
        assert time.monotonic() - start < 0.4


def test_transient_failure_is_retried() -> None:
    class Flaky:
        name = "nvml"

        def __init__(self) -> None:
            self.calls = 0

        def collect(self) -> GpuReport:
            self.calls += 1
            if self.calls == 1:
                raise ProbeError("GPU is lost")
            return GpuReport()

        def close(self) -> None:
            pass

    flaky = Flaky()
    probe = HardwareProbe([flaky], env={}, hostname="h", detect_software=False)
    assert probe.probe().source == "none"
    assert probe.probe().source == "nvml"


def test_unexpected_exception_in_a_source_degrades() -> None:
    class Broken:
        name = "nvml"

        def collect(self) -> GpuReport:
            raise ZeroDivisionError("bug")

        def close(self) -> None:
            raise RuntimeError("close fails too")

    probe = HardwareProbe([Broken()], env={}, detect_software=False)
    info = probe.probe()
    assert info.source == "none"
    assert "ZeroDivisionError" in info.notes[0]
    probe.close()  # never raises


def test_get_probe_replay_env_and_snapshot(tmp_path: Path) -> None:
    probe = get_probe(env={"SFTPLAY_HARDWARE_REPLAY": str(FIX / "a100-4x-sxm")})
    assert probe.probe().source == "nvml"
    snap = get_probe(env={"SFTPLAY_HARDWARE_REPLAY": str(FIX / "snapshots" / "v100-4x.json")})
    assert isinstance(snap, StaticProbe)
    assert snap.probe().gpus[0].name == "Tesla V100-SXM2-32GB"


def test_probe_hardware_on_this_machine_is_fast_and_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SFTPLAY_HARDWARE_REPLAY", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    start = time.monotonic()
    info = probe_hardware()
    assert time.monotonic() - start < 10
    assert isinstance(info, HardwareInfo)
    assert info.cpu.logical_cores >= 1
    assert info.memory_total_mib > 0
    assert info.env["CUDA_VISIBLE_DEVICES"] == "0"
    assert info.taken_at and info.hostname


# -- system ----------------------------------------------------------------------------------------


def test_live_system_from_a_recorded_sys_tree(tmp_path: Path) -> None:
    for cpu, (package, core) in enumerate([(0, 0), (0, 1), (0, 0), (0, 1), (1, 0), (1, 1), (1, 0), (1, 1)]):
        topo = tmp_path / "sys/devices/system/cpu" / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "core_id").write_text(f"{core}\n")
        (topo / "physical_package_id").write_text(f"{package}\n")
    for node in (0, 1):
        (tmp_path / "sys/devices/system/node" / f"node{node}").mkdir(parents=True)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text("MemTotal:       16384000 kB\nMemAvailable:    8192000 kB\n")
    (tmp_path / "proc/cpuinfo").write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n")
    info = LiveSystem(tmp_path).collect()
    assert info.cpu.physical_cores == 4
    assert info.cpu.numa_nodes == 2
    assert info.cpu.model == "Test CPU 9000"
    assert (info.memory_total_mib, info.memory_available_mib) == (16000, 8000)


def test_live_system_with_nothing_readable(tmp_path: Path) -> None:
    info = LiveSystem(tmp_path / "missing").collect()
    assert info.cpu.logical_cores == (os.cpu_count() or 1)
    assert info.cpu.numa_nodes is None
    assert info.memory_total_mib > 0  # psutil fallback
