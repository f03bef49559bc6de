"""Small constructors that keep the question tables short and uniform.

Each mirrors one accelerate helper call: `yes_no` is `_ask_field(..., _convert_yes_no_to_bool,
default=..., error_message="Please enter yes or no.")`, `menu` is `_ask_options(...)`, and so on.
`setter` builds the common `apply` that stores the answer in the draft or one of its dicts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from tui.core.graph.state import Draft
from tui.core.questions import Applier, Choice, ChoicesFn, Kind, Predicate, PromptFn, Question, Rejecter

YES_NO_ERROR = "Please enter yes or no."
INT_ERROR = "Please enter an integer."


def setter(target: str) -> Applier:
    """`"num_machines"` sets the draft attribute; `"fsdp_config.fsdp_version"` a key of a dict."""
    if "." in target:
        attr, key = target.split(".", 1)

        def apply_nested(draft: Draft, value: Any) -> None:
            getattr(draft, attr)[key] = value

        return apply_nested

    def apply_attr(draft: Draft, value: Any) -> None:
        setattr(draft, target, value)

    return apply_attr


def _apply(sets: str | None, apply: Applier | None) -> Applier:
    if apply is not None:
        return apply
    if sets is not None:
        return setter(sets)
    return lambda _d, _v: None


def yes_no(
    qid: str,
    title: str,
    prompt: str | PromptFn,
    *,
    section: str,
    explain: str,
    default: bool = False,
    when: Predicate | None = None,
    sets: str | None = None,
    apply: Applier | None = None,
    reject: Rejecter | None = None,
    error_message: str | None = YES_NO_ERROR,
) -> Question:
    return Question(
        id=qid,
        title=title,
        prompt=prompt,
        kind=Kind.YES_NO,
        explain=explain,
        section=section,
        when=when or (lambda _d: True),
        apply=_apply(sets, apply),
        default=default,
        error_message=error_message,
        reject=reject,
        sets=sets,
    )


def field(
    qid: str,
    title: str,
    prompt: str | PromptFn,
    *,
    kind: Kind,
    section: str,
    explain: str,
    default: Any = None,
    when: Predicate | None = None,
    sets: str | None = None,
    apply: Applier | None = None,
    convert: Callable[[str], Any] | None = None,
    error_message: str | None = None,
    reject: Rejecter | None = None,
    secret: bool = False,
) -> Question:
    return Question(
        id=qid,
        title=title,
        prompt=prompt,
        kind=kind,
        explain=explain,
        section=section,
        when=when or (lambda _d: True),
        apply=_apply(sets, apply),
        default=default,
        convert=convert,
        error_message=error_message,
        reject=reject,
        secret=secret,
        sets=sets,
    )


def menu(
    qid: str,
    title: str,
    prompt: str | PromptFn,
    choices: Sequence[Choice] | ChoicesFn,
    *,
    section: str,
    explain: str,
    default: int | Callable[[Draft], int] = 0,
    when: Predicate | None = None,
    sets: str | None = None,
    apply: Applier | None = None,
    reject: Rejecter | None = None,
) -> Question:
    return Question(
        id=qid,
        title=title,
        prompt=prompt,
        kind=Kind.MENU,
        explain=explain,
        section=section,
        when=when or (lambda _d: True),
        apply=_apply(sets, apply),
        choices=tuple(choices) if not callable(choices) else choices,
        default=default,
        reject=reject,
        sets=sets,
    )


def options(
    labels: Sequence[str], values: Sequence[Any] | None = None, notes: Sequence[str] = ()
) -> tuple[Choice, ...]:
    """Choices from parallel lists (values default to the labels)."""
    values = list(labels) if values is None else list(values)
    padded = list(notes) + [""] * (len(labels) - len(notes))
    return tuple(Choice(label, value, note) for label, value, note in zip(labels, values, padded, strict=True))


def guarded(questions: Sequence[Question], guard: Predicate) -> list[Question]:
    """The same questions, asked only where `guard` holds too (e.g. only for this machine)."""

    def both(inner: Predicate) -> Predicate:
        return lambda draft: guard(draft) and inner(draft)

    return [dataclasses.replace(q, when=both(q.when)) for q in questions]
