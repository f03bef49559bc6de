"""`sftplay-tui gpu-info`: the GPUs, their links, CPU/RAM and the launch-relevant environment.

`--json` prints the `sftplay-hardware/1` snapshot that `check --hardware` reads. Fast by design:
NVML (or nvidia-smi) answers in milliseconds; torch is only imported when neither answers and it
could possibly see a GPU; rich is only imported to draw the table.
"""

from __future__ import annotations

import argparse
import sys

ORDER = 30


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "gpu-info",
        help="show GPUs, memory, P2P/NVLink, CPU/RAM and the env vars accelerate reads",
        description=(
            "Probe this machine (NVML, else nvidia-smi, else torch) and show its GPUs with memory, "
            "utilisation and the processes using them, the P2P/NVLink matrix, CPU and RAM, and the "
            "environment variables that change what accelerate and torch see. --json prints a snapshot "
            "for `sftplay-tui check --hardware FILE` on another machine."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the sftplay-hardware/1 snapshot as JSON")
    parser.add_argument(
        "--timeout",
        type=float,
        default=8.0,
        metavar="SECONDS",
        help="give up on a probe source after this long (default 8)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tui.core.hardware import probe_hardware

    info = probe_hardware(timeout=max(float(args.timeout), 0.5))
    if args.json:
        sys.stdout.write(info.to_json() + "\n")
        return 0
    from rich.console import Console

    from tui.core.hardware.render import render_hardware

    Console().print(render_hardware(info))
    return 0
