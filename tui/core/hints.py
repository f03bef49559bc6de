"""Suggestions for the wizard from a hardware record: what to pre-fill, and what is unavailable.

The wizard asks accelerate's questions; these hints pick defaults that fit the machine (one
process per usable GPU, the best mixed precision every chosen card supports) and give, for each
mixed-precision choice the machine cannot use, the reason to show beside it (the option stays
visible, marked): e.g. "bf16: Tesla V100-SXM2-32GB has compute capability 7.0; needs 8.0+".

Pure functions over `HardwareInfo`; the fp8 backend check uses the record's `fp8_backends` when it
has them (a snapshot from another machine), else this machine's installed packages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tui.core.graph.state import Draft
from tui.core.hardware.base import GpuInfo, HardwareInfo
from tui.core.hardware.env import truthy
from tui.core.hardware.gpu_models import is_geforce_rtx_40
from tui.core.hardware.visible import visible_gpus


@dataclass(frozen=True)
class PrecisionChoice:
    value: str
    available: bool
    #: Why it cannot be used here ("bf16: ... has compute capability 7.0; needs 8.0+"); None if it can.
    reason: str | None = None


@dataclass(frozen=True)
class HardwareHints:
    gpu_count: int
    num_processes: int
    #: accelerate's "Which type of machine are you using?" label.
    machine_type: str
    distributed_type: str
    mixed_precision: str
    precision_choices: tuple[PrecisionChoice, ...]
    gpu_ids: str = "all"
    #: Environment variables to export before launching (e.g. NCCL_P2P_DISABLE=1 on RTX 40xx).
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple[str, ...] = ()

    def unavailable_reason(self, precision: str) -> str | None:
        for choice in self.precision_choices:
            if choice.value == precision:
                return choice.reason
        return None


def installed_fp8(hw: HardwareInfo, fp8_backends: Sequence[str] | None = None) -> list[str]:
    """The fp8 backends to judge by: the caller's, else the snapshot's record, else this machine's."""
    if fp8_backends is not None:
        return list(fp8_backends)
    if hw.fp8_backends is not None:
        return list(hw.fp8_backends)
    from tui.core.host import detect_host

    return list(detect_host().fp8_backends)


def _weakest(gpus: Sequence[GpuInfo]) -> GpuInfo | None:
    known = [g for g in gpus if g.compute_capability is not None]
    return min(known, key=lambda g: g.compute_capability or (0, 0)) if known else None


def precision_choices(hw: HardwareInfo, *, fp8_backends: Sequence[str] | None = None) -> tuple[PrecisionChoice, ...]:
    """Each of accelerate's mixed-precision choices, with the reason when this machine can't."""
    gpus = list(visible_gpus(hw).gpus)
    weakest = _weakest(gpus)
    out: list[PrecisionChoice] = [PrecisionChoice("no", True)]
    if not gpus:
        out.append(PrecisionChoice("fp16", False, "fp16: no GPU here; fp16 mixed precision needs a GPU"))
        out.append(PrecisionChoice("bf16", True))
        out.append(PrecisionChoice("fp8", False, "fp8: no GPU here; needs compute capability 8.9+"))
        return tuple(out)
    out.append(PrecisionChoice("fp16", True))
    cc = weakest.compute_capability if weakest else None
    if weakest is not None and cc is not None and cc < (8, 0):
        out.append(
            PrecisionChoice("bf16", False, f"bf16: {weakest.name} has compute capability {weakest.cc_text}; needs 8.0+")
        )
    else:
        out.append(PrecisionChoice("bf16", True))
    if weakest is not None and cc is not None and cc < (8, 9):
        out.append(
            PrecisionChoice("fp8", False, f"fp8: {weakest.name} has compute capability {weakest.cc_text}; needs 8.9+")
        )
    elif not installed_fp8(hw, fp8_backends):
        out.append(
            PrecisionChoice(
                "fp8", False, "fp8: no fp8 backend installed (TransformerEngine, torchao >= 0.6.1 or MS-AMP)"
            )
        )
    else:
        out.append(PrecisionChoice("fp8", True))
    return tuple(out)


