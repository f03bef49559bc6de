"""`sftplay-tui write --preset NAME [--set key=value ...] [--config-file OUT]`: one step to a config.

Builds the preset through the question graph (the same YAML `accelerate config` writes for its
answers), applies `--set` (accelerate keys, dotted for nested), validates the result, backs up
any existing file and writes atomically; then prints the path, the environment the preset
recommends, and the warnings from checking the config against this machine. Imports neither
torch nor accelerate. Exit 2 on bad input (unknown preset: the available ones are listed).
"""

from __future__ import annotations

import argparse
import sys

ORDER = 15


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "write",
        help="write the accelerate config of a preset (with --set changes)",
        description=(
            "Write a preset's accelerate config to accelerate's default path (or --config-file). "
            "--set takes accelerate config keys, dotted for nested ones, e.g. --set num_processes=4 "
            "--set fsdp_config.fsdp_offload_params=true. An existing file is backed up first."
        ),
    )
    parser.add_argument("--preset", required=True, metavar="NAME", help="preset name (`sftplay-tui presets list`)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change an accelerate key")
    parser.add_argument("--config-file", metavar="OUT", help="where to write (default: accelerate's default path)")
    parser.add_argument("--hardware", metavar="SNAPSHOT.json", help="check against this gpu-info --json snapshot")
    parser.add_argument("--dry-run", action="store_true", help="print the YAML and the diff, write nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tui.commands._common import config_path, note_version_once, warn
    from tui.commands._presets_common import build_named, check_findings, hardware_record, print_located
    from tui.core.accelerate_config import dump_config
    from tui.core.accelerate_version import installable
    from tui.core.host import detect_host
    from tui.core.presets import diff_against, match_hardware, write_built

    note_version_once()
    host = detect_host()
    target = config_path(args.config_file)
    entry, build = build_named(args.preset, args.set, host)
    if args.dry_run:
        sys.stdout.write(dump_config(installable(build.config)[0], target))  # as write_preset writes it
        diff, _exists = diff_against(build, target)
        if diff:
            sys.stdout.write("\n" + diff)
    else:
        written = write_built(entry, build, target)
        for key in written.dropped:
            warn(f"the installed accelerate does not know `{key}`; left out of the file.")
        if written.result.backup:
            print(f"backed up {target} to {written.result.backup}")
        state = "written" if written.result.changed else "unchanged (same content)"
        print(f"accelerate configuration {state}: {written.result.path}")
    print_located(build.warnings)
    preset = build.preset
    if preset.env:
        exports = " ".join(f"{name}={value}" for name, value in preset.env.items())
        print(f"recommended environment (`sftplay-tui launch --preset {preset.name}` sets it): export {exports}")
    for text in preset.notes:
        print(f"note: {text}")
    record = hardware_record(args.hardware)
    match = match_hardware(preset.hardware, record)
    if match.ok is False:
        warn(f"preset {preset.name!r} is made for {preset.hardware.describe()}; {match.summary}.")
    findings = check_findings(build.config, record)
    if findings:
        where = f"snapshot {args.hardware}" if args.hardware else "this machine"
        warn(f"checked against {where}: {len(findings)} finding(s) (the file is written; fix before launching here):")
        for line in findings:
            warn("  " + line)
    return 0
