"""Following a run from any process: new log lines and metric records until the run ends.

The CLI (`launch`, `logs --follow`) and the app's readers use the same loop: read what was appended
to output.log, and only at end-of-file look at status.json; once the state is final, read the rest
(the supervisor writes the final state after the launcher has exited, so the log is complete) and
stop. Nothing here blocks for long: each call returns after at most `poll_s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tui.core.metrics import LineSplitter, display_lines, split_rank
from tui.core.runs import LOG_FILE, STATUS_FILE, FileTail, load_run

RankFilter = int | str | None  # None: every line; an int: that rank; "launcher": unprefixed lines


def keep_line(line: str, rank_filter: RankFilter) -> bool:
    if rank_filter is None:
        return True
    rank, _ = split_rank(line)
    if rank_filter == "launcher":
        return rank is None
    return rank == rank_filter


@dataclass
class LogFollower:
    """Complete, display-ready lines of a run's log as they are appended."""

    run_dir: Path
    rank_filter: RankFilter = None
    chunk_size: int = 1 << 20

    def __post_init__(self) -> None:
        self.tail = FileTail(self.run_dir / LOG_FILE, chunk_size=self.chunk_size)
        self.splitter = LineSplitter()
        #: Bytes read by the last `read_available` (lines may all be filtered out).
        self.last_bytes = 0

    def start_at_tail(self, tail_bytes: int) -> None:
        self.tail.start_at_tail(tail_bytes)

    def read_available(self) -> list[str]:
        """Lines appended since the last call (at most one chunk's worth)."""
        data = self.tail.read()
        self.last_bytes = len(data)
        lines = self.splitter.feed(data) if data else []
        return self._prepare(lines)

    def _prepare(self, lines: list[str]) -> list[str]:
        if not lines:
            return lines
        # tqdm redraws arrive as \r-separated records, partial lines glued to the next write:
        # show one line per rank fragment, as a terminal would show it.
        lines = display_lines(lines)
        if self.rank_filter is not None:
            lines = [line for line in lines if keep_line(line, self.rank_filter)]
        return lines

    def drain(self) -> list[str]:
        """Everything left, including a last line without a newline (call when the run ended)."""
        out: list[str] = []
        while True:
            data = self.tail.read()
            if not data:
                break
            out.extend(self._prepare(self.splitter.feed(data)))
        out.extend(self._prepare(self.splitter.flush()))
        return out

    def close(self) -> None:
        self.tail.close()


def follow(
    run_dir: Path,
    *,
    rank_filter: RankFilter = None,
    poll_s: float = 0.03,
    should_stop: Callable[[], bool] = lambda: False,
    tail_bytes: int | None = None,
) -> Iterator[list[str]]:
    """Batches of new lines until the run is over (or `should_stop()`); the last batch drains."""
    follower = LogFollower(run_dir, rank_filter)
    if tail_bytes is not None:
        follower.start_at_tail(tail_bytes)
    watch = EndWatch(run_dir)
    try:
        while not should_stop():
            lines = follower.read_available()
            if lines:
                yield lines
            if follower.last_bytes:
                continue
            if watch.ended():
                rest = follower.drain()
                if rest:
                    yield rest
                return
            time.sleep(poll_s)
    finally:
        follower.close()


class EndWatch:
    """Cheap "is the run over?" for tight polling loops.

    status.json is re-read only when its modification time changes (one stat() per call); the
    full check, which also asks the OS whether the supervisor and launcher still live (so a run
    whose supervisor died is seen to end), runs at most every `full_every_s`. Watching a run
    then costs about 1% of a core instead of competing with the training for the CPU.
    """

    def __init__(self, run_dir: Path, full_every_s: float = 1.0) -> None:
        self.status_path = run_dir / STATUS_FILE
        self.run_dir = run_dir
        self.full_every_s = full_every_s
        self._mtime: float | None = None
        self._next_full = 0.0

    def ended(self) -> bool:
        now = time.monotonic()
        try:
            mtime = self.status_path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime == self._mtime and now < self._next_full:
            return False
        self._mtime = mtime
        self._next_full = now + self.full_every_s
        return not load_run(self.run_dir).active
