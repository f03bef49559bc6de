"""Real two-"machine" runs on one box: two accelerate launchers, machine ranks 0 and 1, 127.0.0.1.

Each "machine" runs one CPU process; they must connect as one world of size 2. The generated
sbatch script is executed the way SLURM runs it on each node (SLURM_* variables set, no srun),
and the SSH launcher with a stand-in for ssh that runs the node's command here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.cli import sftplay
from tests.support.training_runs import embedded_cache_fixture  # noqa: F401  (fixture)
from tui.core.launch import free_port
from tui.core.multinode import plan_cluster, write_cluster

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SCRIPT = str(FIXTURES / "world_size.py")
VENV_BIN = str(Path(sys.executable).parent)


def cpu_two_machines(port: int) -> dict[str, Any]:
    return {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": "MULTI_CPU",
        "downcast_bf16": "no",
        "enable_cpu_affinity": False,
        "machine_rank": 0,
        "main_process_ip": "127.0.0.1",
        "main_process_port": port,
        "main_training_function": "main",
        "mixed_precision": "no",
        "num_machines": 2,
        "num_processes": 2,
        "rdzv_backend": "static",
        "same_network": True,
        "tpu_env": [],
        "tpu_use_cluster": False,
        "tpu_use_sudo": False,
        "use_cpu": True,
    }


def env_with_venv(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def worlds(text: str) -> set[tuple[int, int]]:
    return {(int(r), int(s)) for r, s in re.findall(r"WORLD rank=(\d+) size=(\d+)", text)}


def test_two_launchers_form_one_world(tmp_path: Path) -> None:
    plan = plan_cluster(cpu_two_machines(free_port()), script=SCRIPT, config_dir=tmp_path)
    write_cluster(plan, tmp_path)
    procs = [
        subprocess.Popen(
            node.command,
            shell=True,
            cwd=tmp_path,
            env=env_with_venv(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for node in plan.nodes
    ]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert worlds("".join(outputs)) == {(0, 2), (1, 2)}


def run_sbatch_as_node(script: Path, node_id: int, **extra: str) -> subprocess.Popen[str]:
    env = env_with_venv(
        SLURM_STEP_ID="0",
        SLURM_JOB_NODELIST="localhost,localhost",
        SLURM_NNODES="2",
        SLURM_NODEID=str(node_id),
        **extra,
    )
    return subprocess.Popen(["bash", str(script)], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_sbatch_script_starts_the_connected_run(tmp_path: Path) -> None:
    plan = plan_cluster(cpu_two_machines(free_port()), script=SCRIPT, config_dir=tmp_path)
    write_cluster(plan, tmp_path, slurm=True)
    procs = [run_sbatch_as_node(tmp_path / "sbatch.sh", node) for node in (0, 1)]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert worlds("".join(outputs)) == {(0, 2), (1, 2)}
    assert "node 1 of 2, main localhost" in outputs[1]


def test_ssh_launcher_runs_every_node(tmp_path: Path) -> None:
    plan = plan_cluster(
        cpu_two_machines(free_port()), script=SCRIPT, hosts=["localhost", "localhost"], config_dir=tmp_path
    )
    write_cluster(plan, tmp_path, ssh=True)
    result = subprocess.run(
        ["bash", str(tmp_path / "launch-ssh.sh")],
        env=env_with_venv(SSH=str(FIXTURES / "fake_ssh.sh")),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert worlds(result.stdout) == {(0, 2), (1, 2)}
    assert "[node0 localhost] WORLD rank=0" in result.stdout and "[node1 localhost] WORLD rank=1" in result.stdout


def _descendant_pids(pid: int) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def test_ssh_launcher_stops_all_nodes_when_one_fails(tmp_path: Path) -> None:
    plan = plan_cluster(
        cpu_two_machines(free_port()), script=SCRIPT, hosts=["localhost", "localhost"], config_dir=tmp_path
    )
    write_cluster(plan, tmp_path, ssh=True)
    env = env_with_venv(SSH=str(FIXTURES / "fake_ssh.sh"), SFTPLAY_TEST_FAIL_RANK="1", SFTPLAY_TEST_SLEEP="120")
    proc = subprocess.Popen(
        ["bash", str(tmp_path / "launch-ssh.sh")],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 150
    while proc.poll() is None and time.monotonic() < deadline:
        seen |= _descendant_pids(proc.pid)
        time.sleep(0.2)
    output = proc.communicate(timeout=30)[0]
    assert proc.returncode not in (0, None), output
    assert "exited with" in output and "stopping all nodes" in output
    time.sleep(1)
    alive = [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    for pid in alive:  # leave nothing behind even if the assertion below fails
        os.kill(pid, signal.SIGKILL)
    assert alive == []


def test_two_machines_train_together(tmp_path: Path, embedded_cache: Path) -> None:
    """The bundled trainer across two "machines": world size 2, training completes on both."""
    from tests.support.training_runs import SCRIPT as TRAIN
    from tests.support.training_runs import run_env
    from training.metrics_protocol import parse_line

    args = ["--output_dir", str(tmp_path / "out"), "--max_steps", "6", "--logging_steps", "3", "--save_strategy", "no"]
    plan = plan_cluster(cpu_two_machines(free_port()), script=str(TRAIN), args=args, config_dir=tmp_path)
    write_cluster(plan, tmp_path)
    env = {**run_env(embedded_cache), "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "")}
    procs = [
        subprocess.Popen(
            node.command,
            shell=True,
            cwd=tmp_path,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for node in plan.nodes
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    records = [r for r in map(parse_line, outputs[0].splitlines()) if r is not None]
    start = next(r for r in records if r["type"] == "start")
    end = next(r for r in records if r["type"] == "end")
    assert start["world_size"] == 2 and start["distributed_type"] == "MULTI_CPU"
    assert end["status"] == "completed"


def _write_cpu_config(tmp_path: Path) -> Path:
    import yaml

    path = tmp_path / "two-machines.yaml"
    path.write_text(yaml.safe_dump(cpu_two_machines(free_port())))
    return path


def _cluster_env(tmp_path: Path, cli_env: dict[str, str], **extra: str) -> dict[str, str]:
    """The stand-ins for ssh and SLURM's commands first on PATH, their state under tmp_path."""
    return {
        **cli_env,
        "PATH": f"{FIXTURES / 'fake_slurm'}{os.pathsep}{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "SSH": str(FIXTURES / "fake_ssh.sh"),
        "FAKE_SLURM_DIR": str(tmp_path / "slurm"),
        "SFTPLAY_POLL_S": "0.2",
        **extra,
    }


