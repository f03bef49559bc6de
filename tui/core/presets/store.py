"""Where presets live: the built-ins shipped in `presets/`, the user's in
`$XDG_CONFIG_HOME/sftplay-tui/presets`; finding one by name, copying, saving, showing, diffing.

A user preset with the same name as a built-in shadows it (and `list`/`resolve` say so). A
broken user preset never hides the others: it is listed with its error, and only asking for it
by name fails. Files are `<name>.yaml`; the `name:` inside must match the file name.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from tui.core.accelerate_config import dump_config, suggest
from tui.core.errors import UsageError
from tui.core.files import WriteResult, atomic_write, read_existing, unified_diff
from tui.core.host import HostCapabilities
from tui.core.paths import builtin_presets_dir, user_presets_dir
from tui.core.presets.build import PresetBuild
from tui.core.presets.loading import PresetError, PresetFile, load_preset_file, load_preset_text
from tui.core.presets.model import NAME_PATTERN, TOP_LEVEL_ORDER, Preset
from tui.core.yaml_lines import key_lines

Origin = Literal["builtin", "user"]


@dataclass
class PresetEntry:
    """One preset file found in a presets folder (loaded, or broken with its error)."""

    name: str
    path: Path
    origin: Origin
    loaded: PresetFile | None = None
    error: UsageError | None = None
    #: For a user preset: the built-in of the same name it hides.
    shadows: PresetEntry | None = None

    @property
    def preset(self) -> Preset | None:
        return self.loaded.preset if self.loaded else None

    def require(self) -> PresetFile:
        if self.loaded is None:
            raise self.error or UsageError(f"{self.path}: cannot be loaded.")
        return self.loaded

    @property
    def origin_label(self) -> str:
        if self.origin == "user" and self.shadows is not None:
            return "user (shadows built-in)"
        return "built-in" if self.origin == "builtin" else "user"


def _entry(path: Path, origin: Origin, host: HostCapabilities) -> PresetEntry:
    entry = PresetEntry(name=path.stem, path=path, origin=origin)
    try:
        loaded = load_preset_file(path, host)
        if loaded.preset.name != path.stem:
            raise UsageError(
                f"{path}: name {loaded.preset.name!r} does not match the file name; "
                f"rename the file to {loaded.preset.name}.yaml or set `name: {path.stem}`."
            )
        entry.loaded = loaded
    except UsageError as exc:
        entry.error = exc
    return entry


def _scan(folder: Path, origin: Origin, host: HostCapabilities) -> list[PresetEntry]:
    if not folder.is_dir():
        return []
    return [_entry(path, origin, host) for path in sorted(folder.glob("*.yaml"))]


def preset_names(env: Mapping[str, str] | None = None) -> list[str]:
    """Every preset name in effect (built-in and user), without loading any."""
    names: set[str] = set()
    for folder in (builtin_presets_dir(), user_presets_dir(env)):
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(names)


def discover(host: HostCapabilities, env: Mapping[str, str] | None = None) -> list[PresetEntry]:
    """Every preset in effect, sorted by name: user presets replace built-ins of the same name."""
    builtins = {e.name: e for e in _scan(builtin_presets_dir(), "builtin", host)}
    users = {e.name: e for e in _scan(user_presets_dir(env), "user", host)}
    merged: dict[str, PresetEntry] = dict(builtins)
    for name, entry in users.items():
        entry.shadows = builtins.get(name)
        merged[name] = entry
    return [merged[name] for name in sorted(merged)]


def builtin_names() -> list[str]:
    """Names of the presets shipped with sftplay-tui (no loading)."""
    folder = builtin_presets_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def builtin_entries(host: HostCapabilities) -> list[PresetEntry]:
    return _scan(builtin_presets_dir(), "builtin", host)


class UnknownPreset(UsageError):
    pass


def resolve(name: str, host: HostCapabilities, env: Mapping[str, str] | None = None) -> PresetEntry:
    """The preset called `name` (user first); UnknownPreset lists the available ones.
    Only the files of that name are read (the others may be broken without harm)."""
    if re.match(NAME_PATTERN, name):
        builtin_path = builtin_presets_dir() / f"{name}.yaml"
        user_path = user_presets_dir(env) / f"{name}.yaml"
        if user_path.is_file():
            entry = _entry(user_path, "user", host)
            if builtin_path.is_file():
                entry.shadows = PresetEntry(name=name, path=builtin_path, origin="builtin")
            return entry
        if builtin_path.is_file():
            return _entry(builtin_path, "builtin", host)
    names = preset_names(env)
    guess = suggest(name, names)
    hint = f" Did you mean {guess!r}?" if guess else ""
    available = ", ".join(names) if names else "none"
    raise UnknownPreset(f"unknown preset {name!r}.{hint} Available: {available}.")


def shadow_note(entry: PresetEntry) -> str | None:
    if entry.origin == "user" and entry.shadows is not None:
        return f"using your preset {entry.path}, which shadows the built-in {entry.name!r} ({entry.shadows.path})."
    return None


# -- writing presets ---------------------------------------------------------------------------------


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = ">" if len(value) > 88 and "\n" not in value.strip() else None
    if "\n" in value.strip():
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _PresetDumper(yaml.SafeDumper):
    pass


_PresetDumper.add_representer(str, _represent_str)


def preset_data(preset: Preset) -> dict[str, Any]:
    """The preset as plain data in the file's key order, empty optional sections left out."""
    raw = preset.model_dump(mode="python")
    hardware = {k: v for k, v in raw["hardware"].items() if v is not None}
    if "min_compute_capability" in hardware:
        major, minor = hardware["min_compute_capability"]
        hardware["min_compute_capability"] = f"{major}.{minor}"
    raw["hardware"] = hardware
    out: dict[str, Any] = {}
    for key in TOP_LEVEL_ORDER:
        value = raw.get(key)
        if value is None or (key in ("overrides", "env", "explanations", "notes", "answers") and not value):
            continue
        out[key] = value
    return out


