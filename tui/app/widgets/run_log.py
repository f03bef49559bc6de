"""The run's log view: stays responsive at any output rate, the full log stays on disk.

A thread worker tails the run's output.log (`tui.core.follow.LogFollower`: chunked reads, one
decode per chunk, rank filter) into a bounded pending buffer and posts a wake-up message; the UI
thread drains the buffer into textual's `Log` (`max_lines`, one `write_lines` per drain). The
wake-up is posted only when none is pending (and `can_replace` anyway), so a flood of output
can never flood the message queue; lines beyond `max_lines` that arrive between two drains are
skipped in memory (they would be evicted at once) but stay in the file.

Keys: f follow/pause, end jump to the end (and follow), / search (n / N next / previous match),
r cycle the rank filter (all, rank 0..N-1, launcher lines). Errors and warnings are coloured at
render time, so highlighting costs nothing for lines that are never on screen.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.cells import cell_len
from rich.highlighter import Highlighter
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.widgets import Input, Log, Static
from textual.worker import get_current_worker

from tui.core.follow import LogFollower, RankFilter
from tui.core.metrics import classify, split_rank
from tui.core.runs import load_run

DEFAULT_MAX_LINES = 10_000
#: The UI takes new lines at most this often: a flood then costs a bounded share of the UI thread.
DRAIN_INTERVAL_S = 1 / 30
BAR_INTERVAL_S = 0.25


def batch_width(lines: list[str]) -> int:
    """The widest line in cells (fast path for ASCII without tabs, measured in the reader thread)."""
    if not lines:
        return 0
    joined = "".join(lines)
    if joined.isascii() and "\t" not in joined:
        return max(map(len, lines))
    return max(cell_len(line.expandtabs()) for line in lines)


class RunLogHighlighter(Highlighter):
    """Errors red, warnings yellow, rank prefixes dim, search matches reversed."""

    def __init__(self) -> None:
        self.search: re.Pattern[str] | None = None

    def highlight(self, text: Text) -> None:
        plain = text.plain
        rank, body = split_rank(plain)
        start = len(plain) - len(body)
        if rank is not None:
            text.stylize("dim", 0, start)
        kind = classify(body)
        if kind == "error":
            text.stylize("bold red", start)
        elif kind == "warning":
            text.stylize("yellow", start)
        if self.search is not None:
            for match in self.search.finditer(plain):
                text.stylize("reverse", match.start(), match.end())


class RunLogView(Log):
    """`Log` with the run highlighter; the in-memory lines are bounded by `max_lines`."""

    def __init__(self, max_lines: int, id: str | None = None) -> None:  # noqa: A002 (textual's name)
        super().__init__(highlight=True, max_lines=max_lines, auto_scroll=True, id=id)
        self.run_highlighter = RunLogHighlighter()
        self.highlighter = self.run_highlighter

    @dataclass
    class FollowChanged(Message):
        """The view's own End key turned following back on."""

    def action_scroll_end(self) -> None:
        # End means "take me to the live end": follow again, as a terminal would.
        self.auto_scroll = True
        self.scroll_end(animate=False)
        self.post_message(self.FollowChanged())

    def append_lines(self, lines: list[str], width: int) -> None:
        """`write_lines` for prepared lines (no newline inside, width known), cheap per call.

        `Log.write_lines` splits every line again, refreshes each new line separately and starts
        a thread worker per call to measure widths (whose description is the repr of the whole
        batch); at a flood's rate that is what made key presses wait. Here the reader thread has
        already measured the batch; new lines are beyond anything cached, so one refresh does.
        """
        if not hasattr(self, "_lines") or not hasattr(self, "_prune_max_lines"):
            self.write_lines(lines)  # a Textual without these internals: the public way
            return
        at_end = self.is_vertical_scroll_end
        self._lines.extend(lines)
        if self.max_lines is not None and len(self._lines) > self.max_lines:
            self._prune_max_lines()
        self._width = max(self._width, width)
        self.virtual_size = Size(self._width, len(self._lines))
        if self.auto_scroll and at_end and not self.is_vertical_scrollbar_grabbed:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        # The panels above change height (a failure summary appears, charts fill in): a view that
        # follows the run must stay at the end, not keep an offset that now hides the last lines.
        if self.auto_scroll:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)

    def restyle(self) -> None:
        """Re-render visible lines (after the search term changed)."""
        cache = getattr(self, "_render_line_cache", None)
        if cache is not None:
            cache.clear()
        self.refresh()


