"""Multi-node: one plan, a config and an exact launch command per machine, SLURM and SSH scripts.

accelerate's multi-node set-up goes wrong in a few typical ways (accelerate issues #412, #806,
#1804, #2362, #2818, #3894): every node left at machine_rank 0, `num_processes` taken per node
instead of total, a main address the others cannot reach, a busy port, nodes with different GPU
counts, and a job that hangs at the first collective without a word. A `ClusterPlan` makes the
set explicit: the configs differ only in `machine_rank`; the commands come from the same
`plan_launch` as a single-node run (so CPU ranks get the same fixes); the summary says who is the
main node, which port, and how the total is made up.

Scripts written:
- `sbatch.sh`: one script for every node. Submitted with `sbatch`, it re-runs itself through
  `srun` once per node; each copy reads SLURM's variables (node list, node id, node count, GPUs
  on the node) to fill machine rank, main address and totals at run time.
- `launch-ssh.sh`: starts every node over ssh from this machine, prefixes each node's output
  with its name, and stops all of them when one fails or on Ctrl+C.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tui.core.accelerate_config import dump_config
from tui.core.errors import UsageError
from tui.core.files import atomic_write
from tui.core.launch import DEFAULT_PORT, LaunchPlan, LaunchRequest, env_words, plan_launch


@dataclass(frozen=True)
class NodePlan:
    rank: int
    host: str | None
    config_name: str
    config: dict[str, Any]
    #: Environment overrides and argv, as run on that node (accelerate by name: its PATH decides).
    env: dict[str, str]
    argv: tuple[str, ...]

    @property
    def command(self) -> str:
        return " ".join(w for w in (env_words(self.env), shlex.join(self.argv)) if w)


@dataclass(frozen=True)
class ClusterPlan:
    base: dict[str, Any]
    nodes: tuple[NodePlan, ...]
    main_ip: str
    port: int
    per_node: int
    script_words: tuple[str, ...]

    @property
    def num_machines(self) -> int:
        return len(self.nodes)

    @property
    def total(self) -> int:
        return self.per_node * self.num_machines

    def summary(self) -> str:
        device = "CPU processes" if self.base.get("use_cpu") else "GPUs"
        lines = [
            f"# Multi-node run: {self.num_machines} machines",
            "",
            f"- Total processes: {self.per_node} {device} per machine x {self.num_machines} machines = "
            f"{self.total} (`num_processes: {self.total}` in every config: accelerate counts the total).",
            f"- Main node: machine_rank 0 at {self.main_ip}, port {self.port}: every other machine must reach "
            f"{self.main_ip}:{self.port} (check with `nc -z {self.main_ip} {self.port}`).",
            f"- Distributed type: {self.base.get('distributed_type')}, mixed precision: "
            f"{self.base.get('mixed_precision', 'no')}.",
            "- The configs differ only in `machine_rank`; start the main node first or all at once.",
            "",
            "## Per machine",
            "",
        ]
        for node in self.nodes:
            where = f" ({node.host})" if node.host else ""
            lines += [f"### machine_rank {node.rank}{where}", "", "```bash", node.command, "```", ""]
        lines += [
            "## Before starting",
            "",
            "Run `sftplay-tui check --config-file <machine config>` on each machine, with `--hardware` "
            "snapshots from the others (`sftplay-tui gpu-info --json > node.json`) to compare them.",
        ]
        return "\n".join(lines) + "\n"


def _int(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError(f"{key}: {value!r} is not a whole number.")
    return value


def plan_cluster(
    config: Mapping[str, Any],
    *,
    script: str | None = None,
    module: str | None = None,
    args: Sequence[str] = (),
    hosts: Sequence[str] | None = None,
    config_dir: Path | None = None,
) -> ClusterPlan:
    """The per-machine configs and commands for a multi-node `config`; UsageError if it cannot work."""
    machines = _int(config, "num_machines", 1)
    if machines < 2:
        raise UsageError(
            f"num_machines is {machines}: this is a single-machine config. Answer the wizard's "
            "'How many different machines' with 2 or more (or set num_machines)."
        )
    total = _int(config, "num_processes", 1)
    if total < machines or total % machines:
        raise UsageError(
            f"num_processes is {total} for {machines} machines: it is the TOTAL across machines and must be a "
            f"multiple of {machines} (e.g. {machines * 8} for 8 GPUs each); accelerate gives each node "
            f"num_processes // num_machines = {total // machines}."
        )
    main_ip = config.get("main_process_ip")
    if not isinstance(main_ip, str) or not main_ip.strip():
        raise UsageError("main_process_ip is missing: set the address of the machine_rank 0 node as the others see it.")
    port_value = config.get("main_process_port")
    port = DEFAULT_PORT if port_value is None else _int(config, "main_process_port", DEFAULT_PORT)
    if hosts is not None and len(hosts) != machines:
        raise UsageError(f"--hosts lists {len(hosts)} hosts but the config has num_machines: {machines}.")
    if (script is None) == (module is None):
        raise UsageError("give either a training script or a module (-m), not both.")
    folder = config_dir or Path("sftplay-multinode")
    nodes: list[NodePlan] = []
    for rank in range(machines):
        node_config = {**config, "machine_rank": rank, "main_process_port": port}
        name = f"machine-{rank}.yaml"
        request = LaunchRequest(
            config_file=folder / name,
            script=Path(script) if script else None,
            module=module,
            args=tuple(args),
            rank_prefixes=False,
        )
        # The script must exist here too: the nodes run the same path (a shared or identical checkout).
        plan = plan_launch(request, config=node_config, accelerate="accelerate", run_dir=folder / "runs")
        nodes.append(
            NodePlan(
                rank=rank,
                host=hosts[rank] if hosts else None,
                config_name=name,
                config=node_config,
                env=dict(plan.env),
                argv=plan.argv,
            )
        )
    target = ("-m", module) if module else (str(script),)
    return ClusterPlan(
        base=dict(config),
        nodes=tuple(nodes),
        main_ip=main_ip.strip(),
        port=port,
        per_node=total // machines,
        script_words=(*target, *args),
    )


# -- scripts ------------------------------------------------------------------------------------

_HOSTLIST_PY = (
    "import re,sys\n"
    "out=[]\n"
    "for part in re.findall(r'[^,\\[]+(?:\\[[^\\]]*\\])?', sys.argv[1]):\n"
    "    m=re.match(r'(.*)\\[(.*)\\](.*)', part)\n"
    "    if not m: out.append(part); continue\n"
    "    for r in m.group(2).split(','):\n"
    "        a,_,b=r.partition('-'); b=b or a\n"
    "        out += [m.group(1)+str(i).zfill(len(a))+m.group(3) for i in range(int(a), int(b)+1)]\n"
    "print(out[0])\n"
)


def sbatch_script(plan: ClusterPlan, config_path: str) -> str:
    """One sbatch script for every node: SLURM's variables fill rank, main address and totals."""
    base_argv = list(plan.nodes[0].argv)
    # Drop what SLURM decides at run time from the per-node command; the flags below set it.
    config_index = base_argv.index("--config_file")
    base_argv[config_index + 1] = config_path
    env = env_words(plan.nodes[0].env)
    command = shlex.join(base_argv[:2]) + " " + shlex.join(base_argv[2 : config_index + 2])
    rest = shlex.join(base_argv[config_index + 2 :])
    gpu_line = "" if plan.base.get("use_cpu") else f"#SBATCH --gpus-per-node={plan.per_node}\n"
    # SLURM runs the batch step from its own copy of this script, which only the first node has
    # ("$0" there): the steps on every node run this file at its path on the shared file system.
    this_script = shlex.quote(str(Path(config_path).parent / "sbatch.sh"))
    return f"""#!/usr/bin/env bash
# Written by sftplay-tui multinode. Submit with: sbatch {Path(config_path).parent}/sbatch.sh
# One task per node: accelerate itself starts the {plan.per_node} processes of each node.
#SBATCH --job-name=sftplay
#SBATCH --nodes={plan.num_machines}
#SBATCH --ntasks-per-node=1
{gpu_line}#SBATCH --cpus-per-task=8
set -euo pipefail
if [[ -z "${{SLURM_STEP_ID:-}}" ]]; then
  # The batch step: run this same script once on every node of the allocation.
  exec srun --ntasks-per-node=1 --kill-on-bad-exit=1 bash {this_script} "$@"
fi
NODES="${{SLURM_JOB_NODELIST:?not running under SLURM}}"
if command -v scontrol >/dev/null 2>&1; then
  MAIN_ADDR="$(scontrol show hostnames "$NODES" | head -n 1)"
else
  MAIN_ADDR="$(python3 -c {shlex.quote(_HOSTLIST_PY)} "$NODES")"
fi
NUM_MACHINES="${{SLURM_NNODES:-{plan.num_machines}}}"
PER_NODE="${{SLURM_GPUS_ON_NODE:-{plan.per_node}}}"
RANK="${{SLURM_NODEID:?SLURM_NODEID is not set}}"
# Label every line with its node (as the SSH launcher does): the run view groups the log by node.
exec > >(sed -u "s/^/[node$RANK $(hostname)] /") 2>&1
echo "sftplay: node $RANK of $NUM_MACHINES, main $MAIN_ADDR:{plan.port}, $PER_NODE processes here" >&2
exec env {env} {command} \\
  --machine_rank "$RANK" --num_machines "$NUM_MACHINES" \\
  --num_processes "$((NUM_MACHINES * PER_NODE))" \\
  --main_process_ip "$MAIN_ADDR" --main_process_port {plan.port} \\
  {rest}
"""


