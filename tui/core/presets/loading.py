"""Reading a preset file: YAML -> `Preset`, or every problem with file, line, key and a fix.

Nothing a user can write makes this raise anything but `PresetError` (a `UsageError`): broken
YAML, a list instead of a mapping, unknown keys (with the closest valid name), wrong types,
answers to questions that do not exist, menu values that are not options. Answers may be given
as values (`distributed_type: MULTI_GPU`) or as a person would type them at accelerate's prompt
(`distributed_type: multi-GPU`, `use_fsdp: "yes"`): both go through the question's own `parse`
and are stored as values.

Checks that need the whole picture (answers along the graph's path, the built config) are in
`build.py`; this module checks what can be judged from the file alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tui.core.accelerate_config import Problem, suggest
from tui.core.errors import UsageError
from tui.core.files import read_user_file
from tui.core.graph import BY_ID
from tui.core.graph.state import Draft
from tui.core.host import HostCapabilities
from tui.core.presets.keys import check_key
from tui.core.presets.model import ENV_NAME, TOP_LEVEL_ORDER, HardwareTarget, Preset, TrainingDefaults
from tui.core.questions import InvalidAnswer, Kind, Question
from tui.core.yaml_lines import line_of, node_lines

Lines = Mapping[tuple[str, ...], int]


@dataclass(frozen=True)
class Located:
    """A problem and the place it refers to (a file, or `--set key=value`)."""

    source: str | None
    problem: Problem

    def render(self) -> str:
        return self.problem.render(self.source)


class PresetError(UsageError):
    """A preset that cannot be used; `located` holds every problem found."""

    def __init__(self, located: list[Located]) -> None:
        self.located = located
        super().__init__("\n".join(item.render() for item in located))

    @property
    def problems(self) -> list[Problem]:
        return [item.problem for item in self.located]


@dataclass
class PresetFile:
    """A loaded preset with where it came from (for messages, cp and diffs)."""

    preset: Preset
    source: str
    text: str
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    path: Path | None = None


def _fail(source: str, key: str, message: str, fix: str, lines: Lines, *path: str) -> PresetError:
    return PresetError([Located(source, Problem(key, message, fix, line=line_of(lines, *path) if path else None))])


# -- pydantic errors -> problems -----------------------------------------------------------------

_SECTION_MODELS: dict[str, type[BaseModel]] = {"hardware": HardwareTarget, "training": TrainingDefaults}

_EXAMPLES = {
    "name": "name: my-preset",
    "title": "title: 2x RTX 4090 (DDP, bf16)",
    "description": "description: one paragraph saying what it is for",
    "hardware": "hardware: {gpu_count: 2}",
    "training": "training: {per_device_train_batch_size: 4, ...}",
    "gpu_count": "gpu_count: 2",
    "per_device_train_batch_size": "per_device_train_batch_size: 4",
    "gradient_accumulation_steps": "gradient_accumulation_steps: 4",
    "gradient_checkpointing": "gradient_checkpointing: true",
    "max_seq_length": "max_seq_length: 2048",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)) or value is None:
        return repr(value) if isinstance(value, str) else str(value)
    return f"a {type(value).__name__}"


def _lookup(data: Any, path: tuple[str, ...]) -> Any:
    node = data
    for part in path:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node


def _expected(kind: str) -> str | None:
    for prefix, words in (
        ("bool", "true or false"),
        ("int", "a whole number"),
        ("float", "a number"),
        ("string", "text"),
        ("list", "a list"),
        ("tuple", "a list"),
        ("dict", "a mapping of keys"),
        ("model", "a mapping of keys"),
    ):
        if kind.startswith(prefix):
            return words
    return None


def _pydantic_problems(exc: ValidationError, data: Mapping[str, Any], lines: Lines) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, ...]] = set()
    for err in exc.errors():
        path = tuple(str(p) for p in err["loc"] if not str(p).startswith(("function-", "union[", "json-or")))
        path = tuple(p for p in path if p not in ("int", "float", "str", "bool", "[key]", "constrained-str"))
        if path in seen:
            continue
        seen.add(path)
        key = ".".join(path)
        kind = err["type"]
        value = _lookup(data, path)
        line = line_of(lines, *path)
        if kind == "extra_forbidden":
            parent = path[:-1]
            model = _SECTION_MODELS.get(parent[0]) if parent else None
            siblings = list(model.model_fields) if model else list(TOP_LEVEL_ORDER)
            guess = suggest(path[-1], siblings)
            where = f"`{'.'.join(parent)}`" if parent else "a preset"
            fix = f"did you mean `{guess}`?" if guess else f"remove it; the keys are {', '.join(siblings)}."
            problems.append(Problem(key, f"unknown key in {where}.", fix, line=line))
        elif kind == "missing":
            example = _EXAMPLES.get(path[-1], f"{path[-1]}: ...")
            problems.append(Problem(key, "is required.", f"add `{example}`.", line=line))
        elif kind == "value_error":
            message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
            problems.append(
                Problem(key, f"{_describe(value)}: {message}.", "see the built-in presets for examples.", line=line)
            )
        elif kind == "string_pattern_mismatch":
            problems.append(
                Problem(
                    key,
                    f"{_describe(value)} is not a preset name.",
                    "use lowercase letters, digits, '-', '.', '_' (e.g. rtx4090-2x).",
                    line=line,
                )
            )
        elif kind in (
            "greater_than_equal",
            "greater_than",
            "less_than_equal",
            "less_than",
            "string_too_short",
            "string_too_long",
        ):
            problems.append(
                Problem(
                    key, f"{_describe(value)} is out of range: {err.get('msg', '')}.", "change the value.", line=line
                )
            )
        elif (expected := _expected(kind)) is not None:
            fix = f"write it as {expected}"
            if expected == "true or false" and isinstance(value, str):
                fix = f"write `{path[-1]}: true` or `false`, without quotes"
            elif expected == "a whole number" and isinstance(value, str) and value.strip().isdigit():
                fix = f"write `{path[-1]}: {value.strip()}`, without quotes"
            problems.append(
                Problem(key, f"{_describe(value)} has the wrong type: expected {expected}.", fix + ".", line=line)
            )
        else:
            problems.append(
                Problem(key, f"{err.get('msg', 'is not valid')}.", "see the built-in presets for examples.", line=line)
            )
    return problems


# -- answers --------------------------------------------------------------------------------------


def _labels(question: Question, draft: Draft) -> str:
    return ", ".join(
        f"{c.value} ({c.label.strip()})" if str(c.value) != c.label.strip() else str(c.value)
        for c in question.choice_list(draft)
    )


def normalize_answer(question: Question, value: Any, draft: Draft) -> Any:
    """The value `question` takes for `value` (a value or typed text); InvalidAnswer otherwise."""
    kind = question.kind
    if kind is Kind.MENU:
        choices = question.choice_list(draft)
        for choice in choices:
            if choice.value == value and type(choice.value) is type(value):
                return choice.value
        if isinstance(value, str):
            try:
                return question.parse(value, draft) if value else _no_empty(question)
            except InvalidAnswer:
                pass
            upper = value.strip().upper()
            for choice in choices:
                if isinstance(choice.value, str) and choice.value.upper() == upper:
                    raise InvalidAnswer(
                        f"{value!r} is not an option (values are case-sensitive): write {choice.value}."
                    )
            guess = suggest(value, [str(c.value) for c in choices] + [c.label.strip() for c in choices])
            if guess:
                raise InvalidAnswer(
                    f"{value!r} is not an option; did you mean {guess}? Options: {_labels(question, draft)}."
                )
        raise InvalidAnswer(f"{_describe(value)} is not an option. Options: {_labels(question, draft)}.")
    if kind is Kind.YES_NO:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("yes", "no", "true", "false"):
            return value.strip().lower() in ("yes", "true")
        raise InvalidAnswer(f"{_describe(value)} is not yes or no; write true or false.")
    if kind is Kind.INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value:
            return question.parse(value, draft)
        raise InvalidAnswer(f"{_describe(value)} is not a whole number.")
    if kind is Kind.FLOAT:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        if isinstance(value, str) and value:
            parsed = question.parse(value, draft)
            if isinstance(parsed, float) and math.isfinite(parsed):
                return parsed
        raise InvalidAnswer(f"{_describe(value)} is not a number.")
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidAnswer(f"{_describe(value)} is not text; quote it.")


def _no_empty(question: Question) -> Any:
    raise InvalidAnswer("an empty answer; leave the question out to take its default")


def _static_menu(question: Question) -> bool:
    return question.kind is not Kind.MENU or not callable(question.choices)


def check_answers(
    answers: Mapping[str, Any], host: HostCapabilities, lines: Lines
) -> tuple[dict[str, Any], list[Problem]]:
    """Known question ids and well-typed values (menus with fixed options checked here too)."""
    normalized: dict[str, Any] = {}
    problems: list[Problem] = []
    blank = Draft(host=host)
    for qid, value in answers.items():
        line = line_of(lines, "answers", qid)
        key = f"answers.{qid}"
        question = BY_ID.get(qid)
        if question is None:
            hint = ""
            if check_key(qid) is None or "." in qid:
                hint = " It is an accelerate config key: put it under `overrides:` instead (answers take question ids)."
            guess = suggest(qid, list(BY_ID))
            fix = f"did you mean `{guess}`?" if guess else "see `tui/core/graph` for the question ids."
            problems.append(Problem(key, f"no question has the id `{qid}`.{hint}", fix, line=line))
            continue
        if value is not None and not isinstance(value, (str, int, float, bool)):
            problems.append(
                Problem(
                    key, f"{question.title}: {_describe(value)} is not a single value.", "give one value.", line=line
                )
            )
            continue
        if not _static_menu(question):
            normalized[qid] = value  # options depend on earlier answers: checked along the path
            continue
        try:
            normalized[qid] = normalize_answer(question, value, blank)
        except InvalidAnswer as exc:
            problems.append(
                Problem(
                    key, f"{question.title}: {exc.reason}", "see `presets show` of a built-in for examples.", line=line
                )
            )
    return normalized, problems


def check_overrides(overrides: Mapping[str, Any], lines: Lines) -> tuple[dict[str, Any], list[Problem]]:
    """Flatten nested mappings to dotted keys and check each key exists."""
    flat: dict[str, Any] = {}
    problems: list[Problem] = []

    def visit(prefix: str, node: Mapping[str, Any]) -> None:
        for raw_key, value in node.items():
            key = f"{prefix}.{raw_key}" if prefix else str(raw_key)
            if isinstance(value, Mapping) and check_key(key) is not None:
                visit(key, value)
                continue
            reason = check_key(key)
            if reason is not None:
                problems.append(
                    Problem(
                        f"overrides.{key}",
                        reason,
                        "use an accelerate config key (dotted for nested).",
                        line=line_of(lines, "overrides", *key.split(".")),
                    )
                )
            else:
                flat[key] = value

    visit("", overrides)
    return flat, problems


def check_env(env: Any, lines: Lines) -> tuple[Any, list[Problem]]:
    if not isinstance(env, Mapping):
        return env, []
    out: dict[str, str] = {}
    problems: list[Problem] = []
    for name, value in env.items():
        line = line_of(lines, "env", str(name))
        if not isinstance(name, str) or not ENV_NAME.match(name):
            problems.append(
                Problem(
                    f"env.{name}",
                    "is not an environment variable name.",
                    "use letters, digits and _ (e.g. NCCL_P2P_DISABLE).",
                    line=line,
                )
            )
        elif isinstance(value, bool) or not isinstance(value, (str, int)):
            shown = "true/false" if isinstance(value, bool) else _describe(value)
            problems.append(
                Problem(
                    f"env.{name}", f"is {shown}; environment values are text.", f'quote it: `{name}: "1"`.', line=line
                )
            )
        else:
            out[name] = str(value)
    return out, problems


def check_explanations(explanations: Any, lines: Lines) -> list[Problem]:
    if not isinstance(explanations, Mapping):
        return []
    return [
        Problem(
            f"explanations.{key}",
            f"is {_describe(value)}, not text.",
            "write one or two sentences.",
            line=line_of(lines, "explanations", str(key)),
        )
        for key, value in explanations.items()
        if not isinstance(value, str)
    ]


# -- the entry points ------------------------------------------------------------------------------


_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml_with_lines(text: str, source: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    """The document and the line of every key, in one pass of libyaml (when installed)."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
        return data, node_lines(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or "syntax error"
        raise PresetError(
            [
                Located(
                    source,
                    Problem(
                        "",
                        f"not valid YAML ({problem}).",
                        "fix the YAML syntax (indentation, quotes, colons).",
                        line=line,
                    ),
                )
            ]
        ) from None
    except (RecursionError, ValueError, OverflowError, TypeError) as exc:
        raise PresetError(
            [
                Located(
                    source, Problem("", f"cannot be read as YAML ({exc.__class__.__name__}).", "simplify the document.")
                )
            ]
        ) from None


def preset_from_data(data: Any, source: str, lines: Lines, host: HostCapabilities) -> Preset:
    """Validate loaded YAML data as a preset (raises PresetError with every problem found)."""
    if data is None:
        raise _fail(
            source,
            "",
            "the file is empty.",
            "copy a built-in with `sftplay-tui presets cp NAME NEW` and edit it.",
            lines,
        )
    if not isinstance(data, Mapping):
        raise _fail(
            source,
            "",
            f"a preset is a mapping of keys (name:, title:, ...), not {_describe(data)}.",
            "start from a built-in: `sftplay-tui presets cp NAME NEW`.",
            lines,
        )
    data = dict(data)
    problems: list[Problem] = []
    for key in list(data):
        if not isinstance(key, str):
            problems.append(Problem(str(key), "keys of a preset are text.", "remove or rename it.", line=None))
            data.pop(key)
    answers = data.get("answers")
    if isinstance(answers, Mapping) and all(isinstance(k, str) for k in answers):
        data["answers"], found = check_answers(answers, host, lines)
        problems.extend(found)
    overrides = data.get("overrides")
    if isinstance(overrides, Mapping) and all(isinstance(k, str) for k in overrides):
        data["overrides"], found = check_overrides(overrides, lines)
        problems.extend(found)
    data["env"], found = check_env(data.get("env", {}), lines)
    problems.extend(found)
    problems.extend(check_explanations(data.get("explanations"), lines))
    try:
        preset = Preset.model_validate(data)
    except ValidationError as exc:
        problems.extend(p for p in _pydantic_problems(exc, data, lines) if not _duplicate(p, problems))
        preset = None
    except (RecursionError, ValueError, TypeError) as exc:  # never a traceback, whatever the YAML
        problems.append(
            Problem("", f"cannot be read as a preset ({exc.__class__.__name__}).", "start from a built-in.")
        )
        preset = None
    if problems or preset is None:
        raise PresetError([Located(source, p) for p in problems])
    return preset


def _duplicate(problem: Problem, found: list[Problem]) -> bool:
    return any(problem.key == p.key or problem.key.startswith(p.key + ".") for p in found if p.key)


def load_preset_text(text: str, source: str, host: HostCapabilities, path: Path | None = None) -> PresetFile:
    data, lines = parse_yaml_with_lines(text, source)
    preset = preset_from_data(data, source, lines, host)
    return PresetFile(preset=preset, source=source, text=text, lines=lines, path=path)


def load_preset_file(path: Path, host: HostCapabilities) -> PresetFile:
    text = read_user_file(path, "preset file")
    return load_preset_text(text, str(path), host, path=path)
