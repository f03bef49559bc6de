"""Headless replay of typed answers: `sftplay-tui config --answers FILE`.

FILE holds one string per prompt, in the order asked, each as a person would type it at
accelerate's prompt (`""` accepts the default; menus by option label, e.g. "multi-GPU", "bf16").
It may be a JSON or YAML list, an object with an `answers` list, or a recorded accelerate session
(the goldens' `{"steps": [...]}` format). Invalid entries are reported and the next entry answers
the same question again, exactly like accelerate re-prompting; running out of entries or an answer
accelerate aborts on is a `UsageError` (exit 2) and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tui.core.errors import ConfigRejected, UsageError
from tui.core.files import read_user_file
from tui.core.host import HostCapabilities
from tui.core.questions import InvalidAnswer
from tui.core.session import WizardSession


@dataclass
class ReplayResult:
    config: dict[str, Any]
    session: WizardSession
    prompts: list[str] = field(default_factory=list)
    #: (entry number, question title, typed text, reason) for each re-prompt.
    reprompts: list[tuple[int, str, str, str]] = field(default_factory=list)
    unused: int = 0


class ReplayError(UsageError):
    def __init__(self, message: str, prompts: list[str]) -> None:
        super().__init__(message)
        self.prompts = prompts


def _entry_text(index: int, entry: Any, source: str) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, bool) or entry is None or isinstance(entry, (list, dict)):
        shown = json.dumps(entry)
        raise UsageError(
            f"{source}: entry {index} is {shown}, not a string; write every answer as a quoted string "
            f'(e.g. "yes", "2", "") so YAML does not turn it into {type(entry).__name__}.'
        )
    if isinstance(entry, (int, float)):
        return str(entry)
    raise UsageError(f"{source}: entry {index} has an unsupported type {type(entry).__name__}; use strings.")


def _golden_steps(steps: Any, source: str) -> list[Any]:
    if not isinstance(steps, list):
        raise UsageError(f"{source}: 'steps' must be a list of recorded prompts.")
    out: list[Any] = []
    for number, step in enumerate(steps, 1):
        if not isinstance(step, dict) or "kind" not in step:
            raise UsageError(f"{source}: step {number} is not a recorded prompt (needs 'kind').")
        key = "answer_label" if step["kind"] == "menu" else "answer"
        if key not in step:
            raise UsageError(f"{source}: step {number} has no '{key}'.")
        out.append(step[key])
    return out


def parse_answers(data: Any, source: str) -> list[str]:
    """Normalize a loaded answers document to the list of typed strings."""
    if isinstance(data, dict):
        if "answers" in data:
            data = data["answers"]
        elif "steps" in data:
            data = _golden_steps(data["steps"], source)
        else:
            raise UsageError(
                f"{source}: expected a list of answers (or an object with an 'answers' list); "
                f"found an object with keys {sorted(map(str, data))[:6]}."
            )
    if not isinstance(data, list):
        raise UsageError(f"{source}: expected a list of answers, one string per prompt, found {type(data).__name__}.")
    return [_entry_text(i, entry, source) for i, entry in enumerate(data, 1)]


def load_answers_file(path: Path) -> list[str]:
    source = str(path)
    text = read_user_file(path, "answers file")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source}: not valid JSON (line {exc.lineno}: {exc.msg}).") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise UsageError(f"{source}: not valid YAML ({where}{problem}).") from None
    return parse_answers(data, source)


def replay_answers(
    entries: list[str],
    host: HostCapabilities,
    on_reprompt: Callable[[int, str, str, str], None] | None = None,
    source: str = "answers",
) -> ReplayResult:
    """Feed `entries` to a fresh session; return the config accelerate would write."""
    session = WizardSession(host=host)
    prompts: list[str] = []
    reprompts: list[tuple[int, str, str, str]] = []
    index = 0
    while (question := session.current()) is not None:
        number = session.progress().number
        prompt = question.prompt_text(session.draft)
        prompts.append(prompt)
        if index >= len(entries):
            raise ReplayError(
                f"{source}: ran out after {len(entries)} entries; question {number} is unanswered: "
                f'{question.title} ({prompt.strip()!r}). Add an answer ("" takes the default).',
                prompts,
            )
        text = entries[index]
        index += 1
        try:
            session.submit_text(text)
        except InvalidAnswer as exc:
            reprompts.append((index, question.title, text, exc.reason))
            if on_reprompt is not None:
                on_reprompt(index, question.title, text, exc.reason)
        except ConfigRejected as exc:
            raise ReplayError(f"{source}: entry {index} ({text!r}): {exc.message}", prompts) from None
    return ReplayResult(
        config=session.config(),
        session=session,
        prompts=prompts,
        reprompts=reprompts,
        unused=len(entries) - index,
    )
