"""A model's module classes and `_no_split_modules`, without its weights (for `check --model`).

FSDP's TRANSFORMER_BASED_WRAP needs the model's decoder-layer class; a name the model lacks makes
accelerate fail at the first forward, on every GPU, minutes into a job. The structure comes from
the model's config alone: the model is built on PyTorch's meta device, so nothing is downloaded
but `config.json` and no memory is used. transformers and torch are imported here only, when the
user asks for it.
"""

from __future__ import annotations

from pathlib import Path

from tui.core.checks import ModelInfo
from tui.core.errors import UsageError


def read_model_structure(name_or_path: str) -> ModelInfo:
    """The class names in `name_or_path`'s causal-LM model and its `_no_split_modules`.

    `name_or_path` is a local model folder or a Hub id (its config comes from the Hub cache or
    the Hub). Anything that cannot be read is a one-line UsageError naming the model.
    """
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM
    except ImportError as exc:
        raise UsageError(
            f"--model needs transformers and torch ({exc}); install them: pip install -e '.[train]'."
        ) from None
    local = Path(name_or_path).expanduser()
    source = str(local) if local.exists() else name_or_path
    if not local.exists() and name_or_path.startswith(("/", ".", "~")):
        raise UsageError(f"--model {name_or_path}: no such folder (give a model folder or a Hub id).")
    if local.exists() and not (local / "config.json").is_file():
        raise UsageError(f"--model {name_or_path}: no config.json in that folder.")
    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--model {name_or_path}: cannot read its config ({reason}).") from None
    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    except (ValueError, KeyError, RuntimeError) as exc:
        raise UsageError(f"--model {name_or_path}: cannot build it as a causal LM ({exc}).") from None
    names = frozenset(type(module).__name__ for module in model.modules())
    no_split = tuple(sorted(getattr(model, "_no_split_modules", None) or ()))
    return ModelInfo(class_names=names, no_split_modules=no_split, name=name_or_path)