def suggested_num_processes(hw: HardwareInfo) -> int:
    """One process per usable GPU; on a machine without GPUs, 2 CPU ranks (1 on a 1-core box)."""
    gpus = len(visible_gpus(hw).gpus)
    if gpus:
        return gpus
    return 2 if (hw.cpu.physical_cores or hw.cpu.logical_cores) >= 2 else 1


def suggested_mixed_precision(hw: HardwareInfo) -> str:
    """bf16 when every usable GPU supports it, fp16 on older GPUs, "no" without GPUs.

    fp8 is never suggested: it needs a backend and model changes; offer it, don't default to it.
    """
    gpus = list(visible_gpus(hw).gpus)
    if not gpus:
        return "no"
    weakest = _weakest(gpus)
    if weakest is None or weakest.compute_capability is None:
        return "fp16"
    return "bf16" if weakest.compute_capability >= (8, 0) else "fp16"


def recommended_env(hw: HardwareInfo) -> dict[str, str]:
    """Environment variables to export for this machine (not already set in its environment)."""
    gpus = list(visible_gpus(hw).gpus)
    out: dict[str, str] = {}
    if len(gpus) >= 2:
        no_p2p = any(cell is False for row in hw.p2p for cell in row) or any(is_geforce_rtx_40(g.name) for g in gpus)
        if no_p2p:
            for var in ("NCCL_P2P_DISABLE", "NCCL_IB_DISABLE"):
                if not truthy(hw.env.get(var)):
                    out[var] = "1"
        if len({g.name for g in gpus}) > 1 and hw.env.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
            out["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    return out


def hardware_hints(hw: HardwareInfo, *, fp8_backends: Sequence[str] | None = None) -> HardwareHints:
    """Everything the wizard pre-fills from the hardware, in one call."""
    gpus = list(visible_gpus(hw).gpus)
    n = suggested_num_processes(hw)
    notes: list[str] = []
    if not gpus:
        machine_type, distributed = "multi-CPU", "MULTI_CPU"
        notes.append(
            f"No GPU found ({hw.source}): {n} CPU processes; `sftplay-tui launch` runs them as connected ranks."
        )
    elif len(gpus) == 1:
        machine_type, distributed = "No distributed training", "NO"
    else:
        machine_type, distributed = "multi-GPU", "MULTI_GPU"
    busy = [g.index for g in gpus if bool(g.busy_processes)]
    if busy:
        which = ", ".join(map(str, busy))
        notes.append(f"GPU{'s' if len(busy) > 1 else ''} {which} already in use by other processes.")
    return HardwareHints(
        gpu_count=len(gpus),
        num_processes=n,
        machine_type=machine_type,
        distributed_type=distributed,
        mixed_precision=suggested_mixed_precision(hw),
        precision_choices=precision_choices(hw, fp8_backends=fp8_backends),
        env=MappingProxyType(recommended_env(hw)),
        notes=tuple(notes),
    )


# -- the wizard's use of the hints -------------------------------------------------------------

_PROCESS_TYPES = ("MULTI_GPU", "FSDP", "DEEPSPEED", "MEGATRON_LM", "MULTI_CPU")


def suggested_answer(hints: HardwareHints, draft: Draft, question_id: str) -> Any | None:
    """What to pre-select for a question on this machine (None: keep accelerate's default).

    Only the answers the hardware decides: the machine type, the number of processes (per
    machine times machines, as accelerate counts the total) and the mixed precision.
    """
    if question_id == "distributed_type":
        return hints.distributed_type
    if question_id == "num_processes" and draft.distributed_type in _PROCESS_TYPES:
        per_machine = hints.gpu_count if draft.distributed_type != "MULTI_CPU" else hints.num_processes
        if per_machine < 1:
            return None
        total = per_machine * max(draft.num_machines, 1)
        # accelerate rejects multi-GPU with one process on one machine: do not suggest that.
        return total if total > 1 or draft.num_machines > 1 else None
    if question_id == "mixed_precision":
        return "no" if draft.use_cpu else hints.mixed_precision
    return None


def unavailable_choices(hints: HardwareHints, question_id: str) -> dict[str, str]:
    """Menu labels that cannot work on this machine, with the reason (shown, not hidden)."""
    if question_id == "mixed_precision":
        return {c.value: c.reason for c in hints.precision_choices if not c.available and c.reason}
    return {}