def dump_data(data: Mapping[str, Any]) -> str:
    """Preset data as the file text `dump_preset` writes (keys in the file's order)."""
    return yaml.dump(dict(data), Dumper=_PresetDumper, sort_keys=False, allow_unicode=True, width=96)


def dump_preset(preset: Preset) -> str:
    return dump_data(preset_data(preset))


def user_preset_path(name: str, env: Mapping[str, str] | None = None) -> Path:
    return user_presets_dir(env) / f"{name}.yaml"


def _check_name(name: str) -> None:
    if not re.match(NAME_PATTERN, name):
        raise UsageError(f"{name!r} is not a preset name: use lowercase letters, digits, '-', '.', '_' (e.g. my-4090).")


def _renamed_text(loaded: PresetFile, new: str) -> str | None:
    """The source text with `name:` replaced and `based_on:` set, keeping comments; None if unsure."""
    lines = loaded.text.splitlines(keepends=True)
    name_line = loaded.lines.get(("name",))
    if name_line is None:
        return None
    index = name_line - 1
    if not lines[index].startswith("name:"):
        return None
    lines[index] = f"name: {new}\n"
    if lines and lines[0].startswith("# Built-in preset"):
        lines[0] = f"# Your preset, copied from {loaded.preset.name!r}.\n"
    based_line = loaded.lines.get(("based_on",))
    origin = loaded.preset.based_on or loaded.preset.name
    if based_line is not None and lines[based_line - 1].startswith("based_on:"):
        lines[based_line - 1] = f"based_on: {origin}\n"
    elif based_line is None:
        lines.insert(index + 1, f"based_on: {origin}\n")
    else:
        return None
    return "".join(lines)


def copy_preset(
    name: str, new: str, host: HostCapabilities, *, force: bool = False, env: Mapping[str, str] | None = None
) -> tuple[WriteResult, str | None]:
    """Copy preset `name` to the user folder as `new`; returns the write and a note (shadowing)."""
    _check_name(new)
    source = resolve(name, host, env)
    loaded = source.require()
    target = user_preset_path(new, env)
    if target.exists() and not force:
        raise UsageError(f"{target}: a user preset {new!r} already exists; choose another name or pass --force.")
    text = _renamed_text(loaded, new)
    if text is None:
        data = preset_data(loaded.preset)
        data["name"] = new
        data["based_on"] = loaded.preset.based_on or loaded.preset.name
        text = dump_preset(Preset.model_validate(data))
    load_preset_text(text, str(target), host)  # the copy must load: never write a broken preset
    written = atomic_write(target, text)
    note = None
    if any(e.name == new and e.origin == "builtin" for e in builtin_entries(host)):
        note = f"{new!r} has the name of a built-in preset: yours shadows it from now on."
    return written, note


