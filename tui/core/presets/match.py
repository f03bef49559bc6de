"""Does a preset fit this machine? A preset's hardware target against a hardware record.

The record is whatever a probe returns (`tui.core.hardware.base.HardwareInfo`, or a snapshot
taken on another machine); only the fields below are read, through a small Protocol, so this
module does not depend on how the record is collected.

A preset matches when the machine has at least `gpu_count` GPUs whose name matches the pattern
and that each have the memory and compute capability asked for (a box with 4 RTX 4090s matches
the 2-GPU preset: it uses 2 of them). P2P only adds a note: a preset that expects P2P still runs
without it (slower), and one that disables P2P runs anyway. A CPU preset matches every machine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tui.core.presets.model import HardwareTarget

MIB_PER_GIB = 1024


class GpuRecord(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def memory_total_mib(self) -> int: ...

    @property
    def compute_capability(self) -> tuple[int, int] | None: ...


class HardwareRecord(Protocol):
    @property
    def gpus(self) -> Sequence[GpuRecord]: ...

    #: p2p[i][j]: can GPU i read GPU j's memory directly (None: unknown).
    @property
    def p2p(self) -> Sequence[Sequence[bool | None]]: ...


@dataclass(frozen=True)
class SimpleGpu:
    """A minimal record, for tests and callers without a probe."""

    name: str
    memory_total_mib: int
    compute_capability: tuple[int, int] | None = None


@dataclass(frozen=True)
class SimpleHardware:
    gpus: tuple[SimpleGpu, ...] = ()
    p2p: tuple[tuple[bool | None, ...], ...] = ()


@dataclass(frozen=True)
class Match:
    """`ok` None: no hardware record to compare with."""

    ok: bool | None
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: Positions (in `record.gpus`) of the GPUs the preset would use.
    gpus: tuple[int, ...] = field(default=())

    @property
    def short(self) -> str:
        """A few words for a table cell: "matches", "matches (uses 2 of 4 GPUs)", "no: made for H100 GPUs"."""
        if self.ok is None:
            return "unknown"
        if self.ok:
            return "matches" + (f" ({self.notes[0].split(';')[0]})" if self.notes else "")
        return "no: " + self.reasons[0].split(";")[0]

    @property
    def summary(self) -> str:
        if self.ok is None:
            return "hardware unknown"
        if self.ok:
            return "matches this machine" + (f" ({self.notes[0]})" if self.notes else "")
        return "does not match: " + "; ".join(self.reasons)


def best_fit(matches: Sequence[Match | None]) -> int | None:
    """The position of the preset to suggest first: of those that match, the one that uses the
    most of the machine's GPUs, an exact match (no notes) before a partial one, earlier first.
    On a machine without GPUs that is the CPU preset. None when nothing matches (or no record).
    """
    best: tuple[int, int, int] | None = None
    for position, match in enumerate(matches):
        if match is None or not match.ok:
            continue
        rank = (len(match.gpus), 0 if match.notes else 1, -position)
        if best is None or rank > best:
            best = rank
    return None if best is None else -best[2]


def _gib(mib: int) -> str:
    return f"{mib / MIB_PER_GIB:.0f} GiB"


def _cc(cc: tuple[int, int] | None) -> str:
    return f"{cc[0]}.{cc[1]}" if cc else "unknown"


def match_hardware(target: HardwareTarget, record: HardwareRecord | None) -> Match:
    """Compare a preset's target with a machine; the reasons say exactly what is missing."""
    if record is None:
        return Match(ok=None)
    gpus = list(record.gpus)
    if target.gpu_count == 0:
        note = f"runs on the CPU; this machine also has {len(gpus)} GPU(s)" if gpus else "runs on the CPU"
        return Match(ok=True, notes=(note,))
    if not gpus:
        return Match(ok=False, reasons=(f"needs {target.gpu_count} GPU(s); this machine has none",))
    pattern = re.compile(target.gpu_pattern, re.IGNORECASE) if target.gpu_pattern else None
    named = [i for i, g in enumerate(gpus) if pattern is None or pattern.search(g.name)]
    if not named:
        models = sorted({g.name for g in gpus})
        return Match(
            ok=False,
            reasons=(f"made for {target.gpu_pattern} GPUs; this machine has {', '.join(models)}",),
        )
    need_mib = None if target.min_memory_gib is None else int(target.min_memory_gib * MIB_PER_GIB)
    need_cc = target.min_compute_capability
    fit: list[int] = []
    short: list[str] = []
    for i in named:
        gpu = gpus[i]
        if need_mib is not None and gpu.memory_total_mib < need_mib:
            short.append(f"GPU {i} has {_gib(gpu.memory_total_mib)}, needs {target.min_memory_gib:g} GiB")
            continue
        if need_cc is not None and (gpu.compute_capability is None or tuple(gpu.compute_capability) < need_cc):
            short.append(f"GPU {i} has compute capability {_cc(gpu.compute_capability)}, needs {_cc(need_cc)}")
            continue
        fit.append(i)
    if len(fit) < target.gpu_count:
        what = f"{target.gpu_pattern} " if target.gpu_pattern else ""
        reasons = [f"needs {target.gpu_count} {what}GPU(s); {len(fit)} qualify"] + short[:3]
        return Match(ok=False, reasons=tuple(reasons))
    chosen = tuple(fit[: target.gpu_count])
    notes: list[str] = []
    if len(gpus) > target.gpu_count:
        notes.append(f"uses {target.gpu_count} of {len(gpus)} GPUs")
    notes.extend(_p2p_notes(target, record, chosen))
    return Match(ok=True, notes=tuple(notes), gpus=chosen)


def _p2p_notes(target: HardwareTarget, record: HardwareRecord, chosen: tuple[int, ...]) -> list[str]:
    if target.p2p is None or len(chosen) < 2:
        return []
    matrix = record.p2p
    pairs: list[bool | None] = []
    for a in chosen:
        for b in chosen:
            if a != b and a < len(matrix) and b < len(matrix[a]):
                pairs.append(matrix[a][b])
    if not pairs or any(p is None for p in pairs):
        return []
    if target.p2p and not all(pairs):
        return ["expects P2P between the GPUs, which this machine lacks: slower, and set NCCL_P2P_DISABLE=1"]
    if not target.p2p and all(pairs):
        return ["this machine has P2P; the preset's NCCL_P2P_DISABLE=1 is not needed"]
    return []
