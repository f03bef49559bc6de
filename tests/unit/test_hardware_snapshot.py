"""The sftplay-hardware/1 snapshot: exact shape, round trip, clear errors; the env reading."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tui.core.errors import UsageError
from tui.core.hardware import HardwareInfo, SnapshotError, load_snapshot, parse_snapshot
from tui.core.hardware.env import collect_env, parse_slurm_tasks_per_node, scheduler_layout, truthy
from tui.core.hardware.gpu_models import compute_capability_from_name, is_geforce_rtx_40, short_name

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "hardware"
SNAPSHOTS = sorted((FIX / "snapshots").glob("*.json"))

ISSUE_GPU_KEYS = {
    "index": int,
    "name": str,
    "uuid": (str, type(None)),
    "memory_total_mib": int,
    "memory_used_mib": int,
    "compute_capability": list,
    "utilization_pct": (int, type(None)),
    "processes": list,
}


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.stem)
def test_snapshot_fixtures_have_the_issue_shape(path: Path) -> None:
    data = json.loads(path.read_text())
    assert data["schema"] == "sftplay-hardware/1"
    assert data["source"] in ("nvml", "nvidia-smi", "torch", "none")
    assert isinstance(data["driver_version"], (str, type(None)))
    assert isinstance(data["cuda_version"], (str, type(None)))
    n = len(data["gpus"])
    for gpu in data["gpus"]:
        for key, kind in ISSUE_GPU_KEYS.items():
            assert isinstance(gpu[key], kind), (key, gpu[key])
        assert len(gpu["compute_capability"]) == 2
        for proc in gpu["processes"]:
            assert set(proc) == {"pid", "name", "used_mib"}
    assert len(data["p2p"]) == n and all(len(row) == n for row in data["p2p"])
    assert all(data["p2p"][i][i] is None for i in range(n))
    assert all(cell in (True, False, None) for row in data["p2p"] for cell in row)
    assert len(data["nvlink"]) == n and all(isinstance(c, int) for row in data["nvlink"] for c in row)
    assert set(data["cpu"]) >= {"logical_cores", "physical_cores", "numa_nodes"}
    assert isinstance(data["memory_total_mib"], int)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in data["env"].items())


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.stem)
def test_round_trip(path: Path) -> None:
    info = load_snapshot(path)
    data = json.loads(path.read_text())
    assert info.to_dict() == data
    assert HardwareInfo.from_json(info.to_json()) == info
    assert HardwareInfo.from_json(data) == info


def test_snapshots_are_what_the_replays_produce() -> None:
    """The committed snapshots equal a fresh run of the replays (regenerate with make_fixtures.py)."""
    sys.path.insert(0, str(FIX))
    try:
        import make_fixtures
    finally:
        sys.path.remove(str(FIX))
    fresh = make_fixtures.all_snapshots()
    assert sorted(fresh) == sorted(p.stem for p in SNAPSHOTS)
    for name, data in fresh.items():
        assert json.loads((FIX / "snapshots" / f"{name}.json").read_text()) == data, name


def test_secrets_are_redacted_in_snapshots() -> None:
    data = json.loads((FIX / "snapshots" / "a100-4x-azureml-pytorch-4-per-node.json").read_text())
    assert data["env"]["AZUREML_RUN_TOKEN"] == "<redacted>"


def _base() -> dict:
    return json.loads((FIX / "snapshots" / "rtx4090-2x.json").read_text())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("schema"), 'no "schema" key'),
        (lambda d: d.update(schema="sftplay-hardware/9"), "schema 'sftplay-hardware/9'"),
        (lambda d: d.update(source="magic"), "source: expected one of"),
        (lambda d: d.update(gpus={}), "gpus: expected a list"),
        (lambda d: d["gpus"][1].update(memory_total_mib="lots"), "gpus[1].memory_total_mib: expected a whole number"),
        (lambda d: d["gpus"][0].pop("name"), 'gpus[0]: missing "name"'),
        (lambda d: d["gpus"][0].update(compute_capability=[8]), "expected [major, minor]"),
        (lambda d: d["gpus"][0]["processes"].append({"pid": "x"}), "processes[2].pid"),
        (lambda d: d["gpus"][1].update(index=0), "GPU indexes repeat"),
        (lambda d: d.update(p2p=[[None]]), "p2p: expected 2 rows"),
        (lambda d: d.update(p2p=[[None, "yes"], [False, None]]), "p2p[0][1]: expected true, false or null"),
        (lambda d: d.update(nvlink=[[0, 1], [0]]), "nvlink[1]: expected 2 entries"),
        (lambda d: d.update(env={"A": 1}), "env.A: expected text"),
        (lambda d: d["cpu"].update(logical_cores=0), "cpu.logical_cores: expected a number >= 1"),
        (lambda d: d.update(visible_devices_applied="no"), "visible_devices_applied"),
    ],
)
def test_bad_snapshots_name_the_field(edit, message: str) -> None:
    data = _base()
    edit(data)
    with pytest.raises(SnapshotError) as info:
        parse_snapshot(data, "snap.json")
    assert message in str(info.value)
    assert str(info.value).startswith("snap.json: ")
    assert isinstance(info.value, UsageError)


def test_minimal_snapshot_fills_defaults() -> None:
    info = parse_snapshot({"schema": "sftplay-hardware/1", "gpus": [{"name": "X", "memory_total_mib": 10}]})
    assert info.source == "none"
    assert info.p2p == ((None,),) and info.nvlink == ((0,),)
    assert info.gpus[0].compute_capability is None


def test_load_snapshot_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no such snapshot file"):
        load_snapshot(tmp_path / "missing.json")
    with pytest.raises(SnapshotError, match="is a folder"):
        load_snapshot(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SnapshotError, match=r"not valid JSON \(line 1\)"):
        load_snapshot(bad)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SnapshotError, match="not valid JSON"):
        load_snapshot(binary)


def test_record_is_frozen() -> None:
    info = load_snapshot(FIX / "snapshots" / "h100-8x.json")
    with pytest.raises(AttributeError):
        info.source = "torch"  # type: ignore[misc]
    with pytest.raises(TypeError):
        info.env["X"] = "1"  # type: ignore[index]
    assert info.gpu(7) is info.gpus[7] and info.gpu(9) is None
    assert info.has_nvlink and info.gpu_count == 8


# -- env ---------------------------------------------------------------------------------------------


def test_collect_env_keeps_relevant_and_redacts() -> None:
    env = collect_env(
        {
            "CUDA_VISIBLE_DEVICES": "0,1",
            "ACCELERATE_USE_CPU": "true",
            "NCCL_P2P_DISABLE": "1",
            "SLURM_NTASKS_PER_NODE": "2",
            "SLURM_JOB_ACCOUNT": "proj",
            "OMPI_COMM_WORLD_LOCAL_SIZE": "4",
            "AZUREML_RUN_TOKEN": "secret",
            "PATH": "/bin",
            "HOME": "/root",
        }
    )
    assert env == {
        "ACCELERATE_USE_CPU": "true",
        "AZUREML_RUN_TOKEN": "<redacted>",
        "CUDA_VISIBLE_DEVICES": "0,1",
        "NCCL_P2P_DISABLE": "1",
        "OMPI_COMM_WORLD_LOCAL_SIZE": "4",
        "SLURM_NTASKS_PER_NODE": "2",
    }


@pytest.mark.parametrize(
    ("env", "scheduler", "per_node", "in_step"),
    [
        ({}, None, None, True),
        ({"WORLD_SIZE": "1", "RANK": "0"}, None, None, True),
        ({"LOCAL_WORLD_SIZE": "4", "WORLD_SIZE": "8", "TORCHELASTIC_RUN_ID": "x"}, "torchrun", 4, True),
        ({"OMPI_COMM_WORLD_LOCAL_SIZE": "2", "OMPI_COMM_WORLD_SIZE": "4"}, "MPI", 2, True),
        ({"MPI_LOCALNRANKS": "3"}, "MPI", 3, True),
        ({"OMPI_COMM_WORLD_LOCAL_SIZE": "4", "AZUREML_RUN_ID": "r"}, "Azure ML (MPI)", 4, True),
        ({"SLURM_JOB_ID": "1", "SLURM_STEP_ID": "0", "SLURM_STEP_TASKS_PER_NODE": "2(x3)"}, "SLURM", 2, True),
        ({"SLURM_JOB_ID": "1", "SLURM_NTASKS_PER_NODE": "4"}, "SLURM", 4, False),
        ({"SLURM_JOB_ID": "1", "SLURM_STEP_ID": "0", "SLURM_LOCALID": "2"}, "SLURM", 3, True),
        ({"WORLD_SIZE": "8", "AZUREML_NODE_COUNT": "2", "AZUREML_RUN_ID": "r"}, "Azure ML", 4, True),
        ({"WORLD_SIZE": "2", "AZUREML_NODE_COUNT": "2", "AZUREML_RUN_ID": "r"}, "Azure ML", 1, True),
        ({"WORLD_SIZE": "4", "LOCAL_RANK": "1"}, "torch.distributed", None, True),
        ({"WORLD_SIZE": "4"}, "torch.distributed", None, True),
    ],
)
def test_scheduler_layout(env: dict[str, str], scheduler: str | None, per_node: int | None, in_step: bool) -> None:
    layout = scheduler_layout(env)
    assert (layout.scheduler, layout.per_node, layout.in_step) == (scheduler, per_node, in_step)
    assert layout.multiplies == (per_node is not None and per_node > 1)


def test_small_helpers() -> None:
    assert parse_slurm_tasks_per_node("4(x2),2") == 4
    assert parse_slurm_tasks_per_node("x") is None
    assert truthy("True") and truthy("1") and not truthy("0") and not truthy(None)
    assert compute_capability_from_name("NVIDIA A10G") == (8, 6)
    assert compute_capability_from_name("NVIDIA A100-SXM4-40GB") == (8, 0)
    assert compute_capability_from_name("NVIDIA GeForce RTX 4090") == (8, 9)
    assert compute_capability_from_name("Tesla V100-PCIE-16GB") == (7, 0)
    assert compute_capability_from_name("Tesla T4") == (7, 5)
    assert compute_capability_from_name("Mystery GPU") is None
    assert is_geforce_rtx_40("NVIDIA GeForce RTX 4090") and not is_geforce_rtx_40("NVIDIA GeForce RTX 3090")
    assert short_name("NVIDIA GeForce RTX 4090") == "RTX 4090"
    assert short_name("Tesla V100-SXM2-32GB") == "V100-SXM2-32GB"


def test_network_interfaces_round_trip_and_errors() -> None:
    info = load_snapshot(FIX / "snapshots" / "h100-8x.json")
    assert info.network_interfaces["ibp26s0"] == ("10.20.0.17",)
    data = info.to_dict()
    data["network"] = {"interfaces": {"eth0": "10.0.0.1"}}
    with pytest.raises(SnapshotError, match="network.interfaces.eth0: expected a list"):
        parse_snapshot(data, "s.json")


def test_live_network_interfaces_from_a_recorded_tree(tmp_path: Path) -> None:
    from tui.core.hardware.system import network_interfaces

    for name in ("lo", "eth0", "ib0"):
        (tmp_path / "sys/class/net" / name).mkdir(parents=True)
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/if_inet6").write_text(
        "00000000000000000000000000000001 01 80 10 80       lo\n"
        "fe8000000000000000fc00fffe000001 02 40 20 80     eth0\n"
        "zz 03 40 20 80     ib0\n"
    )
    assert network_interfaces(tmp_path) == {"lo": ("::1",), "eth0": ("fe80::fc:ff:fe00:1",)}
    assert network_interfaces(tmp_path / "nothing") is not None  # psutil fallback, never raises


def test_snapshots_feed_the_multinode_checks() -> None:
    """The multi-node checks read these snapshots' software versions and interfaces."""
    from tui.core.multinode_checks import check_snapshots

    config = {"distributed_type": "MULTI_GPU", "num_processes": 8, "num_machines": 2}
    pair = [(n, json.loads((FIX / "snapshots" / f"{n}.json").read_text())) for n in ("a100-4x", "v100-4x")]
    texts = [f"{f.what} {f.fix}" for f in check_snapshots(config, pair)]
    assert any("torch" in t and "2.4.1+cu121" in t for t in texts), texts
    assert any("NCCL_SOCKET_IFNAME" in t and "a100-4x" in t for t in texts), texts
