"""The preset list and the preset editor, driven by keys in a tiny host app."""

from __future__ import annotations

from typing import Any

import yaml
from textual.app import App
from textual.message import Message
from textual.widgets import DataTable, Input, Select, Static

from tui.app.messages import AnswersChosen
from tui.app.screens.editor import PresetEditorScreen
from tui.app.screens.presets import PresetsScreen
from tui.core.host import HostCapabilities
from tui.core.paths import user_presets_dir
from tui.core.presets import SimpleGpu, SimpleHardware, resolve
from tui.core.session import WizardSession

HOST = HostCapabilities(transformers=True)
RTX2 = SimpleHardware(
    gpus=(SimpleGpu("NVIDIA GeForce RTX 4090", 24564, (8, 9)), SimpleGpu("NVIDIA GeForce RTX 4090", 24564, (8, 9))),
    p2p=((None, False), (False, None)),
)
NO_GPU = SimpleHardware(gpus=())
SIZE = (130, 36)


class Host(App[None]):
    """Stands in for the app shell: shows one screen and records what reaches the app."""

    def __init__(self, screen: Any) -> None:
        super().__init__()
        self.first = screen
        self.received: list[Message] = []

    def on_mount(self) -> None:
        self.push_screen(self.first)

    def on_presets_screen_chosen(self, message: PresetsScreen.Chosen) -> None:
        self.received.append(message)

    def on_preset_editor_screen_saved(self, message: PresetEditorScreen.Saved) -> None:
        self.received.append(message)


def _row_of(screen: PresetsScreen, name: str) -> int:
    return [e.name for e in screen.entries].index(name)


async def _go_to(pilot: Any, screen: PresetsScreen, name: str) -> None:
    """Move the list's cursor to preset `name` by keys, from wherever it starts."""
    offset = _row_of(screen, name) - screen.query_one(DataTable).cursor_row
    for _ in range(abs(offset)):
        await pilot.press("down" if offset > 0 else "up")
    assert screen.query_one(DataTable).cursor_row == _row_of(screen, name)


async def test_choosing_a_preset_posts_its_complete_answers() -> None:
    screen = PresetsScreen(HOST, hardware=RTX2)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = screen.query_one(DataTable)
        assert table.row_count == len(screen.entries) >= 7
        await _go_to(pilot, screen, "rtx4090-2x")
        assert "Matches this machine" in str(screen.query_one("#preset-detail", Static).render())
        await pilot.press("enter")
        await pilot.pause()
    chosen = [m for m in app.received if isinstance(m, PresetsScreen.Chosen)]
    assert len(chosen) == 1
    message = chosen[0]
    assert isinstance(message, AnswersChosen)  # the shell's handler for answers catches it
    assert message.preset == "rtx4090-2x" and message.source == "preset rtx4090-2x"
    assert message.env == {"NCCL_P2P_DISABLE": "1", "NCCL_IB_DISABLE": "1"}
    assert message.training["per_device_train_batch_size"] == 4
    session = WizardSession.from_answers(message.answers, HOST)
    assert session.complete  # the review screen opens with every answer filled
    config = session.config()
    assert (config["distributed_type"], config["num_processes"], config["mixed_precision"]) == ("MULTI_GPU", 2, "bf16")


async def test_the_list_starts_on_the_preset_that_fits_the_machine() -> None:
    for hardware, expected in ((RTX2, "rtx4090-2x"), (NO_GPU, "cpu")):
        screen = PresetsScreen(HOST, hardware=hardware)
        async with Host(screen).run_test(size=SIZE) as pilot:
            await pilot.pause()
            row = _row_of(screen, expected)
            assert screen.query_one(DataTable).cursor_row == row
            await pilot.press("up" if row else "down")
            screen.load()  # a reload keeps the user's row
            assert screen.query_one(DataTable).cursor_row == (row - 1 if row else 1)


async def test_list_shows_why_a_preset_does_not_match() -> None:
    screen = PresetsScreen(HOST, hardware=RTX2)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _go_to(pilot, screen, "h100-8x")
        detail = str(screen.query_one("#preset-detail", Static).render())
        assert "Does not match" in detail and "made for H100 GPUs" in detail
        screen.set_hardware(None)
        assert "hardware unknown" in str(screen.query_one("#presets-machine", Static).render())


async def test_editing_a_preset_validates_in_place_and_saves_a_user_preset() -> None:
    screen = PresetsScreen(HOST, hardware=RTX2)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _go_to(pilot, screen, "rtx4090-2x")
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, PresetEditorScreen)
        assert editor.query_one("#f-name", Input).value == "my-rtx4090-2x"

        processes = editor.query_one("#a-num_processes", Input)
        processes.focus()
        await pilot.pause()
        # The question's own explanation is shown beside the field.
        assert "TOTAL across all of them" in str(editor.query_one("#editor-explain", Static).render())
        processes.value = "four"
        await pilot.pause()
        assert "integer" in str(editor.query_one("#err-num_processes", Static).render())
        processes.value = "1"
        await pilot.pause()
        assert "2 or more GPUs" in str(editor.query_one("#err-num_processes", Static).render())
        processes.value = "4"
        await pilot.pause()
        assert not editor.query_one("#err-num_processes", Static).display
        assert "+  num_processes: 4" in str(editor.draft.diff())

        # Saving checks the whole preset: a 2-GPU target with 4 processes is refused, in place.
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PresetEditorScreen)
        assert "process(es) per machine" in str(editor.query_one("#err-gpu_count", Static).render())
        editor.query_one("#h-gpu_count", Input).value = "4"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen  # back on the list, which now has the new preset
        assert "my-rtx4090-2x" in [e.name for e in screen.entries]
    saved = [m for m in app.received if isinstance(m, PresetEditorScreen.Saved)]
    assert [m.name for m in saved] == ["my-rtx4090-2x"]
    path = user_presets_dir() / "my-rtx4090-2x.yaml"
    assert saved[0].path == path
    data = yaml.safe_load(path.read_text())
    assert data["answers"] == {"distributed_type": "MULTI_GPU", "num_processes": 4, "mixed_precision": "bf16"}
    assert data["based_on"] == "rtx4090-2x" and data["hardware"]["gpu_count"] == 4
    assert resolve("my-rtx4090-2x", HOST).preset is not None


async def test_editor_rebuilds_the_questions_when_the_path_changes() -> None:
    loaded = resolve("rtx4090-2x", HOST).require()
    editor = PresetEditorScreen(loaded, HOST, name="fsdp-4090")
    async with Host(editor).run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not editor.query("#a-fsdp_version")
        editor.query_one("#a-use_fsdp", Select).value = "yes"
        await pilot.pause()
        assert editor.query_one("#a-fsdp_version", Select).value == "2"
        assert not editor.query("#a-gpu_ids")
        # FSDP asks for a layer class when the model's _no_split_modules is not used.
        editor.query_one("#a-fsdp_use_no_split_modules", Select).value = "yes"
        await pilot.pause()
        assert not editor.query("#a-fsdp_transformer_layer_cls_to_wrap")
        await pilot.press("escape")
        await pilot.pause()
    assert not user_presets_dir().exists()  # Escape saves nothing


def test_preset_list_snapshot(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(Host(PresetsScreen(HOST, hardware=RTX2)), terminal_size=SIZE)
