"""Hardware presets: a known-good accelerate config for a kind of machine, in one step.

A preset (`presets/*.yaml` built in, `$XDG_CONFIG_HOME/sftplay-tui/presets/*.yaml` the user's)
holds ANSWERS to the question graph's questions; the config comes out of the same walker and
builder as the wizard's, so it equals what `accelerate config` writes for those answers and the
wizard can open it pre-filled. The public API:

* `discover(host)` / `resolve(name, host)`: the presets in effect (user shadows built-in);
* `build_preset(preset_file, host, settings)`: complete answers + the config dict, with
  `parse_set("key=value")` settings applied and everything validated (`PresetError` otherwise);
* `write_preset(name, host, sets, path)`: resolve, build and write with backup (`write`);
* `match_hardware(preset.hardware, record)`: "matches this machine" or why not;
* `copy_preset`, `save_user_preset`, `show_text`, `diff_against`, `diff_presets`, `dump_preset`.

Modules: `model` (schema), `loading` (file -> Preset with file:line errors), `keys` (config
keys, --set parsing), `build` (answers -> config), `match`, `store` (folders, cp, show, diff).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.core.accelerate_config import dump_config
from tui.core.files import WriteResult, atomic_write
from tui.core.host import HostCapabilities
from tui.core.presets.build import Applied, PresetBuild, build_preset, minimal_answers
from tui.core.presets.keys import Setting, parse_set
from tui.core.presets.loading import Located, PresetError, PresetFile, load_preset_file, load_preset_text
from tui.core.presets.match import (
    GpuRecord,
    HardwareRecord,
    Match,
    SimpleGpu,
    SimpleHardware,
    best_fit,
    match_hardware,
)
from tui.core.presets.model import HardwareTarget, Preset, TrainingDefaults
from tui.core.presets.store import (
    PresetEntry,
    UnknownPreset,
    builtin_names,
    copy_preset,
    diff_against,
    diff_presets,
    discover,
    dump_preset,
    resolve,
    save_user_preset,
    shadow_note,
    show_text,
)


@dataclass(frozen=True)
class WrittenPreset:
    entry: PresetEntry
    build: PresetBuild
    result: WriteResult
    #: Top-level keys the installed accelerate (not 1.15) would reject, left out of the file.
    dropped: tuple[str, ...] = ()


def preset_answers(preset_file: PresetFile, host: HostCapabilities) -> dict[str, object]:
    """Every answer along the preset's path (defaults included), for `WizardSession.from_answers`."""
    return build_preset(preset_file, host).answers


def write_preset(
    name: str,
    host: HostCapabilities,
    sets: Sequence[str] = (),
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> WrittenPreset:
    """`sftplay-tui write --preset NAME --set k=v ... --config-file PATH`: validated, backed up, atomic."""
    from tui.core.paths import default_config_path

    entry = resolve(name, host, env)
    build = build_preset(entry.require(), host, [parse_set(item) for item in sets])
    return write_built(entry, build, path if path is not None else default_config_path(env))


def write_built(entry: PresetEntry, build: PresetBuild, target: Path) -> WrittenPreset:
    """Write a preset already resolved and built (the caller showed its notes): backup, atomic."""
    from tui.core.accelerate_version import installable

    config, dropped = installable(build.config)
    result = atomic_write(target, dump_config(config, target))
    return WrittenPreset(entry=entry, build=build, result=result, dropped=dropped)


__all__ = [
    "Applied",
    "GpuRecord",
    "HardwareRecord",
    "HardwareTarget",
    "Located",
    "Match",
    "Preset",
    "PresetBuild",
    "PresetEntry",
    "PresetError",
    "PresetFile",
    "Setting",
    "SimpleGpu",
    "SimpleHardware",
    "TrainingDefaults",
    "UnknownPreset",
    "WrittenPreset",
    "build_preset",
    "builtin_names",
    "copy_preset",
    "diff_against",
    "diff_presets",
    "discover",
    "dump_preset",
    "load_preset_file",
    "load_preset_text",
    "match_hardware",
    "best_fit",
    "minimal_answers",
    "parse_set",
    "preset_answers",
    "resolve",
    "save_user_preset",
    "shadow_note",
    "show_text",
    "write_preset",
    "write_built",
]
