"""Start-up is sacred: the CLI, the app module and headless commands never import the heavy stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "accelerate", "trl", "peft", "datasets")
GOLDENS = Path(__file__).resolve().parents[1] / "fixtures" / "accelerate_goldens"

PROBE = """
import runpy, sys, json
sys.argv = {argv!r}
try:
    runpy.run_module("tui", run_name="__main__")
except SystemExit:
    pass
heavy = [m for m in {heavy!r} if m in sys.modules]
sys.stderr.write("\\nHEAVY=" + json.dumps(heavy) + "\\n")
"""


def heavy_modules_after(argv: list[str], env: dict[str, str]) -> list[str]:
    code = PROBE.format(argv=["sftplay-tui", *argv], heavy=HEAVY)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    line = [ln for ln in result.stderr.splitlines() if ln.startswith("HEAVY=")][-1]
    return json.loads(line.removeprefix("HEAVY="))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        [
            "config",
            "--answers",
            str(GOLDENS / "a_ddp_2gpu_bf16.answers.json"),
            "--config-file",
            "{tmp}/c.yaml",
        ],
    ],
)
def test_headless_commands_stay_light(argv: list[str], tmp_path: Path, cli_env: dict[str, str]) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert heavy_modules_after(argv, cli_env) == []


def test_app_module_stays_light(cli_env: dict[str, str]) -> None:
    code = f"import sys, tui.app.app, tui.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_building_the_parser_imports_nothing_heavy(cli_env: dict[str, str]) -> None:
    """Every command module is imported for --help and for the app: they must stay argparse-light."""
    watched = ("pydantic", "rich.console", "textual", "psutil", "pynvml", *HEAVY)
    code = f"import sys, tui.cli; tui.cli.build_parser(); print(sorted(m for m in {watched!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_wizards_hardware_hints_do_not_load_the_config_schema(cli_env: dict[str, str]) -> None:
    """The app imports the hints on its UI thread when the hardware arrives; pydantic (the config
    schema, ~0.2 s) is not needed there."""
    code = "import sys, tui.core.hints; print('pydantic' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
