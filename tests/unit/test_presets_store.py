"""Finding presets (built-in and user, shadowing), cp, saving, diffs, hardware matching, editing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.core.errors import UsageError
from tui.core.host import HostCapabilities
from tui.core.paths import user_presets_dir
from tui.core.presets import (
    PresetError,
    SimpleGpu,
    SimpleHardware,
    UnknownPreset,
    build_preset,
    copy_preset,
    diff_against,
    discover,
    load_preset_file,
    match_hardware,
    resolve,
    save_user_preset,
    shadow_note,
    write_preset,
)
from tui.core.presets.edit import PresetDraft
from tui.core.questions import InvalidAnswer

HOST = HostCapabilities(transformers=True)


def _gpus(name: str, count: int, mib: int, cc: tuple[int, int], p2p: bool | None) -> SimpleHardware:
    matrix = tuple(tuple(None if i == j else p2p for j in range(count)) for i in range(count))
    return SimpleHardware(gpus=tuple(SimpleGpu(name, mib, cc) for _ in range(count)), p2p=matrix)


RTX2 = _gpus("NVIDIA GeForce RTX 4090", 2, 24564, (8, 9), False)
A100x4 = _gpus("NVIDIA A100-SXM4-80GB", 4, 81920, (8, 0), True)
H100x8 = _gpus("NVIDIA H100 80GB HBM3", 8, 81559, (9, 0), True)
V100x4 = _gpus("Tesla V100-SXM2-32GB", 4, 32768, (7, 0), True)
NONE = SimpleHardware()


# -- discovery and shadowing -----------------------------------------------------------------------


def test_builtins_are_listed_sorted() -> None:
    names = [e.name for e in discover(HOST)]
    assert names == sorted(names) and {"cpu", "rtx4090-2x"} <= set(names)
    assert all(e.origin == "builtin" and e.preset is not None for e in discover(HOST))


def test_cp_makes_a_user_preset_that_keeps_comments_and_origin() -> None:
    written, note = copy_preset("rtx4090-2x", "my-4090", HOST)
    assert note is None
    assert written.path == user_presets_dir() / "my-4090.yaml"
    text = written.path.read_text()
    assert "name: my-4090\nbased_on: rtx4090-2x\n" in text
    assert text.startswith("# Your preset, copied from 'rtx4090-2x'.")
    entry = resolve("my-4090", HOST)
    assert entry.origin == "user" and entry.preset is not None
    assert entry.preset.based_on == "rtx4090-2x"
    assert (
        build_preset(entry.require(), HOST).config == build_preset(resolve("rtx4090-2x", HOST).require(), HOST).config
    )


def test_cp_refuses_to_overwrite_without_force_and_backs_up_with_it() -> None:
    copy_preset("cpu", "mine", HOST)
    with pytest.raises(UsageError, match="already exists"):
        copy_preset("single-gpu", "mine", HOST)
    written, _ = copy_preset("single-gpu", "mine", HOST, force=True)
    assert written.backup is not None and written.backup.exists()
    assert resolve("mine", HOST).preset.based_on == "single-gpu"  # type: ignore[union-attr]


def test_cp_bad_names() -> None:
    with pytest.raises(UsageError, match="not a preset name"):
        copy_preset("cpu", "Bad Name", HOST)
    with pytest.raises(UnknownPreset, match="Did you mean 'rtx4090-2x'"):
        copy_preset("rtx4090", "x", HOST)


def test_user_preset_shadows_builtin_and_says_so() -> None:
    written, note = copy_preset("h100-8x", "cpu", HOST)
    assert note is not None and "shadows" in note
    entry = resolve("cpu", HOST)
    assert entry.origin == "user" and entry.shadows is not None and entry.shadows.origin == "builtin"
    assert entry.preset is not None and entry.preset.title.startswith("8x H100")
    assert "shadows the built-in 'cpu'" in (shadow_note(entry) or "")
    assert [e.name for e in discover(HOST)].count("cpu") == 1
    assert entry.origin_label == "user (shadows built-in)"
    written.path.unlink()
    assert resolve("cpu", HOST).origin == "builtin"


def test_broken_user_preset_is_listed_not_fatal() -> None:
    folder = user_presets_dir()
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text("name: broken\ntitel: x\n")
    (folder / "renamed.yaml").write_text((Path(resolve("cpu", HOST).path)).read_text())
    entries = {e.name: e for e in discover(HOST)}
    assert entries["broken"].preset is None and "titel" in str(entries["broken"].error)
    assert "does not match the file name" in str(entries["renamed"].error)
    assert entries["cpu"].preset is not None
    with pytest.raises(PresetError, match="broken.yaml:2"):
        resolve("broken", HOST).require()


def test_unknown_preset_lists_the_available_ones() -> None:
    with pytest.raises(UnknownPreset) as info:
        resolve("h100", HOST)
    assert "Available: a100-4x, a100-4x-fsdp, cpu" in str(info.value)
    assert "Did you mean 'h100-8x'" in str(info.value)


def test_save_user_preset_validates_first() -> None:
    loaded = resolve("a100-4x", HOST).require()
    saved = save_user_preset(loaded.preset.model_copy(update={"name": "a100-mine"}), HOST)
    assert load_preset_file(saved.path, HOST).preset.name == "a100-mine"
    with pytest.raises(UsageError):
        save_user_preset(loaded.preset.model_copy(update={"name": "Bad Name"}), HOST)


# -- writing and diffing ---------------------------------------------------------------------------


def test_write_preset_backs_up_and_diff_is_empty_after(tmp_path: Path) -> None:
    target = tmp_path / "cfg" / "default_config.yaml"
    first = write_preset("rtx4090-2x", HOST, (), target)
    assert first.result.changed and first.result.backup is None
    build = build_preset(resolve("rtx4090-2x", HOST).require(), HOST)
    assert diff_against(build, target) == ("", True)
    second = write_preset("cpu", HOST, ("num_processes=3",), target)
    assert second.result.backup is not None and "MULTI_GPU" in second.result.backup.read_text()
    assert "num_processes: 3" in target.read_text()
    diff, exists = diff_against(build, target)
    assert exists and "-distributed_type: MULTI_CPU" in diff and "+distributed_type: MULTI_GPU" in diff


def test_diff_against_a_missing_file(tmp_path: Path) -> None:
    build = build_preset(resolve("cpu", HOST).require(), HOST)
    diff, exists = diff_against(build, tmp_path / "none.yaml")
    assert not exists and "+distributed_type: MULTI_CPU" in diff


# -- matching ---------------------------------------------------------------------------------------


def _match(name: str, record: SimpleHardware | None):  # type: ignore[no-untyped-def]
    preset = resolve(name, HOST).preset
    assert preset is not None
    return match_hardware(preset.hardware, record)


@pytest.mark.parametrize(
    ("name", "record", "ok", "words"),
    [
        ("rtx4090-2x", RTX2, True, []),
        ("rtx4090-2x", A100x4, False, ["RTX 4090", "NVIDIA A100-SXM4-80GB"]),
        ("rtx4090-2x", NONE, False, ["has none"]),
        ("a100-4x", A100x4, True, []),
        ("a100-4x", _gpus("NVIDIA A100-SXM4-80GB", 2, 81920, (8, 0), True), False, ["needs 4", "2 qualify"]),
        ("a100-4x", _gpus("NVIDIA A100-PCIE-40GB", 4, 40960, (8, 0), False), True, ["lacks"]),
        ("h100-8x", H100x8, True, []),
        ("h100-8x-fsdp", _gpus("NVIDIA H100 PCIe", 8, 40000, (9, 0), True), False, ["needs 78 GiB"]),
        ("single-gpu", A100x4, True, ["uses 1 of 4"]),
        ("single-gpu", V100x4, False, ["compute capability 7.0, needs 8.0"]),
        ("cpu", NONE, True, ["CPU"]),
        ("cpu", H100x8, True, ["also has 8 GPU(s)"]),
    ],
)
def test_match_against_hardware(name: str, record: SimpleHardware, ok: bool, words: list[str]) -> None:
    match = _match(name, record)
    assert match.ok is ok, match
    text = match.summary
    for word in words:
        assert word in text, text
    assert text.startswith("matches this machine" if ok else "does not match")


def test_match_without_a_record_is_unknown() -> None:
    assert _match("a100-4x", None).ok is None
    assert _match("a100-4x", None).summary == "hardware unknown"


def test_match_reads_the_probes_own_record() -> None:
    hardware = pytest.importorskip("tui.core.hardware.base")
    record = hardware.HardwareInfo(
        source="nvml",
        gpus=tuple(hardware.GpuInfo(i, "NVIDIA GeForce RTX 4090", None, 24564, 0, (8, 9)) for i in range(2)),
        cpu=hardware.CpuInfo(logical_cores=16),
        memory_total_mib=65536,
        p2p=((None, False), (False, None)),
    )
    assert _match("rtx4090-2x", record).ok is True


# -- editing ---------------------------------------------------------------------------------------


def test_editor_draft_uses_the_questions_validators() -> None:
    draft = PresetDraft.from_preset(resolve("rtx4090-2x", HOST).require(), HOST, name="my-4x")
    assert [f.question.id for f in draft.fields()][:2] == ["compute_environment", "distributed_type"]
    with pytest.raises(InvalidAnswer, match="integer"):
        draft.set_answer_text("num_processes", "four")
    with pytest.raises(InvalidAnswer, match="2 or more"):
        draft.set_answer_text("num_processes", "1")
    with pytest.raises(InvalidAnswer):
        draft.set_answer_text("debug", "y")  # accelerate accepts only yes/no
    draft.set_answer_text("num_processes", "4")
    draft.hardware["gpu_count"] = "4"
    preset = draft.to_preset()
    assert preset.name == "my-4x" and preset.based_on == "rtx4090-2x"
    assert preset.answers == {"distributed_type": "MULTI_GPU", "num_processes": 4, "mixed_precision": "bf16"}
    assert "num_processes" not in preset.explanations  # it said "Two processes": dropped, not left wrong
    assert "mixed_precision" in preset.explanations
    diff = draft.diff()
    assert "-  num_processes: 2" in diff and "+  num_processes: 4" in diff


def test_editor_path_changes_with_answers_and_errors_name_fields() -> None:
    draft = PresetDraft.from_preset(resolve("rtx4090-2x", HOST).require(), HOST)
    draft.set_answer_text("use_fsdp", "yes")
    assert "fsdp_version" in draft.path_ids() and "gpu_ids" not in draft.path_ids()
    draft.training["max_seq_length"] = "lots"
    with pytest.raises(PresetError) as info:
        draft.to_preset()
    keys = {item.problem.key for item in info.value.located}
    assert "training.max_seq_length" in keys
