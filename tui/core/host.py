"""What accelerate's `config` command would detect on this machine, found without importing it.

accelerate asks different questions depending on the host: DeepSpeed only when it is importable,
fp8 only with a backend, "NPU(s)" instead of "GPU(s)" on Ascend machines, no DeepSpeed question
on Apple Silicon. It decides with `importlib.util.find_spec` plus `importlib.metadata`
(`accelerate.utils.imports._is_package_available`); we make the same two checks here (the
metadata one through `tui.core.distributions`, without importing importlib.metadata), about a
millisecond in all, instead of importing accelerate and torch (seconds).

Device checks that accelerate makes through torch (`torch.xpu.is_available()`,
`torch.backends.mps`) are approximated without torch: XPU needs a torch build tagged `+xpu`;
MPS needs macOS on arm64.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from dataclasses import dataclass

from tui.core.distributions import installed_version, is_installed


def package_available(name: str, metadata_name: str | None = None) -> bool:
    """accelerate's `_is_package_available`: importable *and* installed with metadata."""
    try:
        if importlib.util.find_spec(name) is None:
            return False
    except (ImportError, ValueError):
        return False
    return is_installed(metadata_name or name)


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _torchao_available() -> bool:
    if not package_available("torchao"):
        return False
    return _version_tuple(installed_version("torchao") or "") >= (0, 6, 1)


def _torch_tag() -> str:
    return installed_version("torch") or ""


def _subpackage_available(parent: str, child: str) -> bool:
    try:
        return importlib.util.find_spec(parent) is not None and importlib.util.find_spec(child) is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class HostCapabilities:
    """The facts about this machine that change accelerate's questions and what it accepts."""

    deepspeed: bool = False
    transformers: bool = False
    msamp: bool = False
    transformer_engine: bool = False
    torchao: bool = False
    boto3: bool = False
    mps: bool = False
    npu: bool = False
    mlu: bool = False
    sdaa: bool = False
    musa: bool = False
    xpu: bool = False
    hpu: bool = False
    neuron: bool = False

    @property
    def fp8(self) -> bool:
        """accelerate's `is_fp8_available`: any of MS-AMP, Transformer Engine, torchao >= 0.6.1."""
        return self.msamp or self.transformer_engine or self.torchao

    @property
    def fp8_backends(self) -> tuple[str, ...]:
        """The fp8 backends installed here, by the names a hardware snapshot records them."""
        found = (("transformer_engine", self.transformer_engine), ("torchao", self.torchao), ("msamp", self.msamp))
        return tuple(name for name, present in found if present)

    @property
    def device_word(self) -> str:
        """How accelerate names the devices in the "which ids" question (first match wins)."""
        for flag, word in (
            (self.npu, "NPU(s)"),
            (self.mlu, "MLU(s)"),
            (self.sdaa, "SDAA(s)"),
            (self.musa, "MUSA(s)"),
            (self.xpu, "XPU(s)"),
            (self.hpu, "HPU(s)"),
            (self.neuron, "Neuron cores"),
        ):
            if flag:
                return word
        return "GPU(s)"


def detect_host() -> HostCapabilities:
    """Probe this machine the way accelerate 1.15's `config` command does (no heavy imports)."""
    hpu = _subpackage_available("habana_frameworks", "habana_frameworks.torch")
    te = (
        package_available("intel_transformer_engine", "intel-transformer-engine")
        if hpu
        else package_available("transformer_engine", "transformer-engine")
    )
    return HostCapabilities(
        deepspeed=package_available("deepspeed"),
        transformers=package_available("transformers"),
        msamp=package_available("msamp", "ms-amp"),
        transformer_engine=te,
        torchao=_torchao_available(),
        boto3=package_available("boto3"),
        mps=sys.platform == "darwin" and platform.machine() == "arm64",
        npu=importlib.util.find_spec("torch_npu") is not None,
        mlu=importlib.util.find_spec("torch_mlu") is not None,
        sdaa=importlib.util.find_spec("torch_sdaa") is not None,
        musa=importlib.util.find_spec("torch_musa") is not None,
        xpu="+xpu" in _torch_tag(),
        hpu=hpu,
        neuron=importlib.util.find_spec("torch_neuronx") is not None,
    )