def _launch_cluster(tmp_path: Path, env: dict[str, str], via: str, *options: str) -> subprocess.CompletedProcess[str]:
    """`multinode --launch` of the two-CPU-machine config over SSH (two localhosts) or SLURM."""
    where = ["--hosts", "localhost,localhost"] if via == "ssh" else ["--slurm"]
    config = _write_cpu_config(tmp_path)
    args = ["multinode", "--config-file", str(config), "--out", str(tmp_path / "set"), *where, "--launch"]
    return sftplay([*args, *options, "--script", SCRIPT], env, tmp_path)


@pytest.mark.parametrize("via", ["ssh", "slurm"])
def test_cluster_launched_from_here_is_one_run(tmp_path: Path, cli_env: dict[str, str], via: str) -> None:
    import json

    env = _cluster_env(tmp_path, cli_env)
    result = _launch_cluster(tmp_path, env, via)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every node's lines arrive here, labelled by node; the two form one world of size 2.
    assert worlds(result.stdout) == {(0, 2), (1, 2)}
    assert re.search(r"^\[node0 [^\]]+\] WORLD rank=0 size=2", result.stdout, re.M), result.stdout
    assert re.search(r"^\[node1 [^\]]+\] WORLD rank=1 size=2", result.stdout, re.M), result.stdout
    runs = [json.loads(line) for line in sftplay(["runs", "--json"], env, tmp_path).stdout.splitlines()]
    assert len(runs) == 1 and runs[0]["state"] == "succeeded"
    assert f"launch-{via}.sh" in runs[0]["command"]


def _processes_working_in(folder: Path) -> list[psutil.Process]:
    """Live processes whose working directory is in `folder` (every node's launcher and ranks)."""
    found = []
    for proc in psutil.process_iter(["cwd", "status"]):
        cwd = proc.info.get("cwd")
        if cwd and cwd.startswith(str(folder)) and proc.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


@pytest.mark.parametrize("via", ["ssh", "slurm"])
def test_stopping_a_cluster_run_ends_every_node(tmp_path: Path, cli_env: dict[str, str], via: str) -> None:
    env = _cluster_env(tmp_path, cli_env, SFTPLAY_TEST_SLEEP="300")
    started = _launch_cluster(tmp_path, env, via, "--detach")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    deadline = time.monotonic() + 120
    log = ""
    while time.monotonic() < deadline and len(worlds(log)) < 2:
        time.sleep(0.5)
        log = sftplay(["logs", run_id], env, tmp_path).stdout
    assert worlds(log) == {(0, 2), (1, 2)}, log
    running = [p for p in _processes_working_in(tmp_path) if SCRIPT in " ".join(p.cmdline())]
    assert len(running) >= 4  # each "machine": its accelerate launcher and its rank, asleep
    stopped = sftplay(["stop", run_id, "--grace", "2"], env, tmp_path)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _processes_working_in(tmp_path):
        time.sleep(0.5)
    assert not _processes_working_in(tmp_path)
