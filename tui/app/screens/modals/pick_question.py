"""A small modal listing the answered questions; choosing one reopens it in the wizard."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.core.questions import Question


class PickQuestion(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    PickQuestion { align: center middle; }
    PickQuestion > Vertical {
        width: 90; height: auto; max-height: 80%; border: thick $primary; background: $surface; padding: 1 2;
    }
    PickQuestion OptionList { height: auto; max-height: 30; }
    """

    def __init__(self, answered: list[tuple[Question, str]]) -> None:
        super().__init__()
        self.answered = answered

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Change which answer?", style="bold"))
            options = []
            for question, typed in self.answered:
                line = Text.assemble((question.title, "bold"), ": ", (typed or "(default)", "cyan"))
                options.append(Option(line, id=question.id))
            yield OptionList(*options, id="answered")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
