"""Fidelity against real `accelerate config` 1.15 sessions recorded on a CPU-only host.

Each golden holds the answers as typed, and the YAML accelerate wrote (or the error it raised).
Replaying the same answers through our question graph must give the same prompts in the same
order, the same file content (compared parsed), and errors exactly where accelerate failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tui.core.accelerate_config import dump_config, validate_config
from tui.core.answers import ReplayError, load_answers_file, replay_answers
from tui.core.host import HostCapabilities

GOLDENS = Path(__file__).resolve().parents[1] / "fixtures" / "accelerate_goldens"
CASES = sorted(p.name.removesuffix(".answers.json") for p in GOLDENS.glob("*.answers.json"))


def _host_for(recording: dict) -> HostCapabilities:
    # The goldens ran on a CPU-only host with transformers installed; DS_STUB made DeepSpeed importable.
    deepspeed = "DS_STUB" in json.dumps(recording.get("env", {}))
    return HostCapabilities(transformers=True, deepspeed=deepspeed)


def _recording(name: str) -> dict:
    return json.loads((GOLDENS / f"{name}.answers.json").read_text())


def test_goldens_present() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("name", CASES)
def test_replay_matches_accelerate(name: str) -> None:
    recording = _recording(name)
    entries = load_answers_file(GOLDENS / f"{name}.answers.json")
    expected_prompts = [step["prompt"] for step in recording["steps"]]
    host = _host_for(recording)
    if recording["status"] == "ok":
        result = replay_answers(entries, host)
        assert result.prompts == expected_prompts
        expected = yaml.safe_load((GOLDENS / recording["yaml_file"]).read_text())
        assert yaml.safe_load(dump_config(result.config)) == expected
        assert result.unused == 0
    else:
        with pytest.raises(ReplayError) as err:
            replay_answers(entries, host)
        assert err.value.prompts == expected_prompts
        last_line = recording["error_tail"][-1]
        # The same reason accelerate gave (its message is part of ours).
        assert last_line.split(": ", 1)[1].split(".")[0] in err.value.message


@pytest.mark.parametrize("name", [c for c in CASES if _recording(c)["status"] == "ok"])
def test_golden_yaml_is_valid_for_our_schema(name: str) -> None:
    recording = _recording(name)
    data = yaml.safe_load((GOLDENS / recording["yaml_file"]).read_text())
    assert validate_config(data) == []


def test_reprompt_reasons_are_reported() -> None:
    entries = load_answers_file(GOLDENS / "o_invalid_inputs_reprompt.answers.json")
    result = replay_answers(entries, HostCapabilities(transformers=True))
    assert [(entry, text) for entry, _title, text, _reason in result.reprompts] == [
        (3, "abc"),
        (5, "y"),
        (11, "two"),
    ]
    assert result.reprompts[1][3] == "Please enter yes or no."
