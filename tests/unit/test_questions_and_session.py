"""The question records' parsing rules and the wizard session (Back, prefill, progress)."""

from __future__ import annotations

import pytest

from tui.core.errors import ConfigRejected
from tui.core.graph import BY_ID, COMMON_PATH, QUESTIONS
from tui.core.graph.state import Draft
from tui.core.host import HostCapabilities
from tui.core.questions import InvalidAnswer, Kind
from tui.core.session import WizardSession

HOST = HostCapabilities(transformers=True)


def draft() -> Draft:
    return Draft(host=HOST)


@pytest.mark.parametrize(("text", "value"), [("", False), ("yes", True), ("YES", True), ("No", False), ("nO", False)])
def test_yes_no_accepts_what_accelerate_accepts(text: str, value: bool) -> None:
    assert BY_ID["debug"].parse(text, draft()) is value


@pytest.mark.parametrize("text", ["y", "n", " yes", "yes ", "true", "1"])
def test_yes_no_rejects_like_accelerate(text: str) -> None:
    with pytest.raises(InvalidAnswer, match="Please enter yes or no."):
        BY_ID["debug"].parse(text, draft())


def test_int_fields_use_python_int_semantics() -> None:
    q = BY_ID["num_machines"]
    assert q.parse("", draft()) == 1
    assert q.parse(" 2 ", draft()) == 2
    assert q.parse("1_0", draft()) == 10
    with pytest.raises(InvalidAnswer, match="integer"):
        q.parse("two", draft())
    with pytest.raises(InvalidAnswer):
        q.parse("1.0", draft())


def test_field_without_default_accepts_empty_text() -> None:
    # accelerate's _ask_field returns "" for a text field with no default.
    assert BY_ID["main_process_ip"].parse("", draft()) == ""
    with pytest.raises(InvalidAnswer):
        BY_ID["main_process_port"].parse("", draft())


def test_menus_by_label_or_position_but_numeric_labels_win() -> None:
    d = draft()
    q = BY_ID["distributed_type"]
    assert q.parse("multi-GPU", d) == "MULTI_GPU"
    assert q.parse("MULTI-gpu", d) == "MULTI_GPU"
    assert q.parse("4", d) == "MULTI_GPU"
    assert q.parse("", d) == "NO"
    with pytest.raises(InvalidAnswer, match="not one of the options"):
        q.parse("gpu", d)
    stage = BY_ID["deepspeed_zero_stage"]
    assert stage.parse("3", d) == 3 and stage.parse("", d) == 2
    with pytest.raises(InvalidAnswer):
        stage.parse("4", d)


def test_every_question_is_explained_and_ids_unique_per_path() -> None:
    for question in QUESTIONS:
        assert len(question.explain) > 20, question.id
        assert question.title
    assert all(qid in BY_ID for qid in COMMON_PATH)
    assert len(COMMON_PATH) == 12


def test_common_path_guide_explanations_cover_the_usual_mistakes() -> None:
    assert "total" in BY_ID["num_processes"].explain.lower()
    assert "NCCL_P2P_DISABLE=1" in BY_ID["gpu_ids"].explain
    assert "8.0" in BY_ID["mixed_precision"].explain
    assert "LlamaDecoderLayer" in BY_ID["fsdp_transformer_layer_cls_to_wrap"].explain


def test_session_back_keeps_later_answers_where_still_valid() -> None:
    s = WizardSession(host=HOST)
    for text in ["This machine", "multi-GPU", "", "", "", "", "yes", "1", "FULL_SHARD"]:
        s.submit_text(text)
    assert s.current().id == "fsdp_offload_params"
    # Back to the FSDP version question and switch to 2: the v1 sharding answer no longer applies.
    s.back()
    s.back()
    assert s.current().id == "fsdp_version"
    assert s.prefill(s.current()) == 1
    s.submit_text("2")
    assert s.current().id == "fsdp_reshard_after_forward"
    assert s.prefill(s.current()) is None  # never answered for FSDP2
    # Going back to the machine type and forward again offers the earlier answers.
    while s.current().id != "distributed_type":
        s.back()
    assert s.prefill(s.current()) == "MULTI_GPU"
    s.submit_value("MULTI_GPU")
    assert s.prefill(s.current()) == 1  # num_machines remembered


def test_menu_answer_invalid_on_new_path_is_not_prefilled() -> None:
    s = WizardSession(host=HOST)
    for text in ["This machine", "multi-GPU", "3", "2"]:
        s.submit_text(text)
    assert s.current().id == "main_process_ip"
    while s.current().id != "num_machines":
        s.back()
    s.submit_text("2")
    assert s.current().id == "machine_rank"
    assert s.prefill(s.current()) is None  # rank 2 does not exist with 2 machines


def test_progress_counts_the_projected_path() -> None:
    s = WizardSession(host=HOST)
    first = s.progress()
    assert first.number == 1 and first.total >= 8
    for text in ["This machine", "multi-GPU"]:
        s.submit_text(text)
    p = s.progress()
    assert p.number == 3
    assert p.total == 12  # the common path with defaults


def test_rejections_do_not_advance() -> None:
    s = WizardSession(host=HOST)
    for text in ["This machine", "multi-GPU", "", "", "", ""]:
        s.submit_text(text)
    assert s.current().id == "use_fsdp"
    for text in ["", ""]:
        s.submit_text(text)
    with pytest.raises(ConfigRejected, match="No distributed training"):
        s.submit_text("1")
    assert s.current().id == "num_processes"
    s.submit_text("2")
    assert s.current().id == "gpu_ids"


def test_deepspeed_not_installed_is_rejected() -> None:
    s = WizardSession(host=HostCapabilities())
    for text in ["This machine", "multi-GPU", "", "", ""]:
        s.submit_text(text)
    with pytest.raises(ConfigRejected, match="pip3 install deepspeed"):
        s.submit_text("yes")


def test_from_answers_fills_and_transcript_replays() -> None:
    answers = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "MULTI_GPU",
        "num_machines": 1,
        "debug": False,
        "use_dynamo": False,
        "use_deepspeed": False,
        "use_fsdp": False,
        "use_megatron_lm": False,
        "num_processes": 4,
        "gpu_ids": "all",
        "enable_cpu_affinity": False,
        "mixed_precision": "bf16",
    }
    s = WizardSession.from_answers(answers, HOST)
    assert s.complete
    assert s.config()["num_processes"] == 4
    typed = [text for _q, text in s.transcript()]
    assert typed[:2] == ["This machine", "multi-GPU"] and typed[-1] == "bf16"
    assert all(q.kind in Kind for q, _ in s.transcript())
