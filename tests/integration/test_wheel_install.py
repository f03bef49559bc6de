"""A wheel (a plain `pip install`, not the editable install of `make run`) carries everything.

The wheel is built from this checkout and installed into a fresh virtual environment whose
dependencies come from the test environment (a path entry, not an install), so the installed
`tui` package, not the checkout, answers: the built-in presets and the bundled training and
inference scripts must be found there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]


def test_an_installed_wheel_finds_its_presets_and_scripts(tmp_path: Path, cli_env: dict[str, str]) -> None:
    # Built from a copy: setuptools leaves build/ and *.egg-info in the folder it builds.
    source = tmp_path / "source"
    for name in ("tui", "training", "presets"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation"]
    built = _run([*pip_wheel, "-w", str(wheels)])
    assert built.returncode == 0, built.stderr[-3000:]
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)]).returncode == 0
    python = venv / "bin" / "python"
    paths = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    purelib = Path(paths.stdout.strip())
    # The dependencies (pyyaml, pydantic, rich...) from the test environment, after the venv's own.
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(wheels.glob("sftplay_tui-*.whl"))
    installed = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)]
    )
    assert installed.returncode == 0, installed.stderr[-3000:]

    env = {k: v for k, v in cli_env.items() if k != "PYTHONPATH"}
    env["PYTHONSAFEPATH"] = "1"  # not the working directory either: only the installed package
    where = _run([str(python), "-c", "import tui, training; print(tui.__file__); print(training.__file__)"], env=env)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(purelib)) for line in where.stdout.split()), where.stdout

    presets = _run([str(python), "-m", "tui", "presets", "list"], env=env, cwd=tmp_path)
    assert presets.returncode == 0, presets.stderr
    assert all(name in presets.stdout for name in ("cpu", "rtx4090-2x", "a100-4x", "h100-8x", "single-gpu"))
    target = tmp_path / "cfg.yaml"
    written = _run([str(python), "-m", "tui", "write", "--preset", "cpu", "--config-file", str(target)], env=env)
    assert written.returncode == 0, written.stderr
    assert yaml.safe_load(target.read_text())["distributed_type"] == "MULTI_CPU"
    scripts = _run(
        [
            str(python),
            "-c",
            "from tui.core.paths import bundled_training_script as t, bundled_inference_script as i; "
            "print(t().is_file(), i().is_file(), t())",
        ],
        env=env,
    )
    assert scripts.stdout.split()[:2] == ["True", "True"] and scripts.stdout.split()[2].startswith(str(purelib))
    assert os.path.commonpath([str(purelib), scripts.stdout.split()[2]]) == str(purelib)
