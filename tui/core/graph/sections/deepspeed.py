"""DeepSpeed questions (`cluster.py`, the `use_deepspeed` block)."""

from __future__ import annotations

from typing import Any

from tui.core.graph.kit import field, menu, options, yes_no
from tui.core.graph.state import DEEPSPEED, MULTI_DEVICE, MULTI_NEURON, NO, Draft
from tui.core.questions import Kind

SECTION = "DeepSpeed"

DEEPSPEED_MULTINODE_LAUNCHERS = ["pdsh", "standard", "openmpi", "mvapich", "mpich", "nossh", "slurm"]
OFFLOAD_DEVICES = ["none", "cpu", "nvme"]


def _asked(draft: Draft) -> bool:
    return not draft.sagemaker and draft.distributed_type in (*MULTI_DEVICE, NO) and not draft.use_mps


def _set_use_deepspeed(draft: Draft, value: Any) -> None:
    if value:
        draft.distributed_type = DEEPSPEED


def _reject_deepspeed(draft: Draft, value: Any) -> str | None:
    if not value:
        return None
    if draft.distributed_type == MULTI_NEURON:
        return "DeepSpeed is not supported on Neuron devices; answer no (accelerate raises RuntimeError)."
    if not draft.host.deepspeed:
        return (
            "DeepSpeed is not installed => run `pip3 install deepspeed` or build it from source, "
            "then run the wizard again (or answer no)."
        )
    return None


def _ds(draft: Draft) -> bool:
    return not draft.sagemaker and draft.distributed_type == DEEPSPEED


def _ds_manual(draft: Draft) -> bool:
    return _ds(draft) and not draft.use_deepspeed_config


def _stage(draft: Draft) -> int:
    return int(draft.deepspeed_config.get("zero_stage", 0))


def _set_use_config_file(draft: Draft, value: Any) -> None:
    draft.use_deepspeed_config = value


def _reject_zero3_init(draft: Draft, value: Any) -> str | None:
    if value and not draft.host.transformers:
        return (
            "When `zero3_init_flag` is set, it requires Transformers to be installed. "
            "Please run `pip3 install transformers` (or answer no)."
        )
    return None


def _multinode(draft: Draft) -> bool:
    return _ds(draft) and draft.num_machines > 1


def _hostfile_launcher(draft: Draft) -> bool:
    return _multinode(draft) and draft.deepspeed_config.get("deepspeed_multinode_launcher") != "standard"


