"""What `sftplay-tui launch` prints while it follows a run: logs, a progress line on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.support.runs import make_finished_run
from tui.commands.launch import attach


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_metric_lines_become_a_progress_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_finished_run(tmp_path, failed=False)
    out = Terminal()
    assert attach(path, grace_s=1.0, out=out) == 0
    text = out.getvalue()
    assert "SFTPLAY_METRIC" not in text
    assert "[rank1]:step 10 rank 1 batch ok" in text
    last = text.splitlines()[-1]  # the progress line stays below the log lines
    assert last.startswith("[##########----------] step 10/20 50% loss 1.9359")
    assert "succeeded" in capsys.readouterr().err


def test_piped_output_is_the_log_as_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_finished_run(tmp_path, failed=True)
    out = io.StringIO()
    assert attach(path, grace_s=1.0, out=out) == 1
    assert out.getvalue() == (path / "output.log").read_text()
    err = capsys.readouterr().err
    assert "failed" in err and "rank 1 exited with code 1: RuntimeError: CUDA out of memory (simulated)" in err
