"""accelerate 1.15's config file schema, validated strictly, and its writer.

The model holds exactly the fields of accelerate's `ClusterConfig` / `SageMakerConfig` and the
real key names of the nested `fsdp_config`, `deepspeed_config`, `megatron_lm_config`,
`dynamo_config`, `fp8_config`, `parallelism_config` and `mpirun_config` dicts. accelerate itself
rejects unknown top-level keys with a terse message but lets typos inside the nested dicts pass
silently; we reject both, naming the file, line and key, with the closest valid name.

Configs are kept as plain dicts (exactly what accelerate writes); this module validates them
(`validate_config`) and writes them (`dump_config`) the way accelerate does: `yaml.safe_dump`
with sorted keys, or sorted JSON with indent 2 for `.json` paths.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from tui.core.errors import UsageError
from tui.core.files import read_user_file
from tui.core.yaml_lines import key_lines, line_of

DISTRIBUTED_TYPES = (
    "NO",
    "MULTI_CPU",
    "MULTI_GPU",
    "MULTI_NPU",
    "MULTI_MLU",
    "MULTI_SDAA",
    "MULTI_MUSA",
    "MULTI_XPU",
    "DEEPSPEED",
    "FSDP",
    "XLA",
    "MEGATRON_LM",
    "MULTI_HPU",
    "MULTI_NEURON",
)
SAGEMAKER_DISTRIBUTED_TYPES = ("NO", "DATA_PARALLEL", "MODEL_PARALLEL")
COMPUTE_ENVIRONMENTS = ("LOCAL_MACHINE", "AMAZON_SAGEMAKER")
PRECISIONS = ("no", "fp16", "bf16", "fp8")
FSDP_SHARDING_STRATEGIES = ("FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD", "HYBRID_SHARD_ZERO2")

Number = StrictInt | StrictFloat


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FsdpConfig(_Strict):
    fsdp_version: Literal[1, 2] | None = None
    fsdp_reshard_after_forward: StrictBool | Literal[FSDP_SHARDING_STRATEGIES] | None = None  # type: ignore[valid-type]
    fsdp_sharding_strategy: Literal[FSDP_SHARDING_STRATEGIES] | StrictInt | None = None  # type: ignore[valid-type]
    fsdp_offload_params: StrictBool | None = None
    fsdp_auto_wrap_policy: Literal["TRANSFORMER_BASED_WRAP", "SIZE_BASED_WRAP", "NO_WRAP"] | None = None
    fsdp_transformer_layer_cls_to_wrap: StrictStr | None = None
    fsdp_min_num_params: StrictInt | None = None
    fsdp_backward_prefetch: Literal["BACKWARD_PRE", "BACKWARD_POST", "NO_PREFETCH"] | None = None
    fsdp_state_dict_type: Literal["FULL_STATE_DICT", "LOCAL_STATE_DICT", "SHARDED_STATE_DICT"] | None = None
    fsdp_forward_prefetch: StrictBool | None = None
    fsdp_use_orig_params: StrictBool | None = None
    fsdp_cpu_ram_efficient_loading: StrictBool | None = None
    fsdp_sync_module_states: StrictBool | None = None
    fsdp_activation_checkpointing: StrictBool | None = None
    fsdp_activation_checkpointing_offload: StrictBool | None = None


class DeepSpeedConfig(_Strict):
    deepspeed_config_file: StrictStr | None = None
    zero_stage: Literal[0, 1, 2, 3] | None = None
    offload_optimizer_device: Literal["none", "cpu", "nvme"] | None = None
    offload_param_device: Literal["none", "cpu", "nvme"] | None = None
    offload_optimizer_nvme_path: StrictStr | None = None
    offload_param_nvme_path: StrictStr | None = None
    gradient_accumulation_steps: StrictInt | Literal["auto"] | None = None
    gradient_clipping: Number | Literal["auto"] | None = None
    zero3_init_flag: StrictBool | None = None
    zero3_save_16bit_model: StrictBool | None = None
    deepspeed_moe_layer_cls_names: StrictStr | None = None
    deepspeed_multinode_launcher: (
        Literal["pdsh", "standard", "openmpi", "mvapich", "mpich", "nossh", "slurm"] | None
    ) = None
    deepspeed_hostfile: StrictStr | None = None
    deepspeed_exclusion_filter: StrictStr | None = None
    deepspeed_inclusion_filter: StrictStr | None = None


class MegatronLMConfig(_Strict):
    megatron_lm_tp_degree: StrictInt | None = None
    megatron_lm_pp_degree: StrictInt | None = None
    megatron_lm_num_micro_batches: StrictInt | None = None
    megatron_lm_sequence_parallelism: StrictBool | None = None
    megatron_lm_recompute_activations: StrictBool | None = None
    megatron_lm_use_distributed_optimizer: StrictBool | None = None
    megatron_lm_gradient_clipping: Number | None = None
    megatron_lm_context_parallel_size: StrictInt | None = None
    megatron_lm_expert_model_parallel_size: StrictInt | None = None
    megatron_lm_expert_tensor_parallel_size: StrictInt | None = None
    megatron_lm_attention_backend: StrictStr | StrictBool | None = None
    megatron_lm_attention_dropout: Number | None = None
    megatron_lm_hidden_dropout: Number | None = None
    megatron_lm_attention_softmax_in_fp32: StrictBool | None = None
    megatron_lm_calculate_per_token_loss: StrictBool | None = None
    megatron_lm_decoder_last_pipeline_num_layers: StrictInt | None = None
    megatron_lm_eod_mask_loss: StrictBool | None = None
    megatron_lm_no_load_optim: StrictBool | None = None
    megatron_lm_no_save_optim: StrictBool | None = None
    megatron_lm_optimizer_cpu_offload: StrictBool | None = None
    megatron_lm_overlap_cpu_optimizer_d2h_h2d: StrictBool | None = None
    megatron_lm_recompute_granularity: StrictStr | None = None
    megatron_lm_recompute_method: StrictStr | None = None
    megatron_lm_recompute_num_layers: StrictInt | None = None
    megatron_lm_use_custom_fsdp: StrictBool | None = None
    megatron_lm_use_precision_aware_optimizer: StrictBool | None = None
    megatron_lm_use_rotary_position_embeddings: StrictBool | None = None


class DynamoConfig(_Strict):
    dynamo_backend: StrictStr | None = None
    dynamo_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] | None = None
    dynamo_use_fullgraph: StrictBool | None = None
    dynamo_use_dynamic: StrictBool | None = None
    dynamo_use_regional_compilation: StrictBool | None = None


class Fp8Config(_Strict):
    backend: Literal["AO", "TE", "MSAMP"] | None = None
    use_autocast_during_eval: StrictBool | None = None
    margin: StrictInt | None = None
    interval: StrictInt | None = None
    fp8_format: Literal["HYBRID", "E4M3", "E5M2"] | None = None
    amax_history_length: StrictInt | None = None
    amax_compute_algorithm: Literal["max", "most_recent"] | None = None
    override_linear_precision: list[StrictBool] | None = None
    optimization_level: Literal["O1", "O2"] | None = None
    enable_fsdp_float8_all_gather: StrictBool | None = None
    pad_inner_dim: StrictBool | None = None


class ParallelismConfig(_Strict):
    parallelism_config_dp_replicate_size: StrictInt | None = None
    parallelism_config_dp_shard_size: StrictInt | None = None
    parallelism_config_tp_size: StrictInt | None = None
    parallelism_config_cp_size: StrictInt | None = None
    parallelism_config_cp_comm_strategy: Literal["allgather", "alltoall"] | None = None
    parallelism_config_cp_backend: StrictStr | None = None
    parallelism_config_sp_size: StrictInt | None = None
    parallelism_config_sp_backend: StrictStr | None = None
    parallelism_config_sp_seq_length: StrictInt | None = None
    parallelism_config_sp_seq_length_is_variable: StrictBool | None = None
    parallelism_config_sp_attn_implementation: StrictStr | None = None


class MpirunConfig(_Strict):
    mpirun_hostfile: StrictStr | None = None
    mpirun_ccl: StrictInt | None = None


class ClusterConfigModel(_Strict):
    """accelerate 1.15 `ClusterConfig` (plus the legacy keys its loader converts: fp16, dynamo_backend)."""

    compute_environment: Literal["LOCAL_MACHINE"] = "LOCAL_MACHINE"
    distributed_type: Literal[DISTRIBUTED_TYPES]  # type: ignore[valid-type]
    mixed_precision: Literal[PRECISIONS] | None = None  # type: ignore[valid-type]
    use_cpu: StrictBool = False
    debug: StrictBool = False
    num_processes: StrictInt = -1
    machine_rank: StrictInt = 0
    num_machines: StrictInt = 1
    gpu_ids: StrictStr | None = None
    main_process_ip: StrictStr | None = None
    main_process_port: StrictInt | None = None
    rdzv_backend: StrictStr | None = "static"
    same_network: StrictBool | None = False
    main_training_function: StrictStr = "main"
    enable_cpu_affinity: StrictBool = False
    fp8_config: Fp8Config | None = None
    deepspeed_config: DeepSpeedConfig | None = None
    fsdp_config: FsdpConfig | None = None
    parallelism_config: ParallelismConfig | None = None
    megatron_lm_config: MegatronLMConfig | None = None
    mpirun_config: MpirunConfig | None = None
    downcast_bf16: StrictBool | StrictStr = False
    tpu_name: StrictStr | None = None
    tpu_zone: StrictStr | None = None
    tpu_use_cluster: StrictBool = False
    tpu_use_sudo: StrictBool | StrictStr = False
    command_file: StrictStr | None = None
    commands: list[StrictStr] | None = None
    tpu_vm: list[StrictStr] | None = None
    tpu_env: list[StrictStr] | None = None
    dynamo_config: DynamoConfig | None = None
    # Legacy keys accelerate's loader still converts.
    fp16: StrictBool | None = None
    dynamo_backend: StrictStr | None = None


class SageMakerConfigModel(_Strict):
    compute_environment: Literal["AMAZON_SAGEMAKER"]
    distributed_type: Literal[SAGEMAKER_DISTRIBUTED_TYPES]  # type: ignore[valid-type]
    mixed_precision: Literal[PRECISIONS] | None = None  # type: ignore[valid-type]
    use_cpu: StrictBool = False
    debug: StrictBool = False
    ec2_instance_type: StrictStr
    iam_role_name: StrictStr
    image_uri: StrictStr | None = None
    profile: StrictStr | None = None
    region: StrictStr = "us-east-1"
    num_machines: StrictInt = 1
    gpu_ids: StrictStr = "all"
    base_job_name: StrictStr | None = None
    pytorch_version: StrictStr | None = None
    transformers_version: StrictStr | None = None
    py_version: StrictStr | None = None
    sagemaker_inputs_file: StrictStr | None = None
    sagemaker_metrics_file: StrictStr | None = None
    additional_args: dict[str, Any] | None = None
    dynamo_config: DynamoConfig | None = None
    enable_cpu_affinity: StrictBool = False
    fp16: StrictBool | None = None
    dynamo_backend: StrictStr | None = None


NESTED_MODELS: dict[str, type[BaseModel]] = {
    "fsdp_config": FsdpConfig,
    "deepspeed_config": DeepSpeedConfig,
    "megatron_lm_config": MegatronLMConfig,
    "dynamo_config": DynamoConfig,
    "fp8_config": Fp8Config,
    "parallelism_config": ParallelismConfig,
    "mpirun_config": MpirunConfig,
}

#: Keys other accelerate versions use, and what 1.15 calls them (None: removed, delete it).
RENAMED_KEYS: dict[str, str | None] = {
    "fsdp_backward_prefetch_policy": "fsdp_backward_prefetch",
    "fsdp_sharding_strategy": "fsdp_reshard_after_forward",
    "ipex_config": None,
    "use_mps_device": None,
    "mpirun_ccl": "mpirun_config.mpirun_ccl",
    "megatron_lm_tp": "megatron_lm_tp_degree",
}


@dataclass(frozen=True)
class Problem:
    """One finding about a config file: where, what is wrong, and the fix."""

    key: str
    message: str
    fix: str
    severity: Literal["error", "warning"] = "error"
    line: int | None = None

    def render(self, source: str | None = None) -> str:
        key = f"{self.key}: " if self.key else ""
        return f"{location_prefix(source, self.line)}{self.severity}: {key}{self.message} Fix: {self.fix}"


def location_prefix(source: str | None, line: int | None) -> str:
    """`file:line: `, `file: `, `line N: ` or nothing: where a one-line message points."""
    where = source or ""
    if line is not None:
        where = f"{where}:{line}" if where else f"line {line}"
    return f"{where}: " if where else ""


def fields_of(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def suggest(word: str, candidates: list[str]) -> str | None:
    """The closest candidate to a misspelt `word` (or the same word in another letter case)."""
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in candidates}
    return lowered.get(word.lower())


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value) if isinstance(value, (bool, int, float, type(None))) else type(value).__name__


def _problems_from(exc: ValidationError, data: Mapping[str, Any], model: type[BaseModel]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not isinstance(p, int) or True)
        # pydantic reports each member of a union; keep the first error per location.
        key_path = tuple(str(p) for p in loc if not _is_union_tag(p))
        if key_path in seen:
            continue
        seen.add(key_path)
        problems.append(_one_problem(err, key_path, data, model))
    return problems


def _is_union_tag(part: Any) -> bool:
    text = str(part)
    return text.startswith(("literal[", "bool", "int", "str", "float", "list[", "function-", "Strict")) or text in {
        "FsdpConfig",
        "DeepSpeedConfig",
        "MegatronLMConfig",
        "DynamoConfig",
        "Fp8Config",
        "ParallelismConfig",
        "MpirunConfig",
    }


def _lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for part in path:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _allowed_values(model: type[BaseModel], path: tuple[str, ...]) -> list[Any]:
    target: Any = model
    for part in path:
        fields = getattr(target, "model_fields", None)
        if fields is None or part not in fields:
            return []
        annotation = fields[part].annotation
        nested = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        target = nested[0] if nested else annotation
    return _literal_values(target)


def _literal_values(annotation: Any) -> list[Any]:
    values: list[Any] = []
    origin = getattr(annotation, "__origin__", None)
    if origin is Literal:
        return list(annotation.__args__)
    for arg in getattr(annotation, "__args__", ()) or ():
        values.extend(_literal_values(arg))
    return values


#: Keys whose value accelerate 1.15 upper- or lower-cases before using it (`accelerate launch`:
#: `mixed_precision.lower()`, `dynamo_backend.upper()`; FullyShardedDataParallelPlugin: `.upper()`
#: on the strategy, prefetch, wrap policy and state dict type), so a case-only difference works.
CASE_NORMALISED_KEYS = frozenset(
    {
        "mixed_precision",
        "dynamo_backend",
        "fsdp_sharding_strategy",
        "fsdp_reshard_after_forward",
        "fsdp_backward_prefetch",
        "fsdp_auto_wrap_policy",
        "fsdp_state_dict_type",
    }
)


def _one_problem(err: Any, path: tuple[str, ...], data: Mapping[str, Any], model: type[BaseModel]) -> Problem:
    key = ".".join(path)
    kind = err["type"]
    value = _lookup(data, path)
    if kind == "extra_forbidden":
        name = path[-1]
        parent = path[:-1]
        if name in RENAMED_KEYS:
            new = RENAMED_KEYS[name]
            if new is None:
                return Problem(key, "is not a key of accelerate 1.15's config (removed).", f"delete `{name}`.")
            return Problem(key, "is the old name of a key accelerate 1.15 renamed.", f"rename it to `{new}`.")
        siblings = _sibling_fields(model, parent)
        guess = suggest(name, siblings)
        where = f"`{'.'.join(parent)}`" if parent else "the config"
        if guess:
            return Problem(
                key,
                f"unknown key in {where} (accelerate would ignore or reject it).",
                f"did you mean `{guess}`?",
            )
        shown = ", ".join(siblings[:8]) + (", ..." if len(siblings) > 8 else "")
        return Problem(key, f"unknown key in {where}.", f"remove it; valid keys include {shown}.")
    if kind == "missing":
        return Problem(key, "is required.", f"add `{path[-1]}:` (e.g. `distributed_type: MULTI_GPU`).")
    allowed = _allowed_values(model, path)
    if allowed:
        shown = ", ".join(str(a) for a in allowed)
        if value is False and any(isinstance(a, str) and a.lower() == "no" for a in allowed):
            # YAML 1.1 (PyYAML, what accelerate uses) reads an unquoted NO / no / off as false.
            option = next(a for a in allowed if isinstance(a, str) and a.lower() == "no")
            return Problem(
                key,
                f"is false: YAML reads an unquoted {option} as false, which accelerate rejects.",
                f"quote it: `{path[-1]}: '{option}'`.",
            )
        if isinstance(value, str):
            for option in allowed:
                if isinstance(option, str) and option.lower() == value.lower():
                    if path[-1] in CASE_NORMALISED_KEYS:
                        return Problem(
                            key,
                            f"{value!r} works (accelerate normalises this value's case) but is not "
                            "how accelerate writes it.",
                            f"write `{path[-1]}: {option}`.",
                            severity="warning",
                        )
                    return Problem(
                        key,
                        f"{value!r} is not a value accelerate recognises (values are case-sensitive).",
                        f"write `{path[-1]}: {option}`.",
                    )
            guess = suggest(value, [a for a in allowed if isinstance(a, str)])
            if guess:
                return Problem(key, f"{value!r} is not one of {shown}.", f"did you mean `{guess}`?")
        if kind in ("literal_error",) or not _expected_type(kind):
            return Problem(key, f"{_describe(value)} is not one of {shown}.", f"use one of {shown}.")
    expected = _expected_type(kind)
    if expected:
        hint = f"write it as {expected}"
        if expected == "text" and isinstance(value, (int, float)) and not isinstance(value, bool):
            hint = f"quote it: `{path[-1]}: '{value}'`"
        if expected == "true/false" and isinstance(value, str) and value.lower() in ("yes", "no", "true", "false"):
            hint = f"write `{path[-1]}: {'true' if value.lower() in ('yes', 'true') else 'false'}` (no quotes)"
        return Problem(key, f"{_describe(value)} has the wrong type: expected {expected}.", hint + ".")
    return Problem(key, err.get("msg", "is not valid") + ".", "see accelerate's config documentation.")


def _expected_type(kind: str) -> str | None:
    if kind.startswith("bool"):
        return "true/false"
    if kind.startswith("int"):
        return "a whole number"
    if kind.startswith("float"):
        return "a number"
    if kind.startswith("string"):
        return "text"
    if kind.startswith("list"):
        return "a list"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "a mapping of keys"
    return None


def _sibling_fields(model: type[BaseModel], parent: tuple[str, ...]) -> list[str]:
    if not parent:
        return fields_of(model)
    nested = NESTED_MODELS.get(parent[0])
    return fields_of(nested) if nested else []


def _model_for(data: Mapping[str, Any]) -> type[BaseModel]:
    return SageMakerConfigModel if data.get("compute_environment") == "AMAZON_SAGEMAKER" else ClusterConfigModel


def validate_config(data: Any, *, lines: Mapping[tuple[str, ...], int] | None = None) -> list[Problem]:
    """Every schema problem of an accelerate config dict (empty list: valid for accelerate 1.15)."""
    if not isinstance(data, Mapping):
        return [
            Problem(
                "",
                f"the file holds {type(data).__name__}, not a mapping of keys.",
                "write `key: value` lines.",
            )
        ]
    problems: list[Problem] = []
    env = data.get("compute_environment", "LOCAL_MACHINE")
    if isinstance(env, str) and env not in COMPUTE_ENVIRONMENTS:
        upper = env.upper()
        fix = f"write `compute_environment: {upper}`." if upper in COMPUTE_ENVIRONMENTS else "use LOCAL_MACHINE."
        problems.append(
            Problem(
                "compute_environment",
                f"{env!r} is not LOCAL_MACHINE, so accelerate treats the file as a SageMaker config and "
                "fails with a misleading \"unknown keys (['num_processes'])\".",
                fix,
            )
        )
        data = {**data, "compute_environment": upper if upper in COMPUTE_ENVIRONMENTS else "LOCAL_MACHINE"}
    model = _model_for(data)
    try:
        model.model_validate(dict(data))
    except ValidationError as exc:
        problems.extend(_problems_from(exc, data, model))
    for key, new in RENAMED_KEYS.items():
        nested = data.get("fsdp_config")
        if key == "fsdp_sharding_strategy" and isinstance(nested, Mapping) and key in nested:
            problems.append(
                Problem(
                    f"fsdp_config.{key}",
                    "is deprecated in accelerate 1.x (still read, with a warning).",
                    f"use `{new}` (FSDP1: the strategy name; FSDP2: true/false).",
                    severity="warning",
                )
            )
    if lines:
        problems = [_with_line(p, lines) for p in problems]
    return problems


def _with_line(problem: Problem, lines: Mapping[tuple[str, ...], int]) -> Problem:
    line = line_of(lines, *problem.key.split(".")) if problem.key else None
    return Problem(problem.key, problem.message, problem.fix, problem.severity, line)


# -- reading and writing ----------------------------------------------------------------------


@dataclass
class LoadedConfig:
    path: Path
    data: dict[str, Any]
    lines: dict[tuple[str, ...], int]
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _python_literal_hint(text: str) -> str:
    for literal, json_word in (("True", "true"), ("False", "false"), ("None", "null")):
        if f": {literal}" in text or f":{literal}" in text:
            return f" It uses the Python literal `{literal}`; JSON needs `{json_word}`."
    return ""


def parse_config_text(text: str, source: str, *, as_json: bool) -> dict[str, Any]:
    """Parse a config document or raise UsageError naming the file and the line."""
    try:
        data = json.loads(text) if as_json else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source}:{exc.lineno}: not valid JSON ({exc.msg}).{_python_literal_hint(text)}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{source}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc}).") from None
    if data is None:
        raise UsageError(f"{source}: the file is empty; write a config with the wizard or `sftplay-tui write`.")
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected `key: value` lines, found a {type(data).__name__}.")
    return data


def load_config_file(path: Path) -> LoadedConfig:
    source = str(path)
    hint = ""
    if path.suffix == ".yaml" and path.with_suffix(".yml").exists():
        hint = f" A {path.with_suffix('.yml').name} exists beside it, but accelerate only reads {path.name}: rename it."
    text = read_user_file(
        path, "config file", missing_hint=f"{hint} Create one with `sftplay-tui` or `sftplay-tui write`."
    )
    as_json = path.suffix.lower() == ".json"
    data = parse_config_text(text, source, as_json=as_json)
    lines = {} if as_json else key_lines(text)
    return LoadedConfig(path=path, data=data, lines=lines, problems=validate_config(data, lines=lines))


def dump_config(data: Mapping[str, Any], path: Path | None = None) -> str:
    """The file text accelerate writes for `data` (JSON for a .json path, YAML otherwise)."""
    if path is not None and str(path).endswith(".json"):
        return json.dumps(dict(data), indent=2, sort_keys=True) + "\n"
    return yaml.safe_dump(dict(data))
