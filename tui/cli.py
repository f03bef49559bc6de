"""`sftplay-tui`: the app with no arguments, headless subcommands otherwise.

Subcommands live in `tui/commands/`, one module each, discovered at start-up: a module defines
`ORDER` (its place in --help) and `register(subparsers)`, which adds its parser and sets
`run=<function(args) -> int>`. Every command module is imported to build the parser, so at module
level they import only argparse-level things; everything else (pydantic, rich, the core's heavier
modules, and certainly torch/accelerate) is imported inside `run`. A test enforces this.

Every `UsageError` becomes one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from tui import __version__
from tui.core.errors import UsageError


def _command_names() -> list[str]:
    import tui.commands as package

    return [info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_")]


def _command_modules(only: str | None = None) -> list[ModuleType]:
    """The command modules, in --help order; with `only`, just the module of that command."""
    names = _command_names()
    if only is not None and only.replace("-", "_") in names:
        names = [only.replace("-", "_")]
    modules = [importlib.import_module(f"tui.commands.{name}") for name in names]
    modules = [m for m in modules if hasattr(m, "register")]
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sftplay-tui",
        description=(
            "Set up, check and run multi-GPU fine-tuning with Hugging Face accelerate. "
            "With no command, opens the terminal app."
        ),
    )
    parser.add_argument("--version", action="version", version=f"sftplay-tui {__version__}")
    parser.add_argument(
        "--config-file",
        dest="app_config_file",
        metavar="PATH",
        help="(app) the accelerate config to write and launch with (default: accelerate's default path)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules(command):
        module.register(subparsers)
    return parser


def _requested_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (before any option), to register only its parser.

    Building every command's parser means importing every command module; for `sftplay-tui config`
    that is wasted start-up time. Anything unusual (no command, options first, help) gets them all.
    """
    if argv and not argv[0].startswith("-") and "-h" not in argv and "--help" not in argv:
        return argv[0]
    return None


def run_app(config_file: str | None = None, start: str | None = None) -> int:
    from tui.app.app import SftplayApp

    app = SftplayApp(config_file=config_file, start=start)
    app.run()
    return int(app.return_code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if not words:
        # No command: the app, without building any parser.
        return run_app(None)
    parser = build_parser(_requested_command(words))
    args = parser.parse_args(words)
    try:
        if args.command is None:
            return run_app(args.app_config_file)
        return int(args.run(args))
    except UsageError as exc:
        print(f"sftplay-tui: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sftplay-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
