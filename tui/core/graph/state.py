"""The draft a session builds: accelerate's local variables while it asks its questions.

accelerate's `get_cluster_input()` keeps ~40 local variables and rewrites some as it goes (the
distributed type becomes DEEPSPEED, FSDP or MEGATRON_LM when you say yes to them). `Draft` holds
the same variables with the same starting values, so each question's `apply` reads like the line
of accelerate it mirrors, and `tui.core.graph.build` turns a finished draft into the dict that
accelerate's `ClusterConfig.to_dict()` / `SageMakerConfig.to_dict()` would produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui.core.host import HostCapabilities

LOCAL_MACHINE = "LOCAL_MACHINE"
AMAZON_SAGEMAKER = "AMAZON_SAGEMAKER"

# accelerate's DistributedType values.
NO = "NO"
MULTI_CPU = "MULTI_CPU"
MULTI_GPU = "MULTI_GPU"
MULTI_NPU = "MULTI_NPU"
MULTI_MLU = "MULTI_MLU"
MULTI_SDAA = "MULTI_SDAA"
MULTI_MUSA = "MULTI_MUSA"
MULTI_XPU = "MULTI_XPU"
MULTI_HPU = "MULTI_HPU"
MULTI_NEURON = "MULTI_NEURON"
DEEPSPEED = "DEEPSPEED"
FSDP = "FSDP"
XLA = "XLA"
MEGATRON_LM = "MEGATRON_LM"

#: Device families that `accelerate config` treats alike (every multi-device type but CPU).
MULTI_DEVICE = (MULTI_GPU, MULTI_MLU, MULTI_SDAA, MULTI_MUSA, MULTI_NPU, MULTI_XPU, MULTI_HPU, MULTI_NEURON)
#: Types that ask "how many machines" and "check distributed operations".
MULTI_ANY = (*MULTI_DEVICE, MULTI_CPU)


@dataclass
class Draft:
    host: HostCapabilities
    answers: dict[str, Any] = field(default_factory=dict)

    compute_environment: str = LOCAL_MACHINE
    distributed_type: str = NO
    machine_rank: int = 0
    num_machines: int = 1
    num_processes: int = 1
    gpu_ids: str | None = None
    main_process_ip: str | None = None
    main_process_port: int | None = None
    rdzv_backend: str = "static"
    same_network: bool = True
    debug: bool = False
    use_cpu: bool = False
    use_dynamo: bool = False
    use_deepspeed_config: bool = False
    mpirun_config: dict[str, Any] = field(default_factory=dict)
    dynamo_config: dict[str, Any] = field(default_factory=dict)
    deepspeed_config: dict[str, Any] = field(default_factory=dict)
    fsdp_config: dict[str, Any] = field(default_factory=dict)
    parallelism_config: dict[str, Any] = field(default_factory=dict)
    megatron_lm_config: dict[str, Any] = field(default_factory=dict)
    fp8_config: dict[str, Any] | None = None
    mixed_precision: str | None = None
    main_training_function: str = "main"
    enable_cpu_affinity: bool = False
    downcast_bf16: str = "no"
    tpu_name: str | None = None
    tpu_zone: str | None = None
    tpu_use_cluster: bool = False
    tpu_use_sudo: Any = False
    tpu_command_file: str | None = None
    tpu_commands: list[str] | None = None
    tpu_vm: list[str] | None = None
    tpu_env: list[str] = field(default_factory=list)

    # SageMaker-only answers.
    sagemaker_distributed_type: str = NO
    aws_profile: str | None = None
    aws_region: str = "us-east-1"
    iam_role_name: str | None = None
    docker_image: str | None = None
    sagemaker_inputs_file: str | None = None
    sagemaker_metrics_file: str | None = None
    ec2_instance_type: str | None = None

    @property
    def use_mps(self) -> bool:
        return not self.use_cpu and self.host.mps

    @property
    def fsdp_version(self) -> int:
        return int(self.fsdp_config.get("fsdp_version", 1))

    def answered(self, question_id: str) -> Any:
        return self.answers.get(question_id)

    @property
    def sagemaker(self) -> bool:
        return self.compute_environment == AMAZON_SAGEMAKER
