"""Mixed precision and the fp8 backend questions (the end of `get_cluster_input`)."""

from __future__ import annotations

from typing import Any

from tui.core.graph.kit import field, menu, options, yes_no
from tui.core.graph.state import DEEPSPEED, XLA, Draft
from tui.core.questions import Kind

SECTION = "Precision"

PRECISIONS = options(
    ["no", "fp16", "bf16", "fp8"],
    notes=[
        "full fp32: most memory, slowest; for debugging numerics",
        "for GPUs before Ampere (V100, T4, RTX 20xx); needs loss scaling",
        "the choice for Ampere and newer (RTX 30xx/40xx, A100, H100): needs compute capability 8.0+",
        "Hopper/Ada and newer (compute capability 8.9+) with TransformerEngine, torchao or MS-AMP",
    ],
)


def _asked(draft: Draft) -> bool:
    return (
        not draft.sagemaker
        and draft.distributed_type != XLA
        and not (draft.distributed_type == DEEPSPEED and draft.use_deepspeed_config)
    )


def _set_precision(draft: Draft, value: Any) -> None:
    draft.mixed_precision = value
    if value == "fp8":
        draft.fp8_config = {}


def _reject_fp8(draft: Draft, value: Any) -> str | None:
    if value == "fp8" and not draft.host.fp8:
        return (
            "FP8 (either torchao, Transformer Engine or MSAMP) is not installed on this machine: "
            "install one (e.g. `pip install torchao`) or choose bf16."
        )
    return None


def _fp8(draft: Draft) -> bool:
    return _asked(draft) and draft.mixed_precision == "fp8"


def _backend(draft: Draft) -> Any:
    return (draft.fp8_config or {}).get("backend")


def _set_fp8(key: str) -> Any:
    def apply(draft: Draft, value: Any) -> None:
        assert draft.fp8_config is not None
        draft.fp8_config[key] = value

    return apply


def _reject_backend(draft: Draft, value: Any) -> str | None:
    installed = {
        "TE": (
            draft.host.transformer_engine,
            "TransformersEngine was selected, but it is not installed on this machine.",
        ),
        "MSAMP": (draft.host.msamp, "MSAMP was selected, but it is not installed on this machine."),
        "AO": (draft.host.torchao, "torchao was selected, but it is not installed on this machine."),
    }
    ok, message = installed[value]
    return None if ok else message + " Choose an installed backend."


def _te(draft: Draft) -> bool:
    return _fp8(draft) and _backend(draft) == "TE"


def _te_override(draft: Draft) -> bool:
    return _te(draft) and bool(draft.answered("fp8_override_linear_precision"))


def _set_override(draft: Draft, value: Any) -> None:
    assert draft.fp8_config is not None
    draft.fp8_config["override_linear_precision"] = value if value else (False, False, False)


def _set_gemm(position: int) -> Any:
    def apply(draft: Draft, value: Any) -> None:
        assert draft.fp8_config is not None
        current = draft.fp8_config.get("override_linear_precision")
        flags = list(current) if isinstance(current, tuple) else [False, False, False]
        flags[position] = value
        draft.fp8_config["override_linear_precision"] = tuple(flags)

    return apply