def ssh_script(plan: ClusterPlan, remote_dir: str) -> str:
    """Start every node over ssh; stop them all when one fails or on Ctrl+C."""
    if any(node.host is None for node in plan.nodes):
        raise UsageError("the SSH script needs --hosts (one per machine, machine_rank 0 first).")
    entries = []
    for node in plan.nodes:
        argv = list(node.argv)
        argv[argv.index("--config_file") + 1] = f"{remote_dir}/{node.config_name}"
        env = env_words(node.env)
        remote = f"cd {shlex.quote(remote_dir)} && exec env {env} {shlex.join(argv)}"
        entries.append(f"  {shlex.quote(str(node.host))} {shlex.quote(remote)}")
    nodes = "\n".join(entries)
    return f"""#!/usr/bin/env bash
# Written by sftplay-tui multinode: starts every machine over ssh, machine_rank 0 first.
# Stops all of them when one fails or on Ctrl+C. SSH="ssh -o ..." overrides the ssh command.
set -uo pipefail
SSH="${{SSH:-ssh -o BatchMode=yes}}"
NODES=(
{nodes}
)
PIDS=()
HOSTS=()
cleanup() {{
  trap - INT TERM
  echo "sftplay: stopping all nodes" >&2
  # ${{A[@]+...}}: an empty array is "unbound" under set -u before bash 4.4.
  for pid in ${{PIDS[@]+"${{PIDS[@]}}"}}; do kill -TERM "$pid" 2>/dev/null; done
  sleep 2
  for pid in ${{PIDS[@]+"${{PIDS[@]}}"}}; do kill -KILL "$pid" 2>/dev/null; done
}}
trap 'cleanup; exit 130' INT TERM
for ((i = 0; i < ${{#NODES[@]}}; i += 2)); do
  host="${{NODES[i]}}"; remote="${{NODES[i+1]}}"
  # -tt gives the remote command a terminal, so closing the connection also ends it.
  # Every line is labelled with its node (rank and host): the run view groups the log by node.
  setsid $SSH -tt "$host" "$remote" > >(sed -u "s/^/[node$((i / 2)) $host] /") 2>&1 &
  PIDS+=("$!"); HOSTS+=("$host")
done
status=0
# Poll rather than `wait -n -p`, which needs bash 5.1 (Ubuntu 20.04 and RHEL 8 have older ones).
while ((${{#PIDS[@]}})); do
  finished=""
  for idx in "${{!PIDS[@]}}"; do
    if ! kill -0 "${{PIDS[idx]}}" 2>/dev/null; then finished=$idx; break; fi
  done
  if [[ -z "$finished" ]]; then sleep 0.5; continue; fi
  wait "${{PIDS[finished]}}"; code=$?
  host="${{HOSTS[finished]}}"
  unset "PIDS[finished]" "HOSTS[finished]"
  if ((code != 0)); then
    echo "sftplay: $host exited with $code" >&2
    status=$code
    cleanup
    break
  fi
done
exit "$status"
"""


