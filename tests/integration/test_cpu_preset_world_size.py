"""The `cpu` preset really starts 2 connected ranks (world size 2), launched the way
`sftplay-tui launch` does: the preset's written config plus the launcher's CPU recipe."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from tui.core.accelerate_config import dump_config
from tui.core.host import detect_host
from tui.core.launch import LaunchRequest, plan_launch
from tui.core.presets import build_preset, resolve

# One write per line: print() makes two writes, so two ranks' lines could merge.
SCRIPT = """\
import sys
from accelerate import Accelerator
accelerator = Accelerator()
sys.stdout.write(f"WORLD rank={accelerator.process_index} size={accelerator.num_processes} "
                 f"type={accelerator.distributed_type.value}\\n")
sys.stdout.flush()
accelerator.wait_for_everyone()
"""


def _with_free_port(argv: tuple[str, ...] | list[str]) -> list[str]:
    """The same command on a free port: other test runs on a shared machine may hold 29500."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    words = list(argv)
    at = words.index("launch") + 1
    return [*words[:at], "--main_process_port", str(port), *words[at:]]


@pytest.mark.slow
def test_cpu_preset_runs_two_connected_ranks(tmp_path: Path) -> None:
    pytest.importorskip("accelerate")
    host = detect_host()
    build = build_preset(resolve("cpu", host).require(), host)
    config_file = tmp_path / "cpu.yaml"
    config_file.write_text(dump_config(build.config))
    script = tmp_path / "world.py"
    script.write_text(SCRIPT)
    plan = plan_launch(
        LaunchRequest(config_file=config_file, script=script, cwd=tmp_path, rank_prefixes=False, env=build.env),
        config=build.config,
        run_dir=tmp_path / "run",
    )
    # The preset declares what the launcher applies: the multi-process path on the CPU.
    assert plan.env["ACCELERATE_USE_CPU"] == "true" and "--multi_gpu" in plan.argv
    env = {**os.environ, **plan.env}
    done = subprocess.run(
        _with_free_port(plan.argv), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    worlds = sorted(re.findall(r"WORLD rank=(\d) size=(\d) type=(\w+)", output))
    assert worlds == [("0", "2", "MULTI_CPU"), ("1", "2", "MULTI_CPU")], output[-3000:]

    # Why the recipe matters: accelerate launched plainly on the same file runs ONE process.
    plain = [plan.argv[0], "launch", "--config_file", str(config_file), str(script)]
    alone = subprocess.run(
        _with_free_port(plain), env=dict(os.environ), cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert re.findall(r"WORLD rank=(\d) size=(\d)", alone.stdout + alone.stderr) == [("0", "1")]
