"""The preset editor: change a preset's fields, see the diff against its origin, save it as yours.

A thin view over `tui.core.presets.edit.PresetDraft`: each answer is edited through its
question's own `parse` and accelerate's rejections (the wizard's validators), with the question's
explanation shown while it has focus; menus and yes/no questions are selects, the rest inputs.
When an answer changes the path (e.g. FSDP yes), the answer fields are rebuilt. Ctrl+S validates
the whole preset like a file and writes it to the user presets folder (a backup is kept when it
replaces one), then posts `PresetEditorScreen.Saved` and closes with the saved path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, Select, Static, TextArea

from tui.core.errors import UsageError
from tui.core.host import HostCapabilities, detect_host
from tui.core.presets import PresetEntry, PresetError, PresetFile, resolve, save_user_preset
from tui.core.presets.edit import HARDWARE_FIELDS, TRAINING_FIELDS, AnswerField, PresetDraft
from tui.core.questions import InvalidAnswer, Kind

FIELD_HELP: dict[str, str] = {
    "name": "The preset's name: lowercase letters, digits, '-', '.', '_'. Saved as <name>.yaml in your "
    "presets folder; the name of a built-in shadows it.",
    "title": "One line shown in the preset list.",
    "description": "A paragraph: what the preset is for and what to watch out for.",
    "env": "Environment variables recommended for launching, as NAME=VALUE separated by spaces "
    "(e.g. NCCL_P2P_DISABLE=1 NCCL_IB_DISABLE=1 for RTX 40xx cards, which have no P2P).",
    "per_device_train_batch_size": "Sequences per GPU per step. Effective batch = this x accumulation x processes.",
    "gradient_accumulation_steps": "Steps whose gradients are summed before each optimizer step.",
    "gradient_checkpointing": "yes/no: recompute activations in backward (less memory, ~30% slower). "
    "Leave no when FSDP activation checkpointing is on.",
    "max_seq_length": "Longest sequence in tokens; longer examples are truncated.",
    "gpu_pattern": "A regular expression matched against GPU names (e.g. RTX 4090, A100); empty: any GPU.",
    "gpu_count": "GPUs the preset uses on one machine (0: CPU only). Should equal the processes per machine.",
    "min_memory_gib": "Minimum memory per GPU in GiB (empty: any).",
    "min_compute_capability": "Minimum compute capability, e.g. 8.0 (bf16 needs 8.0, fp8 8.9).",
    "p2p": "Whether the GPUs are expected to reach each other peer-to-peer: yes, no (RTX 40xx) or any.",
}


class PresetEditorScreen(Screen[Path | None]):
    DEFAULT_CSS = """
    PresetEditorScreen #editor-body { height: 1fr; }
    PresetEditorScreen #editor-form { width: 3fr; padding: 0 1; }
    PresetEditorScreen #editor-side { width: 2fr; border-left: tall $primary; padding: 0 1; }
    PresetEditorScreen .section { margin-top: 1; text-style: bold; color: $accent; }
    PresetEditorScreen .row { height: auto; }
    PresetEditorScreen .row Label { width: 30; padding: 1 1 0 0; }
    PresetEditorScreen .row Input, PresetEditorScreen .row Select { width: 1fr; }
    PresetEditorScreen .field-error { color: $error; height: auto; padding-left: 30; }
    PresetEditorScreen #f-description { height: 5; }
    PresetEditorScreen #editor-explain { height: auto; margin-bottom: 1; }
    PresetEditorScreen #editor-status { height: auto; }
    PresetEditorScreen #editor-diff { height: auto; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save as my preset"),
        Binding("escape", "back", "Back"),
    ]

    @dataclass
    class Saved(Message):
        """A preset was saved to the user presets folder."""

        name: str
        path: Path
        backup: Path | None = None

    def __init__(
        self,
        preset_file: PresetFile,
        host: HostCapabilities | None = None,
        *,
        origin: Any = None,
        name: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.host = host or detect_host()
        self.env = env
        self.draft = PresetDraft.from_preset(preset_file, self.host, origin=origin, name=name)
        self._path_ids: list[str] = []

    @classmethod
    def for_entry(cls, entry: PresetEntry, host: HostCapabilities | None = None) -> PresetEditorScreen:
        """Edit a listed preset: a built-in is edited as a copy named my-<name>; the diff is
        against the preset it was copied from when that still exists."""
        host = host or detect_host()
        loaded = entry.require()
        origin = None
        based_on = loaded.preset.based_on
        if based_on and based_on != entry.name:
            try:
                origin = resolve(based_on, host).preset
            except UsageError:  # an unknown or broken origin only loses the diff's base
                origin = None
        name = f"my-{entry.name}" if entry.origin == "builtin" else None
        return cls(loaded, host, origin=origin, name=name)

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        d = self.draft
        with Horizontal(id="editor-body"):
            with VerticalScroll(id="editor-form"):
                yield Static(Text(f"Edit preset {d.source.name}", style="bold"), id="editor-title")
                yield Static("Preset", classes="section")
                yield from self._row("name", "Name", Input(d.name, id="f-name"))
                yield from self._row("title", "Title", Input(d.title, id="f-title"))
                yield Label("Description", classes="section")
                yield TextArea(d.description.strip(), id="f-description", soft_wrap=True)
                yield Static("accelerate answers", classes="section")
                yield Vertical(*self._answer_widgets(), id="editor-answers", classes="row")
                yield Static("Launch environment", classes="section")
                yield from self._row("env", "NAME=VALUE ...", Input(d.env, id="f-env"))
                yield Static("Training defaults", classes="section")
                for key in TRAINING_FIELDS:
                    yield from self._row(key, key.replace("_", " "), Input(d.training[key], id=f"t-{key}"))
                yield Static("Hardware target", classes="section")
                for key in HARDWARE_FIELDS:
                    yield from self._row(key, key.replace("_", " "), self._hardware_widget(key))
            with VerticalScroll(id="editor-side"):
                yield Static(id="editor-explain")
                yield Static(id="editor-status")
                yield Static(id="editor-diff")
        yield Footer()

    def _row(self, key: str, label: str, widget: Widget) -> ComposeResult:
        yield Horizontal(Label(label), widget, classes="row")
        yield _error_line("", f"err-{key}")

    def _hardware_widget(self, key: str) -> Widget:
        value = self.draft.hardware.get(key, "")
        if key == "p2p":
            return Select(
                [("yes", "yes"), ("no", "no"), ("any", "any")], value=value or "any", allow_blank=False, id="h-p2p"
            )
        return Input(value, id=f"h-{key}")

    def _answer_widgets(self) -> list[Widget]:
        widgets: list[Widget] = []
        fields = self.draft.fields()
        self._path_ids = [f.question.id for f in fields]
        for item in fields:
            widgets.append(Horizontal(Label(item.question.title), self._answer_input(item), classes="row"))
            widgets.append(
                _error_line(self.draft.errors.get(f"answers.{item.question.id}", ""), f"err-{item.question.id}")
            )
        return widgets

    def _answer_input(self, item: AnswerField) -> Widget:
        qid = item.question.id
        options = item.options()
        if item.question.kind in (Kind.MENU, Kind.YES_NO) and options:
            current = item.text if item.text in options else options[0]
            return Select([(o, o) for o in options], value=current, allow_blank=False, id=f"a-{qid}")
        return Input(item.text, id=f"a-{qid}")

    def on_mount(self) -> None:
        self.query_one("#f-name", Input).focus()
        self._refresh_diff()

    # -- editing -------------------------------------------------------------------------------
    async def _answer(self, qid: str, text: str, widget_id: str) -> None:
        error = self.query_one(f"#err-{qid}", Static)
        try:
            self.draft.set_answer_text(qid, text)
        except InvalidAnswer as exc:
            _set_error(error, exc.reason)
            self.draft.errors[f"answers.{qid}"] = exc.reason
            return
        _set_error(error, "")
        if self.draft.path_ids() != self._path_ids:
            await self._rebuild_answers(widget_id)
        self._refresh_diff()

    async def _rebuild_answers(self, focus_id: str) -> None:
        box = self.query_one("#editor-answers", Vertical)
        await box.remove_children()
        await box.mount_all(self._answer_widgets())
        found = box.query(f"#{focus_id}")
        if found:
            found.first().focus()

    @on(Select.Changed)
    async def _select_changed(self, event: Select.Changed) -> None:
        widget_id = event.select.id or ""
        if widget_id.startswith("a-") and isinstance(event.value, str):
            await self._answer(widget_id[2:], event.value, widget_id)
        elif widget_id == "h-p2p" and isinstance(event.value, str):
            self.draft.hardware["p2p"] = event.value
            self._refresh_diff()

    @on(Input.Changed)
    async def _input_changed(self, event: Input.Changed) -> None:
        widget_id = event.input.id or ""
        value = event.value
        if widget_id.startswith("a-"):
            await self._answer(widget_id[2:], value, widget_id)
            return
        if widget_id == "f-name":
            self.draft.name = value
        elif widget_id == "f-title":
            self.draft.title = value
        elif widget_id == "f-env":
            self.draft.env = value
        elif widget_id.startswith("t-"):
            self.draft.training[widget_id[2:]] = value
        elif widget_id.startswith("h-"):
            self.draft.hardware[widget_id[2:]] = value
        self._refresh_diff()

    @on(TextArea.Changed, "#f-description")
    def _description_changed(self, event: TextArea.Changed) -> None:
        self.draft.description = event.text_area.text
        self._refresh_diff()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.query_one("#editor-explain", Static).update(self._explanation(event.widget.id or ""))

    def _explanation(self, widget_id: str) -> Text:
        key = widget_id.split("-", 1)[1] if "-" in widget_id else widget_id
        if widget_id.startswith("a-"):
            fields = {f.question.id: f for f in self.draft.fields()}
            item = fields.get(key)
            if item is not None:
                text = Text(item.question.title + "\n", style="bold")
                text.append(item.question.prompt_text(item.draft).strip() + "\n\n", style="dim")
                text.append(item.question.explain)
                note = self.draft.source.explanations
                config_key = next((k for k in note if k.split(".")[-1] == key), None)
                if config_key:
                    text.append(f"\n\nThis preset: {note[config_key]}", style="cyan")
                return text
        help_text = FIELD_HELP.get(key)
        return Text(help_text or "", style="")

    def _refresh_diff(self) -> None:
        diff = self.draft.diff()
        widget = self.query_one("#editor-diff", Static)
        if diff:
            widget.update(Syntax(diff, "diff", theme="ansi_dark", word_wrap=True))
        else:
            widget.update(Text("No changes against the origin.", style="dim"))

    # -- saving ----------------------------------------------------------------------------------
    def _show_problems(self, error: PresetError) -> None:
        for static in self.query(".field-error").results(Static):
            _set_error(static, "")
        lines: list[str] = []
        for item in error.located:
            key = item.problem.key
            target = key.split(".", 1)[1] if key.startswith(("answers.", "hardware.", "training.")) else key
            target = target.split(".")[-1] if target.startswith("fsdp_config.") else target
            message = f"{item.problem.message} {item.problem.fix}"
            found = self.query(f"#err-{target}") if target and "." not in target else None
            if found:
                _set_error(found.first(Static), message)
            lines.append(f"{key}: {message}" if key else message)
        self.query_one("#editor-status", Static).update(Text("Not saved:\n" + "\n".join(lines), style="red"))

    def action_save(self) -> None:
        try:
            preset = self.draft.to_preset()
            written = save_user_preset(preset, self.host, self.env)
        except PresetError as exc:
            self._show_problems(exc)
            return
        except UsageError as exc:
            self.query_one("#editor-status", Static).update(Text(f"Not saved: {exc}", style="red"))
            return
        message = f"Saved {written.path}"
        if written.backup:
            message += f" (previous version kept as {written.backup.name})"
        self.query_one("#editor-status", Static).update(Text(message, style="green"))
        self.notify(message, title="Preset saved")
        # Posted to the app: this screen closes right away.
        self.app.post_message(self.Saved(preset.name, written.path, written.backup))
        self.dismiss(written.path)

    def action_back(self) -> None:
        self.dismiss(None)


def _error_line(text: str, widget_id: str) -> Static:
    static = Static(text, id=widget_id, classes="field-error")
    static.display = bool(text)
    return static


def _set_error(static: Static, text: str) -> None:
    static.update(text)
    static.display = bool(text)
