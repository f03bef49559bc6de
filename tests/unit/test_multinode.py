"""Multi-node plans, scripts and checks (no processes started here; see integration tests)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import sftplay
from tui.core.errors import UsageError
from tui.core.launch import free_port
from tui.core.multinode import plan_cluster, sbatch_script, ssh_script, write_cluster
from tui.core.multinode_checks import check_config_set, check_network, check_snapshots

SCRIPT = str(Path(__file__).resolve().parents[1] / "fixtures" / "world_size.py")


def multinode(**over: Any) -> dict[str, Any]:
    base = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "MULTI_GPU",
        "mixed_precision": "bf16",
        "num_machines": 2,
        "num_processes": 16,
        "machine_rank": 0,
        "main_process_ip": "10.0.0.1",
        "main_process_port": 29500,
        "same_network": True,
        "rdzv_backend": "static",
        "use_cpu": False,
    }
    return {**base, **over}


def test_plan_configs_differ_only_in_rank(tmp_path: Path) -> None:
    plan = plan_cluster(multinode(), script=SCRIPT, args=["--max_steps", "5"], config_dir=tmp_path)
    assert [n.config["machine_rank"] for n in plan.nodes] == [0, 1]
    a, b = (dict(n.config) for n in plan.nodes)
    a.pop("machine_rank"), b.pop("machine_rank")
    assert a == b
    assert plan.per_node == 8 and plan.total == 16
    assert "8 GPUs per machine x 2 machines = 16" in plan.summary()
    assert plan.nodes[1].argv[-2:] == ("--max_steps", "5")
    assert str(tmp_path / "machine-1.yaml") in plan.nodes[1].command


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"num_machines": 1}, "single-machine config"),
        ({"num_processes": 15}, "TOTAL across machines"),
        ({"num_processes": 1}, "TOTAL across machines"),
        ({"main_process_ip": None}, "main_process_ip is missing"),
        ({"main_process_port": "x"}, "not a whole number"),
    ],
)
def test_plans_that_cannot_work_are_refused(over: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan_cluster(multinode(**over), script=SCRIPT)


def test_hosts_must_match_machines() -> None:
    with pytest.raises(UsageError, match="lists 3 hosts"):
        plan_cluster(multinode(), script=SCRIPT, hosts=["a", "b", "c"])


def test_cpu_plan_gets_the_connected_ranks_recipe() -> None:
    plan = plan_cluster(
        multinode(distributed_type="MULTI_CPU", use_cpu=True, num_processes=2, mixed_precision="no"), script=SCRIPT
    )
    node = plan.nodes[0]
    assert node.env["ACCELERATE_USE_CPU"] == "true"
    assert "--multi_gpu" in node.argv


def test_written_set_and_scripts(tmp_path: Path) -> None:
    plan = plan_cluster(multinode(), script=SCRIPT, hosts=["n1", "n2"], config_dir=tmp_path)
    files = write_cluster(plan, tmp_path, slurm=True, ssh=True)
    names = sorted(p.name for p in files)
    assert names == ["README.md", "launch-slurm.sh", "launch-ssh.sh", "machine-0.yaml", "machine-1.yaml", "sbatch.sh"]
    assert yaml.safe_load((tmp_path / "machine-1.yaml").read_text())["machine_rank"] == 1
    sbatch = (tmp_path / "sbatch.sh").read_text()
    assert "#SBATCH --nodes=2" in sbatch and "#SBATCH --gpus-per-node=8" in sbatch
    assert '--machine_rank "$RANK"' in sbatch and "SLURM_NODEID" in sbatch
    ssh = (tmp_path / "launch-ssh.sh").read_text()
    assert "n1" in ssh and "n2" in ssh and "trap" in ssh
    assert (tmp_path / "sbatch.sh").stat().st_mode & 0o111


def test_ssh_script_needs_hosts() -> None:
    plan = plan_cluster(multinode(), script=SCRIPT)
    with pytest.raises(UsageError, match="--hosts"):
        ssh_script(plan, "/srv")
    assert "srun" in sbatch_script(plan, "/srv/machine-0.yaml")


def test_sbatch_steps_run_the_script_from_the_shared_folder_not_slurms_spool_copy() -> None:
    script = sbatch_script(plan_cluster(multinode(), script=SCRIPT), "/shared/set/machine-0.yaml")
    assert 'bash /shared/set/sbatch.sh "$@"' in script and 'bash "$0"' not in script


def test_config_set_checks() -> None:
    good = [("m0", multinode(machine_rank=0)), ("m1", multinode(machine_rank=1))]
    assert check_config_set(good) == []
    dup = [("m0", multinode(machine_rank=0)), ("m1", multinode(machine_rank=0))]
    whats = " ".join(f.what for f in check_config_set(dup))
    assert "machine_rank 0 is used by 2 configs" in whats and "no config has machine_rank 1" in whats
    out_of_range = check_config_set([("m0", multinode(machine_rank=2))])
    assert out_of_range[0].severity == "error" and "outside 0..1" in out_of_range[0].what
    disagree = check_config_set([("m0", multinode()), ("m1", multinode(machine_rank=1, num_processes=8))])
    assert any("disagree on num_processes" in f.what for f in disagree)
    cloud = check_config_set([("m0", multinode(same_network=False))])
    assert any("rdzv_backend is static" in f.what for f in cloud)


def snapshot(
    gpus: int,
    name: str = "NVIDIA H100 80GB HBM3",
    driver: str = "550.54",
    torch: str = "2.6.0",
    interfaces: dict[str, list[str]] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "schema": "sftplay-hardware/1",
        "gpus": [{"index": i, "name": name} for i in range(gpus)],
        "driver_version": driver,
        "software": {"torch": torch, "accelerate": "1.15.0"},
        "network": {"interfaces": interfaces or {"lo": ["127.0.0.1"], "ib0": ["10.0.0.1"]}},
        "env": env or {},
    }


def test_snapshot_checks() -> None:
    config = multinode()
    assert check_snapshots(config, [("a", snapshot(8)), ("b", snapshot(8))]) == []
    short = check_snapshots(config, [("a", snapshot(8)), ("b", snapshot(4))])
    assert any(f.severity == "error" and "b: 4 GPUs" in f.what for f in short)
    mixed = check_snapshots(config, [("a", snapshot(8)), ("b", snapshot(8, name="NVIDIA A100", driver="535.1"))])
    assert any("GPU model" in f.what for f in mixed) and any("NVIDIA driver" in f.what for f in mixed)
    versions = check_snapshots(config, [("a", snapshot(8)), ("b", snapshot(8, torch="2.5.1"))])
    assert any("torch" in f.what for f in versions)
    two_nics = snapshot(8, interfaces={"eth0": ["192.168.1.5"], "ib0": ["10.0.0.1"], "docker0": ["172.17.0.1"]})
    hint = check_snapshots(config, [("a", two_nics), ("b", snapshot(8))])
    assert any("NCCL_SOCKET_IFNAME" in f.what for f in hint)
    pinned = dict(two_nics, env={"NCCL_SOCKET_IFNAME": "ib0"})
    assert check_snapshots(config, [("a", pinned), ("b", snapshot(8))]) == []


def test_network_checks_on_the_main_node_and_from_another() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        main = check_network(multinode(main_process_ip="127.0.0.1", main_process_port=port))
        assert [f.rule for f in main] == ["multinode.main-ip-loopback", "multinode.port-busy"]
        assert main[1].what == f"port {port} is already in use on this machine."
        # From rank 1 the listening main node answers: only the loopback warning.
        reached = check_network(multinode(machine_rank=1, main_process_ip="127.0.0.1", main_process_port=port))
        assert [f.rule for f in reached] == ["multinode.main-ip-loopback"]
    foreign = check_network(multinode(main_process_ip="192.0.2.77", main_process_port=port))
    assert any("not an address of this machine" in f.what for f in foreign)
    unreachable = check_network(
        multinode(machine_rank=1, main_process_ip="127.0.0.1", main_process_port=port), timeout_s=1
    )
    assert f"cannot reach 127.0.0.1:{port}" in unreachable[-1].what


def test_a_missing_main_address_is_reported_once(tmp_path: Path, cli_env: dict[str, str]) -> None:
    import json

    assert check_network(multinode(main_process_ip=None)) == []  # check_config's rule reports it
    config = tmp_path / "m0.yaml"
    config.write_text(yaml.safe_dump(multinode(main_process_ip=None)))
    result = sftplay(["check", "--config-file", str(config), "--json"], cli_env, timeout=60)
    rules = [f["rule"] for f in json.loads(result.stdout)["findings"]]
    assert result.returncode == 1 and rules.count("multinode.main-ip") == 1, rules


def test_the_main_address_may_be_a_name_of_this_machine() -> None:
    # A host name (or any 127.x alias) of this machine is this machine: no "not an address of this machine".
    for name in (socket.gethostname(), "localhost", "127.0.1.1"):
        rules = [f.rule for f in check_network(multinode(main_process_ip=name, main_process_port=free_port()))]
        assert "multinode.main-ip-local" not in rules, name
    unresolvable = check_network(multinode(main_process_ip="no-such-host.invalid", main_process_port=free_port()))
    assert [f.rule for f in unresolvable] == ["multinode.main-ip-local"]


def test_check_command_compares_a_config_set_and_snapshots(tmp_path: Path, cli_env: dict[str, str]) -> None:
    import json

    for rank, name in ((0, "m0.yaml"), (0, "m1.yaml")):
        (tmp_path / name).write_text(yaml.safe_dump(multinode(machine_rank=rank)))
    snaps = []
    for name, gpus in (("a.json", 8), ("b.json", 4)):
        data = snapshot(gpus)
        data.update(
            {
                "source": "nvml",
                "cuda_version": "12.4",
                "p2p": [],
                "nvlink": [],
                "memory_total_mib": 1,
                "cpu": {"logical_cores": 8, "physical_cores": 4, "numa_nodes": 1},
            }
        )
        data["gpus"] = [
            {
                "index": i,
                "name": g["name"],
                "uuid": None,
                "memory_total_mib": 81559,
                "memory_used_mib": 0,
                "compute_capability": [9, 0],
                "utilization_pct": 0,
                "processes": [],
            }
            for i, g in enumerate(data["gpus"])
        ]
        data["p2p"] = [[None if i == j else True for j in range(gpus)] for i in range(gpus)]
        data["nvlink"] = [[0 if i == j else 18 for j in range(gpus)] for i in range(gpus)]
        (tmp_path / name).write_text(json.dumps(data))
        snaps.append(str(tmp_path / name))
    configs = ["--config-file", str(tmp_path / "m0.yaml"), "--config-file", str(tmp_path / "m1.yaml")]
    result = sftplay(["check", *configs, "--hardware", snaps[0], "--hardware", snaps[1], "--json"], cli_env, timeout=60)
    assert result.returncode == 1, result.stderr
    rules = {f["rule"] for f in json.loads(result.stdout)["findings"]}
    assert {"multinode.rank-duplicate", "multinode.rank-missing", "multinode.gpus-per-node"} <= rules


def test_node_labels_group_lines_like_ranks() -> None:
    from tui.core.follow import keep_line
    from tui.core.metrics import parse_metric_line, split_rank

    assert split_rank("[node1 gpu-b] hello") == (1, "hello")
    assert split_rank("[rank3]:x") == (3, "x")
    assert split_rank("[node1] x") == (1, "x")
    assert keep_line("[node0 a] x", 0) and not keep_line("[node0 a] x", 1) and keep_line("plain", "launcher")
    assert parse_metric_line('[node0 a] SFTPLAY_METRIC {"type": "log", "step": 3}') == {"type": "log", "step": 3}


def test_one_machine_of_a_cluster_gets_the_nccl_interface_hint(tmp_path: Path, cli_env: dict[str, str]) -> None:
    import json

    snapshots = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "snapshots"
    config = tmp_path / "m0.yaml"
    config.write_text(yaml.safe_dump(multinode()))

    def hinted(snapshot: str) -> list[str]:
        argv = ["check", "--config-file", str(config), "--json", "--hardware", str(snapshots / snapshot)]
        result = sftplay(argv, cli_env, timeout=60)
        assert result.returncode in (0, 1), result.stderr
        return [f["what"] for f in json.loads(result.stdout)["findings"] if f["rule"] == "multinode.nccl-interface"]

    assert hinted("h100-8x.json") == [
        "h100-8x.json: several network interfaces (eth0, ibp26s0, ibp60s0) and NCCL_SOCKET_IFNAME unset."
    ]
    config.write_text(yaml.safe_dump(multinode(num_machines=1, num_processes=8)))
    assert hinted("h100-8x.json") == []  # one machine: NCCL stays on it
