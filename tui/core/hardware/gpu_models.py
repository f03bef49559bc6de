"""Facts about GPU models that no probe reports directly.

- Compute capability by model name, for sources that cannot query it (nvidia-smi before driver
  510 has no `compute_cap` field). Names as NVML/nvidia-smi print them; matched by substring.
- GeForce RTX 40xx cards have no working peer-to-peer over PCIe; some drivers still report
  P2P as available, and NCCL then hangs or corrupts data unless NCCL_P2P_DISABLE=1.
"""

from __future__ import annotations

import re

# Longest patterns first where one contains another ("A100" vs "A10").
_CC_BY_NAME: tuple[tuple[str, tuple[int, int]], ...] = (
    ("GB200", (10, 0)),
    ("B200", (10, 0)),
    ("B100", (10, 0)),
    ("H200", (9, 0)),
    ("H100", (9, 0)),
    ("H800", (9, 0)),
    ("GH200", (9, 0)),
    ("L40S", (8, 9)),
    ("L40", (8, 9)),
    ("L4", (8, 9)),
    ("RTX 6000 Ada", (8, 9)),
    ("RTX 50", (12, 0)),
    ("RTX 40", (8, 9)),
    ("A100", (8, 0)),
    ("A800", (8, 0)),
    ("A30", (8, 0)),
    ("A40", (8, 6)),
    ("A10G", (8, 6)),
    ("A10", (8, 6)),
    ("A16", (8, 6)),
    ("A2", (8, 6)),
    ("RTX A6000", (8, 6)),
    ("RTX A5000", (8, 6)),
    ("RTX A4000", (8, 6)),
    ("RTX 30", (8, 6)),
    ("T4", (7, 5)),
    ("RTX 20", (7, 5)),
    ("Quadro RTX", (7, 5)),
    ("TITAN RTX", (7, 5)),
    ("V100", (7, 0)),
    ("TITAN V", (7, 0)),
    ("P100", (6, 0)),
    ("P40", (6, 1)),
    ("P4", (6, 1)),
    ("GTX 10", (6, 1)),
    ("K80", (3, 7)),
)


def compute_capability_from_name(name: str) -> tuple[int, int] | None:
    """Best guess from the model name; None when the model is not known."""
    for pattern, cc in _CC_BY_NAME:
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(pattern)}", name):
            return cc
    return None


def is_geforce_rtx_40(name: str) -> bool:
    """GeForce RTX 40xx (4060..4090, D variants): no PCIe P2P."""
    return re.search(r"RTX\s*40[5-9]0", name) is not None


def short_name(name: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'H100 80GB HBM3' for narrow tables."""
    for prefix in ("NVIDIA GeForce ", "NVIDIA ", "Tesla "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name
