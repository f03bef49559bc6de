"""accelerate config keys (dotted for nested) and the questions that set them.

`--set key=value` and a preset's `overrides` name accelerate config keys, e.g. `num_processes`
or `fsdp_config.fsdp_offload_params`. This module knows which keys exist (the strict config model
in `accelerate_config.py`), turns the typed text into the value that key takes (`"true"` -> True,
`"4"` -> 4, `"0,1"` stays text for `gpu_ids`), suggests the closest key for a typo, and names the
question(s) whose answer writes a key, so a setting can become an ANSWER and the wizard can still
show it. `build.py` verifies each mapping by building the config and comparing: the mapping here is
only a hint, never trusted blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from tui.core.accelerate_config import NESTED_MODELS, ClusterConfigModel, suggest
from tui.core.errors import UsageError
from tui.core.graph import BY_ID

#: Question ids whose answer writes a config key under another name.
ALIASES: dict[str, tuple[str, ...]] = {
    "fsdp_config.fsdp_reshard_after_forward": ("fsdp_reshard_after_forward", "fsdp_sharding_strategy"),
    "deepspeed_config.deepspeed_multinode_launcher": ("deepspeed_multinode_launcher",),
    "deepspeed_config.deepspeed_config_file": ("deepspeed_config_file",),
    "deepspeed_config.deepspeed_hostfile": ("deepspeed_hostfile",),
    "deepspeed_config.deepspeed_moe_layer_cls_names": ("deepspeed_moe_layer_cls_names",),
    "deepspeed_config.deepspeed_exclusion_filter": ("deepspeed_exclusion_filter",),
    "deepspeed_config.deepspeed_inclusion_filter": ("deepspeed_inclusion_filter",),
}

#: Answers a key's question needs around it to be asked at all (gates), by config key.
IMPLIED: dict[str, dict[str, Any]] = {
    "fsdp_config.fsdp_transformer_layer_cls_to_wrap": {
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_use_no_split_modules": False,
    },
    "fsdp_config.fsdp_min_num_params": {"fsdp_auto_wrap_policy": "SIZE_BASED_WRAP"},
    "deepspeed_config.gradient_clipping": {"deepspeed_use_gradient_clipping": True},
    "deepspeed_config.deepspeed_moe_layer_cls_names": {"deepspeed_use_moe": True},
    "deepspeed_config.deepspeed_exclusion_filter": {"deepspeed_use_exclusion_filter": True},
    "deepspeed_config.deepspeed_inclusion_filter": {"deepspeed_use_inclusion_filter": True},
}

#: distributed_type values reached by a yes to a follow-up question, not by the machine-type menu.
_VIA_FOLLOW_UP = {"FSDP": "use_fsdp", "DEEPSPEED": "use_deepspeed", "MEGATRON_LM": "use_megatron_lm"}


def implied_answers(key: str, value: Any, current: dict[str, Any]) -> dict[str, Any]:
    """The answers that make `key = value` reachable, besides the key's own question."""
    if key == "distributed_type" and isinstance(value, str):
        off = {flag: False for flag in _VIA_FOLLOW_UP.values()}
        if value in _VIA_FOLLOW_UP:
            base = current.get("distributed_type", "MULTI_GPU")
            base = base if isinstance(base, str) and base.startswith("MULTI_") and base != "MULTI_CPU" else "MULTI_GPU"
            implied = {**off, "distributed_type": base, _VIA_FOLLOW_UP[value]: True}
            if value == "FSDP":
                # Take the layer class from the model at launch unless one is named: the walk's
                # default (no) would write an empty class name.
                implied["fsdp_use_no_split_modules"] = current.get("fsdp_use_no_split_modules", True)
            return implied
        return {**off, "distributed_type": value}
    return dict(IMPLIED.get(key, {}))


def split_key(key: str) -> tuple[str, ...]:
    return tuple(part for part in key.split("."))


def top_level_keys() -> list[str]:
    return list(ClusterConfigModel.model_fields)


def all_keys() -> list[str]:
    """Every settable key, nested ones dotted (`fsdp_config.fsdp_version`)."""
    keys = [k for k in top_level_keys() if k not in NESTED_MODELS]
    for section, model in NESTED_MODELS.items():
        keys.extend(f"{section}.{field}" for field in model.model_fields)
    return keys


