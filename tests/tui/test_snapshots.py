"""Snapshots of the main screens at a fixed size (pytest-textual-snapshot).

Update after an intended visual change with `make snapshots` and review the SVG diff.
"""

from __future__ import annotations

from pathlib import Path

from tui.app.app import SftplayApp
from tui.core.hardware import load_snapshot
from tui.core.host import HostCapabilities

SIZE = (110, 34)
RTX4090_2X = load_snapshot(
    Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "snapshots" / "rtx4090-2x.json"
)


def make_app() -> SftplayApp:
    # A relative, fixed target and a recorded machine keep the screens identical everywhere.
    app = SftplayApp(config_file="snapshot-config.yaml", start="wizard", hardware=RTX4090_2X)
    app.host = HostCapabilities(transformers=True)
    app.session.host = app.host
    return app


def test_wizard_first_question(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(), terminal_size=SIZE)


def test_wizard_fsdp_question(snap_compare) -> None:  # type: ignore[no-untyped-def]
    keys = [
        "enter",
        "4",
        "enter",
        "enter",
        "enter",
        "enter",
        "enter",
        "y",
        "enter",
        "enter",
        "enter",
        "enter",
    ]
    assert snap_compare(make_app(), press=keys, terminal_size=SIZE)


def test_wizard_precision_on_this_machine(snap_compare) -> None:  # type: ignore[no-untyped-def]
    keys = ["enter", "enter", *["enter"] * 6, "enter", "enter", "enter"]
    assert snap_compare(make_app(), press=keys, terminal_size=SIZE)


def test_review_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    keys = ["enter", "4", "enter", *["enter"] * 6, "2", "enter", "enter", "enter", "2", "enter"]
    assert snap_compare(make_app(), press=keys, terminal_size=SIZE)