QUESTIONS = [
    menu(
        "mixed_precision",
        "Mixed precision",
        "Do you wish to use mixed precision?",
        PRECISIONS,
        section=SECTION,
        when=_asked,
        sets="mixed_precision",
        apply=_set_precision,
        reject=_reject_fp8,
        explain=(
            "bf16 for modern GPUs (RTX 30xx/40xx, A100, H100: compute capability 8.0+): half the "
            "activation memory, faster, as stable as fp32. fp16 for older GPUs (V100, T4). 'no' uses "
            "full fp32. On the CPU choose no (fp16 is not supported there). fp8 needs Hopper/Ada "
            "(8.9+) and an fp8 backend."
        ),
    ),
    menu(
        "fp8_backend",
        "FP8 backend",
        "Which FP8 backend do you want to use?",
        options(
            ["ao", "te", "msamp"],
            ["AO", "TE", "MSAMP"],
            ["torchao (pip install torchao)", "NVIDIA TransformerEngine", "Microsoft MS-AMP"],
        ),
        section=SECTION,
        when=_fp8,
        apply=_set_fp8("backend"),
        reject=_reject_backend,
        explain="The library that runs the fp8 matmuls. torchao is the easiest to install and works with FSDP2.",
    ),
    yes_no(
        "fp8_use_autocast_during_eval",
        "FP8 autocast in eval",
        "Do you want to use FP8 autocast during eval mode? Generally better metrics are found when this is disabled [yes/NO]: ",
        error_message=None,
        section=SECTION,
        when=_te,
        apply=_set_fp8("use_autocast_during_eval"),
        explain="No evaluates in higher precision, which usually gives better metrics.",
    ),
    field(
        "fp8_margin",
        "Scaling margin",
        "What margin should be used for gradient scaling? [0]: ",
        kind=Kind.INT,
        default=0,
        section=SECTION,
        when=_te,
        apply=_set_fp8("margin"),
        explain="TransformerEngine's scaling-factor margin (powers of two of headroom); 0 is standard.",
    ),
    field(
        "fp8_interval",
        "Scaling interval",
        "What interval should be used for how often the scaling factor is recomputed? [1]: ",
        kind=Kind.INT,
        default=1,
        section=SECTION,
        when=_te,
        apply=_set_fp8("interval"),
        explain="Recompute the scaling factors every N steps; 1 is standard.",
    ),
    menu(
        "fp8_format",
        "FP8 format",
        "Which weight format should be used?",
        options(
            ["HYBRID", "E4M3", "E5M2"],
            notes=["E4M3 forward, E5M2 backward (recommended)", "E4M3 everywhere", "E5M2 everywhere"],
        ),
        section=SECTION,
        when=_te,
        apply=_set_fp8("fp8_format"),
        explain="HYBRID uses the precise E4M3 for forward and the wide-range E5M2 for gradients.",
    ),
    field(
        "fp8_amax_history_length",
        "amax history",
        "What length of history should be used for the amax scaling factor computation? [1024]: ",
        kind=Kind.INT,
        default=1024,
        section=SECTION,
        when=_te,
        apply=_set_fp8("amax_history_length"),
        explain="How many past steps' maxima inform the scaling factor.",
    ),
    menu(
        "fp8_amax_compute_algorithm",
        "amax algorithm",
        "Which algorithm should be used for the amax scaling factor computation?",
        options(["max", "most_recent"], notes=["the largest in the history (safe)", "the latest value"]),
        section=SECTION,
        when=_te,
        apply=_set_fp8("amax_compute_algorithm"),
        explain="How the history becomes one scaling factor; max is the safe choice.",
    ),
    yes_no(
        "fp8_override_linear_precision",
        "Higher-precision GEMMs",
        "Do you want to execute `fprop`, `dgrad`, and `wgrad` GEMMS in higher precision? [yes/NO]: ",
        error_message=None,
        section=SECTION,
        when=_te,
        apply=_set_override,
        explain="Yes to pick which of the three matmuls of a linear layer stay in higher precision.",
    ),
    yes_no(
        "fp8_fprop",
        "fprop in higher precision",
        "Should `fprop` be executed in higher precision? [yes/NO]: ",
        error_message=None,
        section=SECTION,
        when=_te_override,
        apply=_set_gemm(0),
        explain="The forward-pass matmul (activations x weights).",
    ),
    yes_no(
        "fp8_dgrad",
        "dgrad in higher precision",
        "Should `dgrad` be executed in higher precision? [yes/NO]: ",
        error_message=None,
        section=SECTION,
        when=_te_override,
        apply=_set_gemm(1),
        explain="The matmul computing gradients of the inputs.",
    ),
    yes_no(
        "fp8_wgrad",
        "wgrad in higher precision",
        "Should `wgrad` be executed in higher precision? [yes/NO]: ",
        error_message=None,
        section=SECTION,
        when=_te_override,
        apply=_set_gemm(2),
        explain="The matmul computing gradients of the weights.",
    ),
    menu(
        "fp8_optimization_level",
        "MS-AMP level",
        "Which optimization level should be used?",
        options(["O1", "O2"], notes=["fp8 weights and gradients", "also fp8 optimizer states (recommended)"]),
        default=1,
        section=SECTION,
        when=lambda d: _fp8(d) and _backend(d) == "MSAMP",
        apply=_set_fp8("optimization_level"),
        explain="How much MS-AMP moves to fp8; O2 saves more memory.",
    ),
    yes_no(
        "fp8_enable_fsdp_float8_all_gather",
        "FSDP2 float8 all-gather",
        "Do you want to enable FSDP2 float8 all gather? This is recommended for better performance if using FSDP2. [YES/no]: ",
        default=True,
        error_message=None,
        section=SECTION,
        when=lambda d: _fp8(d) and _backend(d) == "AO",
        apply=_set_fp8("enable_fsdp_float8_all_gather"),
        explain="Yes sends FSDP2's parameter all-gathers in fp8: less communication.",
    ),
    yes_no(
        "fp8_pad_inner_dim",
        "Pad inner dimension",
        "Do you want to pad the inner dimension of weight matrices before float8 matmuls? This is required "
        "for _scaled_mm which has strict alignment requirements. Note: padding may cause memory spikes. [YES/no]: ",
        default=True,
        error_message=None,
        section=SECTION,
        when=lambda d: _fp8(d) and _backend(d) == "AO",
        apply=_set_fp8("pad_inner_dim"),
        explain="Yes pads weights to the multiple of 16 that fp8 matmuls need.",
    ),
]
