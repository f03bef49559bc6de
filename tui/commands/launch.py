"""`sftplay-tui launch`: check, start and follow a training run headless; Ctrl+C stops it cleanly.

`--infer` selects the bundled batch inference (training/infer.py) as the script; nothing else
changes (its arguments go after `--`, its progress line counts records instead of steps).

Logs go to stdout as they come (rank-prefixed for multi-process runs); on a terminal a progress
line sits at the bottom and the raw SFTPLAY_METRIC lines are hidden (they stay in the run's log
and metrics.jsonl). Messages about the run go to stderr. The exit status is the run's: 0 when it
succeeded, the launcher's exit code when it failed (128+N for a signal), 130 when stopped by
Ctrl+C, 2 for bad input (including failed pre-launch checks), 1 when the user declines.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TextIO

from tui.commands._common import warn
from tui.core.errors import UsageError

ORDER = 40


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "launch",
        help="launch a training run with accelerate and follow it (Ctrl+C stops it)",
        description=(
            "Check the accelerate config against this machine, then run `accelerate launch` with it in "
            "its own session, recording the run under $XDG_STATE_HOME/sftplay-tui/runs/. Training "
            "arguments go after `--`. The script defaults to the bundled training/sft_train.py; --infer "
            "runs the bundled batch inference (training/infer.py) instead."
        ),
        epilog=(
            "examples: `sftplay-tui launch --config-file cfg.yaml -- --max_steps 20`; "
            "`sftplay-tui launch --infer -- --use_accelerate --data eval.jsonl --output answers.jsonl`"
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config-file", metavar="F", help="accelerate config (default: accelerate's default file)")
    source.add_argument("--preset", metavar="P", help="build the config from a preset instead")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--script", metavar="S", help="training script (default: the bundled training/sft_train.py)")
    target.add_argument("-m", "--module", metavar="MODULE", help="run a Python module instead of a script")
    target.add_argument(
        "--infer",
        action="store_true",
        help="run the bundled batch inference, training/infer.py (its arguments after --: --use_accelerate "
        "--data FILE --output OUT.jsonl ...); progress shows records done, records/s and ETA",
    )
    parser.add_argument("--detach", action="store_true", help="start the run and return; follow it with `logs`")
    parser.add_argument("--yes", "-y", action="store_true", help="launch despite warnings without asking")
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="on Ctrl+C: seconds between SIGINT, SIGTERM and SIGKILL (default 5)",
    )
    parser.add_argument(
        "--no-rank-prefixes",
        action="store_true",
        help="run the bare accelerate command (no --tee/--role/--log_dir, so no [rankN]: prefixes)",
    )
    parser.add_argument("training_args", nargs="*", metavar="TRAINING_ARGS", help="arguments after --")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tui.core.launch import (
        LaunchChoices,
        LaunchRequest,
        blocking,
        check_launch,
        default_infer_script,
        default_script,
        plan_launch,
        preset_config_file,
        recall_choices,
        remember_choices,
        resolve_config,
        warnings_of,
    )
    from tui.core.runs import start_run

    if args.grace < 0:
        raise UsageError("--grace must be 0 or more seconds.")
    preset_env: dict[str, str] = {}
    preset_defaults: list[str] = []
    if args.preset:
        config, preset_env, preset_defaults = preset_config_file(args.preset)
    else:
        config = resolve_config(args.config_file)
    script = Path(args.script).expanduser() if args.script else None
    if args.infer:
        script = default_infer_script()
        if not script.is_file():
            raise UsageError(f"the bundled inference script {script} is missing.")
    if script is None and not args.module:
        script = default_script()
        if not script.is_file():
            raise UsageError(f"the bundled training script {script} is missing; pass --script or -m MODULE.")
    run_args = list(args.training_args)
    if args.preset and script == default_script():
        # The preset's batch size, accumulation, checkpointing and sequence length come first, so
        # anything given after `--` overrides them (the trainer takes the last occurrence).
        warn(f"preset {args.preset} training defaults: {' '.join(preset_defaults)}")
        run_args = preset_defaults + run_args
    request = LaunchRequest(
        config_file=config,
        script=script,
        module=args.module,
        args=tuple(run_args),
        cwd=Path.cwd(),
        rank_prefixes=not args.no_rank_prefixes,
        env=preset_env,
    )
    plan = plan_launch(request)
    findings = check_launch(plan)
    for finding in findings:
        if finding.severity != "info" or sys.stderr.isatty():
            warn(finding.render())
    errors = blocking(findings)
    if errors:
        raise UsageError(f"{len(errors)} error(s) in the pre-launch checks (above); nothing launched.")
    if warnings_of(findings) and not args.yes and sys.stdin.isatty():
        answer = input(f"Launch despite {len(warnings_of(findings))} warning(s)? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            warn("not launched.")
            return 1
    if args.infer:
        # An inference run keeps the remembered training choices; only its own arguments change.
        choices = recall_choices() or LaunchChoices()
        choices.infer_args = list(args.training_args)
    else:
        choices = LaunchChoices(
            config_file=None if args.preset else str(config),
            preset=args.preset,
            script=str(args.script) if args.script else None,
            module=args.module,
            args=list(args.training_args),
            infer_args=(recall_choices() or LaunchChoices()).infer_args,
        )
    remember_choices(choices)
    warn(f"run {plan.run_dir.name}: {plan.display}")
    # Forked, not a new interpreter: this process has no threads, and it saves ~0.1-0.2 s.
    started = start_run(plan, fork=True)
    if args.detach:
        print(started.id)
        warn(
            f"detached; follow it with `sftplay-tui logs {started.id} --follow`, "
            f"stop it with `sftplay-tui stop {started.id}`."
        )
        return 0
    return attach(started.path, grace_s=args.grace, out=sys.stdout)


class _Interrupts:
    """Counts Ctrl+C presses while stopping (a second one skips the grace periods)."""

    def __init__(self) -> None:
        self.count = 0

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1:
            raise KeyboardInterrupt
        warn("stopping now (skipping the grace period)...")


def attach(run_dir: Path, *, grace_s: float, out: TextIO) -> int:
    """Stream the run's log to `out` until it ends; Ctrl+C stops it. Returns the exit status."""
    from tui.core.follow import follow
    from tui.core.metrics import MetricsState, parse_metric_line, progress_line
    from tui.core.process import gpu_pids_from_probe, reap
    from tui.core.runs import load_run, stop_run, wait_final

    tty = out.isatty()
    state = MetricsState()
    shown = ""
    interrupts = _Interrupts()
    previous = signal.signal(signal.SIGINT, interrupts.handler)
    interrupted = False
    try:
        try:
            for batch in follow(run_dir):
                visible: list[str] = []
                for line in batch:
                    record = parse_metric_line(line) if "SFTPLAY_METRIC" in line else None
                    if record is not None:
                        state.feed(record)
                        if tty:
                            continue
                    visible.append(line)
                if tty:
                    if shown:
                        out.write("\r\x1b[2K")
                    if visible:
                        out.write("\n".join(visible) + "\n")
                    shown = progress_line(state.snapshot())
                    out.write(shown)
                elif visible:
                    out.write("\n".join(visible) + "\n")
                out.flush()
        except KeyboardInterrupt:
            interrupted = True
        if tty and shown:
            out.write("\n")
            out.flush()
        if interrupted:
            warn("Ctrl+C: stopping the run (SIGINT, then SIGTERM, then SIGKILL; Ctrl+C again to hurry)...")
            report = stop_run(
                load_run(run_dir),
                grace_s=grace_s,
                gpu_pids=gpu_pids_from_probe(),
                hurry=lambda: interrupts.count > 1,
                by="Ctrl+C in sftplay-tui launch",
            )
            warn(report.summary)
    finally:
        signal.signal(signal.SIGINT, previous)
    final = wait_final(load_run(run_dir), timeout_s=30.0)
    if final.status.supervisor is not None:
        reap(final.status.supervisor.pid)  # our forked child: it exits right after the final status
    return report_end(final, interrupted)


def report_end(final: object, interrupted: bool) -> int:
    from tui.core.metrics import format_duration, signal_name
    from tui.core.runs import STOPPED, SUCCEEDED, Run

    assert isinstance(final, Run)
    took = format_duration(final.duration())
    code = final.exit_code
    if final.state == SUCCEEDED:
        warn(f"run {final.id} succeeded in {took}.")
        return 0
    if final.state == STOPPED or interrupted:
        warn(f"run {final.id} stopped after {took} (launcher exit code {code}).")
        return 130
    failure = final.status.failure
    if failure is not None:
        warn(f"run {final.id} failed after {took}: {failure.headline}.")
    else:
        warn(
            f"run {final.id} ended {final.state} after {took}" + (f" (exit code {code})." if code is not None else ".")
        )
    if code is None:
        return 1
    if code < 0:
        return 128 + (-code) if signal_name(code) else 1
    return code or 1
