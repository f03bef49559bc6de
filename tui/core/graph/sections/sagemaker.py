"""Amazon SageMaker questions (`accelerate/commands/config/sagemaker.py:get_sagemaker_input`).

AWS keys typed here are never written anywhere (accelerate only puts them in its own process
environment). "Create new IAM role" is refused: accelerate would call AWS IAM from the wizard; with
sftplay-tui create the role with the AWS console or CLI and give its name.
"""

from __future__ import annotations

from typing import Any

from tui.core.graph.kit import field, guarded, menu, options, yes_no
from tui.core.graph.sections import dynamo
from tui.core.graph.state import Draft
from tui.core.questions import Kind

SECTION = "SageMaker"

SAGEMAKER_PARALLEL_EC2_INSTANCES = ["ml.p3.16xlarge", "ml.p3dn.24xlarge", "ml.p4dn.24xlarge"]


def _sm(draft: Draft) -> bool:
    return draft.sagemaker


def _lower(text: str) -> str:
    return str(text).lower()


def _reject_create_role(_draft: Draft, value: Any) -> str | None:
    if value == 1:
        return (
            "sftplay-tui does not create IAM roles from the wizard: create one for SageMaker with the "
            "AWS console or `aws iam create-role`, then choose 'Provide IAM Role name'."
        )
    return None


def _distributed(draft: Draft) -> bool:
    return _sm(draft) and draft.sagemaker_distributed_type != "NO"


BEFORE_DYNAMO = [
    menu(
        "sagemaker_credentials",
        "AWS authorization",
        "How do you want to authorize?",
        options(
            ["AWS Profile", "Credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) "],
            [0, 1],
            ["a profile from ~/.aws/credentials", "keys passed to accelerate launch at run time"],
        ),
        section=SECTION,
        when=_sm,
        explain="How accelerate authenticates with AWS. A named profile is stored in the config; keys are not.",
    ),
    field(
        "sagemaker_profile",
        "AWS profile",
        "Enter your AWS Profile name: [default] ",
        kind=Kind.TEXT,
        default="default",
        section=SECTION,
        when=lambda d: _sm(d) and d.answered("sagemaker_credentials") == 0,
        sets="aws_profile",
        explain="The profile name in ~/.aws/credentials.",
    ),
    field(
        "sagemaker_access_key_id",
        "AWS access key id",
        "AWS Access Key ID: ",
        kind=Kind.TEXT,
        secret=True,
        section=SECTION,
        when=lambda d: _sm(d) and d.answered("sagemaker_credentials") == 1,
        explain="Not saved: pass it again with `accelerate launch --aws_access_key_id` when launching.",
    ),
    field(
        "sagemaker_secret_access_key",
        "AWS secret access key",
        "AWS Secret Access Key: ",
        kind=Kind.TEXT,
        secret=True,
        section=SECTION,
        when=lambda d: _sm(d) and d.answered("sagemaker_credentials") == 1,
        explain="Not saved: pass it again with `accelerate launch --aws_secret_access_key` when launching.",
    ),
    field(
        "sagemaker_region",
        "AWS region",
        "Enter your AWS Region: [us-east-1]",
        kind=Kind.TEXT,
        default="us-east-1",
        section=SECTION,
        when=_sm,
        sets="aws_region",
        explain="The region where the training job runs, e.g. us-east-1 or eu-west-1.",
    ),
    menu(
        "sagemaker_role_management",
        "IAM role",
        "Do you already have an IAM Role for executing Amazon SageMaker Training Jobs?",
        options(["Provide IAM Role name", "Create new IAM role using credentials"], [0, 1]),
        section=SECTION,
        when=_sm,
        reject=_reject_create_role,
        explain="The IAM role SageMaker assumes to run the job (needs SageMaker, S3, ECR and CloudWatch access).",
    ),
    field(
        "sagemaker_iam_role_name",
        "IAM role name",
        "Enter your IAM role name: ",
        kind=Kind.TEXT,
        section=SECTION,
        when=lambda d: _sm(d) and d.answered("sagemaker_role_management") == 0,
        sets="iam_role_name",
        explain="The role's name (not its ARN).",
    ),
    yes_no(
        "sagemaker_custom_image",
        "Custom Docker image",
        "Do you want to use custom Docker image? [yes/NO]: ",
        section=SECTION,
        when=_sm,
        explain="No uses the Hugging Face PyTorch training image; yes to give your own ECR image.",
    ),
    field(
        "sagemaker_docker_image",
        "Docker image",
        "Enter your Docker image: ",
        kind=Kind.TEXT,
        convert=_lower,
        section=SECTION,
        when=lambda d: _sm(d) and bool(d.answered("sagemaker_custom_image")),
        sets="docker_image",
        explain="The image URI; accelerate lower-cases it.",
    ),
    yes_no(
        "sagemaker_inputs",
        "Input channels",
        "Do you want to provide SageMaker input channels with data locations? [yes/NO]: ",
        section=SECTION,
        when=_sm,
        explain="Yes to mount S3 data into the job through a TSV of channel names and locations.",
    ),
    field(
        "sagemaker_inputs_file",
        "Inputs TSV",
        "Enter the path to the SageMaker inputs TSV file with columns (channel_name, data_location): ",
        kind=Kind.TEXT,
        convert=_lower,
        section=SECTION,
        when=lambda d: _sm(d) and bool(d.answered("sagemaker_inputs")),
        sets="sagemaker_inputs_file",
        explain="Path of the TSV file (accelerate lower-cases it, so keep the path lower case).",
    ),
    yes_no(
        "sagemaker_metrics",
        "SageMaker metrics",
        "Do you want to enable SageMaker metrics? [yes/NO]: ",
        section=SECTION,
        when=_sm,
        explain="Yes to let SageMaker extract metrics from the logs with regexes from a TSV file.",
    ),
    field(
        "sagemaker_metrics_file",
        "Metrics TSV",
        "Enter the path to the SageMaker metrics TSV file with columns (metric_name, metric_regex): ",
        kind=Kind.TEXT,
        convert=_lower,
        section=SECTION,
        when=lambda d: _sm(d) and bool(d.answered("sagemaker_metrics")),
        sets="sagemaker_metrics_file",
        explain="Path of the TSV file (accelerate lower-cases it).",
    ),
    menu(
        "sagemaker_distributed_type",
        "Distributed mode",
        "What is the distributed mode?",
        options(["No distributed training", "Data parallelism"], ["NO", "DATA_PARALLEL"]),
        section=SECTION,
        when=_sm,
        sets="sagemaker_distributed_type",
        explain="Data parallelism runs one process per GPU of a multi-GPU instance type.",
    ),
]

