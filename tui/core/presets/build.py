"""A preset (plus `--set key=value` settings) -> complete answers -> the accelerate config dict.

The config comes out of the same question graph as the wizard's: the preset's answers are
replayed by `walk(..., fill_defaults=True)`, every unanswered question taking accelerate's
default, and `config_dict` builds what accelerate would write for those answers. So a preset
writes exactly what `accelerate config` writes for the equivalent typed answers, and the wizard
can open the complete answers pre-filled.

Settings (a preset's `overrides`, then each `--set`) name accelerate config keys. A setting
becomes an ANSWER when a question on the path writes that key (the mapping in `keys.py` is
verified here by building and comparing), so the wizard can still show and change it; otherwise
it is applied to the built dict. Everything is then checked: the config model's types
(`validate_config`), the cross-field rules (`config_rules`), and the preset's own rules (its
hardware target against its answers, training defaults against FSDP's checkpointing). Errors
raise `PresetError` naming the file and line (or the `--set` argument) and the key.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tui.core.accelerate_config import Problem, validate_config
from tui.core.config_rules import check_rules, processes_per_machine
from tui.core.graph import BY_ID
from tui.core.graph.build import config_dict
from tui.core.graph.state import Draft
from tui.core.graph.walker import Walk, walk
from tui.core.host import HostCapabilities
from tui.core.presets.keys import Setting, get_path, implied_answers, questions_for, set_path
from tui.core.presets.loading import Located, PresetError, PresetFile, normalize_answer
from tui.core.presets.model import Preset
from tui.core.questions import InvalidAnswer, Question
from tui.core.yaml_lines import line_of

GPU_TYPES = ("MULTI_GPU", "FSDP", "DEEPSPEED", "MEGATRON_LM")


@dataclass(frozen=True)
class Applied:
    """How one setting was applied: as an answer to a question, or to the built dict."""

    setting: Setting
    how: Literal["answer", "config"]
    question: str | None = None


@dataclass
class PresetBuild:
    preset: Preset
    #: Every answer on the path (defaults included): `WizardSession.from_answers(answers)` is complete.
    answers: dict[str, Any]
    #: Keys no question on the path writes, set on the built dict (dotted).
    overrides: dict[str, Any]
    #: The dict written to the config file.
    config: dict[str, Any]
    #: Warnings (errors raise), each with where it comes from.
    warnings: list[Located] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return dict(self.preset.env)


# -- walking ----------------------------------------------------------------------------------------


def complete_walk(answers: Mapping[str, Any], host: HostCapabilities) -> Walk:
    """`walk(..., fill_defaults=True)` plus accelerate's rejections along the path (the walker's
    projection looks past them; a preset must not)."""
    state = walk(answers, host, fill_defaults=True)
    replay = Draft(host=host)
    for question in state.path:
        value = state.draft.answers[question.id]
        reason = question.check_reject(replay, value)
        if reason is not None:
            state.rejected = (question, reason)
            break
        replay.answers[question.id] = value
        question.apply(replay, value)
    return state


def drafts_along(state: Walk, host: HostCapabilities) -> list[tuple[Question, Draft]]:
    """Each question on the path with the draft as it stood when the question was asked."""
    replay = Draft(host=host)
    out: list[tuple[Question, Draft]] = []
    for question in state.path:
        out.append((question, copy.deepcopy(replay)))
        value = state.draft.answers[question.id]
        replay.answers[question.id] = value
        question.apply(replay, value)
    return out


def minimal_answers(answers: Mapping[str, Any], host: HostCapabilities) -> dict[str, Any]:
    """The answers that differ from accelerate's defaults along their path (what a preset stores)."""
    state = complete_walk(answers, host)
    kept: dict[str, Any] = {}
    for question, draft in drafts_along(state, host):
        value = state.draft.answers[question.id]
        try:
            default = question.default_value(draft)
        except (IndexError, KeyError, TypeError, ValueError):
            default = object()
        if value != default or type(value) is not type(default):
            kept[question.id] = value
    return kept