class RunLog(Vertical):
    """The log of one run folder, read in a thread; see the module docstring."""

    DEFAULT_CSS = """
    RunLog { height: 1fr; }
    RunLog > #run-log-bar { height: 1; background: $boost; color: $text-muted; padding: 0 1; }
    RunLog > RunLogView { height: 1fr; }
    RunLog > #run-log-search { display: none; }
    RunLog.-searching > #run-log-search { display: block; }
    """

    BINDINGS = [
        Binding("f", "toggle_follow", "Follow/pause"),
        Binding("G", "jump_end", "End (follow)"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
        Binding("r", "cycle_rank", "Rank filter"),
    ]

    @dataclass
    class LinesAvailable(Message):
        """Wake-up from the reader: new lines wait in the buffer. Newer replaces older."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, RunLog.LinesAvailable)

    @dataclass
    class ReaderFinished(Message):
        """The run is over and its whole log has been read."""

        lines_read: int

    def __init__(
        self,
        run_dir: Path,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        num_ranks: int | None = None,
        poll_s: float = 0.05,
        tail_bytes: int | None = None,
        id: str | None = None,  # noqa: A002 (textual's name)
    ) -> None:
        super().__init__(id=id)
        self.run_dir = run_dir
        self.max_lines = max_lines
        self.poll_s = poll_s
        self.tail_bytes = tail_bytes if tail_bytes is not None else max_lines * 200
        self.num_ranks = num_ranks
        self.rank_filter: RankFilter = None
        #: What a group of lines is: a rank, or a node in a whole-cluster run.
        self.group_word = "rank"
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._pending_width = 0
        self._notified = False
        self._last_post = 0.0
        self._last_bar = 0.0
        self._clear = False
        self._restart = False
        #: Counters (lines through the reader, lines written into the view, lines skipped in memory).
        self.lines_read = 0
        self.lines_written = 0
        self.lines_skipped = 0
        self.finished = False
        self._search: re.Pattern[str] | None = None
        self._search_text = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="run-log-bar")
        yield RunLogView(self.max_lines, id="run-log-view")
        yield Input(placeholder="search (regex or text); Enter to find, Esc to close", id="run-log-search")

    @property
    def view(self) -> RunLogView:
        return self.query_one(RunLogView)

    def on_mount(self) -> None:
        if self.num_ranks is None:
            try:
                spec = load_run(self.run_dir).spec
                nodes = spec.get("node_groups")
                if isinstance(nodes, int) and nodes > 0:
                    # A whole-cluster run: each node's log is one group.
                    self.num_ranks, self.group_word = nodes, "node"
                else:
                    value = spec.get("num_processes")
                    self.num_ranks = value if isinstance(value, int) else 1
            except Exception:
                self.num_ranks = 1
        self._update_bar()
        self.set_interval(0.5, self._update_bar)  # drains update it only every BAR_INTERVAL_S
        self._reader()

    # -- the reader thread --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="run-log-reader")
    def _reader(self) -> None:
        worker = get_current_worker()
        follower = self._new_follower()
        next_check = 0.0
        try:
            while not worker.is_cancelled:
                if self._restart:
                    follower.close()
                    follower = self._new_follower()
                    with self._lock:
                        self._restart = False
                        self._pending.clear()
                        self._clear = True
                lines = follower.read_available()
                self._push(lines)
                if follower.last_bytes:
                    continue
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + 0.5
                    if not self._run_active():
                        self._push(follower.drain())
                        while self._pending and not worker.is_cancelled:
                            self._wake()  # the last lines must not wait for a wake-up that never comes
                            time.sleep(DRAIN_INTERVAL_S)
                        self.finished = True
                        self.post_message(self.ReaderFinished(self.lines_read))
                        # Stay alive for a rank-filter change, but poll slowly.
                        while not worker.is_cancelled and not self._restart:
                            time.sleep(0.1)
                        if worker.is_cancelled:
                            return
                        self.finished = False
                        continue
                time.sleep(self.poll_s)
        finally:
            follower.close()

    def _new_follower(self) -> LogFollower:
        follower = LogFollower(self.run_dir, self.rank_filter)
        follower.start_at_tail(self.tail_bytes)
        return follower

    def _run_active(self) -> bool:
        try:
            return load_run(self.run_dir).active
        except Exception:
            return False

    def _push(self, lines: list[str]) -> None:
        if lines:
            width = batch_width(lines)
            with self._lock:
                self.lines_read += len(lines)
                self._pending.extend(lines)
                self._pending_width = max(self._pending_width, width)
                overflow = len(self._pending) - self.max_lines
                if overflow > 0:
                    # The view keeps only max_lines: older lines would be evicted on arrival anyway.
                    del self._pending[:overflow]
                    self.lines_skipped += overflow
        self._wake()

    def _wake(self) -> None:
        """Post one wake-up if lines wait, none is pending, and the last was long enough ago."""
        now = time.monotonic()
        with self._lock:
            if not self._pending and not self._clear:
                return
            if self._notified or now - self._last_post < DRAIN_INTERVAL_S:
                return
            self._notified = True
            self._last_post = now
        self.post_message(self.LinesAvailable())

    # -- the UI side ----------------------------------------------------------------------------

    @on(LinesAvailable)
    def _drain(self, message: LinesAvailable) -> None:
        message.stop()
        with self._lock:
            lines, self._pending = self._pending, []
            width, self._pending_width = self._pending_width, 0
            clear, self._clear = self._clear, False
            self._notified = False
        view = self.view
        if clear:
            view.clear()
        if lines:
            view.append_lines(lines, width)
            self.lines_written += len(lines)
        now = time.monotonic()
        if clear or now - self._last_bar >= BAR_INTERVAL_S:
            self._update_bar()

    @on(ReaderFinished)
    def _finished(self, message: ReaderFinished) -> None:
        self._update_bar()

    @on(RunLogView.FollowChanged)
    def _follow_changed(self, message: RunLogView.FollowChanged) -> None:
        message.stop()
        self._update_bar()

    def _update_bar(self) -> None:
        follow = "following" if self.view.auto_scroll else "paused (f: follow, end: jump to end)"
        rank = (
            f"all {self.group_word}s"
            if self.rank_filter is None
            else ("launcher lines" if self.rank_filter == "launcher" else f"{self.group_word} {self.rank_filter}")
        )
        parts = [follow, rank, f"{self.view.line_count:,} lines in view"]
        if self.lines_skipped:
            parts.append(f"{self.lines_skipped:,} older lines only on disk")
        if self._search_text:
            parts.append(f"search: {self._search_text}")
        if self.finished:
            parts.append("end of run")
        self._last_bar = time.monotonic()
        # No layout pass: the bar is one line whatever it says (a layout per update was costly).
        self.query_one("#run-log-bar", Static).update(" · ".join(parts), layout=False)

    def action_toggle_follow(self) -> None:
        view = self.view
        view.auto_scroll = not view.auto_scroll
        if view.auto_scroll:
            view.scroll_end(animate=False)
        self._update_bar()

    def action_jump_end(self) -> None:
        view = self.view
        view.auto_scroll = True
        view.scroll_end(animate=False)
        self._update_bar()

    def set_rank_filter(self, rank_filter: RankFilter) -> None:
        """Show only `rank_filter`'s lines (None: all); re-reads the end of the file."""
        self.rank_filter = rank_filter
        with self._lock:
            self._restart = True
        self._update_bar()

    def action_cycle_rank(self) -> None:
        choices: list[RankFilter] = [None, *range(self.num_ranks or 1), "launcher"]
        try:
            index = choices.index(self.rank_filter)
        except ValueError:
            index = 0
        self.set_rank_filter(choices[(index + 1) % len(choices)])

    def action_search(self) -> None:
        self.add_class("-searching")
        box = self.query_one("#run-log-search", Input)
        box.value = self._search_text
        box.focus()

    @on(Input.Submitted, "#run-log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search(event.value)
        self.remove_class("-searching")
        self.view.focus()

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", None)
        if key == "escape" and self.has_class("-searching"):
            self.remove_class("-searching")
            self.view.focus()
            stop = getattr(event, "stop", None)
            if callable(stop):
                stop()

    def search(self, text: str) -> int | None:
        """Highlight `text` (a regex, or literal text if it is not one) and go to the next match."""
        self._search_text = text
        if not text:
            self._search = None
        else:
            try:
                self._search = re.compile(text, re.IGNORECASE)
            except re.error:
                self._search = re.compile(re.escape(text), re.IGNORECASE)
        self.view.run_highlighter.search = self._search
        self.view.restyle()
        self._update_bar()
        return self._goto_match(forward=True, include_current=True)

    def action_next_match(self) -> None:
        self._goto_match(forward=True)

    def action_previous_match(self) -> None:
        self._goto_match(forward=False)

    def _goto_match(self, *, forward: bool, include_current: bool = False) -> int | None:
        if self._search is None:
            return None
        view = self.view
        lines = view.lines
        if not lines:
            return None
        current = int(view.scroll_offset.y)
        n = len(lines)
        step = 1 if forward else -1
        start = current if include_current else current + step
        for i in range(n):
            y = (start + step * i) % n
            if self._search.search(lines[y]):
                view.auto_scroll = False  # looking at something: stop following
                view.scroll_to(y=y, animate=False)
                self._update_bar()
                return y
        self.notify(f"no match for {self._search_text!r} in the {n:,} lines in view", severity="warning")
        return None