AFTER_DYNAMO = [
    menu(
        "sagemaker_ec2_instance_menu",
        "EC2 instance type",
        "Which EC2 instance type you want to use for your training?",
        options(
            SAGEMAKER_PARALLEL_EC2_INSTANCES,
            notes=["8x V100 16 GB", "8x V100 32 GB, 100 Gbps", "8x A100 40 GB"],
        ),
        section=SECTION,
        when=_distributed,
        sets="ec2_instance_type",
        explain="The multi-GPU instance type for data-parallel jobs.",
    ),
    field(
        "sagemaker_ec2_instance_type",
        "EC2 instance type",
        "Which EC2 instance type you want to use for your training?? [ml.p3.2xlarge]:",
        kind=Kind.TEXT,
        default="ml.p3.2xlarge",
        convert=_lower,
        section=SECTION,
        when=lambda d: _sm(d) and not _distributed(d),
        sets="ec2_instance_type",
        explain="Any SageMaker training instance type, e.g. ml.g5.2xlarge (1x A10G).",
    ),
    yes_no(
        "sagemaker_debug",
        "Check distributed operations",
        "Should distributed operations be checked while running for errors? This can avoid timeout issues "
        "but will be slower. [yes/NO]: ",
        section=SECTION,
        when=_distributed,
        sets="debug",
        explain="Yes checks collectives for mismatches instead of timing out; slower.",
    ),
    field(
        "sagemaker_num_machines",
        "Number of machines",
        "How many machines do you want use? [1]: ",
        kind=Kind.INT,
        default=1,
        section=SECTION,
        when=_distributed,
        sets="num_machines",
        explain="How many instances of that type.",
    ),
    menu(
        "sagemaker_mixed_precision",
        "Mixed precision",
        "Do you wish to use FP16 or BF16 (mixed precision)?",
        options(["no", "fp16", "bf16", "fp8"]),
        section=SECTION,
        when=_sm,
        sets="mixed_precision",
        explain="bf16 on A100 instances (p4d), fp16 on V100 ones (p3).",
    ),
]

DYNAMO = guarded(dynamo.QUESTIONS, _sm)
