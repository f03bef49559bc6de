"""Reading what a run prints: metric records, log lines, progress and the reason a run failed.

The training script prints, on rank 0, one line per logging step: the prefix `SFTPLAY_METRIC `
followed by a JSON object whose "type" is start/log/eval/end (inference adds infer_progress; any
other type is kept as it is). By the time a line reaches the run's log it may carry a rank prefix
(`[rank0]:` from `accelerate launch --tee 3 --role rank`, `[default0]:` without `--role`) and may
sit among `\\r`-separated tqdm records. Nothing here ever raises on odd input: a line that is not a
metric record is simply not one.

Everything is pure (no I/O besides the small tail readers at the bottom), so the app, the CLI and
the run supervisor share it.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METRIC_PREFIX = "SFTPLAY_METRIC "
METRIC_MARKER = METRIC_PREFIX.strip()
METRIC_MARKER_BYTES = METRIC_MARKER.encode()

# `[rank0]:` (--role rank) or `[default0]:` (torch elastic's default role). Not a bare `[0]:`:
# that is the failure index in torch elastic's "Root Cause" block, a launcher line.
_RANK_PREFIX = re.compile(r"\[(?:rank|default)(\d{1,6})\]:")
# `[node1 gpu-b] ` from a whole-cluster run (tui.core.multinode's SSH/SLURM launchers).
_NODE_PREFIX = re.compile(r"\[node(\d{1,4})(?: [^\]]*)?\] ")
_ERROR_WORDS = re.compile(
    r"Traceback \(most recent call last\)|\b\w*(?:Error|Exception)\b|\bERROR\b|\bFAILED\b|"
    r"\bfailed\b|^E\d{4} |\bKilled\b|\bSIGKILL\b|\bSIGSEGV\b"
)
_WARNING_WORDS = re.compile(
    r"\b\w*Warning\b|\bwarn(?:ing)?s?\b|\bWARN(?:ING)?\b|\bdeprecated\b|^W\d{4} ", re.IGNORECASE
)


# -- lines ------------------------------------------------------------------------------------


def split_rank(line: str) -> tuple[int | None, str]:
    """(rank, text) for a log line; rank is None for the launcher's own lines.

    In a whole-cluster run the group is the node (`[nodeK host] ` labels every line).
    """
    match = _RANK_PREFIX.match(line) or _NODE_PREFIX.match(line)
    if match is None:
        return None, line
    return int(match.group(1)), line[match.end() :]


def last_record(text: str) -> str:
    """What a terminal would show for `\\r`-separated records: the last non-empty one."""
    if "\r" not in text:
        return text
    for piece in reversed(text.split("\r")):
        if piece.strip():
            return piece
    return ""


def display_line(line: str) -> str:
    """A log line as the log view shows it: the rank prefix kept, tqdm redraws collapsed."""
    if "\r" not in line:
        return line
    match = _RANK_PREFIX.match(line)
    if match is None:
        return last_record(line)
    return line[: match.end()] + last_record(line[match.end() :])


def split_fragments(line: str) -> list[str]:
    """Display lines for one log line that holds several `[rankN]:` fragments.

    torch elastic's --tee tailer copies what each rank wrote line by line, but a partial line (a
    tqdm bar redrawn with `\\r`, a print with end="") is copied as it is, prefix and all, and the
    next write is appended to it: `[rank1]:\\r 10%|#[rank0]:step 3`. Each fragment becomes its own
    line, except that a fragment starting with `\\r` redraws the previous one of the same rank.
    """
    found = list(_RANK_PREFIX.finditer(line))
    if len(found) < 2 and not (found and found[0].start() > 0):
        return [display_line(line)]
    pieces: list[tuple[int | None, str]] = []
    if found[0].start() > 0:
        pieces.append((None, line[: found[0].start()]))
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(line)
        number, body = int(match.group(1)), line[match.end() : end]
        if pieces and pieces[-1][0] == number and body.startswith("\r"):
            pieces[-1] = (number, pieces[-1][1] + body)
        else:
            pieces.append((number, body))
    out = []
    for who, body in pieces:
        text = last_record(body)
        out.append(text if who is None else f"[rank{who}]:{text}")
    return out


def display_lines(lines: list[str]) -> list[str]:
    """`display_line` for a batch, splitting glued rank fragments; fast when there are none."""
    glued = False
    prefixed = 0
    carriage = False
    for line in lines:
        if line.startswith("[rank"):
            prefixed += 1
        if not carriage and "\r" in line:
            carriage = True
    if not carriage:
        joined = "\n".join(lines)
        glued = joined.count("[rank") > prefixed or "[default" in joined
        if not glued:
            return lines
    out: list[str] = []
    for line in lines:
        out.extend(split_fragments(line))
    return out


def classify(text: str) -> str | None:
    """ "error", "warning" or None: what the log view highlights."""
    if _ERROR_WORDS.search(text):
        return "error"
    if _WARNING_WORDS.search(text):
        return "warning"
    return None


class LineSplitter:
    """Bytes in, complete text lines out; a partial last line waits for the next chunk.

    Decoding happens once per chunk (not per line) so the log pipeline stays fast; a multi-byte
    character split across chunks is kept whole because only complete lines are decoded.
    """

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[str]:
        if not chunk:
            return []
        data = self._pending + chunk if self._pending else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._pending = data
            return []
        self._pending = data[cut + 1 :]
        text = data[:cut].decode("utf-8", "replace")
        lines = text.split("\n")
        if "\r" in text:
            # CRLF line ends: drop the \r (tqdm's inner \r records are kept for display_line).
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        return lines

    def flush(self) -> list[str]:
        """The partial last line, if any (call when the writer has finished)."""
        if not self._pending:
            return []
        text = self._pending.decode("utf-8", "replace").rstrip("\r")
        self._pending = b""
        return [text]


# -- metric records ---------------------------------------------------------------------------


def parse_metric_line(line: str) -> dict[str, Any] | None:
    """The JSON object of a `SFTPLAY_METRIC {...}` line (rank prefix and `\\r` records allowed)."""
    if METRIC_MARKER not in line:
        return None
    for piece in reversed(line.split("\r")):
        at = piece.find(METRIC_MARKER)
        if at < 0:
            continue
        payload = piece[at + len(METRIC_MARKER) :].strip()
        try:
            record = json.loads(payload)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and isinstance(record.get("type"), str):
            return record
    return None


def number(value: Any) -> float | None:
    """A finite float from a JSON value; None for anything else (bools, strings, NaN, inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def integer(value: Any) -> int | None:
    result = number(value)
    return int(result) if result is not None else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)[:200]


