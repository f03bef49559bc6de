"""GPUs through `torch.cuda`: the last resort, when neither NVML nor nvidia-smi answers.

Importing torch costs seconds, so this source first rules itself out cheaply: torch not
installed, a `+cpu` build, or (on Linux) no /dev/nvidia* or /dev/kfd device nodes all mean torch
cannot see a GPU either, and the chain ends at "none" without importing it.

torch sees only the GPUs CUDA_VISIBLE_DEVICES leaves visible, numbered from 0
(`visible_devices_applied`), cannot tell which processes use a GPU, and cannot read used memory
without creating a CUDA context on every GPU (hundreds of MiB each), so used memory is left at 0
and said so in the notes.
"""

from __future__ import annotations

import glob
import importlib.util
import sys
from typing import Any

from tui.core.distributions import installed_version
from tui.core.hardware.base import GpuInfo, GpuReport
from tui.core.hardware.errors import ProbeError

MIB = 1024 * 1024


def _cheap_reason_to_skip() -> str | None:
    try:
        if importlib.util.find_spec("torch") is None:
            return "torch is not installed"
    except (ImportError, ValueError):
        return "torch is not importable"
    version = installed_version("torch") or ""  # keeps a "+cpu" local tag
    if "+cpu" in version:
        return f"torch {version} is a CPU-only build"
    if sys.platform.startswith("linux") and not (glob.glob("/dev/nvidia[0-9]*") or glob.glob("/dev/kfd")):
        return "no GPU device nodes (/dev/nvidia*, /dev/kfd), so torch cannot see a GPU either"
    return None


class TorchSource:
    name = "torch"

    def __init__(self, torch_module: Any = None) -> None:
        self._torch = torch_module

    def close(self) -> None:
        return None

    def _module(self) -> Any:
        if self._torch is None:
            reason = _cheap_reason_to_skip()
            if reason:
                raise ProbeError(reason, permanent=True)
            try:
                import torch  # the only torch import in the core; lazy by design
            except Exception as exc:  # a broken install must not crash the probe
                raise ProbeError(f"cannot import torch ({exc})", permanent=True) from None
            self._torch = torch
        return self._torch

    def collect(self) -> GpuReport:
        torch = self._module()
        try:
            if not torch.cuda.is_available():
                raise ProbeError("torch.cuda.is_available() is False", permanent=True)
            count = int(torch.cuda.device_count())
            gpus: list[GpuInfo] = []
            for index in range(count):
                props = torch.cuda.get_device_properties(index)
                uuid = getattr(props, "uuid", None)
                uuid_text = None
                if uuid is not None:
                    uuid_text = str(uuid)
                    if not uuid_text.startswith("GPU-"):
                        uuid_text = f"GPU-{uuid_text}"
                gpus.append(
                    GpuInfo(
                        index=index,
                        name=str(props.name),
                        uuid=uuid_text,
                        memory_total_mib=int(props.total_memory) // MIB,
                        memory_used_mib=0,
                        compute_capability=(int(props.major), int(props.minor)),
                    )
                )
            p2p: list[tuple[bool | None, ...]] = []
            for i in range(count):
                row: list[bool | None] = []
                for j in range(count):
                    row.append(None if i == j else bool(torch.cuda.can_device_access_peer(i, j)))
                p2p.append(tuple(row))
            version = getattr(torch.version, "cuda", None) or getattr(torch.version, "hip", None)
        except ProbeError:
            raise
        except Exception as exc:  # CUDA init errors surface as RuntimeError and friends
            raise ProbeError(f"torch.cuda failed: {exc}") from None
        return GpuReport(
            gpus=tuple(gpus),
            driver_version=None,
            cuda_version=str(version) if version else None,
            p2p=tuple(p2p),
            visible_devices_applied=True,
            notes=("torch: used memory and processes are not known without NVML",),
        )
