"""Where files live: accelerate's default config path and sftplay-tui's own folders.

The accelerate path follows `accelerate/commands/config/config_args.py` exactly:
`$HF_HOME/accelerate/default_config.yaml`, else `$XDG_CACHE_HOME/huggingface/accelerate/...`,
else `~/.cache/huggingface/accelerate/...`. Paths are computed from the environment at call time
(not import time) so tests and front ends can point them elsewhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

DEFAULT_CONFIG_NAME = "default_config.yaml"
APP_NAME = "sftplay-tui"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def hf_cache_home(env: Mapping[str, str] | None = None) -> Path:
    """accelerate's `hf_cache_home`: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface."""
    e = _env(env)
    raw = e["HF_HOME"] if "HF_HOME" in e else os.path.join(e.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(os.path.expanduser(raw))


def accelerate_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    return hf_cache_home(env) / "accelerate"


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """The file `accelerate launch` reads when no --config_file is given."""
    return accelerate_cache_dir(env) / DEFAULT_CONFIG_NAME


def _xdg(var: str, fallback: str, env: Mapping[str, str] | None) -> Path:
    e = _env(env)
    base = e.get(var) or os.path.expanduser(fallback)
    return Path(base) / APP_NAME


def user_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_CONFIG_HOME/sftplay-tui (user presets, remembered choices)."""
    return _xdg("XDG_CONFIG_HOME", "~/.config", env)


def user_presets_dir(env: Mapping[str, str] | None = None) -> Path:
    return user_config_dir(env) / "presets"


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/sftplay-tui (runs and their logs)."""
    return _xdg("XDG_STATE_HOME", "~/.local/state", env)


def runs_dir(env: Mapping[str, str] | None = None) -> Path:
    return state_dir(env) / "runs"


def project_root() -> Path:
    """The folder holding `tui/` and `training/` (an editable install or a source checkout)."""
    return Path(__file__).resolve().parents[2]


def bundled_training_script() -> Path:
    return project_root() / "training" / "sft_train.py"


def bundled_inference_script() -> Path:
    """training/infer.py: batch generation over a dataset (`launch --infer`, the app's Inference)."""
    return project_root() / "training" / "infer.py"


def builtin_presets_dir() -> Path:
    """presets/ beside tui/ (a checkout, an editable install), else where a wheel installs them."""
    beside = project_root() / "presets"
    if beside.is_dir():
        return beside
    return Path(sys.prefix) / "share" / "sftplay-tui" / "presets"