@dataclass(frozen=True)
class MetricsSnapshot:
    """What the metrics panel, the progress line and `runs` show; immutable, cheap to post."""

    records: int = 0
    step: int | None = None
    max_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    tokens_per_second: float | None = None
    samples_per_second: float | None = None
    peak_memory_mib: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    eval_loss: float | None = None
    world_size: int | None = None
    distributed_type: str | None = None
    model: str | None = None
    num_parameters: int | None = None
    trainable_parameters: int | None = None
    end_status: str | None = None
    end_error: str | None = None
    output_dir: str | None = None
    final_loss: float | None = None
    infer_done: int | None = None
    infer_total: int | None = None
    infer_failed: int | None = None
    records_per_second: float | None = None
    loss_series: tuple[tuple[float, float], ...] = ()
    lr_series: tuple[tuple[float, float], ...] = ()
    eval_series: tuple[tuple[float, float], ...] = ()

    @property
    def fraction(self) -> float | None:
        """Progress in [0, 1]: steps for training, records for inference."""
        if self.infer_total and self.infer_done is not None:
            return max(0.0, min(1.0, self.infer_done / self.infer_total))
        if self.max_steps and self.step is not None:
            return max(0.0, min(1.0, self.step / self.max_steps))
        if self.end_status == "completed":
            return 1.0
        return None

    @property
    def last_loss(self) -> float | None:
        return self.final_loss if self.loss is None else self.loss


def _downsample(points: Sequence[tuple[float, float]], limit: int) -> tuple[tuple[float, float], ...]:
    """At most `limit` points, evenly spread, always keeping the newest (charts stay cheap)."""
    if len(points) <= limit:
        return tuple(points)
    stride = len(points) / limit
    picked = [points[int(i * stride)] for i in range(limit - 1)]
    picked.append(points[-1])
    return tuple(picked)


