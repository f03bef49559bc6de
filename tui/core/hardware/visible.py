"""Which GPUs CUDA will show a process: CUDA_VISIBLE_DEVICES read the way CUDA reads it.

Used by the checks and by the wizard's hints; kept apart from `tui.core.checks` so the hints
(imported on the app's UI thread) do not pull in pydantic through the config schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tui.core.hardware.base import GpuInfo, HardwareInfo
from tui.core.hardware.env import as_int


@dataclass(frozen=True)
class Visible:
    gpus: tuple[GpuInfo, ...]
    how: str
    problems: tuple[str, ...] = ()


def resolve_ids(text: str, gpus: Sequence[GpuInfo]) -> tuple[list[GpuInfo], str | None]:
    """CUDA's reading of a device list: stop at the first entry that is not a GPU."""
    out: list[GpuInfo] = []
    by_index = {g.index: g for g in gpus}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            return out, "an empty entry"
        number = as_int(entry)
        gpu: GpuInfo | None = None
        if number is not None:
            if number < 0:
                return out, None  # "-1": hide the rest, by design
            gpu = by_index.get(number)
        elif entry.startswith(("GPU-", "MIG-")):
            matches = [g for g in gpus if g.uuid and g.uuid.startswith(entry)]
            gpu = matches[0] if len(matches) == 1 else None
        if gpu is None:
            return out, f"{entry!r} is not a GPU here"
        if gpu in out:
            return out, f"{entry!r} is listed twice"
        out.append(gpu)
    return out, None


def visible_gpus(hw: HardwareInfo) -> Visible:
    """The GPUs torch will number cuda:0, cuda:1, ... given CUDA_VISIBLE_DEVICES."""
    gpus = tuple(hw.gpus)
    cvd = hw.env.get("CUDA_VISIBLE_DEVICES")
    if cvd is None or hw.visible_devices_applied:
        return Visible(gpus, f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''}")
    if cvd.strip() == "":
        return Visible((), "CUDA_VISIBLE_DEVICES is empty (hides every GPU)")
    chosen, problem = resolve_ids(cvd, gpus)
    problems = (f"CUDA_VISIBLE_DEVICES={cvd}: {problem}; CUDA ignores it and every entry after it.",) if problem else ()
    return Visible(tuple(chosen), f"CUDA_VISIBLE_DEVICES={cvd} leaves {len(chosen)} visible", problems)
