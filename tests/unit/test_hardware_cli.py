"""`sftplay-tui gpu-info` and `sftplay-tui check` as a user runs them: output, exit codes, imports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.training_runs import embedded_cache_fixture  # noqa: F401  (fixture)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "hardware"
SNAP = FIX / "snapshots"


def run(python: str, env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "tui", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_gpu_info_json_with_nvml_replay_imports_no_torch(python: str, cli_env: dict[str, str]) -> None:
    """gpu-info --json must not import torch/transformers/accelerate (nor rich) when NVML answers."""
    code = (
        "import sys, runpy; sys.argv = ['sftplay-tui', 'gpu-info', '--json']\n"
        "from tui.cli import main\n"
        "rc = main()\n"
        "heavy = [m for m in ('torch', 'transformers', 'accelerate', 'rich.console') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    env = {**cli_env, "SFTPLAY_HARDWARE_REPLAY": str(FIX / "h100-8x-sxm")}
    proc = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stderr or proc.stderr.strip().endswith("HEAVY="), proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema"] == "sftplay-hardware/1" and data["source"] == "nvml" and len(data["gpus"]) == 8


def test_gpu_info_json_degrades_to_nvidia_smi(python: str, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "SFTPLAY_HARDWARE_REPLAY": str(FIX / "failures" / "nvml-init-driver-not-loaded")}
    proc = run(python, env, "gpu-info", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["source"] == "nvidia-smi"
    assert "Driver Not Loaded" in data["notes"][0]


def test_gpu_info_on_this_machine(python: str, cli_env: dict[str, str]) -> None:
    proc = run(python, cli_env, "gpu-info", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["schema"] == "sftplay-hardware/1"


def test_gpu_info_table(python: str, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "SFTPLAY_HARDWARE_REPLAY": str(FIX / "rtx4090-2x"), "COLUMNS": "100"}
    proc = run(python, env, "gpu-info")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for fragment in ("2x RTX 4090", "source: nvml", "0.3/24.0 GiB", "none", "Threadripper", "NCCL_P2P_DISABLE=1"):
        assert fragment in out, (fragment, out)


def test_gpu_info_bad_replay_is_one_line(python: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "SFTPLAY_HARDWARE_REPLAY": str(tmp_path / "nothing")}
    proc = run(python, env, "gpu-info", "--json")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def _config(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nmixed_precision: bf16\nnum_processes: 4\n"


def test_check_exit_0_when_it_fits(python: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    proc = run(
        python,
        cli_env,
        "check",
        "--config-file",
        str(_config(tmp_path, GOOD)),
        "--hardware",
        str(SNAP / "a100-4x.json"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok: ")


def test_check_exit_0_with_warnings(python: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    config = _config(tmp_path, GOOD.replace("4\n", "8\n"))
    proc = run(python, cli_env, "check", "--config-file", str(config), "--hardware", str(SNAP / "h100-8x.json"))
    assert proc.returncode == 0
    assert "warning [gpus.busy]" in proc.stdout and "88231" in proc.stdout


def test_check_exit_1_on_errors(python: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    config = _config(tmp_path, GOOD)
    proc = run(python, cli_env, "check", "--config-file", str(config), "--hardware", str(SNAP / "v100-4x.json"))
    assert proc.returncode == 1
    assert f"{config}:3: error [precision.bf16]" in proc.stdout
    assert "cannot work as written" in proc.stdout


def test_check_json_output(python: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    config = _config(tmp_path, GOOD)
    proc = run(
        python, cli_env, "check", "--json", "--config-file", str(config), "--hardware", str(SNAP / "v100-4x.json")
    )
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["exit_code"] == 1 and data["findings"][0]["rule"] == "precision.bf16"


def test_check_launcher_option(python: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    config = _config(tmp_path, "distributed_type: MULTI_CPU\nuse_cpu: true\nnum_processes: 2\nmixed_precision: 'no'\n")
    args = ["check", "--config-file", str(config), "--hardware", str(SNAP / "no-gpu.json")]
    assert run(python, cli_env, *args).returncode == 1
    assert run(python, cli_env, *args, "--launcher", "sftplay-tui").returncode == 0


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: ["--config-file", str(d / "missing.yaml")], "no such config file"),
        (lambda d: ["--config-file", str(_config(d, "a: [1,\n"))], "not valid YAML"),
        (lambda d: ["--config-file", str(_config(d, '{"same_network": True}', "c.json"))], "Python literal `True`"),
        (lambda d: ["--config-file", str(_config(d, GOOD)), "--hardware", str(d / "none.json")], "no such snapshot"),
        (
            lambda d: ["--config-file", str(_config(d, GOOD)), "--hardware", str(_config(d, "[]", "s.json"))],
            "expected an object",
        ),
        (
            lambda d: ["--config-file", str(_config(d, GOOD)), "--hardware", str(_config(d, "{}", "s.json"))],
            "not a sftplay",
        ),
    ],
)
def test_check_exit_2_on_bad_input(python: str, cli_env: dict[str, str], tmp_path: Path, setup, message: str) -> None:
    proc = run(python, cli_env, "check", *setup(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_check_default_path_and_yml_rule(python: str, cli_env: dict[str, str], isolated_home: Path) -> None:
    folder = isolated_home / ".cache" / "huggingface" / "accelerate"
    folder.mkdir(parents=True)
    args = ["check", "--hardware", str(SNAP / "a100-4x.json")]
    proc = run(python, cli_env, *args)
    assert proc.returncode == 2 and "default_config.yaml: no such config file" in proc.stderr
    (folder / "default_config.yml").write_text(GOOD)
    proc = run(python, cli_env, *args)
    assert proc.returncode == 1 and "error [file.yml-ignored]" in proc.stdout
    (folder / "default_config.yml").rename(folder / "default_config.yaml")
    proc = run(python, cli_env, *args)
    assert proc.returncode == 0, proc.stdout


def test_check_live_hardware(python: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    config = _config(tmp_path, "distributed_type: 'NO'\nnum_processes: 1\nmixed_precision: 'no'\n")
    proc = run(python, cli_env, "check", "--config-file", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "this machine" in proc.stdout


FSDP_TBW = """\
compute_environment: LOCAL_MACHINE
distributed_type: FSDP
fsdp_config:
  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP
  fsdp_transformer_layer_cls_to_wrap: {layer}
  fsdp_version: 2
  fsdp_reshard_after_forward: true
  fsdp_state_dict_type: SHARDED_STATE_DICT
  fsdp_offload_params: false
  fsdp_cpu_ram_efficient_loading: true
