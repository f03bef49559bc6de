"""`sftplay-tui check`: does this accelerate config fit this machine (or a snapshot of another)?

With several `--config-file` (a multi-node config set) the configs are also checked against each
other; with several `--hardware` snapshots (one per machine) the machines are compared. A
multi-node config checked on this machine also gets the network checks (main port free and
address local on rank 0; the main node reachable from the others).

Exit status: 0 no errors (warnings allowed), 1 the config cannot work as written, 2 bad input
(missing or malformed config or snapshot: one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys

ORDER = 40


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "check",
        help="check an accelerate config against this machine's GPUs (or a gpu-info snapshot)",
        description=(
            "Check an accelerate config (default: the file accelerate reads) against this machine, or "
            "against a `sftplay-tui gpu-info --json` snapshot taken elsewhere. Prints one line per finding: "
            "severity, what, why, fix. Exit 0: no errors; 1: the config cannot work as written; 2: bad input. "
            "Repeat --config-file for a multi-node config set and --hardware for one snapshot per machine."
        ),
    )
    parser.add_argument(
        "--config-file",
        metavar="F",
        action="append",
        help="the accelerate config (default: accelerate's default path); repeat for a multi-node set",
    )
    parser.add_argument(
        "--hardware",
        metavar="SNAPSHOT.json",
        action="append",
        help="check against this gpu-info --json snapshot; repeat with one snapshot per machine",
    )
    parser.add_argument(
        "--launcher",
        choices=("accelerate", "sftplay-tui"),
        default="accelerate",
        help="how it will be launched: plain `accelerate launch` (default) or `sftplay-tui launch`",
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="the model to train (folder or Hub id): checks FSDP's layer class to wrap against it "
        "(reads its config only; imports transformers)",
    )
    parser.add_argument("--no-network", action="store_true", help="skip the multi-node port/reachability checks")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tui.commands._common import config_path
    from tui.core.checks import CheckReport, Finding, check_config_file
    from tui.core.hardware import load_snapshot, probe_hardware
    from tui.core.multinode_checks import check_config_set, check_interfaces, check_network, check_snapshots

    paths = [config_path(p) for p in (args.config_file or [None])]
    snapshot_paths = list(args.hardware or [])
    snapshots = [load_snapshot(p) for p in snapshot_paths]
    hardware = snapshots[0] if snapshots else probe_hardware()
    model = None
    if args.model:
        from tui.core.model_structure import read_model_structure

        model = read_model_structure(args.model)
    reports: list[CheckReport] = []
    for index, path in enumerate(paths):
        # With one snapshot per config (a set), check each machine's config against its own snapshot.
        own = snapshots[index] if len(snapshots) == len(paths) else hardware
        reports.append(check_config_file(Path(path), own, launcher=args.launcher, model=model))
    extra: list[Finding] = []
    first = reports[0].data
    if len(paths) > 1:
        extra += check_config_set([(p.name, r.data) for p, r in zip(paths, reports, strict=True)])
    if len(snapshots) > 1:
        named = [(Path(p).name, s.to_dict()) for p, s in zip(snapshot_paths, snapshots, strict=True)]
        extra += check_snapshots(first, named)
    else:
        # One machine of a multi-node run (its snapshot, or this machine): the NCCL interface hint.
        name = Path(snapshot_paths[0]).name if snapshot_paths else "this machine"
        extra += check_interfaces(first, name, hardware.to_dict())
    if not snapshots and not args.no_network:
        extra += check_network(first)
    findings = [f for r in reports for f in r.findings] + extra
    exit_code = 1 if any(f.severity == "error" for f in findings) else 0
    where = ", ".join(f"snapshot {p}" for p in snapshot_paths) if snapshot_paths else "this machine"
    gpus = f"{len(hardware.gpus)} GPU{'s' if len(hardware.gpus) != 1 else ''}" if hardware.gpus else "no GPU"
    if args.json:
        data = {
            "config_files": [str(r.checked_path or r.path) for r in reports],
            "config_file": str(reports[0].checked_path or paths[0]),
            "hardware": snapshot_paths or "live",
            "exit_code": exit_code,
            "findings": [f.to_dict() for f in findings],
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return exit_code
    for report in reports:
        for line in report.lines():
            print(line)
    for finding in extra:
        print(finding.render())
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    checked = ", ".join(str(r.checked_path or r.path) for r in reports)
    if errors:
        print(
            f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}: "
            f"{checked} cannot work as written on {where} ({gpus})."
        )
    elif warnings:
        print(f"{warnings} warning{'s' if warnings != 1 else ''}, no errors: {checked} on {where} ({gpus}).")
    else:
        print(f"ok: {checked} fits {where} ({gpus}).")
    return exit_code
