"""Walking the question graph: which questions a set of answers has reached, and what is next.

`walk(answers, host)` replays answers (question id -> value) from the first question, applying
each to a fresh `Draft` exactly as accelerate would while asking. It stops at the first question
that is asked but not answered (the next one to ask), or at an answer accelerate aborts on. It is
a pure function: front ends keep only the answers and call it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.core.graph import QUESTIONS
from tui.core.graph.state import Draft
from tui.core.host import HostCapabilities
from tui.core.questions import Kind, Question


@dataclass
class Walk:
    draft: Draft
    path: list[Question] = field(default_factory=list)
    pending: Question | None = None
    #: Set when an answer on the path is one accelerate aborts on: (question, reason).
    rejected: tuple[Question, str] | None = None

    @property
    def complete(self) -> bool:
        return self.pending is None and self.rejected is None


def still_valid(question: Question, draft: Draft, value: Any) -> bool:
    """An answer given earlier still fits this question now (menus may have changed options)."""
    if question.kind is Kind.MENU:
        return value in {choice.value for choice in question.choice_list(draft)}
    return True


def walk(answers: Mapping[str, Any], host: HostCapabilities, *, fill_defaults: bool = False) -> Walk:
    """Replay `answers`; with `fill_defaults`, unanswered questions take their default (a projection)."""
    draft = Draft(host=host)
    result = Walk(draft=draft)
    for question in QUESTIONS:
        if not question.when(draft):
            continue
        if question.id in answers and still_valid(question, draft, answers[question.id]):
            value = answers[question.id]
        elif fill_defaults:
            value = question.default_value(draft)
            if value is None and question.kind is Kind.TEXT:
                value = ""
        else:
            result.pending = question
            return result
        reason = question.check_reject(draft, value)
        draft.answers[question.id] = value
        question.apply(draft, value)
        result.path.append(question)
        if reason is not None and not fill_defaults:
            # A projection (fill_defaults) looks past rejections: it only estimates the path length.
            result.rejected = (question, reason)
            return result
    return result
