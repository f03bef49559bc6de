"""Helpers shared by `presets` and `write`: the hardware record to match against, and printing.

The hardware record comes from `tui.core.hardware` (a live probe, or `--hardware SNAPSHOT.json`);
it is imported lazily so `--help` stays fast, and a machine where probing is impossible still
gets its presets listed ("hardware unknown").
"""

from __future__ import annotations

from typing import Any

from tui.commands._common import warn


def hardware_record(snapshot: str | None) -> Any:
    """The record to match presets against: the snapshot if given, else this machine (or None)."""
    if snapshot:
        from tui.core.hardware import load_snapshot

        return load_snapshot(snapshot)
    try:
        from tui.core.hardware import probe_hardware
    except ImportError:  # hardware probing not available in this build
        return None
    return probe_hardware()


def check_findings(config: dict[str, Any], record: Any) -> list[str]:
    """The hardware checks' findings for a config (as `sftplay-tui check` prints them)."""
    if record is None:
        return []
    try:
        from tui.core.checks import check_config
    except ImportError:
        return []
    findings = check_config(config, record, launcher="sftplay-tui", schema=False)
    return [finding.render() for finding in findings]


def build_named(name: str, sets: list[str], host: Any) -> tuple[Any, Any]:
    """(entry, build) of preset `name` with `--set` items; says on stderr when yours shadows a built-in."""
    from tui.core.presets import build_preset, parse_set, resolve, shadow_note

    entry = resolve(name, host)
    note = shadow_note(entry)
    if note:
        warn(note)
    return entry, build_preset(entry.require(), host, [parse_set(item) for item in sets])


def print_located(items: list[Any]) -> None:
    for item in items:
        warn(item.render())
