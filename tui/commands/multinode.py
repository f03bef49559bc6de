"""`sftplay-tui multinode`: the config set, launch commands and SLURM/SSH scripts for several machines."""

from __future__ import annotations

import argparse

ORDER = 60


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "multinode",
        help="write one config per machine, each machine's launch command, and SLURM/SSH scripts",
        description=(
            "From a multi-node accelerate config (num_machines > 1), write machine-<rank>.yaml for every "
            "machine (identical except machine_rank), README.md with each machine's exact command and the "
            "totals, and optionally an sbatch script (--slurm) or an SSH launcher (--hosts)."
        ),
    )
    parser.add_argument("--config-file", metavar="F", help="the multi-node config (default: accelerate's default)")
    parser.add_argument("--out", metavar="DIR", required=True, help="folder for the config set and scripts")
    parser.add_argument("--hosts", metavar="H1,H2,...", help="one host per machine, rank 0 first: writes launch-ssh.sh")
    parser.add_argument("--slurm", action="store_true", help="also write sbatch.sh (one script for every node)")
    parser.add_argument("--remote-dir", metavar="DIR", help="where the set lives on the nodes (default: --out)")
    parser.add_argument(
        "--launch",
        action="store_true",
        help="then start every machine (with --hosts over SSH, or --slurm through sbatch) as ONE run: "
        "logs stream here labelled by node, `runs`/the app show it, Ctrl+C stops all machines",
    )
    parser.add_argument("--detach", action="store_true", help="with --launch: start and return")
    parser.add_argument("--grace", type=float, default=5.0, metavar="SECONDS", help="with --launch: stop grace")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--script", metavar="S", help="training script (default: the bundled training/sft_train.py)")
    target.add_argument("-m", dest="module", metavar="MODULE", help="run a module instead of a script")
    parser.add_argument("training_args", nargs=argparse.REMAINDER, help="-- then the training arguments")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tui.commands._common import config_path
    from tui.core.accelerate_config import load_config_file
    from tui.core.errors import UsageError
    from tui.core.multinode import plan_cluster, write_cluster
    from tui.core.paths import bundled_training_script

    source = config_path(args.config_file)
    loaded = load_config_file(source)
    if loaded.errors:
        raise UsageError(loaded.errors[0].render(str(source)) + " (fix it first: `sftplay-tui check`).")
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()] if args.hosts else None
    training_args = list(args.training_args)
    if training_args and training_args[0] == "--":
        training_args = training_args[1:]
    script = None if args.module else (args.script or str(bundled_training_script()))
    out = Path(args.out).expanduser()
    plan = plan_cluster(
        loaded.data, script=script, module=args.module, args=training_args, hosts=hosts, config_dir=out.resolve()
    )
    if args.launch and (hosts is None) == (not args.slurm):
        raise UsageError("--launch starts the machines either over SSH (--hosts) or through SLURM (--slurm): give one.")
    files = write_cluster(plan, out, slurm=args.slurm, ssh=hosts is not None, remote_dir=args.remote_dir)
    if not args.launch:
        print(plan.summary())
        print("Written:")
        for path in files:
            print(f"  {path}")
        return 0
    import sys

    from tui.commands._common import warn
    from tui.commands.launch import attach
    from tui.core.multinode import cluster_run_plan
    from tui.core.runs import start_run

    run_plan = cluster_run_plan(plan, out, via="ssh" if hosts else "slurm")
    warn(f"run {run_plan.run_dir.name}: {plan.num_machines} machines ({run_plan.notes[0]}); set in {out}")
    started = start_run(run_plan, fork=True)
    if args.detach:
        print(started.id)
        return 0
    return attach(started.path, grace_s=args.grace, out=sys.stdout)
