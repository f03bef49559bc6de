"""The `Question` record: one prompt of accelerate's `config` command, as data.

A question knows its exact accelerate prompt, its kind (menu, yes/no, int, float, text), its
choices and default, when it is asked (`when`), what it sets (`apply`), a plain-words
explanation, and the rules accelerate applies to an answer:

* `parse` mirrors accelerate's `_ask_field`/`_ask_options`: the same strings are accepted and
  converted to the same values (`""` gives the default; `"y"` is not yes; `int(" 2 ")` is 2).
  Anything else raises `InvalidAnswer`, which front ends show in place (accelerate re-prompts).
* `reject` is for combinations accelerate aborts on (`ValueError`, `AssertionError`, ...): the
  session cannot go on with that answer.

Questions never hold front-end code; the TUI renders them by kind and the headless replay feeds
typed strings through the same `parse`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.core.graph.state import Draft


class Kind(enum.StrEnum):
    MENU = "menu"
    YES_NO = "yes-no"
    INT = "int"
    FLOAT = "float"
    TEXT = "text"


class InvalidAnswer(ValueError):
    """The answer is not accepted; accelerate would ask the same question again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Choice:
    """One option of a menu: the label accelerate shows and the value the config receives."""

    label: str
    value: Any
    note: str = ""


Predicate = Callable[["Draft"], bool]
Applier = Callable[["Draft", Any], None]
Rejecter = Callable[["Draft", Any], "str | None"]
PromptFn = Callable[["Draft"], str]
ChoicesFn = Callable[["Draft"], Sequence[Choice]]


def _always(_draft: Draft) -> bool:
    return True


def _no_apply(_draft: Draft, _value: Any) -> None:
    return None


def parse_yes_no(text: str) -> bool:
    """accelerate's `_convert_yes_no_to_bool`: exactly "yes" or "no", any case, no trimming."""
    return {"yes": True, "no": False}[text.lower()]


KIND_HINTS: dict[Kind, str] = {
    Kind.YES_NO: "Please enter yes or no.",
    Kind.INT: "Please enter an integer.",
    Kind.FLOAT: "Please enter a number (e.g. 1.0).",
    Kind.TEXT: "Please enter a value.",
    Kind.MENU: "Please choose one of the options.",
}


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    prompt: str | PromptFn
    kind: Kind
    explain: str
    section: str
    when: Predicate = _always
    apply: Applier = _no_apply
    choices: Sequence[Choice] | ChoicesFn = ()
    #: Menu: the index selected at first. Field: what `""` (Enter) gives; None means no default.
    default: Any = None
    #: Converts typed text for non-menu fields; defaults by kind (int, float, yes/no, identity).
    convert: Callable[[str], Any] | None = None
    #: accelerate's own re-prompt message (None: accelerate re-prompts silently).
    error_message: str | None = None
    #: A fatal rule: accelerate raises on this answer; the message says why and what to do.
    reject: Rejecter | None = None
    #: Hide the typed text (secrets such as AWS keys).
    secret: bool = False
    #: The accelerate config key this answer ends up in (dotted for nested), for display.
    sets: str | None = None

    # -- rendering helpers -------------------------------------------------------------------
    def prompt_text(self, draft: Draft) -> str:
        return self.prompt(draft) if callable(self.prompt) else self.prompt

    def choice_list(self, draft: Draft) -> list[Choice]:
        return list(self.choices(draft) if callable(self.choices) else self.choices)

    def default_index(self, draft: Draft) -> int:
        default = self.default(draft) if callable(self.default) else self.default
        return int(default or 0)

    def default_value(self, draft: Draft) -> Any:
        """The value Enter gives (for menus the value of the default choice)."""
        if self.kind is Kind.MENU:
            return self.choice_list(draft)[self.default_index(draft)].value
        return self.default(draft) if callable(self.default) else self.default

    # -- answering ---------------------------------------------------------------------------
    def parse(self, text: str, draft: Draft) -> Any:
        """Turn typed text into this question's value exactly as accelerate would, or raise."""
        if self.kind is Kind.MENU:
            return self._parse_menu(text, draft)
        default = self.default(draft) if callable(self.default) else self.default
        if default is not None and len(text) == 0:
            return default
        convert = self.convert or _KIND_CONVERTERS[self.kind]
        try:
            return convert(text)
        except Exception as exc:  # accelerate catches everything and re-prompts
            raise InvalidAnswer(self.error_message or self._reason(text)) from exc

    def _reason(self, text: str) -> str:
        hint = KIND_HINTS[self.kind]
        shown = text if len(text) <= 40 else text[:37] + "..."
        return f"{shown!r} is not accepted here. {hint}"

    def _parse_menu(self, text: str, draft: Draft) -> Any:
        choices = self.choice_list(draft)
        if text == "":
            return choices[self.default_index(draft)].value
        wanted = text.strip().lower()
        for choice in choices:
            if choice.label.strip().lower() == wanted:
                return choice.value
        # A bare number picks by position, like accelerate's number keys, unless the labels are
        # themselves numbers (ZeRO stage, FSDP version, machine rank), where the label wins above.
        labels_numeric = all(c.label.strip().isdigit() for c in choices)
        if wanted.isdigit() and not labels_numeric and int(wanted) < len(choices):
            return choices[int(wanted)].value
        options = ", ".join(repr(c.label.strip()) for c in choices)
        raise InvalidAnswer(f"{text!r} is not one of the options: {options}.")

    def label_for(self, value: Any, draft: Draft) -> str:
        """The text a person would type to give `value` (used to replay and to display)."""
        if self.kind is Kind.MENU:
            for choice in self.choice_list(draft):
                if choice.value == value:
                    return choice.label.strip()
            return str(value)
        return format_value(self.kind, value)

    def check_reject(self, draft: Draft, value: Any) -> str | None:
        return self.reject(draft, value) if self.reject else None


def format_value(kind: Kind, value: Any) -> str:
    if value is None:
        return ""
    if kind is Kind.YES_NO and isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


_KIND_CONVERTERS: dict[Kind, Callable[[str], Any]] = {
    Kind.YES_NO: parse_yes_no,
    Kind.INT: int,
    Kind.FLOAT: float,
    Kind.TEXT: lambda text: text,
}
