"""Host detection mirrors accelerate's `_is_package_available`: importable AND installed with metadata."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tui.core.distributions import normalize


def _detect_with(path: Path, cli_env: dict[str, str]) -> str:
    code = "from tui.core.host import detect_host; h = detect_host(); print(h.deepspeed, h.fp8, h.transformers)"
    env = {**cli_env, "PYTHONPATH": f"{path}:{cli_env['PYTHONPATH']}"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def test_a_deepspeed_stub_with_metadata_counts_as_installed(tmp_path: Path, cli_env: dict[str, str]) -> None:
    # What the goldens' DS_STUB was: an empty package plus its dist-info.
    (tmp_path / "deepspeed").mkdir()
    (tmp_path / "deepspeed" / "__init__.py").write_text("")
    (tmp_path / "deepspeed-0.19.8.dist-info").mkdir()
    (tmp_path / "deepspeed-0.19.8.dist-info" / "METADATA").write_text("Name: deepspeed\nVersion: 0.19.8\n")
    assert _detect_with(tmp_path, cli_env).split()[0] == "True"


def test_a_package_folder_without_metadata_does_not(tmp_path: Path, cli_env: dict[str, str]) -> None:
    (tmp_path / "deepspeed").mkdir()
    (tmp_path / "deepspeed" / "__init__.py").write_text("")
    assert _detect_with(tmp_path, cli_env).split()[0] == "False"


def test_torchao_counts_for_fp8_only_from_0_6_1(tmp_path: Path, cli_env: dict[str, str]) -> None:
    (tmp_path / "torchao").mkdir()
    (tmp_path / "torchao" / "__init__.py").write_text("")
    (tmp_path / "torchao-0.5.0.dist-info").mkdir()
    assert _detect_with(tmp_path, cli_env).split()[1] == "False"
    (tmp_path / "torchao-0.5.0.dist-info").rename(tmp_path / "torchao-0.7.0.dist-info")
    assert _detect_with(tmp_path, cli_env).split()[1] == "True"


def test_names_normalize_like_pep_503() -> None:
    assert normalize("nvidia_ml.py") == normalize("NVIDIA-ML-py") == "nvidia-ml-py"