@dataclass
class MetricsState:
    """Accumulates metric records in order; `snapshot()` gives the immutable view to post."""

    chart_points: int = 400
    records: int = 0
    start: dict[str, Any] = field(default_factory=dict)
    last_log: dict[str, Any] = field(default_factory=dict)
    last_eval: dict[str, Any] = field(default_factory=dict)
    end: dict[str, Any] = field(default_factory=dict)
    infer: dict[str, Any] = field(default_factory=dict)
    loss: list[tuple[float, float]] = field(default_factory=list)
    lr: list[tuple[float, float]] = field(default_factory=list)
    eval_loss: list[tuple[float, float]] = field(default_factory=list)

    def feed(self, record: Mapping[str, Any]) -> None:
        kind = record.get("type")
        self.records += 1
        if kind == "start":
            self.start = dict(record)
        elif kind == "log":
            self.last_log = dict(record)
            step = number(record.get("step"))
            x = step if step is not None else float(len(self.loss))
            loss = number(record.get("loss"))
            if loss is not None:
                self.loss.append((x, loss))
            lr = number(record.get("learning_rate"))
            if lr is not None:
                self.lr.append((x, lr))
        elif kind == "eval":
            self.last_eval = dict(record)
            value = number(record.get("eval_loss", record.get("loss")))
            step = number(record.get("step"))
            if value is not None:
                self.eval_loss.append((step if step is not None else float(len(self.eval_loss)), value))
        elif kind == "end":
            self.end = dict(record)
        elif kind == "infer_progress":
            self.infer = dict(record)
        # Unknown types are counted and otherwise ignored: newer trainers may add some.

    def snapshot(self) -> MetricsSnapshot:
        log, start, end, infer = self.last_log, self.start, self.end, self.infer
        step = integer(log.get("step"))
        config = start.get("config")
        max_steps = integer(log.get("max_steps")) or integer(start.get("max_steps"))
        if max_steps is None and isinstance(config, Mapping):
            max_steps = integer(config.get("max_steps"))
        if step is None and end:
            step = integer(end.get("step"))
        elapsed = number(log.get("elapsed_s"))
        if elapsed is None and infer:
            elapsed = number(infer.get("elapsed_s"))
        eta = number(log.get("eta_s"))
        if eta is None and elapsed is not None and step and max_steps:
            eta = max(0.0, elapsed / step * (max_steps - step))
        if infer:
            eta = number(infer.get("eta_s"))
        if end:
            eta = 0.0
        return MetricsSnapshot(
            records=self.records,
            step=step,
            max_steps=max_steps,
            epoch=number(log.get("epoch")),
            loss=number(log.get("loss")),
            learning_rate=number(log.get("learning_rate")),
            grad_norm=number(log.get("grad_norm")),
            tokens_per_second=number(log.get("tokens_per_second")),
            samples_per_second=number(log.get("samples_per_second")),
            peak_memory_mib=number(log.get("peak_memory_mib")),
            elapsed_s=elapsed,
            eta_s=eta,
            eval_loss=self.eval_loss[-1][1] if self.eval_loss else None,
            world_size=integer(start.get("world_size")),
            distributed_type=_text(start.get("distributed_type")),
            model=_text(start.get("model")),
            num_parameters=integer(start.get("num_parameters")),
            trainable_parameters=integer(start.get("trainable_parameters")),
            end_status=_text(end.get("status")),
            end_error=_text(end.get("error")),
            output_dir=_text(end.get("output_dir")),
            final_loss=number(end.get("final_loss")),
            infer_done=integer(infer.get("done")),
            infer_total=integer(infer.get("total")),
            infer_failed=integer(infer.get("failed")),
            records_per_second=number(infer.get("records_per_second")),
            loss_series=_downsample(self.loss, self.chart_points),
            lr_series=_downsample(self.lr, self.chart_points),
            eval_series=_downsample(self.eval_loss, self.chart_points),
        )


def load_metrics_file(path: Path) -> MetricsState:
    """Every record of a run's metrics.jsonl (one JSON object a line; bad lines skipped)."""
    state = MetricsState()
    try:
        with path.open("rb") as handle:
            for raw in handle:
                record = _json_object(raw)
                if record is not None:
                    state.feed(record)
    except OSError:
        pass
    return state


