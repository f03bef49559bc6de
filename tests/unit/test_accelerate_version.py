"""Another accelerate than 1.15: a note for the user, and keys it does not know left out of the file.

The end-to-end test puts a stand-in accelerate 1.10 first on the path: a `.dist-info` folder with
that version and a `config_args.py` whose `ClusterConfig` lacks fields 1.15 has, which is all the
version check reads (it never imports accelerate).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.support.cli import sftplay
from tui.core import accelerate_version
from tui.core.accelerate_version import keys_unknown_to_installed, matches, version_note

OLD_CONFIG_ARGS = """\
class BaseConfig:
    compute_environment: str
    distributed_type: str
    mixed_precision: str
    use_cpu: bool
    debug: bool


class ClusterConfig(BaseConfig):
    num_processes: int = -1
    machine_rank: int = 0
    num_machines: int = 1
    main_training_function: str = "main"
    rdzv_backend: str = "static"
    same_network: bool = False
    gpu_ids: str = None
    downcast_bf16: bool = False
    tpu_use_cluster: bool = False
    tpu_use_sudo: bool = False
    tpu_env: list = None
"""


def test_1_15_patch_releases_match_and_others_do_not() -> None:
    assert matches("1.15") and matches("1.15.0") and matches("1.15.2")
    assert not matches("1.1") and not matches("1.150.0") and not matches("1.10.0") and not matches(None)
    assert version_note("1.15.1") is None
    note = version_note("1.10.0")
    assert note is not None and "accelerate 1.10.0 is installed" in note and "left out" in note


def test_no_accelerate_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accelerate_version, "installed_version", lambda: None)
    note = version_note()
    assert note is not None and "not installed" in note and "pip install" in note


def test_the_installed_1_15_knows_every_key_we_write() -> None:
    fields = accelerate_version.cluster_config_fields()
    assert fields is not None and {"enable_cpu_affinity", "fsdp_config", "parallelism_config"} <= fields
    assert keys_unknown_to_installed({"enable_cpu_affinity": False, "parallelism_config": {}}) == []


def test_keys_an_older_accelerate_lacks_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accelerate_version, "installed_version", lambda: "1.10.0")
    monkeypatch.setattr(accelerate_version, "cluster_config_fields", lambda: frozenset({"num_processes"}))
    assert keys_unknown_to_installed({"num_processes": 2, "parallelism_config": {}}) == ["parallelism_config"]
    # SageMaker configs load through another class: nothing is dropped from them.
    assert keys_unknown_to_installed({"compute_environment": "AMAZON_SAGEMAKER", "x": 1}) == []


def _old_accelerate(root: Path) -> Path:
    site = root / "site"
    package = site / "accelerate" / "commands" / "config"
    package.mkdir(parents=True)
    for folder in (site / "accelerate", site / "accelerate" / "commands", package):
        (folder / "__init__.py").write_text("")
    (package / "config_args.py").write_text(OLD_CONFIG_ARGS)
    dist = site / "accelerate-1.10.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: accelerate\nVersion: 1.10.0\n")
    return site


def test_write_with_an_older_accelerate_warns_and_leaves_its_unknown_keys_out(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    site = _old_accelerate(tmp_path)
    env = {**cli_env, "PYTHONPATH": str(site) + os.pathsep + cli_env["PYTHONPATH"]}
    target = tmp_path / "out.yaml"
    argv = ["write", "--preset", "cpu", "--config-file", str(target)]
    result = sftplay(argv, env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "accelerate 1.10.0 is installed; these questions mirror accelerate 1.15" in result.stderr
    assert "does not know `enable_cpu_affinity`; left out of the file" in result.stderr
    written = yaml.safe_load(target.read_text())
    assert "enable_cpu_affinity" not in written and written["num_processes"] == 2
    # The preview shows what would be written: the same file, nothing to change.
    preview = sftplay([*argv, "--dry-run"], env, timeout=60)
    assert preview.returncode == 0 and "enable_cpu_affinity" not in preview.stdout
    assert "num_processes: 2" in preview.stdout and "\n@@" not in preview.stdout  # no diff: nothing changes
    # With the real 1.15 the same command keeps the key and says nothing about versions.
    again = sftplay(argv, cli_env, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "installed" not in again.stderr and "enable_cpu_affinity" in yaml.safe_load(target.read_text())
