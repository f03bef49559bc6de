"""`sftplay-tui runs`: every run with its state, start, duration, config and last loss."""

from __future__ import annotations

import argparse
import json

ORDER = 41


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "runs",
        help="list runs (state, start, duration, config, last loss)",
        description="List the runs under $XDG_STATE_HOME/sftplay-tui/runs/, newest first.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per run, one a line")
    parser.add_argument("-n", "--limit", type=int, default=50, metavar="N", help="show the newest N (default 50)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tui.core.errors import UsageError
    from tui.core.paths import runs_dir
    from tui.core.runs import list_runs

    if args.limit < 1:
        raise UsageError("--limit must be at least 1.")
    runs = list_runs()[: args.limit]
    if args.json:
        for item in runs:
            print(
                json.dumps(
                    {
                        "id": item.id,
                        "path": str(item.path),
                        "state": item.state,
                        "started_at": item.started_at,
                        "duration_s": item.duration(),
                        "exit_code": item.exit_code,
                        "config_file": item.config_file,
                        "target": item.target,
                        "last_loss": item.last_loss(),
                        "command": item.command,
                    }
                )
            )
        return 0
    if not runs:
        print(f"no runs yet in {runs_dir()}; start one with `sftplay-tui launch`.")
        return 0
    rows = [("RUN", "STATE", "STARTED", "DURATION", "EXIT", "LAST LOSS", "CONFIG")]
    for item in runs:
        rows.append((item.id, item.state, *item.summary_cells()))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
    return 0
