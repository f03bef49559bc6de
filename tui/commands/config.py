"""`sftplay-tui config`: accelerate's questions, headless (`--answers FILE`) or in the app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ORDER = 10


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "config",
        help="answer accelerate's questions (in the app, or replayed from --answers FILE)",
        description=(
            "Answer accelerate 1.15's `config` questions and write the same YAML it would. With "
            '--answers, replay typed answers from a JSON/YAML list (one string per prompt, "" for '
            "the default, menus by label); without it, open the wizard."
        ),
    )
    parser.add_argument("--answers", metavar="FILE", help="JSON or YAML list of typed answers")
    parser.add_argument("--config-file", metavar="OUT", help="where to write (default: accelerate's default path)")
    parser.add_argument("--dry-run", action="store_true", help="print the YAML and the diff, write nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.answers:
        from tui.cli import run_app

        return run_app(args.config_file, start="wizard")
    # Imported here, not at module level: every command module is imported to build --help.
    from tui.commands._common import config_path, note_version_once, warn
    from tui.core.accelerate_config import dump_config
    from tui.core.accelerate_version import installable
    from tui.core.answers import load_answers_file, replay_answers
    from tui.core.files import atomic_write, read_existing, unified_diff
    from tui.core.host import detect_host

    note_version_once()
    answers_path = Path(args.answers).expanduser()
    entries = load_answers_file(answers_path)

    def report(entry: int, title: str, text: str, reason: str) -> None:
        warn(f"{answers_path}: entry {entry} ({text!r}) for {title!r} not accepted: {reason} Asking again.")

    result = replay_answers(entries, detect_host(), on_reprompt=report, source=str(answers_path))
    if result.unused:
        warn(f"{answers_path}: {result.unused} entries left over after the last question (ignored).")
    target = config_path(args.config_file)
    config, dropped = installable(result.config)
    for key in dropped:
        warn(f"the installed accelerate does not know `{key}`; left out of the file.")
    text = dump_config(config, target)
    if args.dry_run:
        sys.stdout.write(text)
        diff = unified_diff(read_existing(target), text, target)
        if diff:
            sys.stdout.write("\n" + diff)
        return 0
    written = atomic_write(target, text)
    if written.backup:
        print(f"backed up {target} to {written.backup}")
    state = "written" if written.changed else "unchanged (same content)"
    print(f"accelerate configuration {state}: {written.path}")
    return 0
