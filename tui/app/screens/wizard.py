"""The wizard: accelerate's questions one at a time, each with its plain-words explanation.

Enter accepts (the default when nothing was typed), Escape goes back one question keeping later
answers where they still fit, digits pick menu options, y/n answer yes/no questions. Invalid
answers are rejected in place with the reason, as accelerate re-prompts; answers accelerate would
abort on are shown in place too and the question stays open. When the path is complete the
review screen opens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.app.widgets.question_field import QuestionField
from tui.core.errors import ConfigRejected
from tui.core.graph.state import Draft
from tui.core.questions import InvalidAnswer, Question
from tui.core.session import WizardSession

#: Given the draft and a question, the options that cannot work on this machine, with why.
UnavailableFn = Callable[[Draft, Question], dict[str, str]]
#: Given the draft and a question, what to pre-select for this machine, and a note saying why.
SuggestFn = Callable[[Draft, Question], tuple[Any, str] | None]


def progress_text(number: int, total: int, width: int = 40) -> Text:
    """ "Question n of N · current path" over a bar (plain text: cheaper than a widget at start-up)."""
    done = round(width * (number - 1) / max(total, 1))
    text = Text.assemble(("Question ", "dim"), (f"{number} of {total}", "bold"), ("  ·  current path\n", "dim"))
    text.append("━" * done, style="bold blue")
    text.append("━" * (width - done), style="grey30")
    return text


class WizardScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+r", "review", "Review"),
    ]

    def __init__(
        self,
        session: WizardSession,
        unavailable: UnavailableFn | None = None,
        suggest: SuggestFn | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.unavailable = unavailable
        self.suggest = suggest

    def compose(self) -> ComposeResult:
        with Vertical(id="wizard-head"):
            yield Static(id="progress-text")
        with Horizontal(id="wizard-body"):
            with Vertical(id="question-pane"):
                yield Static(id="section")
                yield Static(id="prompt")
                yield Vertical(id="field-slot")
            with VerticalScroll(id="explain-pane"):
                yield Static(id="explain-title")
                yield Static(id="explain")
                yield Static(id="explain-key")
        yield Footer()

    # -- rendering -------------------------------------------------------------------------
    def show_current(self) -> None:
        question = self.session.current()
        if question is None:
            self.action_review()
            return
        draft = self.session.draft
        progress = self.session.progress()
        self.query_one("#progress-text", Static).update(progress_text(progress.number, progress.total))
        self.query_one("#section", Static).update(Text(question.section.upper(), style="bold dim"))
        self.query_one("#prompt", Static).update(Text(question.prompt_text(draft).strip(), style="bold"))
        self.query_one("#explain-title", Static).update(Text(question.title, style="bold"))
        self.query_one("#explain", Static).update(Text(question.explain))
        key = f"Sets: {question.sets}" if question.sets else ""
        self.query_one("#explain-key", Static).update(Text(key, style="dim"))
        slot = self.query_one("#field-slot", Vertical)
        slot.remove_children()
        unavailable = self.unavailable(draft, question) if self.unavailable else {}
        prefill, note = self.session.prefill(question), None
        if prefill is None and self.suggest is not None:
            # An earlier answer wins; otherwise pre-select what fits this machine, and say so.
            suggestion = self.suggest(draft, question)
            if suggestion is not None:
                prefill, note = suggestion
        slot.mount(QuestionField(question, draft, prefill=prefill, unavailable=unavailable, note=note))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The footer greys Review out until the remembered answers complete a path.
        if action == "review":
            return True if self._can_review() else None
        return True

    def _can_review(self) -> bool:
        """Review is possible once the remembered answers complete a path (e.g. after Back)."""
        from tui.core.graph.walker import walk

        state = walk(self.session.remembered, self.session.host)
        return state.complete

    # -- answering -------------------------------------------------------------------------
    @on(QuestionField.Answered)
    def answered(self, event: QuestionField.Answered) -> None:
        field = event.control if isinstance(event.control, QuestionField) else self.query_one(QuestionField)
        try:
            if event.text is not None:
                self.session.submit_text(event.text)
            else:
                self.session.submit_value(event.value)
        except InvalidAnswer as exc:
            field.show_error(exc.reason)
            return
        except ConfigRejected as exc:
            field.show_error(f"accelerate would stop here: {exc.message}")
            return
        self.show_current()

    # -- navigation ------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.session.back():
            self.show_current()
        else:
            self.dismiss(None)

    def action_review(self) -> None:
        if self.session.current() is not None:
            if not self._can_review():
                self.notify("Answer the remaining questions first.", severity="warning")
                return
            self._confirm_remembered()
        self.app.push_screen(self.app.review_screen())  # type: ignore[attr-defined]

    def _confirm_remembered(self) -> None:
        """Accept every remembered answer that still fits, up to the end of the path."""
        while (question := self.session.current()) is not None:
            value: Any = self.session.prefill(question)
            if question.id not in self.session.remembered or value is None:
                return
            try:
                self.session.submit_value(value)
            except ConfigRejected:
                return

    def on_screen_resume(self) -> None:
        # Sent when the screen is first pushed and when it is back on top (from the review, e.g.
        # "change a question"): show wherever the cursor is, or open the review when complete.
        self.show_current()
