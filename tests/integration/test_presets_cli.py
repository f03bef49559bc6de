"""`sftplay-tui presets ...` and `write --preset` as a user runs them: exit codes, output, files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.cli import sftplay

HEAVY = ("torch", "transformers", "accelerate")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return sftplay(list(args), env, timeout=120)


def snapshot(tmp_path: Path, gpus: int, name: str = "NVIDIA GeForce RTX 4090", cc: list[int] | None = None) -> Path:
    data = {
        "schema": "sftplay-hardware/1",
        "source": "nvml",
        "gpus": [
            {
                "index": i,
                "name": name,
                "memory_total_mib": 24564,
                "memory_used_mib": 0,
                "compute_capability": cc or [8, 9],
            }
            for i in range(gpus)
        ],
        "p2p": [[None if i == j else False for j in range(gpus)] for i in range(gpus)],
        "cpu": {"logical_cores": 16},
        "memory_total_mib": 65536,
        "env": {},
    }
    path = tmp_path / f"hw{gpus}.json"
    path.write_text(json.dumps(data))
    return path


def test_write_preset_writes_loads_and_backs_up(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "acc" / "config.yaml"
    first = cli(cli_env, "write", "--preset", "h100-8x", "--config-file", str(out))
    assert first.returncode == 0, first.stderr
    assert f"accelerate configuration written: {out}" in first.stdout
    config = yaml.safe_load(out.read_text())
    assert (config["distributed_type"], config["num_processes"], config["mixed_precision"]) == ("MULTI_GPU", 8, "bf16")
    second = cli(
        cli_env,
        "write",
        "--preset",
        "a100-4x-fsdp",
        "--set",
        "fsdp_config.fsdp_offload_params=true",
        "--config-file",
        str(out),
    )
    assert second.returncode == 0, second.stderr
    assert "backed up" in second.stdout
    assert yaml.safe_load(out.read_text())["fsdp_config"]["fsdp_offload_params"] is True
    assert len(list(out.parent.glob("config.yaml.*.bak"))) == 1


def test_write_to_the_default_path_prints_env_and_checks(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = cli(cli_env, "write", "--preset", "rtx4090-2x", "--hardware", str(snapshot(tmp_path, 2)))
    assert result.returncode == 0, result.stderr
    default = Path(cli_env["XDG_CACHE_HOME"]) / "huggingface" / "accelerate" / "default_config.yaml"
    assert str(default) in result.stdout and default.exists()
    assert "export NCCL_P2P_DISABLE=1 NCCL_IB_DISABLE=1" in result.stdout
    assert "does not match" not in result.stderr
    # The same preset against a machine with one GPU: written, with the reason it will not run there.
    one = cli(cli_env, "write", "--preset", "rtx4090-2x", "--hardware", str(snapshot(tmp_path, 1)))
    assert one.returncode == 0
    assert "needs 2 RTX 4090 GPU(s); 1 qualify" in one.stderr


def test_unknown_preset_exits_2_listing_the_available(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "c.yaml"
    result = cli(cli_env, "write", "--preset", "rtx4090", "--config-file", str(out))
    assert result.returncode == 2
    assert "unknown preset 'rtx4090'" in result.stderr and "Available: a100-4x" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        (["num_procesess=4"], "Did you mean `num_processes`?"),
        (["num_processes=two"], "whole number"),
        (["gpu_ids=0,1", "num_processes=3"], "3 process(es)"),
    ],
)
def test_bad_set_exits_2_and_writes_nothing(
    cli_env: dict[str, str], tmp_path: Path, sets: list[str], words: str
) -> None:
    out = tmp_path / "c.yaml"
    args = [a for s in sets for a in ("--set", s)]
    result = cli(cli_env, "write", "--preset", "rtx4090-2x", *args, "--config-file", str(out))
    assert result.returncode == 2, result.stdout
    assert words in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_write_preset_imports_neither_torch_nor_accelerate(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = str(tmp_path / "c.yaml")
    code = (
        "import sys\n"
        f"sys.argv = ['sftplay-tui', 'write', '--preset', 'a100-4x-fsdp', '--config-file', {out!r}]\n"
        "from tui.cli import main\n"
        "rc = main()\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy, rc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, timeout=120)
    assert "HEAVY [] 0" in result.stdout, result.stdout + result.stderr
    assert (tmp_path / "c.yaml").exists()


def test_presets_list_and_json(cli_env: dict[str, str], tmp_path: Path) -> None:
    listing = cli(cli_env, "presets", "list", "--hardware", str(snapshot(tmp_path, 2)))
    assert listing.returncode == 0, listing.stderr
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
    assert "yes" in lines["rtx4090-2x"] and "no (" in lines["a100-4x"] and "yes" in lines["cpu"]
    data = json.loads(cli(cli_env, "presets", "list", "--json", "--hardware", str(snapshot(tmp_path, 2))).stdout)
    by_name = {row["name"]: row for row in data}
    assert by_name["rtx4090-2x"]["match"] is True and by_name["h100-8x"]["match"] is False
    assert by_name["h100-8x"]["why"].startswith("made for H100 GPUs")
    assert cli(cli_env, "presets").returncode == 0


def test_presets_show(cli_env: dict[str, str]) -> None:
    result = cli(cli_env, "presets", "show", "a100-4x-fsdp")
    assert result.returncode == 0
    assert yaml.safe_load(result.stdout)["fsdp_config"]["fsdp_version"] == 2
    assert "_no_split_modules" in result.stdout and "# Targets: 4x A100" in result.stdout
    assert cli(cli_env, "presets", "show", "nope").returncode == 2


def test_presets_cp_shadow_validate_and_diff(cli_env: dict[str, str], tmp_path: Path) -> None:
    copied = cli(cli_env, "presets", "cp", "rtx4090-2x", "single-gpu")
    assert copied.returncode == 0, copied.stderr
    assert "shadows it" in copied.stderr
    path = Path(cli_env["XDG_CONFIG_HOME"]) / "sftplay-tui" / "presets" / "single-gpu.yaml"
    assert path.exists()
    assert cli(cli_env, "presets", "cp", "cpu", "single-gpu").returncode == 2  # exists: needs --force
    shown = cli(cli_env, "presets", "show", "single-gpu")
    assert "shadows the built-in 'single-gpu'" in shown.stderr
    assert yaml.safe_load(shown.stdout)["num_processes"] == 2
    listing = cli(cli_env, "presets", "list")
    assert "[user (shadows built-in)]" in listing.stdout

    valid = cli(cli_env, "presets", "validate", str(path))
    assert valid.returncode == 0 and valid.stdout.strip().endswith("(no problems).")
    path.write_text(path.read_text().replace("num_processes: 2", "num_processes: 3\n  gpu_ids: '0,1'"))
    broken = cli(cli_env, "presets", "validate", str(path))
    assert broken.returncode == 1
    assert f"{path}:" in broken.stdout and "gpu_ids" in broken.stdout
    assert cli(cli_env, "presets", "validate", str(tmp_path / "missing.yaml")).returncode == 2

    config = tmp_path / "c.yaml"
    missing = cli(cli_env, "presets", "diff", "cpu", "--config-file", str(config))
    assert missing.returncode == 0 and "does not exist yet" in missing.stdout
    assert cli(cli_env, "write", "--preset", "cpu", "--config-file", str(config)).returncode == 0
    same = cli(cli_env, "presets", "diff", "cpu", "--config-file", str(config))
    assert "already holds exactly" in same.stdout
    changed = cli(cli_env, "presets", "diff", "h100-8x", "--config-file", str(config))
    assert "-distributed_type: MULTI_CPU" in changed.stdout and "+num_processes: 8" in changed.stdout
