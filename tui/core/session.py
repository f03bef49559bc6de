"""A wizard session: the answers so far, the question at the cursor, Back and progress.

Both front ends drive this one object: the TUI turns key presses into `submit_text`/`submit_value`
/`back`, and the headless `config --answers` replay feeds typed strings to `submit_text`. The
session keeps every answer ever given (keyed by question id), so going Back and forward again
offers the earlier answer wherever it still fits the new path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui.core.errors import ConfigRejected
from tui.core.graph.build import config_dict
from tui.core.graph.state import Draft
from tui.core.graph.walker import Walk, still_valid, walk
from tui.core.host import HostCapabilities, detect_host
from tui.core.questions import Question


@dataclass
class Progress:
    number: int  # 1-based position of the current question
    total: int  # questions on the path the current answers lead to


@dataclass
class WizardSession:
    host: HostCapabilities = field(default_factory=detect_host)
    #: Every answer given, including ones now off the path (kept for Back/forward).
    remembered: dict[str, Any] = field(default_factory=dict)
    #: The ids confirmed in order on the current pass; the cursor is after the last one.
    confirmed: list[str] = field(default_factory=list)
    # One cached walk: every mutation bumps the version (front ends call state() per render).
    _version: int = field(default=0, repr=False)
    _cached: tuple[int, Walk] | None = field(default=None, repr=False)

    @classmethod
    def from_answers(cls, answers: dict[str, Any], host: HostCapabilities | None = None) -> WizardSession:
        """A session with `answers` confirmed as far as they go (e.g. a preset's answers)."""
        session = cls(host=host or detect_host(), remembered=dict(answers))
        state = walk(answers, session.host)
        session.confirmed = [q.id for q in state.path]
        session._version += 1
        return session

    # -- state -----------------------------------------------------------------------------
    def _confirmed_answers(self) -> dict[str, Any]:
        return {qid: self.remembered[qid] for qid in self.confirmed}

    def state(self) -> Walk:
        if self._cached is None or self._cached[0] != self._version:
            self._cached = (self._version, walk(self._confirmed_answers(), self.host))
        return self._cached[1]

    @property
    def draft(self) -> Draft:
        return self.state().draft

    def current(self) -> Question | None:
        return self.state().pending

    @property
    def complete(self) -> bool:
        return self.state().complete

    def prefill(self, question: Question) -> Any:
        """The earlier answer to offer for `question`, if any still fits."""
        if question.id not in self.remembered:
            return None
        value = self.remembered[question.id]
        return value if still_valid(question, self.draft, value) else None

    def progress(self) -> Progress:
        projected = walk(self.remembered | self._confirmed_answers(), self.host, fill_defaults=True)
        total = max(len(projected.path), len(self.confirmed) + 1)
        return Progress(number=min(len(self.confirmed) + 1, total), total=total)

    # -- answering -------------------------------------------------------------------------
    def submit_text(self, text: str) -> Any:
        """Answer the current question with typed text; raises InvalidAnswer or ConfigRejected."""
        question = self._require_current()
        value = question.parse(text, self.draft)
        self.submit_value(value)
        return value

    def submit_value(self, value: Any) -> None:
        question = self._require_current()
        draft = self.draft
        reason = question.check_reject(draft, value)
        if reason is not None:
            raise ConfigRejected(f"{question.title}: {reason}")
        self.remembered[question.id] = value
        self.confirmed.append(question.id)
        self._version += 1

    def back(self) -> bool:
        """Step back one question (its answer stays remembered). False at the first question."""
        if not self.confirmed:
            return False
        self.confirmed.pop()
        self._version += 1
        return True

    def _require_current(self) -> Question:
        question = self.current()
        if question is None:
            raise RuntimeError("the session is complete: no question to answer")
        return question

    # -- result ----------------------------------------------------------------------------
    def answers(self) -> dict[str, Any]:
        return self._confirmed_answers()

    def config(self) -> dict[str, Any]:
        """The accelerate config dict (only meaningful once `complete`)."""
        return config_dict(self.draft)

    def transcript(self) -> list[tuple[Question, str]]:
        """(question, answer as a person would type it) for every confirmed answer, in order."""
        state = walk(self._confirmed_answers(), self.host)
        replay = Draft(host=self.host)
        lines: list[tuple[Question, str]] = []
        for question in state.path:
            value = self.remembered[question.id]
            lines.append((question, question.label_for(value, replay)))
            replay.answers[question.id] = value
            question.apply(replay, value)
        return lines