def _json_object(raw: str | bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if isinstance(record, dict) and isinstance(record.get("type"), str):
        return record
    return None


def last_metric_records(path: Path, tail_bytes: int = 65536) -> list[dict[str, Any]]:
    """The records in the last `tail_bytes` of a metrics.jsonl (enough for a `runs` listing)."""
    lines = read_tail_lines(path, tail_bytes)
    return [r for r in (_json_object(line) for line in lines if line.strip()) if r is not None]


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def progress_line(snapshot: MetricsSnapshot, width: int = 20) -> str:
    """One line for a terminal: `[#####-----] 50/100 50% loss 2.3100 eta 1m20s 1234 tok/s`."""
    parts: list[str] = []
    fraction = snapshot.fraction
    if fraction is not None:
        filled = int(round(fraction * width))
        parts.append("[" + "#" * filled + "-" * (width - filled) + "]")
    if snapshot.infer_total:
        parts.append(f"{snapshot.infer_done or 0}/{snapshot.infer_total} records")
    elif snapshot.step is not None:
        parts.append(f"step {snapshot.step}/{snapshot.max_steps or '?'}")
    if fraction is not None:
        parts.append(f"{fraction * 100:.0f}%")
    if snapshot.last_loss is not None:
        parts.append(f"loss {snapshot.last_loss:.4f}")
    if snapshot.eta_s is not None and snapshot.end_status is None:
        parts.append(f"eta {format_duration(snapshot.eta_s)}")
    if snapshot.tokens_per_second is not None:
        parts.append(f"{snapshot.tokens_per_second:,.0f} tok/s")
    if snapshot.records_per_second is not None:
        parts.append(f"{snapshot.records_per_second:,.1f} rec/s")
    if snapshot.infer_failed:
        parts.append(f"{snapshot.infer_failed} failed")
    return " ".join(parts)


# -- failures ---------------------------------------------------------------------------------

_ROOT_CAUSE = re.compile(r"Root Cause \(first observed failure\)")
_RC_RANK = re.compile(r"^\s*rank\s*:\s*(\d+)")
_RC_EXIT = re.compile(r"^\s*exitcode\s*:\s*(-?\d+)")
_FAILED_LINE = re.compile(r"failed \(exitcode: (-?\d+)\) local_rank: (\d+)")
_TB_HEADER = "Traceback (most recent call last):"
_CHAIN = ("During handling of the above exception", "The above exception was the direct cause")
MAX_TRACEBACK_LINES = 60
CONTEXT_LINES = 12
_LAUNCHER_NOISE = "ChildFailedError"
# The line that ends a traceback: "ExcName", "pkg.ExcName: message" (or "ExcName:" alone).
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::(?:\s|$)|$)")


@dataclass(frozen=True)
class FailureSummary:
    """Why a run failed, for the top of the run view and the end of `launch`."""

    exit_code: int | None
    rank: int | None = None
    rank_exit_code: int | None = None
    signal_name: str | None = None
    exception: str | None = None
    traceback: tuple[str, ...] = ()
    #: The failing rank's last lines when it left no traceback (e.g. os._exit, a C++ abort).
    context: tuple[str, ...] = ()

    @property
    def headline(self) -> str:
        who = f"rank {self.rank}" if self.rank is not None else "the run"
        code = self.rank_exit_code if self.rank_exit_code is not None else self.exit_code
        if self.signal_name:
            what = f"{who} was killed by {self.signal_name}"
            if self.signal_name == "SIGKILL":
                what += " (often the out-of-memory killer)"
        elif code is not None:
            what = f"{who} exited with code {code}"
        else:
            what = f"{who} ended without an exit code"
        if self.exception:
            what += f": {self.exception}"
        return what

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "rank": self.rank,
            "rank_exit_code": self.rank_exit_code,
            "signal": self.signal_name,
            "exception": self.exception,
            "traceback": list(self.traceback),
            "context": list(self.context),
            "headline": self.headline,
        }

    @classmethod
    def from_json(cls, data: Any) -> FailureSummary | None:
        if not isinstance(data, Mapping):
            return None
        tb = data.get("traceback")
        context = data.get("context")
        return cls(
            exit_code=integer(data.get("exit_code")),
            rank=integer(data.get("rank")),
            rank_exit_code=integer(data.get("rank_exit_code")),
            signal_name=data.get("signal") if isinstance(data.get("signal"), str) else None,
            exception=data.get("exception") if isinstance(data.get("exception"), str) else None,
            traceback=tuple(str(x) for x in tb) if isinstance(tb, list) else (),
            context=tuple(str(x) for x in context) if isinstance(context, list) else (),
        )


