"""`sftplay-tui stop RUN`: stop a run cleanly (SIGINT, SIGTERM, then SIGKILL) and say what is left."""

from __future__ import annotations

import argparse

from tui.core.errors import UsageError

ORDER = 43


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "stop",
        help="stop a running run (launcher and every worker) and verify none is left",
        description=(
            "SIGINT to the launcher's process group (it forwards it to the workers), SIGTERM after the "
            "grace period, then SIGKILL to every recorded worker and the launcher; then check that no "
            "process of the run is left and, on GPU machines, that none holds GPU memory."
        ),
    )
    parser.add_argument("ref", metavar="RUN", help="run id, unique prefix, folder, or `last`")
    parser.add_argument("--grace", type=float, default=5.0, metavar="SECONDS", help="grace period (default 5)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tui.commands._common import warn
    from tui.core.process import gpu_pids_from_probe
    from tui.core.runs import find_run, stop_run, wait_final

    if args.grace < 0:
        raise UsageError("--grace must be 0 or more seconds.")
    item = find_run(args.ref)
    if not item.active:
        warn(f"run {item.id} is not running ({item.state}); nothing to stop.")
        return 0
    report = stop_run(item, grace_s=args.grace, gpu_pids=gpu_pids_from_probe(), by="sftplay-tui stop")
    for step in report.steps:
        print(step)
    final = wait_final(item, timeout_s=15.0)
    print(f"run {final.id}: {report.summary} State: {final.state}.")
    return 0 if report.all_gone and not report.gpu_holders else 1