def slurm_launcher_script(sbatch_path: str) -> str:
    """Submit the sbatch script, follow the job until it ends, cancel it on Ctrl+C/stop.

    The job's output is appended to $SFTPLAY_LOG (a run's output.log when sftplay-tui starts
    it; the folder must be visible from the nodes, e.g. in your home) so the run view shows it.
    """
    return f"""#!/usr/bin/env bash
# Written by sftplay-tui multinode: submit {Path(sbatch_path).name}, wait for the job, exit with its code.
# Stopping this script (Ctrl+C, `sftplay-tui stop`) cancels the job.
set -uo pipefail
LOG="${{SFTPLAY_LOG:-$PWD/sftplay-slurm.log}}"
jobid="$(sbatch --parsable --open-mode=append --output="$LOG" {shlex.quote(sbatch_path)})" || exit $?
jobid="${{jobid%%;*}}"
echo "sftplay: submitted SLURM job $jobid (output: $LOG)"
trap 'echo "sftplay: cancelling job $jobid" >&2; scancel "$jobid"; exit 130' INT TERM
while [[ -n "$(squeue -h -j "$jobid" -o %T 2>/dev/null)" ]]; do
  sleep "${{SFTPLAY_POLL_S:-5}}" & wait $!
done
code="$(sacct -n -X -j "$jobid" -o ExitCode 2>/dev/null | head -n 1 | tr -d ' ')"
code="${{code%%:*}}"
echo "sftplay: job $jobid ended with exit code ${{code:-unknown}}"
exit "${{code:-1}}"
"""