def check_key(key: str) -> str | None:
    """None when `key` is a settable config key, else the reason with a suggestion."""
    parts = split_key(key)
    if not key or any(not p for p in parts):
        return f"`{key}` is not a config key (empty part)."
    if len(parts) == 1:
        if parts[0] in NESTED_MODELS:
            example = next(iter(NESTED_MODELS[parts[0]].model_fields))
            return f"`{key}` is a section; set its keys one by one, e.g. `{key}.{example}=...`."
        if parts[0] in ClusterConfigModel.model_fields:
            return None
        guess = suggest(key, all_keys())
        return f"unknown accelerate config key `{key}`." + (f" Did you mean `{guess}`?" if guess else "")
    if len(parts) == 2 and parts[0] in NESTED_MODELS:
        fields = list(NESTED_MODELS[parts[0]].model_fields)
        if parts[1] in fields:
            return None
        guess = suggest(parts[1], fields)
        hint = f" Did you mean `{parts[0]}.{guess}`?" if guess else f" Its keys: {', '.join(fields[:6])}, ..."
        return f"unknown key `{parts[1]}` in `{parts[0]}`.{hint}"
    guess = suggest(key, all_keys())
    return f"unknown accelerate config key `{key}`." + (f" Did you mean `{guess}`?" if guess else "")


@lru_cache(maxsize=256)
def _adapter(key: str) -> TypeAdapter[Any] | None:
    parts = split_key(key)
    model: type[BaseModel] = ClusterConfigModel
    if len(parts) == 2:
        model = NESTED_MODELS[parts[0]]
    field = model.model_fields.get(parts[-1])
    if field is None or field.annotation is None:
        return None
    return TypeAdapter(field.annotation)


def accepts(key: str, value: Any) -> bool:
    adapter = _adapter(key)
    if adapter is None:
        return False
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def scalar(text: str) -> Any:
    """The value YAML would read from `key: text` (true -> True, 4 -> 4), or the text itself."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (bool, int, float, str, list)) or value is None else text


def coerce(key: str, text: str) -> Any:
    """`text` as the value `key` takes: the YAML reading if the key accepts it, else the raw text
    (so `gpu_ids=0` stays "0"). When neither fits, the YAML reading is returned and validation
    of the whole config names the problem."""
    candidates = [scalar(text), text]
    for candidate in candidates:
        if accepts(key, candidate):
            return candidate
    return candidates[0]


@dataclass(frozen=True)
class Setting:
    """One accelerate key to set, from `--set key=value` or a preset's `overrides`."""

    key: str
    value: Any
    #: Where it came from, for messages: "--set num_processes=4" or "overrides".
    source: str
    line: int | None = None


def parse_set(text: str) -> Setting:
    """`"fsdp_config.fsdp_offload_params=true"` -> Setting; UsageError naming the problem."""
    if "=" not in text:
        raise UsageError(f"--set {text}: expected key=value, e.g. --set mixed_precision=fp16.")
    key, raw = text.split("=", 1)
    key = key.strip()
    reason = check_key(key)
    if reason is not None:
        raise UsageError(f"--set {text}: {reason}")
    return Setting(key=key, value=coerce(key, raw.strip()), source=f"--set {text}")


def questions_for(key: str) -> list[str]:
    """Question ids whose answer may write `key` (a hint; the builder verifies)."""
    parts = split_key(key)
    if key in ALIASES:
        return [q for q in ALIASES[key] if q in BY_ID]
    last = parts[-1]
    candidates = [last]
    if len(parts) == 2 and parts[0] == "deepspeed_config":
        candidates = [f"deepspeed_{last}", last]
    if len(parts) == 2 and parts[0] == "fp8_config":
        candidates = [f"fp8_{last}", last]
    return [c for c in candidates if c in BY_ID]


def get_path(config: dict[str, Any], key: str) -> tuple[bool, Any]:
    """(present, value) of a dotted key in a config dict."""
    node: Any = config
    for part in split_key(key):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def set_path(config: dict[str, Any], key: str, value: Any) -> None:
    parts = split_key(key)
    node = config
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value
