"""`sftplay-tui presets list|show|cp|validate|diff`: the hardware presets, headless.

Exit status: 0 done; 1 `validate` found errors in the preset; 2 bad input (unknown preset,
unreadable file, bad --set: one line per problem on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.core.host import HostCapabilities

ORDER = 20


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "presets",
        help="list, show, copy, validate and diff hardware presets",
        description=(
            "Presets are known-good accelerate configs for a kind of machine (2x RTX 4090, 4x A100, "
            "8x H100, FSDP variants, one GPU, CPU). Built-ins ship in presets/; yours live in "
            "$XDG_CONFIG_HOME/sftplay-tui/presets and shadow a built-in of the same name. "
            "Write one with `sftplay-tui write --preset NAME`."
        ),
    )
    commands = parser.add_subparsers(dest="presets_command", metavar="ACTION")

    listing = commands.add_parser("list", help="each preset, its targets, and whether it matches this machine")
    listing.add_argument("--hardware", metavar="SNAPSHOT.json", help="match against a gpu-info --json snapshot")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(run=run_list)

    show = commands.add_parser("show", help="the YAML a preset writes, with its explanations")
    show.add_argument("name")
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change an accelerate key")
    show.set_defaults(run=run_show)

    cp = commands.add_parser("cp", help="copy a preset into your presets folder under a new name")
    cp.add_argument("name")
    cp.add_argument("new")
    cp.add_argument("--force", action="store_true", help="replace your preset of that name (a backup is kept)")
    cp.set_defaults(run=run_cp)

    validate = commands.add_parser("validate", help="check a preset file; exit 1 if it has errors")
    validate.add_argument("file")
    validate.set_defaults(run=run_validate)

    diff = commands.add_parser("diff", help="what writing the preset would change in the config file")
    diff.add_argument("name")
    diff.add_argument("--config-file", metavar="F", help="compare with F (default: accelerate's default path)")
    diff.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change an accelerate key")
    diff.set_defaults(run=run_diff)

    parser.set_defaults(run=run_list, hardware=None, json=False)


def _host() -> HostCapabilities:
    from tui.core.host import detect_host

    return detect_host()


def run_list(args: argparse.Namespace) -> int:
    from tui.commands._presets_common import hardware_record
    from tui.core.presets import discover, match_hardware

    host = _host()
    entries = discover(host)
    record = hardware_record(args.hardware)
    rows: list[dict[str, object]] = []
    for entry in entries:
        preset = entry.preset
        if preset is None:
            first = str(entry.error).splitlines()[0] if entry.error else "cannot be loaded"
            rows.append(
                {
                    "name": entry.name,
                    "origin": entry.origin_label,
                    "title": "(broken)",
                    "targets": "",
                    "match": None,
                    "why": first,
                }
            )
            continue
        match = match_hardware(preset.hardware, record)
        rows.append(
            {
                "name": entry.name,
                "origin": entry.origin_label,
                "title": preset.title,
                "targets": preset.hardware.describe(),
                "match": match.ok,
                "why": "; ".join(match.reasons or match.notes),
            }
        )
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    where = f"snapshot {args.hardware}" if args.hardware else "this machine"
    name_w = max([len(str(r["name"])) for r in rows] + [4])
    title_w = max([len(str(r["title"])) for r in rows] + [5])
    target_w = max([len(str(r["targets"])) for r in rows] + [7])
    print(f"{'NAME':<{name_w}}  {'TITLE':<{title_w}}  {'TARGETS':<{target_w}}  {where.upper()}")
    for row in rows:
        if row["title"] == "(broken)":
            verdict = f"broken: {row['why']}"
        elif row["match"] is None:
            verdict = "hardware unknown"
        else:
            verdict = ("yes" if row["match"] else "no") + (f" ({row['why']})" if row["why"] else "")
        origin = "" if row["origin"] == "built-in" else f"  [{row['origin']}]"
        print(
            f"{row['name']!s:<{name_w}}  {row['title']!s:<{title_w}}  {row['targets']!s:<{target_w}}  {verdict}{origin}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from tui.commands._presets_common import build_named
    from tui.core.presets import show_text

    entry, build = build_named(args.name, args.set, _host())
    sys.stdout.write(show_text(build, entry.origin_label))
    return 0


def run_cp(args: argparse.Namespace) -> int:
    from tui.commands._common import warn
    from tui.core.presets import copy_preset

    written, note = copy_preset(args.name, args.new, _host(), force=args.force)
    if written.backup:
        print(f"backed up {written.path} to {written.backup}")
    print(f"copied preset {args.name!r} to {written.path}")
    if note:
        warn(note)
    print(f"edit it, then: sftplay-tui presets validate {written.path}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from tui.core.presets import PresetError, build_preset, load_preset_file

    host = _host()
    path = Path(args.file).expanduser()
    try:
        loaded = load_preset_file(path, host)
        build = build_preset(loaded, host)
    except PresetError as exc:
        for line in exc.located:
            print(line.render())
        count = len(exc.located)
        print(f"{path}: {count} error{'s' if count != 1 else ''}: not a usable preset.")
        return 1
    for item in build.warnings:
        print(item.render())
    if path.stem != loaded.preset.name:
        print(f"{path}: note: saved in a presets folder it must be named {loaded.preset.name}.yaml.")
    summary = f"{len(build.warnings)} warning(s)" if build.warnings else "no problems"
    print(f"ok: {path} is a valid preset {loaded.preset.name!r} ({summary}).")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from tui.commands._common import config_path
    from tui.commands._presets_common import build_named
    from tui.core.presets import diff_against

    _entry, build = build_named(args.name, args.set, _host())
    target = config_path(args.config_file)
    diff, exists = diff_against(build, target)
    if not exists:
        print(f"# {target} does not exist yet; writing preset {args.name!r} would create it:")
    if diff:
        sys.stdout.write(diff)
    else:
        print(f"{target} already holds exactly what preset {args.name!r} writes.")
    return 0
