"""A finished draft -> the dict accelerate 1.15 writes, key for key.

Mirrors `ClusterConfig`/`SageMakerConfig` construction at the end of `get_cluster_input()` /
`get_sagemaker_input()` followed by `BaseConfig.to_dict()`: enum values become strings, empty
dicts and `None` values are dropped, everything else (including `tpu_env: []`) is kept. Tuples
become lists, as `yaml.safe_dump` writes them.
"""

from __future__ import annotations

from typing import Any

from tui.core.graph.state import AMAZON_SAGEMAKER, LOCAL_MACHINE, Draft

# SageMakerConfig's class defaults in accelerate 1.15 (accelerate.utils.constants).
SAGEMAKER_DEFAULTS: dict[str, Any] = {
    "base_job_name": "accelerate-sagemaker-1",
    "gpu_ids": "all",
    "py_version": "py38",
    "pytorch_version": "1.10.2",
    "transformers_version": "4.17.0",
    "enable_cpu_affinity": False,
}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _finish(raw: dict[str, Any]) -> dict[str, Any]:
    """`BaseConfig.to_dict`: drop None values and empty dicts."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict) and not value:
            continue
        if value is None:
            continue
        out[key] = _plain(value)
    return out


def cluster_dict(draft: Draft) -> dict[str, Any]:
    return _finish(
        {
            "compute_environment": LOCAL_MACHINE,
            "distributed_type": draft.distributed_type,
            "mixed_precision": draft.mixed_precision,
            "use_cpu": draft.use_cpu,
            "debug": draft.debug,
            "num_processes": draft.num_processes,
            "machine_rank": draft.machine_rank,
            "num_machines": draft.num_machines,
            "gpu_ids": draft.gpu_ids,
            "main_process_ip": draft.main_process_ip,
            "main_process_port": draft.main_process_port,
            "rdzv_backend": draft.rdzv_backend,
            "same_network": draft.same_network,
            "main_training_function": draft.main_training_function,
            "enable_cpu_affinity": draft.enable_cpu_affinity,
            "fp8_config": draft.fp8_config,
            "deepspeed_config": draft.deepspeed_config,
            "fsdp_config": draft.fsdp_config,
            "parallelism_config": draft.parallelism_config,
            "megatron_lm_config": draft.megatron_lm_config,
            "mpirun_config": draft.mpirun_config,
            "downcast_bf16": draft.downcast_bf16,
            "tpu_name": draft.tpu_name,
            "tpu_zone": draft.tpu_zone,
            "tpu_use_cluster": draft.tpu_use_cluster,
            "tpu_use_sudo": draft.tpu_use_sudo,
            "command_file": draft.tpu_command_file,
            "commands": draft.tpu_commands,
            "tpu_vm": draft.tpu_vm,
            "tpu_env": draft.tpu_env,
            "dynamo_config": draft.dynamo_config,
        }
    )


def sagemaker_dict(draft: Draft) -> dict[str, Any]:
    return _finish(
        {
            **SAGEMAKER_DEFAULTS,
            "compute_environment": AMAZON_SAGEMAKER,
            "distributed_type": draft.sagemaker_distributed_type,
            "mixed_precision": draft.mixed_precision,
            "use_cpu": False,
            "debug": draft.debug,
            "ec2_instance_type": draft.ec2_instance_type,
            "iam_role_name": draft.iam_role_name,
            "image_uri": draft.docker_image,
            "profile": draft.aws_profile,
            "region": draft.aws_region,
            "num_machines": draft.num_machines,
            "sagemaker_inputs_file": draft.sagemaker_inputs_file,
            "sagemaker_metrics_file": draft.sagemaker_metrics_file,
            "dynamo_config": draft.dynamo_config,
        }
    )


def config_dict(draft: Draft) -> dict[str, Any]:
    """The dict accelerate's `to_dict()` returns for the config these answers produce."""
    return sagemaker_dict(draft) if draft.sagemaker else cluster_dict(draft)
