"""Start from a preset: every preset with its match against the live hardware.

Choosing one (Enter) posts `PresetsScreen.Chosen`, an `AnswersChosen` (app/messages.py) carrying
the preset's COMPLETE answers (every question on its path, defaults included), its recommended
environment, and the config keys no question sets (`overrides`): the app opens the review screen
pre-filled from them, where any answer can still be changed. `e` opens the preset editor on the
highlighted preset (saved as a user preset); `r` reloads the presets.

The hardware record comes from `hardware=` (a fixed record: snapshots, tests) or, by default, a
probe run in a thread worker; `set_hardware()` lets the app feed it its own live record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui.app.messages import AnswersChosen
from tui.core.errors import UsageError
from tui.core.host import HostCapabilities, detect_host
from tui.core.presets import Match, PresetEntry, best_fit, build_preset, discover, match_hardware

HardwareProbe = Callable[[], Any]


def live_hardware() -> Any:
    """This machine's record (None when probing is not available)."""
    try:
        from tui.core.hardware import probe_hardware
    except ImportError:
        return None
    return probe_hardware()


def describe_machine(record: Any) -> str:
    if record is None:
        return "probing the hardware..."
    gpus = list(getattr(record, "gpus", ()))
    if not gpus:
        return "This machine: no GPU"
    names: dict[str, int] = {}
    for gpu in gpus:
        names[gpu.name] = names.get(gpu.name, 0) + 1
    return "This machine: " + ", ".join(f"{count}x {name}" for name, count in names.items())


class PresetsScreen(Screen[None]):
    DEFAULT_CSS = """
    PresetsScreen #presets-head { height: auto; padding: 0 2; }
    PresetsScreen #presets-table { height: 1fr; }
    PresetsScreen #preset-detail { height: auto; max-height: 14; padding: 0 2; border-top: solid $primary; }
    """
    BINDINGS = [
        Binding("e", "edit", "Edit a copy"),
        Binding("r", "reload", "Reload"),
        Binding("escape", "back", "Back"),
    ]

    @dataclass
    class Chosen(AnswersChosen):
        """A preset was chosen: its complete answers, env, and the keys no question sets."""

        preset: str = ""
        training: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        host: HostCapabilities | None = None,
        hardware: Any = None,
        probe: HardwareProbe | None = live_hardware,
    ) -> None:
        super().__init__()
        self.host = host or detect_host()
        self.hardware = hardware
        self.probe = probe if hardware is None else None
        self._suggested = False
        self.entries: list[PresetEntry] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="presets-head"):
            yield Static(Text("Start from a preset", style="bold"), id="presets-title")
            yield Static(describe_machine(self.hardware), id="presets-machine")
        yield DataTable(id="presets-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="preset-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Name", "Title", "Targets", "This machine")
        self.load()
        table.focus()
        if self.probe is not None:
            self._probe_worker()

    @work(thread=True, exclusive=True, group="presets-probe")
    def _probe_worker(self) -> None:
        assert self.probe is not None
        try:
            record = self.probe()
        except (UsageError, OSError):
            record = None
        self.app.call_from_thread(self.set_hardware, record)

    def set_hardware(self, record: Any) -> None:
        """Match the presets against `record` (e.g. the app's live hardware) and redraw."""
        self.hardware = record
        self.query_one("#presets-machine", Static).update(
            describe_machine(record) if record is not None else "hardware unknown"
        )
        self.load()

    # -- the list ------------------------------------------------------------------------------
    def match_of(self, entry: PresetEntry) -> Match | None:
        return None if entry.preset is None else match_hardware(entry.preset.hardware, self.hardware)

    def load(self) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        self.entries = discover(self.host)
        for entry in self.entries:
            preset = entry.preset
            name = Text(entry.name, style="bold")
            if entry.origin == "user":
                name.append(" (yours)" if entry.shadows is None else " (yours, shadows built-in)", style="cyan")
            if preset is None:
                table.add_row(name, Text("cannot be loaded", style="red"), "", "", key=entry.name)
                continue
            match = self.match_of(entry)
            table.add_row(name, preset.title, preset.hardware.describe(), _verdict(match), key=entry.name)
        if self.entries:
            row = min(max(keep, 0), len(self.entries) - 1)
            if not self._suggested and self.hardware is not None:
                # Once the machine is known, start on the preset that fits it best (`cpu` without
                # GPUs); after that the cursor stays where the user put it.
                self._suggested = True
                fit = best_fit([self.match_of(entry) for entry in self.entries])
                row = row if fit is None else fit
            table.move_cursor(row=row)
            self._show_detail(table.cursor_row)

    def _show_detail(self, row: int) -> None:
        detail = self.query_one("#preset-detail", Static)
        if not 0 <= row < len(self.entries):
            detail.update("")
            return
        entry = self.entries[row]
        if entry.preset is None:
            detail.update(Text(str(entry.error), style="red"))
            return
        preset = entry.preset
        text = Text()
        text.append(f"{preset.title}\n", style="bold")
        text.append(preset.description.strip() + "\n")
        match = self.match_of(entry)
        if match is not None and match.ok is not None:
            lines = match.reasons if not match.ok else match.notes
            text.append(
                ("Matches this machine" if match.ok else "Does not match")
                + (": " + "; ".join(lines) if lines else "")
                + "\n",
                style="green" if match.ok else "yellow",
            )
        if preset.env:
            text.append("Environment: " + " ".join(f"{k}={v}" for k, v in preset.env.items()) + "\n", style="cyan")
        t = preset.training
        text.append(
            f"Training: batch {t.per_device_train_batch_size} per device, "
            f"accumulation {t.gradient_accumulation_steps}, "
            f"checkpointing {'on' if t.gradient_checkpointing else 'off'}, max length {t.max_seq_length}",
            style="dim",
        )
        if entry.shadows is not None:
            text.append(f"\nYour preset {entry.path} shadows the built-in of the same name.", style="cyan")
        detail.update(text)

    @on(DataTable.RowHighlighted, "#presets-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    @on(DataTable.RowSelected, "#presets-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.choose(event.cursor_row)

    def choose(self, row: int) -> None:
        """Post `Chosen` for the preset at `row` (or say why it cannot be used)."""
        if not 0 <= row < len(self.entries):
            return
        entry = self.entries[row]
        try:
            build = build_preset(entry.require(), self.host)
        except UsageError as exc:
            self.notify(str(exc).splitlines()[0], title=f"{entry.name} cannot be used", severity="error", timeout=10)
            return
        self.post_message(
            self.Chosen(
                answers=dict(build.answers),
                source=f"preset {entry.name}",
                env=dict(build.env),
                preset=entry.name,
                overrides=dict(build.overrides),
                training=build.preset.training.model_dump(),
            )
        )

    # -- actions ---------------------------------------------------------------------------------
    def action_edit(self) -> None:
        from tui.app.screens.editor import PresetEditorScreen

        row = self.query_one(DataTable).cursor_row
        if not 0 <= row < len(self.entries):
            return
        entry = self.entries[row]
        if entry.loaded is None:
            self.notify(str(entry.error).splitlines()[0], severity="error", timeout=10)
            return
        self.app.push_screen(PresetEditorScreen.for_entry(entry, self.host), lambda _saved: self.load())

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.dismiss(None)


def _verdict(match: Match | None) -> Text:
    if match is None or match.ok is None:
        return Text("unknown", style="dim")
    return Text(match.short, style="green" if match.ok else "yellow")