def path_problems(
    answers: Mapping[str, Any], host: HostCapabilities, lines: Mapping[tuple[str, ...], int]
) -> tuple[Walk, list[Problem]]:
    """Answers the path never reaches, or reaches with a value not among its options there."""
    state = complete_walk(answers, host)
    problems: list[Problem] = []
    on_path = {q.id: draft for q, draft in drafts_along(state, host)}
    for qid, value in answers.items():
        question = BY_ID.get(qid)
        line = line_of(lines, "answers", qid)
        if question is None:
            continue
        if qid not in on_path:
            if state.rejected is not None:
                continue
            try:
                default = question.default_value(state.draft)
            except (IndexError, KeyError, TypeError, ValueError):
                default = object()
            if value == default:
                continue  # harmless: the question is not asked here and the answer is its default
            problems.append(
                Problem(
                    f"answers.{qid}",
                    f"{question.title}: this question is not asked with these answers "
                    f"(distributed_type {state.draft.distributed_type}), so the answer would be ignored.",
                    "remove it, or change the earlier answers that lead to it.",
                    line=line,
                )
            )
            continue
        given = state.draft.answers.get(qid)
        if given != value or type(given) is not type(value):
            try:
                normalized = normalize_answer(question, value, on_path[qid])
                reason = f"write it as the option's value, {normalized!r}"
            except InvalidAnswer as exc:
                reason = exc.reason
            problems.append(
                Problem(f"answers.{qid}", f"{question.title}: {reason}", "choose one of the options listed.", line=line)
            )
    if state.rejected is not None:
        question, reason = state.rejected
        problems.append(
            Problem(
                f"answers.{question.id}",
                f"{question.title}: {reason}",
                "change this answer or the ones before it (accelerate aborts on this combination).",
                line=line_of(lines, "answers", question.id) or line_of(lines, "answers"),
            )
        )
    return state, problems


# -- settings ----------------------------------------------------------------------------------------


def _settings_from(preset_file: PresetFile) -> list[Setting]:
    return [
        Setting(
            key=key,
            value=value,
            source=preset_file.source,
            line=line_of(preset_file.lines, "overrides", *key.split(".")),
        )
        for key, value in preset_file.preset.overrides.items()
    ]


def _valid_answer(question: Question, value: Any, draft: Draft) -> Any:
    """`value` as an answer to `question` at this point (raises InvalidAnswer)."""
    return normalize_answer(question, value, draft)


def _try_as_answer(
    setting: Setting, answers: dict[str, Any], host: HostCapabilities
) -> tuple[dict[str, Any], str] | None:
    """New answers that make the built config hold `setting`, and the question used; None if none do."""
    trial = {**answers, **implied_answers(setting.key, setting.value, answers)}
    candidates = questions_for(setting.key)
    if setting.key == "distributed_type":
        candidates = []  # the implied answers already carry it
    attempts: list[tuple[dict[str, Any], str]] = []
    for qid in candidates:
        attempts.append(({**trial, qid: setting.value}, qid))
    if not candidates and trial != answers:
        attempts.append((trial, "distributed_type" if setting.key == "distributed_type" else next(iter(trial))))
    for attempt, qid in attempts:
        state = complete_walk(attempt, host)
        drafts = {q.id: d for q, d in drafts_along(state, host)}
        if qid in drafts and qid in attempt:
            try:
                attempt[qid] = _valid_answer(BY_ID[qid], attempt[qid], drafts[qid])
            except InvalidAnswer:
                continue
            state = complete_walk(attempt, host)
        if state.rejected is not None:
            question, reason = state.rejected
            if question.id in attempt and question.id in (qid, *implied_answers(setting.key, setting.value, answers)):
                raise PresetError(
                    [
                        Located(
                            setting.source,
                            Problem(
                                setting.key, f"{question.title}: {reason}", "choose another value.", line=setting.line
                            ),
                        )
                    ]
                )
            continue
        present, value = get_path(config_dict(state.draft), setting.key)
        if present and value == setting.value and isinstance(value, bool) == isinstance(setting.value, bool):
            return attempt, qid
    return None