def save_user_preset(preset: Preset, host: HostCapabilities, env: Mapping[str, str] | None = None) -> WriteResult:
    """Write `preset` to the user folder (validated first; an existing file is backed up)."""
    _check_name(preset.name)
    target = user_preset_path(preset.name, env)
    text = dump_preset(preset)
    load_preset_text(text, str(target), host)
    return atomic_write(target, text)


# -- showing and diffing -----------------------------------------------------------------------------


def _comment(text: str, indent: str = "") -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in textwrap.wrap(text, width=96 - len(indent))] or [f"{indent}#"]


def show_text(build: PresetBuild, origin_label: str = "") -> str:
    """The YAML the preset writes, each key preceded by its explanation, framed by comments
    (title, description, targets, env, training defaults, notes): valid YAML as a whole."""
    preset = build.preset
    out: list[str] = [f"# {preset.name}: {preset.title}" + (f"  [{origin_label}]" if origin_label else "")]
    out += _comment(preset.description)
    out.append(f"# Targets: {preset.hardware.describe()}")
    if "hardware" in preset.explanations:
        out += _comment(preset.explanations["hardware"])
    out.append("#")
    text = dump_config(build.config)
    lines = key_lines(text)
    by_line = {line: ".".join(path) for path, line in lines.items()}
    for number, line in enumerate(text.splitlines(), 1):
        key = by_line.get(number)
        if key and key in preset.explanations:
            indent = line[: len(line) - len(line.lstrip())]
            out += _comment(preset.explanations[key], indent)
        out.append(line)
    if preset.env:
        out.append("#")
        out.append("# Launch environment (set before `accelerate launch`; `sftplay-tui launch` sets them):")
        for name, value in preset.env.items():
            out.append(f"#   {name}={value}")
            if name in preset.explanations:
                out += [f"#     {line}" for line in textwrap.wrap(preset.explanations[name], width=88)]
    t = preset.training
    out.append("#")
    out.append(
        f"# Training defaults: per-device batch {t.per_device_train_batch_size}, gradient accumulation "
        f"{t.gradient_accumulation_steps}, gradient checkpointing {'on' if t.gradient_checkpointing else 'off'}, "
        f"max sequence length {t.max_seq_length}."
    )
    for field_name in type(t).model_fields:
        if field_name in preset.explanations:
            out += _comment(f"{field_name}: {preset.explanations[field_name]}")
    for note in preset.notes:
        out.append("#")
        out += _comment(f"Note: {note}")
    for item in build.warnings:
        out += _comment(f"warning: {item.render()}")
    return "\n".join(out) + "\n"


def diff_against(build: PresetBuild, path: Path) -> tuple[str, bool]:
    """(unified diff from the file at `path` to what the preset writes, whether a file exists)."""
    from tui.core.accelerate_version import installable

    old = read_existing(path)
    text = dump_config(installable(build.config)[0], path)  # what writing it would write
    return unified_diff(old, text, path), old is not None


def diff_presets(origin: Preset | None, edited: Preset | Mapping[str, Any], label: str = "origin") -> str:
    """Diff of two presets as their files would be written (what the editor shows); `edited` may
    be raw preset data that does not validate yet."""
    import difflib

    before = dump_preset(origin).splitlines(keepends=True) if origin is not None else []
    after_text = dump_preset(edited) if isinstance(edited, Preset) else dump_data(edited)
    name = origin.name if origin is not None else "new"
    new_name = edited.name if isinstance(edited, Preset) else str(edited.get("name", "edited"))
    return "".join(
        difflib.unified_diff(
            before, after_text.splitlines(keepends=True), fromfile=f"{name} ({label})", tofile=f"{new_name} (edited)"
        )
    )


__all__ = [
    "PresetEntry",
    "PresetError",
    "UnknownPreset",
    "copy_preset",
    "diff_against",
    "diff_presets",
    "discover",
    "dump_preset",
    "resolve",
    "save_user_preset",
    "shadow_note",
    "show_text",
]
