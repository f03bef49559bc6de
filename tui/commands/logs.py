"""`sftplay-tui logs RUN`: print a run's log; `--follow` keeps printing until the run ends."""

from __future__ import annotations

import argparse
import sys

from tui.core.errors import UsageError

ORDER = 42


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "logs",
        help="print a run's log (--follow to reattach to a live run)",
        description="Print a run's full log (RUN: an id, a unique part of one, a folder, or `last`).",
    )
    parser.add_argument("ref", metavar="RUN", help="run id, unique prefix, folder, or `last`")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing until the run ends")
    parser.add_argument("--rank", metavar="N", help="only lines of rank N (or `launcher` for unprefixed ones)")
    parser.add_argument("--tail", type=int, metavar="LINES", help="start with the last LINES lines only")
    parser.set_defaults(run=run)


def parse_rank(text: str | None) -> int | str | None:
    if text is None:
        return None
    if text == "launcher":
        return text
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--rank {text!r}: give a rank number or `launcher`.") from None
    if value < 0:
        raise UsageError("--rank must be 0 or more.")
    return value


def run(args: argparse.Namespace) -> int:
    from tui.core.follow import LogFollower, follow
    from tui.core.metrics import read_tail_lines
    from tui.core.runs import find_run

    item = find_run(args.ref)
    rank = parse_rank(args.rank)
    if args.tail is not None and args.tail < 0:
        raise UsageError("--tail must be 0 or more.")
    out = sys.stdout
    if args.follow:
        tail_bytes = None
        if args.tail is not None:
            # Print the last LINES (after filtering), then follow from the end of the file.
            lines = read_tail_lines(item.log_path, tail_bytes=max(1 << 16, args.tail * 400))
            from tui.core.follow import keep_line

            kept = [line for line in lines if keep_line(line, rank)]
            if args.tail:
                out.write("".join(line + "\n" for line in kept[-args.tail :]))
            tail_bytes = 0
        for batch in follow(item.path, rank_filter=rank, tail_bytes=tail_bytes):
            out.write("\n".join(batch) + "\n")
            out.flush()
        return 0
    follower = LogFollower(item.path, rank)
    if args.tail is not None:
        follower.start_at_tail(max(1 << 16, args.tail * 400))
    collected: list[str] = []
    while True:
        lines = follower.read_available()
        if not follower.last_bytes:
            break
        if args.tail is None:
            out.write("".join(line + "\n" for line in lines))
        else:
            collected.extend(lines)
            del collected[: max(0, len(collected) - args.tail)]
    rest = follower.drain()
    if args.tail is None:
        out.write("".join(line + "\n" for line in rest))
    else:
        collected.extend(rest)
        if args.tail:
            out.write("".join(line + "\n" for line in collected[-args.tail :]))
    follower.close()
    return 0