def apply_settings(
    answers: Mapping[str, Any], settings: Iterable[Setting], host: HostCapabilities
) -> tuple[dict[str, Any], dict[str, Any], list[Applied]]:
    """Fold settings into answers where a question writes the key, else into overrides."""
    current = dict(answers)
    overrides: dict[str, Any] = {}
    applied: list[Applied] = []
    for setting in settings:
        mapped = _try_as_answer(setting, current, host)
        if mapped is not None:
            current, qid = mapped
            overrides.pop(setting.key, None)
            applied.append(Applied(setting, "answer", qid))
        else:
            overrides[setting.key] = setting.value
            applied.append(Applied(setting, "config", None))
    return current, overrides, applied


# -- preset rules ------------------------------------------------------------------------------------


def preset_rules(preset: Preset, config: Mapping[str, Any], *, explanations: bool = True) -> list[Problem]:
    """The preset's own fields against the config it writes."""
    problems: list[Problem] = []
    target = preset.hardware
    dtype = config.get("distributed_type")
    uses_gpus = dtype in GPU_TYPES and not config.get("use_cpu")
    per_machine = processes_per_machine(config) or 1
    if target.gpu_count == 0 and uses_gpus:
        problems.append(
            Problem(
                "hardware.gpu_count",
                f"is 0 (CPU) but distributed_type {dtype} needs GPUs.",
                f"set `gpu_count: {per_machine}`.",
            )
        )
    if target.gpu_count > 0 and config.get("use_cpu"):
        problems.append(
            Problem(
                "hardware.gpu_count",
                f"is {target.gpu_count} but the config runs on the CPU (use_cpu: true).",
                "set `gpu_count: 0`.",
                severity="warning",
            )
        )
    if target.gpu_count > 0 and uses_gpus and per_machine > target.gpu_count:
        problems.append(
            Problem(
                "hardware.gpu_count",
                f"targets {target.gpu_count} GPU(s) but the config starts {per_machine} process(es) "
                "per machine, one per GPU.",
                f"set `gpu_count: {per_machine}` or answer num_processes: {target.gpu_count}.",
            )
        )
    elif target.gpu_count > per_machine and uses_gpus:
        problems.append(
            Problem(
                "hardware.gpu_count",
                f"targets {target.gpu_count} GPUs but only {per_machine} process(es) run per machine; "
                "the rest stay idle.",
                f"answer num_processes: {target.gpu_count * int(config.get('num_machines', 1) or 1)}.",
                severity="warning",
            )
        )
    precision = config.get("mixed_precision")
    needs = {"bf16": (8, 0), "fp8": (8, 9)}.get(precision) if isinstance(precision, str) else None
    if needs is not None and target.gpu_count > 0:
        have = target.min_compute_capability
        if have is None:
            problems.append(
                Problem(
                    "hardware.min_compute_capability",
                    f"is not given, but {precision} needs compute capability {needs[0]}.{needs[1]}+.",
                    f'add `min_compute_capability: "{needs[0]}.{needs[1]}"`.',
                    severity="warning",
                )
            )
        elif have < needs:
            problems.append(
                Problem(
                    "hardware.min_compute_capability",
                    f"is {have[0]}.{have[1]}, but {precision} needs {needs[0]}.{needs[1]}+: such GPUs cannot run it.",
                    f'raise it to "{needs[0]}.{needs[1]}" or use mixed_precision fp16.',
                )
            )
    fsdp = config.get("fsdp_config")
    if (
        dtype == "FSDP"
        and isinstance(fsdp, Mapping)
        and fsdp.get("fsdp_activation_checkpointing")
        and preset.training.gradient_checkpointing
    ):
        problems.append(
            Problem(
                "training.gradient_checkpointing",
                "is true while FSDP activation checkpointing is on: the blocks would be checkpointed twice.",
                "use one: set `gradient_checkpointing: false` (FSDP's is kept).",
            )
        )
    if target.p2p is False and target.gpu_count > 1 and "NCCL_P2P_DISABLE" not in preset.env:
        problems.append(
            Problem(
                "env",
                "the target GPUs have no P2P but NCCL_P2P_DISABLE is not set: NCCL may hang.",
                'add `NCCL_P2P_DISABLE: "1"` and `NCCL_IB_DISABLE: "1"` under env.',
                severity="warning",
            )
        )
    if explanations:
        problems.extend(_explanation_problems(preset, config))
    return problems


