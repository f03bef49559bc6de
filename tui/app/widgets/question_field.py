"""Renders one `Question` by its kind and reports the answer.

Menus and yes/no questions are an `OptionList` (arrows, digits, y/n, Enter, mouse); numbers and
text are an `Input` whose empty value means "the default" exactly as at accelerate's prompt. The
widget never interprets answers: it posts `QuestionField.Answered` and the screen hands the value
or the typed text to the core session, which validates it.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.core.graph.state import Draft
from tui.core.questions import Choice, Kind, Question, format_value


class AnswerList(OptionList):
    """An option list that also takes digits (like accelerate's menu) and y/n for yes/no."""

    def __init__(self, *options: Option, yes_no: bool, **kwargs: Any) -> None:
        super().__init__(*options, **kwargs)
        self._yes_no = yes_no

    def on_key(self, event: Any) -> None:
        key = event.key
        if key.isdigit() and int(key) < self.option_count:
            self.highlighted = int(key)
            event.stop()
        elif self._yes_no and key in ("y", "n"):
            self.highlighted = 0 if key == "y" else 1
            self.action_select()
            event.stop()


class QuestionField(Vertical):
    DEFAULT_CSS = """
    QuestionField { height: auto; }
    QuestionField OptionList { height: auto; max-height: 16; }
    QuestionField #error { color: $error; height: auto; margin-top: 1; }
    QuestionField #default-hint { color: $text-muted; height: auto; }
    QuestionField #note { color: $accent; height: auto; }
    """

    class Answered(Message):
        """The user answered: `value` for a choice, `text` for typed input (exactly as typed)."""

        def __init__(self, question: Question, *, value: Any = None, text: str | None = None) -> None:
            super().__init__()
            self.question = question
            self.value = value
            self.text = text

    def __init__(
        self,
        question: Question,
        draft: Draft,
        prefill: Any = None,
        unavailable: dict[str, str] | None = None,
        note: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.question = question
        self.draft = draft
        self.prefill = prefill
        self.unavailable = unavailable or {}
        self.note = note
        self._values: list[Any] = []
        self._start = 0

    def compose(self) -> ComposeResult:
        q = self.question
        if q.kind in (Kind.MENU, Kind.YES_NO):
            choices = self._choices()
            self._values = [c.value for c in choices]
            default = self._default_position(choices)
            options = [Option(self._option_text(c, i == default), id=f"opt-{i}") for i, c in enumerate(choices)]
            self._start = self._initial_position(choices, default)
            yield AnswerList(*options, yes_no=q.kind is Kind.YES_NO, id="answer")
        else:
            default = q.default_value(self.draft)
            placeholder = f"Enter for the default: {format_value(q.kind, default)}" if default not in (None, "") else ""
            value = "" if self.prefill is None else format_value(q.kind, self.prefill)
            if self.prefill is not None and self.prefill == default:
                value = ""
            yield Input(value=value, placeholder=placeholder, password=q.secret, id="answer")
            if default is None:
                yield Static("No default: type a value.", id="default-hint")
        if self.note:
            yield Static(self.note, id="note")
        yield Static("", id="error")

    def on_mount(self) -> None:
        answer = self.query_one("#answer")
        if isinstance(answer, OptionList):
            # Set after mounting: the list resets its highlight when it is first laid out.
            answer.highlighted = self._start
        answer.focus()

    def _choices(self) -> list[Choice]:
        if self.question.kind is Kind.YES_NO:
            return [Choice("yes", True), Choice("no", False)]
        return self.question.choice_list(self.draft)

    def _default_position(self, choices: list[Choice]) -> int:
        if self.question.kind is Kind.YES_NO:
            return 0 if self.question.default_value(self.draft) else 1
        return self.question.default_index(self.draft)

    def _initial_position(self, choices: list[Choice], default: int) -> int:
        if self.prefill is not None:
            for index, choice in enumerate(choices):
                if choice.value == self.prefill:
                    return index
        return default

    def _option_text(self, choice: Choice, is_default: bool) -> Text:
        text = Text(choice.label.strip(), style="bold")
        if is_default:
            text.append("  (default)", style="italic")
        if choice.note:
            text.append(f"  {choice.note}", style="dim")
        reason = self.unavailable.get(choice.label.strip())
        if reason:
            text.append(f"  ✗ {reason}", style="red")
        return text

    @on(OptionList.OptionSelected, "#answer")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Answered(self.question, value=self._values[event.option_index]))

    @on(Input.Submitted, "#answer")
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Answered(self.question, text=event.value))

    def show_error(self, reason: str) -> None:
        self.query_one("#error", Static).update(Text(reason))

    def clear_error(self) -> None:
        self.query_one("#error", Static).update("")