QUESTIONS = [
    yes_no(
        "use_deepspeed",
        "DeepSpeed",
        "Do you want to use DeepSpeed? [yes/NO]: ",
        section=SECTION,
        when=_asked,
        sets="distributed_type",
        apply=_set_use_deepspeed,
        reject=_reject_deepspeed,
        explain=(
            "DeepSpeed's ZeRO shards optimizer states, gradients and (stage 3) parameters across GPUs "
            "and can offload them to CPU or NVMe, to fit models plain DDP cannot. It must be "
            "installed (`pip install deepspeed`, needs a CUDA toolkit to build its ops). For LoRA/QLoRA "
            "on 1-8 GPUs plain DDP (no) is simpler and usually as fast. Answering yes replaces FSDP "
            "and Megatron-LM: those questions are then skipped."
        ),
    ),
    yes_no(
        "deepspeed_use_config_file",
        "DeepSpeed JSON file",
        "Do you want to specify a json file to a DeepSpeed config? [yes/NO]: ",
        section=SECTION,
        when=_ds,
        apply=_set_use_config_file,
        explain=(
            "Yes to use your own DeepSpeed JSON (ds_config.json) for everything; accelerate then skips "
            "the ZeRO and mixed-precision questions, which come from the JSON. No to answer a few "
            "questions here instead."
        ),
    ),
    field(
        "deepspeed_config_file",
        "DeepSpeed JSON path",
        "Please enter the path to the json DeepSpeed config file: ",
        kind=Kind.TEXT,
        default="none",
        section=SECTION,
        when=lambda d: _ds(d) and d.use_deepspeed_config,
        sets="deepspeed_config.deepspeed_config_file",
        explain="The DeepSpeed JSON file, e.g. configs/deepspeed_z2.json. Use a path valid on every machine.",
    ),
    menu(
        "deepspeed_zero_stage",
        "ZeRO stage",
        "What should be your DeepSpeed's ZeRO optimization stage?",
        options(
            ["0", "1", "2", "3"],
            [0, 1, 2, 3],
            [
                "disabled: plain data parallelism",
                "shard optimizer states",
                "shard optimizer states and gradients (the usual choice)",
                "also shard the parameters: largest models, more communication",
            ],
        ),
        default=2,
        section=SECTION,
        when=_ds_manual,
        sets="deepspeed_config.zero_stage",
        explain=(
            "How much DeepSpeed shards. Stage 2 is the usual choice for fine-tuning; stage 3 only when "
            "the model itself does not fit on one GPU."
        ),
    ),
    menu(
        "deepspeed_offload_optimizer_device",
        "Offload optimizer states",
        "Where to offload optimizer states?",
        options(
            OFFLOAD_DEVICES,
            notes=["keep on GPU (fastest)", "CPU RAM: saves GPU memory, slower", "NVMe disk: slowest"],
        ),
        section=SECTION,
        when=lambda d: _ds_manual(d) and _stage(d) >= 2,
        sets="deepspeed_config.offload_optimizer_device",
        explain="Moving Adam's states (2x the parameters in fp32) off the GPU saves the most memory for the least speed.",
    ),
    menu(
        "deepspeed_offload_param_device",
        "Offload parameters",
        "Where to offload parameters?",
        options(
            OFFLOAD_DEVICES,
            notes=["keep on GPU (fastest)", "CPU RAM (ZeRO-3 only)", "NVMe disk (ZeRO-3 only)"],
        ),
        section=SECTION,
        when=lambda d: _ds_manual(d) and _stage(d) >= 2,
        sets="deepspeed_config.offload_param_device",
        explain="Parameter offload only takes effect with ZeRO stage 3; with stage 2 leave it at none.",
    ),
    field(
        "deepspeed_offload_param_nvme_path",
        "NVMe path (parameters)",
        "Nvme Path to offload parameters?",
        kind=Kind.TEXT,
        default="/nvme",
        section=SECTION,
        when=lambda d: _ds_manual(d) and _stage(d) >= 2 and d.deepspeed_config.get("offload_param_device") == "nvme",
        sets="deepspeed_config.offload_param_nvme_path",
        explain="A folder on a fast local NVMe drive with room for the parameters.",
    ),
    field(
        "deepspeed_offload_optimizer_nvme_path",
        "NVMe path (optimizer)",
        "Nvme Path to offload optimizer states?",
        kind=Kind.TEXT,
        default="/nvme",
        section=SECTION,
        when=lambda d: (
            _ds_manual(d) and _stage(d) >= 2 and d.deepspeed_config.get("offload_optimizer_device") == "nvme"
        ),
        sets="deepspeed_config.offload_optimizer_nvme_path",
        explain="A folder on a fast local NVMe drive with room for the optimizer states.",
    ),
    field(
        "deepspeed_gradient_accumulation_steps",
        "Gradient accumulation",
        "How many gradient accumulation steps you're passing in your script? [1]: ",
        kind=Kind.INT,
        default=1,
        section=SECTION,
        when=_ds_manual,
        sets="deepspeed_config.gradient_accumulation_steps",
        explain=(
            "Must equal the gradient accumulation your training script uses "
            "(--gradient_accumulation_steps); DeepSpeed otherwise scales the loss wrongly."
        ),
    ),
    yes_no(
        "deepspeed_use_gradient_clipping",
        "Gradient clipping",
        "Do you want to use gradient clipping? [yes/NO]: ",
        section=SECTION,
        when=_ds_manual,
        explain="Yes lets DeepSpeed clip the global gradient norm (DeepSpeed ignores the Trainer's max_grad_norm).",
    ),
    field(
        "deepspeed_gradient_clipping",
        "Clipping value",
        "What is the gradient clipping value? [1.0]: ",
        kind=Kind.FLOAT,
        default=1.0,
        section=SECTION,
        when=lambda d: _ds_manual(d) and bool(d.answered("deepspeed_use_gradient_clipping")),
        sets="deepspeed_config.gradient_clipping",
        explain="The maximum global L2 norm of the gradients; 1.0 is the usual value.",
    ),
    yes_no(
        "deepspeed_zero3_save_16bit_model",
        "Save 16-bit weights (ZeRO-3)",
        "Do you want to save 16-bit model weights when using ZeRO Stage-3? [yes/NO]: ",
        section=SECTION,
        when=lambda d: _ds_manual(d) and _stage(d) == 3,
        sets="deepspeed_config.zero3_save_16bit_model",
        explain=(
            "Yes gathers the sharded parameters into one 16-bit file when saving, loadable without "
            "DeepSpeed. No saves only sharded checkpoints (convert later with zero_to_fp32.py)."
        ),
    ),
    yes_no(
        "deepspeed_zero3_init_flag",
        "deepspeed.zero.Init",
        "Do you want to enable `deepspeed.zero.Init` when using ZeRO Stage-3 for constructing massive models? [yes/NO]: ",
        section=SECTION,
        when=_ds,
        sets="deepspeed_config.zero3_init_flag",
        reject=_reject_zero3_init,
        explain=(
            "With ZeRO-3, yes builds the model already sharded so it never has to fit whole in one "
            "process's memory (needs transformers). No effect with other stages."
        ),
    ),
    yes_no(
        "deepspeed_use_moe",
        "Mixture-of-Experts",
        "Do you want to enable Mixture-of-Experts training (MoE)? [yes/NO]: ",
        section=SECTION,
        when=_ds,
        explain="Yes for MoE models (Mixtral, Qwen-MoE): DeepSpeed then treats the expert blocks as leaf modules.",
    ),
    field(
        "deepspeed_moe_layer_cls_names",
        "MoE layer classes",
        "Specify the comma-separated list of transformers MoE layer class names (case-sensitive), e.g :  "
        "`MixtralSparseMoeBlock`, `Qwen2MoeSparseMoeBlock`, `JetMoEAttention,JetMoEBlock` ... : ",
        kind=Kind.TEXT,
        section=SECTION,
        when=lambda d: _ds(d) and bool(d.answered("deepspeed_use_moe")),
        sets="deepspeed_config.deepspeed_moe_layer_cls_names",
        explain="The class names of the MoE blocks as printed by print(model), e.g. MixtralSparseMoeBlock.",
    ),
    menu(
        "deepspeed_multinode_launcher",
        "DeepSpeed multi-node launcher",
        "Which Type of launcher do you want to use?",
        options(
            DEEPSPEED_MULTINODE_LAUNCHERS,
            notes=[
                "DeepSpeed starts every node over pdsh/ssh from this one",
                "you start accelerate on every node yourself (like plain multi-node)",
                "OpenMPI's mpirun",
                "MVAPICH",
                "MPICH",
                "no ssh: each node started by you, DeepSpeed coordinates",
                "SLURM's srun",
            ],
        ),
        section=SECTION,
        when=_multinode,
        sets="deepspeed_config.deepspeed_multinode_launcher",
        explain=(
            "How DeepSpeed starts the processes on the other machines. 'standard' means you run "
            "accelerate launch on every node; the others start all nodes from one with a hostfile."
        ),
    ),
    field(
        "deepspeed_hostfile",
        "DeepSpeed hostfile",
        "DeepSpeed configures multi-node compute resources with hostfile. Each row is of the format "
        "`hostname slots=[num_gpus]`, e.g., `localhost slots=2`; for more information please refer "
        "official [documentation](https://www.deepspeed.ai/getting-started/#resource-configuration-multi-node). "
        "Please specify the location of hostfile: ",
        kind=Kind.TEXT,
        section=SECTION,
        when=_hostfile_launcher,
        sets="deepspeed_config.deepspeed_hostfile",
        explain="A file listing every node and its GPU count, one per line: `node1 slots=8`.",
    ),
    yes_no(
        "deepspeed_use_exclusion_filter",
        "Exclusion filter",
        "Do you want to specify exclusion filter string? [yes/NO]: ",
        section=SECTION,
        when=_hostfile_launcher,
        explain="Yes to leave some nodes or GPUs of the hostfile out, e.g. `node1:0,1`.",
    ),
    field(
        "deepspeed_exclusion_filter",
        "Exclusion filter string",
        "DeepSpeed exclusion filter string: ",
        kind=Kind.TEXT,
        section=SECTION,
        when=lambda d: _hostfile_launcher(d) and bool(d.answered("deepspeed_use_exclusion_filter")),
        sets="deepspeed_config.deepspeed_exclusion_filter",
        explain="DeepSpeed's --exclude syntax: `host` or `host:gpu,gpu`, joined with @.",
    ),
    yes_no(
        "deepspeed_use_inclusion_filter",
        "Inclusion filter",
        "Do you want to specify inclusion filter string? [yes/NO]: ",
        section=SECTION,
        when=_hostfile_launcher,
        explain="Yes to use only some nodes or GPUs of the hostfile.",
    ),
    field(
        "deepspeed_inclusion_filter",
        "Inclusion filter string",
        "DeepSpeed inclusion filter string: ",
        kind=Kind.TEXT,
        section=SECTION,
        when=lambda d: _hostfile_launcher(d) and bool(d.answered("deepspeed_use_inclusion_filter")),
        sets="deepspeed_config.deepspeed_inclusion_filter",
        explain="DeepSpeed's --include syntax: `host` or `host:gpu,gpu`, joined with @.",
    ),
]
