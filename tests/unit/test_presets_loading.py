"""Broken preset files: every problem names the file, the line and the key, with a fix; and no
YAML whatsoever produces a traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.core.errors import UsageError
from tui.core.host import HostCapabilities
from tui.core.paths import builtin_presets_dir
from tui.core.presets import PresetError, build_preset, load_preset_file, load_preset_text

HOST = HostCapabilities(transformers=True)

GOOD = textwrap.dedent(
    """\
    name: mine
    title: Mine
    description: A test preset.
    hardware:
      gpu_pattern: RTX 4090
      gpu_count: 2
      min_memory_gib: 22
      min_compute_capability: "8.9"
      p2p: false
    answers:
      distributed_type: MULTI_GPU
      num_processes: 2
      mixed_precision: bf16
    env:
      NCCL_P2P_DISABLE: "1"
    training:
      per_device_train_batch_size: 4
      gradient_accumulation_steps: 4
      gradient_checkpointing: true
      max_seq_length: 2048
    """
)


def _errors(text: str) -> list[str]:
    with pytest.raises(PresetError) as info:
        loaded = load_preset_text(text, "mine.yaml", HOST)
        build_preset(loaded, HOST)
    return [item.render() for item in info.value.located]


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


def test_the_good_preset_loads() -> None:
    build = build_preset(load_preset_text(GOOD, "mine.yaml", HOST), HOST)
    assert build.config["num_processes"] == 2


CASES = [
    # (broken text, the exact "file:line: error: key:" prefix, words the message must hold)
    (_replace("title: Mine", "titel: Mine"), "mine.yaml:2: error: titel:", ["did you mean `title`"]),
    (_replace("  gpu_count: 2", "  gpu_cuont: 2"), "mine.yaml:6: error: hardware.gpu_cuont:", ["`gpu_count`"]),
    (
        _replace("  num_processes: 2", "  num_proceses: 2"),
        "mine.yaml:12: error: answers.num_proceses:",
        ["`num_processes`"],
    ),
    (
        _replace("  distributed_type: MULTI_GPU", "  distributed_type: multi_gpu"),
        "mine.yaml:11: error: answers.distributed_type:",
        ["MULTI_GPU"],
    ),
    (
        _replace("  mixed_precision: bf16", "  mixed_precision: bf61"),
        "mine.yaml:13: error: answers.mixed_precision:",
        ["bf16"],
    ),
    (
        _replace("  num_processes: 2", "  num_processes: two"),
        "mine.yaml:12: error: answers.num_processes:",
        ["integer"],
    ),
    (
        _replace("  gpu_count: 2", '  gpu_count: "2"'),
        "mine.yaml:6: error: hardware.gpu_count:",
        ["whole number", "without quotes"],
    ),
    (
        _replace("  gradient_checkpointing: true", "  gradient_checkpointing: maybe"),
        "mine.yaml:19: error: training.gradient_checkpointing:",
        ["true or false"],
    ),
    (
        _replace('  NCCL_P2P_DISABLE: "1"', "  NCCL_P2P_DISABLE: true"),
        "mine.yaml:15: error: env.NCCL_P2P_DISABLE:",
        ["quote it"],
    ),
    (
        _replace('  min_compute_capability: "8.9"', '  min_compute_capability: "eight"'),
        "mine.yaml:8: error: hardware.min_compute_capability:",
        ["8.0"],
    ),
    (
        _replace("  gpu_pattern: RTX 4090", "  gpu_pattern: RTX (4090"),
        "mine.yaml:5: error: hardware.gpu_pattern:",
        ["regular expression"],
    ),
    (_replace("name: mine", "name: Mine Preset"), "mine.yaml:1: error: name:", ["lowercase"]),
    (
        _replace("  max_seq_length: 2048", "  max_seq_length: 0"),
        "mine.yaml:20: error: training.max_seq_length:",
        ["out of range"],
    ),
    (GOOD.replace("title: Mine\n", ""), "mine.yaml: error: title:", ["required"]),
    # Impossible values: 3 processes on the 2 GPUs listed.
    (
        _replace("  num_processes: 2", '  num_processes: 3\n  gpu_ids: "0,1"'),
        "error: gpu_ids:",
        ["3 process(es)", "2 GPU(s)"],
    ),
    # accelerate itself rejects one process with MULTI_GPU on one machine.
    (
        _replace("  num_processes: 2", "  num_processes: 1"),
        "mine.yaml:12: error: answers.num_processes:",
        ["2 or more GPUs"],
    ),
    # An answer to a question these answers never reach.
    (
        _replace("  mixed_precision: bf16", "  mixed_precision: bf16\n  fsdp_offload_params: true"),
        "mine.yaml:14: error: answers.fsdp_offload_params:",
        ["not asked"],
    ),
    # A config key written as an answer.
    (
        _replace("  mixed_precision: bf16", "  mixed_precision: bf16\n  fsdp_config.fsdp_version: 2"),
        "mine.yaml:14: error: answers.fsdp_config.fsdp_version:",
        ["overrides"],
    ),
    # Nested accelerate keys are validated: a typo inside fsdp_config.
    (
        GOOD + "overrides:\n  fsdp_config.fsdp_ofload_params: true\n",
        "mine.yaml:22: error: overrides.fsdp_config.fsdp_ofload_params:",
        ["fsdp_offload_params"],
    ),
    (
        GOOD + "overrides:\n  fsdp_config:\n    fsdp_versoin: 2\n",
        "mine.yaml:23: error: overrides.fsdp_config.fsdp_versoin:",
        ["fsdp_version"],
    ),
    (GOOD + "overrides:\n  main_training_function: 3\n", "mine.yaml:22: error: main_training_function:", ["text"]),
    # The preset's target against its answers.
    (_replace("  gpu_count: 2", "  gpu_count: 1"), "mine.yaml:6: error: hardware.gpu_count:", ["2 process(es)"]),
    (
        _replace('  min_compute_capability: "8.9"', '  min_compute_capability: "7.0"'),
        "mine.yaml:8: error: hardware.min_compute_capability:",
        ["bf16 needs 8.0"],
    ),
    ("- a\n- list\n", "mine.yaml: error:", ["mapping"]),
    ("name: [unclosed\n", "mine.yaml:2: error:", ["not valid YAML"]),
    ("", "mine.yaml: error:", ["empty"]),
]


@pytest.mark.parametrize(("text", "prefix", "words"), CASES, ids=[c[1] + " " + c[2][0] for c in CASES])
def test_broken_preset_names_file_line_and_key(text: str, prefix: str, words: list[str]) -> None:
    errors = _errors(text)
    joined = "\n".join(errors)
    assert any(line.startswith(prefix) or prefix in line for line in errors), joined
    for word in words:
        assert word in joined, joined
    assert all("Fix:" in line for line in errors)


def test_every_problem_is_reported_at_once() -> None:
    text = _replace("title: Mine", "titel: Mine").replace("  gpu_count: 2", "  gpu_cuont: 2")
    errors = _errors(text)
    assert any("titel" in e for e in errors) and any("gpu_cuont" in e for e in errors)


def test_answers_may_be_typed_like_at_accelerates_prompt() -> None:
    text = _replace("  distributed_type: MULTI_GPU", "  distributed_type: multi-GPU").replace(
        "  mixed_precision: bf16", '  mixed_precision: "bf16"\n  debug: "no"'
    )
    preset = load_preset_text(text, "mine.yaml", HOST).preset
    assert preset.answers["distributed_type"] == "MULTI_GPU"
    assert preset.answers["debug"] is False


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such preset file"):
        load_preset_file(tmp_path / "nope.yaml", HOST)


# -- never a traceback ---------------------------------------------------------------------------

FIELD_NAMES = [
    "name",
    "title",
    "description",
    "hardware",
    "answers",
    "overrides",
    "env",
    "training",
    "explanations",
    "notes",
    "based_on",
    "gpu_count",
    "gpu_pattern",
    "num_processes",
    "distributed_type",
    "fsdp_config",
    "fsdp_version",
    "mixed_precision",
    "use_fsdp",
    "min_compute_capability",
    "p2p",
    "1",
    "",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["MULTI_GPU", "FSDP", "bf16", "8.9", "RTX 4090", "(", "all", "0,1", "yes"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.integers(0, 3)), children, max_size=5),
    ),
    max_leaves=25,
)


def _no_traceback(text: str) -> None:
    try:
        loaded = load_preset_text(text, "fuzz.yaml", HOST)
        build_preset(loaded, HOST)
    except UsageError as exc:
        assert str(exc).strip()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises_a_traceback(text: str) -> None:
    _no_traceback(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_arbitrary_yaml_documents_never_raise_a_traceback(document: object) -> None:
    _no_traceback(yaml.safe_dump(document))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(p.name for p in builtin_presets_dir().glob("*.yaml"))), st.data())
def test_mutated_builtins_never_raise_a_traceback(file_name: str, data: st.DataObject) -> None:
    document = yaml.safe_load((builtin_presets_dir() / file_name).read_text())
    section = data.draw(st.sampled_from(sorted(document)))
    if isinstance(document[section], dict) and document[section]:
        key = data.draw(st.sampled_from(sorted(document[section])))
        document[section][key] = data.draw(values)
    else:
        document[section] = data.draw(values)
    _no_traceback(yaml.safe_dump(document))