mixed_precision: bf16
num_machines: 1
num_processes: 4
machine_rank: 0
"""


@pytest.mark.slow
def test_check_model_names_the_layer_class_it_has(
    python: str, cli_env: dict[str, str], tmp_path: Path, embedded_cache: Path
) -> None:
    from training.embedded import ensure_embedded_model

    model = str(ensure_embedded_model(embedded_cache))  # a Llama-style model folder
    config = tmp_path / "fsdp.yaml"
    config.write_text(FSDP_TBW.format(layer="BertLayer"))
    argv = ["check", "--config-file", str(config), "--hardware", str(SNAP / "a100-4x.json"), "--model", model]
    wrong = run(python, cli_env, *argv)
    assert wrong.returncode == 1, wrong.stderr
    assert "error [silent.layer-class]: fsdp_transformer_layer_cls_to_wrap names BertLayer" in wrong.stdout
    assert "use `fsdp_transformer_layer_cls_to_wrap: LlamaDecoderLayer`" in wrong.stdout
    config.write_text(FSDP_TBW.format(layer="LlamaDecoderLayer"))
    assert run(python, cli_env, *argv).returncode == 0
    missing = run(python, cli_env, *argv[:-1], str(tmp_path / "no-model"))
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("no such folder (give a model folder or a Hub id).")
    assert "Traceback" not in missing.stderr
