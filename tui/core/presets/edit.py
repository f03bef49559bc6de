"""Editing a preset: its fields as a person types them, checked by the same rules as a file.

The editor screen is a thin view over `PresetDraft`: answers go through the question's own
`parse` (the wizard's validators: "y" is not yes, menus by label) and accelerate's rejections;
the other fields are text until `to_preset()`, which validates everything exactly as a preset
file (`preset_from_data` + `build_preset`) and raises `PresetError` with keys naming the fields.
Answers are stored minimal (only those differing from accelerate's defaults), and explanations
of config keys whose value the user changed are dropped rather than left saying something false.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.core.accelerate_config import Problem
from tui.core.graph.build import config_dict
from tui.core.graph.state import Draft
from tui.core.host import HostCapabilities
from tui.core.presets.build import build_preset, complete_walk, drafts_along, minimal_answers
from tui.core.presets.keys import get_path
from tui.core.presets.loading import Located, PresetError, PresetFile, preset_from_data
from tui.core.presets.model import TOP_LEVEL_ORDER, Preset, TrainingDefaults
from tui.core.presets.store import diff_presets, preset_data
from tui.core.questions import InvalidAnswer, Kind, Question

TRAINING_FIELDS = tuple(TrainingDefaults.model_fields)
HARDWARE_FIELDS = ("gpu_pattern", "gpu_count", "min_memory_gib", "min_compute_capability", "p2p")

SOURCE = "editor"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ".".join(str(v) for v in value)
    return str(value)


def env_text(env: Mapping[str, str]) -> str:
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())


def parse_env_text(text: str) -> dict[str, str]:
    """`"A=1 B=two"` -> {"A": "1", "B": "two"}; ValueError naming the bad word."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot split it ({exc})") from None
    env: dict[str, str] = {}
    for word in words:
        if "=" not in word:
            raise ValueError(f"{word!r} is not NAME=VALUE")
        name, value = word.split("=", 1)
        env[name] = value
    return env


def _typed(text: str) -> Any:
    """Text of a number/yes-no field as the YAML value (validation says what is wrong)."""
    stripped = text.strip()
    if stripped == "":
        return None
    lowered = stripped.lower()
    if lowered in ("yes", "true"):
        return True
    if lowered in ("no", "false"):
        return False
    for convert in (int, float):
        try:
            return convert(stripped)
        except ValueError:
            pass
    return stripped


@dataclass
class AnswerField:
    question: Question
    #: The draft as it stood when the question is asked (for choices and parsing).
    draft: Draft
    value: Any

    @property
    def text(self) -> str:
        return self.question.label_for(self.value, self.draft)

    def options(self) -> list[str]:
        if self.question.kind is Kind.MENU:
            return [c.label.strip() for c in self.question.choice_list(self.draft)]
        if self.question.kind is Kind.YES_NO:
            return ["yes", "no"]
        return []


@dataclass
class PresetDraft:
    host: HostCapabilities
    source: Preset
    #: What the diff is against (the built-in a copy came from, or the preset as opened).
    origin: Preset
    name: str
    title: str
    description: str
    answers: dict[str, Any]
    env: str
    training: dict[str, str]
    hardware: dict[str, str]
    based_on: str | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_preset(
        cls, preset_file: PresetFile, host: HostCapabilities, origin: Preset | None = None, name: str | None = None
    ) -> PresetDraft:
        preset = preset_file.preset
        build = build_preset(preset_file, host)
        hardware = {key: _text(getattr(preset.hardware, key)) for key in HARDWARE_FIELDS}
        if preset.hardware.p2p is None:
            hardware["p2p"] = "any"
        based_on = preset.based_on
        if name is not None and name != preset.name:
            based_on = based_on or preset.name
        return cls(
            host=host,
            source=preset,
            origin=origin or preset,
            name=name or preset.name,
            title=preset.title,
            description=preset.description,
            answers=dict(build.answers),
            env=env_text(preset.env),
            training={key: _text(getattr(preset.training, key)) for key in TRAINING_FIELDS},
            hardware=hardware,
            based_on=based_on,
        )

    # -- answers ---------------------------------------------------------------------------
    def fields(self) -> list[AnswerField]:
        """The questions on the current path, each with its draft and current value."""
        state = complete_walk(self.answers, self.host)
        return [AnswerField(q, d, state.draft.answers[q.id]) for q, d in drafts_along(state, self.host)]

    def path_ids(self) -> list[str]:
        return [f.question.id for f in self.fields()]

    def set_answer_text(self, qid: str, text: str) -> Any:
        """Answer `qid` with typed text: the wizard's parse and accelerate's rejections apply."""
        current = {f.question.id: f for f in self.fields()}
        if qid not in current:
            raise InvalidAnswer("this question is not asked with the current answers")
        item = current[qid]
        value = item.question.parse(text, item.draft)
        if item.question.kind is Kind.INT and not isinstance(value, int):
            raise InvalidAnswer(f"{text!r} is not accepted here. Please enter an integer.")
        reason = item.question.check_reject(item.draft, value)
        if reason is None:
            state = complete_walk({**self.answers, qid: value}, self.host)
            if state.rejected is not None and state.rejected[0].id == qid:
                reason = state.rejected[1]
        if reason is not None:
            raise InvalidAnswer(reason)
        self.answers[qid] = value
        self.errors.pop(f"answers.{qid}", None)
        return value

    # -- the whole preset ------------------------------------------------------------------
    def data(self) -> dict[str, Any]:
        """The fields as preset data (not yet validated)."""
        data = preset_data(self.source)
        data["name"] = self.name.strip()
        data["title"] = self.title
        data["description"] = self.description
        if self.based_on:
            data["based_on"] = self.based_on
        data["answers"] = minimal_answers(self.answers, self.host)
        hardware: dict[str, Any] = {}
        for key in HARDWARE_FIELDS:
            text = self.hardware.get(key, "").strip()
            if key == "p2p" and text.lower() in ("", "any"):
                continue
            if not text:
                continue
            hardware[key] = text if key in ("gpu_pattern", "min_compute_capability") else _typed(text)
        data["hardware"] = hardware
        data["training"] = {key: _typed(self.training.get(key, "")) for key in TRAINING_FIELDS}
        try:
            data["env"] = parse_env_text(self.env)
        except ValueError as exc:
            raise PresetError(
                [Located(SOURCE, Problem("env", f"{exc}.", "write NAME=VALUE pairs separated by spaces."))]
            ) from None
        data["explanations"] = self._kept_explanations()
        return {key: data[key] for key in TOP_LEVEL_ORDER if key in data}

    def _kept_explanations(self) -> dict[str, str]:
        before = config_dict(complete_walk(self.source.answers, self.host).draft)
        after = config_dict(complete_walk(self.answers, self.host).draft)
        kept: dict[str, str] = {}
        for key, text in self.source.explanations.items():
            if get_path(before, key) != get_path(after, key):
                continue  # the value it explains changed
            kept[key] = text
        return kept

    def to_preset(self) -> Preset:
        """The edited preset, validated like a file (PresetError lists every problem)."""
        data = self.data()
        preset = preset_from_data(data, SOURCE, {}, self.host)
        build_preset(PresetFile(preset=preset, source=SOURCE, text=""), self.host)
        return preset

    def diff(self) -> str:
        """The diff against the origin of the preset as it would be saved (also while invalid)."""
        try:
            edited: Preset | dict[str, Any] = self.to_preset()
        except PresetError:
            try:
                edited = self.data()
            except PresetError:
                return ""
        return diff_presets(self.origin, edited, "origin")