def _explanation_problems(preset: Preset, config: Mapping[str, Any]) -> list[Problem]:
    known = set(preset.env) | set(type(preset.training).model_fields) | {"hardware", "description"}
    for key, value in config.items():
        known.add(key)
        if isinstance(value, Mapping):
            known.update(f"{key}.{sub}" for sub in value)
    return [
        Problem(
            f"explanations.{key}",
            "explains a key this preset does not write, an env variable it does not set or an unknown training field.",
            "fix the key (dotted config key, env variable or training field) or remove it.",
            severity="warning",
        )
        for key in preset.explanations
        if key not in known
    ]


# -- the whole build ----------------------------------------------------------------------------------


def _locate(problem: Problem, preset_file: PresetFile, applied: Sequence[Applied]) -> Located:
    """Point a problem of the built config at what set the key: a --set, an override or an answer."""
    key = problem.key
    if key.startswith(("answers.", "hardware", "training", "env", "explanations", "overrides.")) or not key:
        if problem.line is None and key:
            problem = Problem(
                problem.key, problem.message, problem.fix, problem.severity, line_of(preset_file.lines, *key.split("."))
            )
        return Located(preset_file.source, problem)
    for item in reversed(applied):
        if item.setting.key == key or key.startswith(item.setting.key + ".") or item.setting.key.startswith(key + "."):
            return Located(
                item.setting.source, Problem(key, problem.message, problem.fix, problem.severity, item.setting.line)
            )
    for qid in questions_for(key):
        line = line_of(preset_file.lines, "answers", qid)
        if line is not None:
            return Located(preset_file.source, Problem(key, problem.message, problem.fix, problem.severity, line))
    return Located(
        preset_file.source,
        Problem(key, problem.message, problem.fix, problem.severity, line_of(preset_file.lines, "answers")),
    )


def build_preset(preset_file: PresetFile, host: HostCapabilities, settings: Sequence[Setting] = ()) -> PresetBuild:
    """The config this preset writes, with `settings` applied; raises PresetError on any error.

    The preset itself must pass every rule. With settings, the result must pass the config's
    rules; the preset's own rules (its hardware target, its explanations) then only warn: the
    user changed it on purpose (e.g. 4 processes on a 4-GPU box from a 2-GPU preset)."""
    base = _build(preset_file, host, (), preset_rules_strict=True)
    if not settings:
        return base
    return _build(preset_file, host, settings, preset_rules_strict=False)


def _build(
    preset_file: PresetFile, host: HostCapabilities, settings: Sequence[Setting], *, preset_rules_strict: bool
) -> PresetBuild:
    preset = preset_file.preset
    state, problems = path_problems(preset.answers, host, preset_file.lines)
    if problems:
        raise PresetError([Located(preset_file.source, p) for p in problems])
    answers, overrides, applied = apply_settings(preset.answers, [*_settings_from(preset_file), *settings], host)
    state = complete_walk(answers, host)
    if state.rejected is not None:
        question, reason = state.rejected
        raise PresetError(
            [
                Located(
                    preset_file.source,
                    Problem(f"answers.{question.id}", f"{question.title}: {reason}", "change the answer."),
                )
            ]
        )
    config = config_dict(state.draft)
    for key, value in overrides.items():
        set_path(config, key, value)
    own = preset_rules(preset, config, explanations=preset_rules_strict)
    if not preset_rules_strict:
        own = [Problem(p.key, p.message, p.fix, "warning", p.line) for p in own]
    found = validate_config(config) + check_rules(config) + own
    located = [_locate(p, preset_file, applied) for p in found]
    errors = [item for item in located if item.problem.severity == "error"]
    if errors:
        raise PresetError(errors)
    return PresetBuild(
        preset=preset,
        answers=dict(state.draft.answers),
        overrides=overrides,
        config=config,
        warnings=[item for item in located if item.problem.severity != "error"],
        applied=applied,
    )
