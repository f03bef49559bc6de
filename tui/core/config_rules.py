"""Cross-field rules of an accelerate config: combinations that cannot work as written.

`validate_config` (in `accelerate_config.py`) checks each key on its own (names, types, enum
values). These rules look at several keys together, on the config alone, without the hardware:
3 processes with `gpu_ids: "0,1"`, a machine rank outside the machines, FSDP2 given an FSDP1
sharding strategy, parallelism sizes that do not multiply to the process count, and so on. Each
rule mirrors a check accelerate makes late (at launch, or when the plugin is built inside the
training script) or a silent misbehaviour, and says the fix.

Reused by presets and `write --set` (a written config must pass) and by `check` (on any file).
Findings are `Problem`s (severity error or warning) keyed by the dotted config key they concern.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tui.core.accelerate_config import Problem
from tui.core.graph.state import MULTI_DEVICE

Rule = Callable[[Mapping[str, Any]], list[Problem]]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _nested(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config.get(key)
    return value if isinstance(value, Mapping) else {}


def parse_gpu_ids(text: str) -> list[str] | None:
    """`"0,1"` -> ["0", "1"]; `"all"` -> None. Raises ValueError naming a bad entry."""
    stripped = text.strip()
    if stripped.lower() == "all":
        return None
    ids: list[str] = []
    for part in stripped.split(","):
        token = part.strip()
        if not token:
            raise ValueError("an empty entry between commas")
        if not (token.isdigit() or token.startswith(("GPU-", "MIG-"))):
            raise ValueError(f"{token!r} is not a device index (0, 1, ...) or a GPU-/MIG- UUID")
        ids.append(token)
    return ids


def processes_per_machine(config: Mapping[str, Any]) -> int | None:
    processes = _int(config.get("num_processes"))
    machines = _int(config.get("num_machines", 1))
    if processes is None or machines is None or machines < 1 or processes < 1:
        return None
    return processes // machines


# -- the rules ----------------------------------------------------------------------------------


def _counts(config: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    processes = _int(config.get("num_processes"))
    machines = _int(config.get("num_machines", 1))
    rank = _int(config.get("machine_rank", 0))
    if processes is not None and processes != -1 and processes < 1:
        problems.append(
            Problem(
                "num_processes", f"is {processes}; at least one process is needed.", "set `num_processes: 1` or more."
            )
        )
    if machines is not None and machines < 1:
        problems.append(
            Problem("num_machines", f"is {machines}; at least one machine is needed.", "set `num_machines: 1`.")
        )
        return problems
    if machines is not None and rank is not None and not 0 <= rank < machines:
        problems.append(
            Problem(
                "machine_rank",
                f"is {rank}, outside 0..{machines - 1} for {machines} machine(s).",
                f"give each machine its own rank from 0 to {machines - 1}.",
            )
        )
    if processes is not None and machines is not None and machines > 1 and processes >= 1:
        if processes % machines:
            problems.append(
                Problem(
                    "num_processes",
                    f"{processes} processes do not divide evenly over {machines} machines "
                    "(num_processes is the TOTAL across machines; each machine starts num_processes // num_machines).",
                    f"use a multiple of {machines}, e.g. {machines * max(1, processes // machines)}.",
                )
            )
        if processes < machines:
            problems.append(
                Problem(
                    "num_processes",
                    f"{processes} processes for {machines} machines leaves machines without a process.",
                    "num_processes is the total across machines: at least one per machine.",
                )
            )
    if machines is not None and machines > 1 and not config.get("main_process_ip"):
        problems.append(
            Problem(
                "main_process_ip",
                f"is missing; with {machines} machines the others must know where the rank-0 machine is.",
                "set `main_process_ip` (and `main_process_port`) to the main machine's address.",
            )
        )
    return problems


def _single_process_multi(config: Mapping[str, Any]) -> list[Problem]:
    dtype = config.get("distributed_type")
    if dtype in MULTI_DEVICE and config.get("num_processes") == 1 and config.get("num_machines", 1) == 1:
        return [
            Problem(
                "num_processes",
                f"is 1 with distributed_type {dtype} on one machine; accelerate rejects this combination.",
                "use 2 or more processes, or `distributed_type: NO` for a single GPU.",
            )
        ]
    return []


def _gpu_ids(config: Mapping[str, Any]) -> list[Problem]:
    raw = config.get("gpu_ids")
    if not isinstance(raw, str):
        return []
    try:
        ids = parse_gpu_ids(raw)
    except ValueError as exc:
        return [
            Problem(
                "gpu_ids",
                f"{raw!r} is not 'all' or a comma-separated list of GPU ids ({exc}).",
                "write e.g. `gpu_ids: 0,1` or `gpu_ids: all`.",
            )
        ]
    if ids is None:
        return []
    problems: list[Problem] = []
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(Problem("gpu_ids", f"lists {', '.join(duplicates)} more than once.", "list each GPU once."))
    per_machine = processes_per_machine(config)
    distinct = len(set(ids))
    if per_machine is not None and config.get("distributed_type") != "NO" and not config.get("use_cpu"):
        if distinct < per_machine:
            problems.append(
                Problem(
                    "gpu_ids",
                    f"names {distinct} GPU(s) ({raw}) but {per_machine} process(es) run on each machine; "
                    "each process needs its own GPU.",
                    f"list {per_machine} GPU ids, use `gpu_ids: all`, or lower num_processes "
                    f"to {distinct} per machine.",
                )
            )
        elif distinct > per_machine:
            problems.append(
                Problem(
                    "gpu_ids",
                    f"names {distinct} GPUs but only {per_machine} process(es) run per machine; the rest stay idle.",
                    f"list {per_machine} ids or raise num_processes.",
                    severity="warning",
                )
            )
    return problems


def _cpu_precision(config: Mapping[str, Any]) -> list[Problem]:
    on_cpu = config.get("use_cpu") is True or config.get("distributed_type") == "MULTI_CPU"
    if on_cpu and config.get("mixed_precision") == "fp16":
        return [
            Problem(
                "mixed_precision",
                "fp16 on the CPU is not supported (accelerate raises at start-up).",
                "use `mixed_precision: bf16` (CPU autocast) or `no`.",
            )
        ]
    if on_cpu and config.get("mixed_precision") == "fp8":
        return [
            Problem(
                "mixed_precision", "fp8 needs a recent NVIDIA GPU, not the CPU.", "use `mixed_precision: no` or `bf16`."
            )
        ]
    return []


def _misplaced_sections(config: Mapping[str, Any]) -> list[Problem]:
    dtype = config.get("distributed_type")
    problems: list[Problem] = []
    for key, owner in (
        ("fsdp_config", "FSDP"),
        ("deepspeed_config", "DEEPSPEED"),
        ("megatron_lm_config", "MEGATRON_LM"),
    ):
        if _nested(config, key) and dtype != owner and isinstance(dtype, str):
            problems.append(
                Problem(
                    key,
                    f"is set but distributed_type is {dtype}, so accelerate ignores it.",
                    f"set `distributed_type: {owner}` to use it, or remove `{key}`.",
                    severity="warning",
                )
            )
    if config.get("mixed_precision") not in (None, "fp8") and _nested(config, "fp8_config"):
        problems.append(
            Problem(
                "fp8_config",
                f"is set but mixed_precision is {config.get('mixed_precision')}; it only applies to fp8.",
                "remove `fp8_config` or set `mixed_precision: fp8`.",
                severity="warning",
            )
        )
    return problems


def _fsdp(config: Mapping[str, Any]) -> list[Problem]:
    if config.get("distributed_type") != "FSDP":
        return []
    fsdp = _nested(config, "fsdp_config")
    version = fsdp.get("fsdp_version", 1)
    problems: list[Problem] = []
    reshard = fsdp.get("fsdp_reshard_after_forward")
    key = "fsdp_config.fsdp_reshard_after_forward"
    if version == 2 and isinstance(reshard, str):
        problems.append(
            Problem(
                key,
                f"is the FSDP1 strategy {reshard!r}; FSDP2 takes true/false (accelerate raises).",
                "write true (FULL_SHARD) or false (SHARD_GRAD_OP).",
            )
        )
    if version == 1 and isinstance(reshard, bool):
        problems.append(
            Problem(
                key,
                f"is {str(reshard).lower()}; FSDP1 takes a sharding strategy (accelerate raises).",
                "write FULL_SHARD, SHARD_GRAD_OP, NO_SHARD, HYBRID_SHARD or HYBRID_SHARD_ZERO2.",
            )
        )
    if version == 2:
        if fsdp.get("fsdp_state_dict_type") == "LOCAL_STATE_DICT":
            problems.append(
                Problem(
                    "fsdp_config.fsdp_state_dict_type",
                    "LOCAL_STATE_DICT does not exist in FSDP2 (accelerate raises).",
                    "use SHARDED_STATE_DICT or FULL_STATE_DICT.",
                )
            )
        if "fsdp_forward_prefetch" in fsdp:
            problems.append(
                Problem(
                    "fsdp_config.fsdp_forward_prefetch",
                    "is not implemented in FSDP2 (accelerate raises even for false).",
                    "remove the key, or use fsdp_version 1.",
                )
            )
        for obsolete in ("fsdp_backward_prefetch", "fsdp_use_orig_params", "fsdp_sync_module_states"):
            if obsolete in fsdp:
                problems.append(
                    Problem(
                        f"fsdp_config.{obsolete}",
                        "is an FSDP1 option; FSDP2 ignores it.",
                        "remove it.",
                        severity="warning",
                    )
                )
    if fsdp.get("fsdp_activation_checkpointing_offload") and not fsdp.get("fsdp_activation_checkpointing"):
        problems.append(
            Problem(
                "fsdp_config.fsdp_activation_checkpointing_offload",
                "needs fsdp_activation_checkpointing: true (accelerate raises).",
                "enable fsdp_activation_checkpointing or remove the offload.",
            )
        )
    if fsdp.get("fsdp_activation_checkpointing_offload") and version != 2:
        problems.append(
            Problem(
                "fsdp_config.fsdp_activation_checkpointing_offload",
                "needs fsdp_version 2 (accelerate raises).",
                "set fsdp_version: 2 or remove it.",
            )
        )
    policy = fsdp.get("fsdp_auto_wrap_policy")
    if policy != "TRANSFORMER_BASED_WRAP" and "fsdp_transformer_layer_cls_to_wrap" in fsdp:
        problems.append(
            Problem(
                "fsdp_config.fsdp_transformer_layer_cls_to_wrap",
                f"only applies with TRANSFORMER_BASED_WRAP; the policy is {policy}, so it is ignored.",
                "set `fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP` or remove it.",
                severity="warning",
            )
        )
    if policy != "SIZE_BASED_WRAP" and "fsdp_min_num_params" in fsdp:
        problems.append(
            Problem(
                "fsdp_config.fsdp_min_num_params",
                f"only applies with SIZE_BASED_WRAP; the policy is {policy}, so it is ignored.",
                "set `fsdp_auto_wrap_policy: SIZE_BASED_WRAP` or remove it.",
                severity="warning",
            )
        )
    classes = fsdp.get("fsdp_transformer_layer_cls_to_wrap")
    if isinstance(classes, str) and not [c for c in classes.split(",") if c.strip()]:
        problems.append(
            Problem(
                "fsdp_config.fsdp_transformer_layer_cls_to_wrap",
                "is empty; accelerate would look for a class named ''.",
                "name the decoder layer class (e.g. LlamaDecoderLayer) or remove the key to use the "
                "model's _no_split_modules.",
            )
        )
    return problems


def _parallelism(config: Mapping[str, Any]) -> list[Problem]:
    sizes = _nested(config, "parallelism_config")
    if not sizes:
        return []
    names = ("dp_replicate", "dp_shard", "tp", "cp")
    product = 1
    for name in names:
        value = _int(sizes.get(f"parallelism_config_{name}_size", 1))
        if value is None:
            return []
        if value < 1:
            return [
                Problem(
                    f"parallelism_config.parallelism_config_{name}_size",
                    f"is {value}; sizes start at 1.",
                    "use 1 or more.",
                )
            ]
        product *= value
    processes = _int(config.get("num_processes"))
    if processes is not None and processes >= 1 and product != processes:
        shown = " x ".join(str(sizes.get(f"parallelism_config_{n}_size", 1)) for n in names)
        return [
            Problem(
                "parallelism_config",
                f"replicate x shard x tp x cp = {shown} = {product}, but num_processes is {processes}.",
                "make the product of the sizes equal the number of processes.",
            )
        ]
    return []


def _deepspeed(config: Mapping[str, Any]) -> list[Problem]:
    if config.get("distributed_type") != "DEEPSPEED":
        return []
    ds = _nested(config, "deepspeed_config")
    problems: list[Problem] = []
    for what in ("optimizer", "param"):
        if ds.get(f"offload_{what}_device") == "nvme" and not ds.get(f"offload_{what}_nvme_path"):
            problems.append(
                Problem(
                    f"deepspeed_config.offload_{what}_nvme_path",
                    f"is missing while offload_{what}_device is nvme.",
                    f"set `offload_{what}_nvme_path` to a folder on a fast NVMe drive.",
                )
            )
    if ds.get("offload_param_device") not in (None, "none") and ds.get("zero_stage") != 3:
        problems.append(
            Problem(
                "deepspeed_config.offload_param_device",
                f"parameter offload needs ZeRO stage 3 (stage is {ds.get('zero_stage')}); DeepSpeed ignores it.",
                "set `zero_stage: 3` or `offload_param_device: none`.",
                severity="warning",
            )
        )
    return problems


RULES: tuple[Rule, ...] = (
    _counts,
    _single_process_multi,
    _gpu_ids,
    _cpu_precision,
    _misplaced_sections,
    _fsdp,
    _parallelism,
    _deepspeed,
)


def check_rules(config: Any) -> list[Problem]:
    """Every cross-field problem of a config dict (assumed to have passed `validate_config`'s types;
    values of the wrong type are skipped, never crash)."""
    if not isinstance(config, Mapping):
        return []
    problems: list[Problem] = []
    for rule in RULES:
        problems.extend(rule(config))
    return problems
