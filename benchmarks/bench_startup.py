"""Start-up: process start -> first question on screen, sftplay-tui vs `accelerate config`.

Both run in a real tmux pane (120x40); the clock stops when the first question's text appears.
Targets (issue 3): sftplay-tui under 0.5 s on a 2-core machine and under a fifth of accelerate's time.
Run: `.venv/bin/python benchmarks/bench_startup.py [runs]`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tmux import median_time  # noqa: E402

BIN = Path(sys.executable).parent
NEEDLE = "In which compute environment are you running?"


BARE_TEXTUAL = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class Bare(App):\n"
    "    def compose(self):\n"
    f"        yield Static({NEEDLE!r})\n"
    "Bare().run()\n"
)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as tmp:
        env = {"HF_HOME": tmp}
        ours, ours_all = median_time([str(BIN / "sftplay-tui"), "config"], NEEDLE, runs, env)
        theirs, theirs_all = median_time(
            [str(BIN / "accelerate"), "config", "--config_file", str(Path(tmp) / "x.yaml")], NEEDLE, runs, env
        )
        # The floor: a Textual app that shows nothing but that line, on the same machine.
        bare, bare_all = median_time([sys.executable, "-c", BARE_TEXTUAL], NEEDLE, runs, env)
    print(f"runs per command: {runs}")
    for label, median, samples in (
        ("sftplay-tui config -> first question", ours, ours_all),
        ("accelerate config  -> first prompt  ", theirs, theirs_all),
        ("bare Textual app   -> the same line  ", bare, bare_all),
    ):
        print(f"{label}: median {median:.3f} s  (all: {', '.join(f'{s:.3f}' for s in samples)})")
    print(f"ratio sftplay/accelerate: {ours / theirs:.2f}  (target < 0.20; absolute target < 0.5 s)")


if __name__ == "__main__":
    main()
