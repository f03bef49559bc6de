"""torch dynamo (torch.compile) questions, asked for every local machine type and on SageMaker."""

from __future__ import annotations

from typing import Any

from tui.core.graph.kit import menu, options, yes_no
from tui.core.graph.state import Draft

SECTION = "torch.compile"

# accelerate's DYNAMO_BACKENDS, including its typo "TORHCHXLA_TRACE_ONCE", which is not a
# DynamoBackend value: choosing it makes accelerate 1.15 raise.
DYNAMO_BACKENDS = [
    "EAGER",
    "AOT_EAGER",
    "INDUCTOR",
    "AOT_TS_NVFUSER",
    "NVPRIMS_NVFUSER",
    "CUDAGRAPHS",
    "OFI",
    "FX2TRT",
    "ONNXRT",
    "TENSORRT",
    "AOT_TORCHXLA_TRACE_ONCE",
    "TORHCHXLA_TRACE_ONCE",
    "TVM",
]
TORCH_DYNAMO_MODES = ["default", "reduce-overhead", "max-autotune"]

_BACKEND_NOTES = {
    "INDUCTOR": "the default and the right choice for training",
    "EAGER": "debugging only: no speed-up",
    "AOT_EAGER": "debugging only: no speed-up",
    "CUDAGRAPHS": "CUDA graphs, static shapes only",
    "OFI": "inference only",
    "FX2TRT": "inference only (TensorRT)",
    "ONNXRT": "inference only",
    "TENSORRT": "inference only",
    "TORHCHXLA_TRACE_ONCE": "misspelt in accelerate 1.15: choosing it fails",
}


def _set_use_dynamo(draft: Draft, value: Any) -> None:
    draft.use_dynamo = value


def _reject_backend(_draft: Draft, value: Any) -> str | None:
    if value == "TORHCHXLA_TRACE_ONCE":
        return (
            "accelerate 1.15 cannot use 'torhchxla_trace_once' (a typo in its backend list raises "
            "ValueError); choose 'aot_torchxla_trace_once' or another backend."
        )
    return None


def _reject_custom_on_sagemaker(draft: Draft, value: Any) -> str | None:
    if value and draft.sagemaker:
        return (
            "accelerate 1.15 crashes on SageMaker when customizing torch.compile (its mode menu has "
            "an invalid default); answer no and set the mode in your script instead."
        )
    return None


def _dynamo(draft: Draft) -> bool:
    return draft.use_dynamo


def _custom(draft: Draft) -> bool:
    return draft.use_dynamo and bool(draft.answered("dynamo_custom_options"))


QUESTIONS = [
    yes_no(
        "use_dynamo",
        "torch.compile (dynamo)",
        "Do you wish to optimize your script with torch dynamo?[yes/NO]:",
        section=SECTION,
        apply=_set_use_dynamo,
        explain=(
            "Whether accelerate wraps your model in torch.compile. It can speed up training once "
            "compiled but adds minutes of compilation, recompiles on changing shapes and breaks some "
            "models; most fine-tuning runs leave it off. Without mixed precision it also enables TF32."
        ),
    ),
    menu(
        "dynamo_backend",
        "Dynamo backend",
        "Which dynamo backend would you like to use?",
        options(
            [b.lower() for b in DYNAMO_BACKENDS],
            DYNAMO_BACKENDS,
            [_BACKEND_NOTES.get(b, "") for b in DYNAMO_BACKENDS],
        ),
        default=2,
        section=SECTION,
        when=_dynamo,
        sets="dynamo_config.dynamo_backend",
        reject=_reject_backend,
        explain="The compiler behind torch.compile. 'inductor' is the default and the one to use for training.",
    ),
    yes_no(
        "dynamo_custom_options",
        "Customize torch.compile",
        "Do you want to customize the defaults sent to torch.compile? [yes/NO]: ",
        section=SECTION,
        when=_dynamo,
        reject=_reject_custom_on_sagemaker,
        explain="No keeps torch.compile's defaults. Yes asks for the mode, fullgraph, dynamic shapes and regional compilation.",
    ),
    menu(
        "dynamo_mode",
        "torch.compile mode",
        "Which mode do you want to use?",
        options(
            TORCH_DYNAMO_MODES,
            notes=[
                "balanced compile time and speed",
                "CUDA graphs to cut Python overhead for small batches",
                "longest compile, fastest kernels",
            ],
        ),
        section=SECTION,
        when=_custom,
        sets="dynamo_config.dynamo_mode",
        explain="How hard torch.compile optimizes. 'default' suits training; 'max-autotune' compiles much longer.",
    ),
    yes_no(
        "dynamo_use_fullgraph",
        "Full graph",
        "Do you want the fullgraph mode or it is ok to break model into several subgraphs? [yes/NO]: ",
        section=SECTION,
        when=_custom,
        sets="dynamo_config.dynamo_use_fullgraph",
        explain="Yes makes any graph break an error; no lets torch.compile split the model into subgraphs (safer).",
    ),
    yes_no(
        "dynamo_use_dynamic",
        "Dynamic shapes",
        "Do you want to enable dynamic shape tracing? [yes/NO]: ",
        section=SECTION,
        when=_custom,
        sets="dynamo_config.dynamo_use_dynamic",
        explain="Yes compiles for varying sequence lengths once instead of recompiling for each new shape.",
    ),
    yes_no(
        "dynamo_use_regional_compilation",
        "Regional compilation",
        "Do you want to enable regional compilation? [yes/NO]: ",
        section=SECTION,
        when=_custom,
        sets="dynamo_config.dynamo_use_regional_compilation",
        explain="Yes compiles one repeated block (e.g. a decoder layer) and reuses it: much faster cold start.",
    ),
]