def signal_name(code: int | None) -> str | None:
    """ "SIGKILL" for -9 (how Popen and torch elastic report a death by signal)."""
    if code is None or code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


@dataclass
class _Block:
    rank: int | None
    lines: list[str]
    done: bool = False


def _tracebacks(lines: Iterable[str]) -> list[_Block]:
    """Every traceback block in the lines, grouped by rank (other ranks' lines interleave)."""
    blocks: list[_Block] = []
    open_blocks: dict[int | None, _Block] = {}
    for raw in lines:
        rank, text = split_rank(raw.rstrip("\n"))
        text = last_record(text)
        if text.startswith(_TB_HEADER):
            block = _Block(rank, [text])
            blocks.append(block)
            open_blocks[rank] = block
            continue
        block_or_none = open_blocks.get(rank)
        if block_or_none is None:
            continue
        block = block_or_none
        if text.startswith(_CHAIN) or not text.strip():
            continue
        if not text[:1].isspace() and not text.startswith(("^", "~")):
            if not _EXCEPTION_LINE.match(text):
                # The rank's stdout (a print) lands between its stderr traceback lines.
                continue
            block.lines.append(text)
            block.done = True  # the exception line ends the block
            del open_blocks[rank]
            continue
        block.lines.append(text)
    return blocks


def analyse_failure(lines: Sequence[str], exit_code: int | None) -> FailureSummary:
    """Exit code, failing rank and the last relevant traceback from the end of a run's log."""
    rank: int | None = None
    rank_exit: int | None = None
    in_root_cause = False
    for raw in lines:
        _, text = split_rank(raw)
        if _ROOT_CAUSE.search(text):
            in_root_cause, rank, rank_exit = True, None, None
            continue
        if in_root_cause:
            if (m := _RC_RANK.match(text)) and rank is None:
                rank = int(m.group(1))
            elif (m := _RC_EXIT.match(text)) and rank_exit is None:
                rank_exit = int(m.group(1))
            elif text.startswith("====") and rank is not None:
                in_root_cause = False
        elif (m := _FAILED_LINE.search(text)) and rank is None:
            rank_exit, rank = int(m.group(1)), int(m.group(2))
    # The launcher's own ChildFailedError traceback says nothing the root-cause block does not.
    blocks = [b for b in _tracebacks(lines) if not (b.done and _LAUNCHER_NOISE in b.lines[-1])]
    ranked = [b for b in blocks if b.rank is not None]
    chosen: _Block | None = None
    if rank is not None:
        chosen = next((b for b in reversed(ranked) if b.rank == rank), None)
    elif ranked:
        chosen = ranked[-1]
    if chosen is None and rank is None and blocks:
        chosen = blocks[-1]
    if rank is None and chosen is not None and chosen.rank is not None:
        rank = chosen.rank
    tb: tuple[str, ...] = ()
    exception: str | None = None
    if chosen is not None:
        kept = chosen.lines
        if len(kept) > MAX_TRACEBACK_LINES:
            kept = [kept[0], "  ..."] + kept[-(MAX_TRACEBACK_LINES - 2) :]
        tb = tuple(kept)
        if chosen.done:
            exception = chosen.lines[-1].strip() or None
    context: tuple[str, ...] = ()
    if chosen is None and rank is not None:
        own = [text for r, text in (split_rank(line) for line in lines) if r == rank]
        context = tuple(last_record(t) for t in own if t.strip())[-CONTEXT_LINES:]
    return FailureSummary(
        exit_code=exit_code,
        rank=rank,
        rank_exit_code=rank_exit,
        signal_name=signal_name(rank_exit) or signal_name(exit_code),
        exception=exception,
        traceback=tb,
        context=context,
    )


def read_tail_lines(path: Path, tail_bytes: int = 1 << 20) -> list[str]:
    """The complete lines in the last `tail_bytes` of a (possibly huge) log file."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - tail_bytes)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return []
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    if start > 0:
        lines = lines[1:]
    if lines and lines[-1] == "":
        lines.pop()
    return lines