def write_cluster(
    plan: ClusterPlan, out_dir: Path, *, slurm: bool = False, ssh: bool = False, remote_dir: str | None = None
) -> list[Path]:
    """Write the config set (and scripts) into `out_dir`; returns the files written."""
    out_dir = out_dir.expanduser()
    written: list[Path] = []
    for node in plan.nodes:
        path = out_dir / node.config_name
        atomic_write(path, dump_config(node.config, path))
        written.append(path)
    readme = out_dir / "README.md"
    atomic_write(readme, plan.summary())
    written.append(readme)
    if slurm:
        path = out_dir / "sbatch.sh"
        atomic_write(path, sbatch_script(plan, str(out_dir.resolve() / plan.nodes[0].config_name)))
        path.chmod(0o755)
        written.append(path)
        wrapper = out_dir / "launch-slurm.sh"
        atomic_write(wrapper, slurm_launcher_script(str(path.resolve())))
        wrapper.chmod(0o755)
        written.append(wrapper)
    if ssh:
        path = out_dir / "launch-ssh.sh"
        atomic_write(path, ssh_script(plan, remote_dir or str(out_dir.resolve())))
        path.chmod(0o755)
        written.append(path)
    return written


# -- one run for the whole cluster ----------------------------------------------------------------


def cluster_run_plan(plan: ClusterPlan, out_dir: Path, *, via: str) -> LaunchPlan:
    """A run (as `sftplay-tui launch` records one) whose command starts every machine.

    `via="ssh"` runs launch-ssh.sh, `via="slurm"` runs launch-slurm.sh; both are in `out_dir`
    (written by `write_cluster`). The run view and `runs` then show the cluster as one run, each
    node's lines labelled `[nodeK host]`.
    """
    script = out_dir.resolve() / ("launch-ssh.sh" if via == "ssh" else "launch-slurm.sh")
    if not script.is_file():
        flag = "--hosts" if via == "ssh" else "--slurm"
        raise UsageError(f"{script} is missing: write the set with {flag} first.")
    node = plan.nodes[0]
    words = list(plan.script_words)
    module = words[1] if words[0] == "-m" else None
    request = LaunchRequest(
        config_file=out_dir.resolve() / node.config_name,
        script=None if module else Path(words[0]),
        module=module,
        args=tuple(words[2:] if module else words[1:]),
        cwd=out_dir.resolve(),
        rank_prefixes=False,
    )
    base = plan_launch(request, config=node.config, accelerate="accelerate")
    env = {"PYTHONUNBUFFERED": "1", "SFTPLAY_LOG": str(base.run_dir / "output.log")}
    return replace(
        base,
        argv=("bash", str(script)),
        env=env,
        num_processes=plan.total,
        notes=(f"multi-node: {plan.num_machines} machines x {plan.per_node} processes via {via}",),
        node_groups=plan.num_machines,
    )
