"""`sftplay-tui check`: does this accelerate config fit this machine (or a snapshot of another)?

Exit status: 0 no errors (warnings allowed), 1 the config cannot work as written, 2 bad input
(missing or malformed config or snapshot: one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tui.commands._common import config_path

ORDER = 40


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "check",
        help="check an accelerate config against this machine's GPUs (or a gpu-info snapshot)",
        description=(
            "Check an accelerate config (default: the file accelerate reads) against this machine, or "
            "against a `sftplay-tui gpu-info --json` snapshot taken elsewhere. Prints one line per finding: "
            "severity, what, why, fix. Exit 0: no errors; 1: the config cannot work as written; 2: bad input."
        ),
    )
    parser.add_argument("--config-file", metavar="F", help="the accelerate config (default: accelerate's default path)")
    parser.add_argument("--hardware", metavar="SNAPSHOT.json", help="check against this gpu-info --json snapshot")
    parser.add_argument(
        "--launcher",
        choices=("accelerate", "sftplay-tui"),
        default="accelerate",
        help="how it will be launched: plain `accelerate launch` (default) or `sftplay-tui launch`",
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tui.core.checks import check_config_file
    from tui.core.hardware import load_snapshot, probe_hardware

    path = config_path(args.config_file)
    hardware = load_snapshot(args.hardware) if args.hardware else probe_hardware()
    report = check_config_file(Path(path), hardware, launcher=args.launcher)
    where = f"snapshot {args.hardware}" if args.hardware else "this machine"
    gpus = f"{len(hardware.gpus)} GPU{'s' if len(hardware.gpus) != 1 else ''}" if hardware.gpus else "no GPU"
    if args.json:
        data = {
            "config_file": str(report.checked_path or path),
            "hardware": str(args.hardware) if args.hardware else "live",
            "exit_code": report.exit_code,
            "findings": [f.to_dict() for f in report.findings],
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return report.exit_code
    for line in report.lines():
        print(line)
    errors, warnings = len(report.errors), len(report.warnings)
    checked = report.checked_path or path
    if errors:
        print(
            f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}: "
            f"{checked} cannot work as written on {where} ({gpus})."
        )
    elif warnings:
        print(f"{warnings} warning{'s' if warnings != 1 else ''}, no errors: {checked} on {where} ({gpus}).")
    else:
        print(f"ok: {checked} fits {where} ({gpus}).")
    return report.exit_code
