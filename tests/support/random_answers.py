"""Random answer scripts that explore the question graph, for differential tests against accelerate.

Each script is built by walking our own graph: at every question a random answer is typed
(valid most of the time, sometimes invalid so re-prompting is exercised). The same script is then
fed to accelerate's real questions (`accelerate_oracle`) and to our replay.
"""

from __future__ import annotations

import random
import string

from tui.core.errors import ConfigRejected
from tui.core.questions import InvalidAnswer, Kind, Question
from tui.core.session import WizardSession

_JUNK = ["y", "n", "abc", "1.5", " ", "YES ", "-", "two"]


def _typed(question: Question, session: WizardSession, rng: random.Random) -> str:
    draft = session.draft
    if rng.random() < 0.25:
        return ""
    if rng.random() < 0.08 and question.kind is not Kind.MENU:
        return rng.choice(_JUNK)
    if question.kind is Kind.MENU:
        choices = question.choice_list(draft)
        return rng.choice(choices).label.strip()
    if question.kind is Kind.YES_NO:
        return rng.choice(["yes", "no", "YES", "No"])
    if question.kind is Kind.INT:
        return str(rng.choice([0, 1, 1, 2, 2, 3, 4, 8, 16, 29500]))
    if question.kind is Kind.FLOAT:
        return rng.choice(["0.5", "1.0", "2", "1e-3"])
    word = "".join(rng.choice(string.ascii_letters + "/_.~, ") for _ in range(rng.randint(1, 12)))
    return rng.choice([word, "LlamaDecoderLayer", "0,1", "~/hosts", "10.0.0.1"])


def random_script(session: WizardSession, rng: random.Random, limit: int = 200) -> list[str]:
    """Answers typed one by one until the session completes, is rejected, or `limit` is reached."""
    script: list[str] = []
    while len(script) < limit:
        question = session.current()
        if question is None:
            break
        text = _typed(question, session, rng)
        script.append(text)
        try:
            session.submit_text(text)
        except InvalidAnswer:
            continue
        except ConfigRejected:
            break
    return script
