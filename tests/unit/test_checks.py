"""`check`: every rule, failing and passing, on hardware snapshot fixtures; the wizard hints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui.core.checks import (
    Finding,
    ModelInfo,
    check_config,
    check_config_file,
    check_layer_classes,
    visible_gpus,
)
from tui.core.errors import UsageError
from tui.core.hardware import HardwareInfo, load_snapshot
from tui.core.hints import (
    hardware_hints,
    precision_choices,
    recommended_env,
    suggested_mixed_precision,
    suggested_num_processes,
)

SNAP = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "snapshots"

DDP = {"compute_environment": "LOCAL_MACHINE", "distributed_type": "MULTI_GPU", "mixed_precision": "bf16"}


def hw(name: str) -> HardwareInfo:
    return load_snapshot(SNAP / f"{name}.json")


def findings(config: dict[str, Any], snapshot: str, **kw: Any) -> list[Finding]:
    return check_config(config, hw(snapshot), **kw)


def rules(config: dict[str, Any], snapshot: str, **kw: Any) -> dict[str, str]:
    """{rule: severity} (the worst severity when a rule fires twice)."""
    out: dict[str, str] = {}
    for f in findings(config, snapshot, **kw):
        if out.get(f.rule) != "error":
            out[f.rule] = f.severity
    return out


def one(config: dict[str, Any], snapshot: str, rule: str, **kw: Any) -> Finding:
    matches = [f for f in findings(config, snapshot, **kw) if f.rule == rule]
    assert matches, f"{rule} did not fire: {[f.render() for f in findings(config, snapshot, **kw)]}"
    return matches[0]


# -- the guide's recommended configs --------------------------------------------------------------


@pytest.mark.parametrize(("snapshot", "n"), [("a100-4x", 4), ("rtx4090-2x-nccl-set", 2)])
def test_guide_configs_pass_on_their_hardware(snapshot: str, n: int) -> None:
    assert findings({**DDP, "num_processes": n}, snapshot) == []


def test_guide_h100_config_only_warns_about_the_busy_gpu() -> None:
    assert rules({**DDP, "num_processes": 8}, "h100-8x") == {"gpus.busy": "warning"}


def test_guide_lowercase_snippet_is_named_with_its_fix() -> None:
    config = {"compute_environment": "local_machine", "distributed_type": "multi_gpu", "num_processes": 2}
    found = findings({**config, "mixed_precision": "bf16"}, "rtx4090-2x-nccl-set")
    texts = [f.render() for f in found if f.rule == "schema"]
    assert any("LOCAL_MACHINE" in t and "unknown keys" in t for t in texts)
    assert any("`distributed_type: MULTI_GPU`" in t for t in texts)
    # The hardware rules still read it as MULTI_GPU: nothing else is wrong.
    assert {f.rule for f in found} == {"schema"}


def test_case_only_differences_accelerate_normalises_only_warn() -> None:
    # accelerate launch lower-cases mixed_precision and the FSDP plugin upper-cases its strategy
    # names; distributed_type goes through an Enum and must match exactly.
    config = {
        **DDP,
        "num_processes": 4,
        "mixed_precision": "BF16",
        "distributed_type": "multi_gpu",
        "fsdp_config": {"fsdp_backward_prefetch": "backward_pre"},
    }
    schema = {f.key: f for f in findings(config, "a100-4x") if f.rule == "schema"}
    precision = schema["mixed_precision"]
    assert precision.severity == "warning" and "`mixed_precision: bf16`" in precision.fix
    prefetch = schema["fsdp_config.fsdp_backward_prefetch"]
    assert prefetch.severity == "warning" and "BACKWARD_PRE" in prefetch.fix
    exact = schema["distributed_type"]
    assert exact.severity == "error" and "letter case included" in exact.why and "MULTI_GPU" in exact.fix


# -- processes ------------------------------------------------------------------------------------


def test_too_many_processes() -> None:
    f = one({**DDP, "num_processes": 8}, "a100-4x", "processes.too-many")
    assert f.severity == "error" and "4 GPUs" in f.what and "num_processes: 4" in f.fix


def test_too_many_processes_across_machines() -> None:
    config = {**DDP, "num_processes": 16, "num_machines": 2, "main_process_ip": "10.0.0.1"}
    f = one(config, "a100-4x", "processes.too-many")
    assert "8 per machine" in f.what and "num_processes: 8" in f.fix
    assert "processes.too-many" not in rules({**config, "num_processes": 8}, "a100-4x")


def test_cuda_visible_devices_limits_the_gpus() -> None:
    f = one({**DDP, "num_processes": 8}, "h100-8x-visible-0-3", "processes.too-many")
    assert "CUDA_VISIBLE_DEVICES=0,1,2,3" in f.what and "num_processes: 4" in f.fix
    assert "processes.too-many" not in rules({**DDP, "num_processes": 4}, "h100-8x-visible-0-3")


def test_cuda_visible_devices_invalid_entry() -> None:
    info = hw("a100-4x")
    bad = HardwareInfo(**{**info.__dict__, "env": {"CUDA_VISIBLE_DEVICES": "0,7,1"}})
    visible = visible_gpus(bad)
    assert [g.index for g in visible.gpus] == [0]
    found = check_config({**DDP, "num_processes": 2}, bad)
    assert any(f.rule == "processes.cuda-visible" and "'7'" in f.what for f in found)
    assert any(f.rule == "processes.too-many" for f in found)
    uuid = info.gpus[2].uuid or ""
    by_uuid = HardwareInfo(**{**info.__dict__, "env": {"CUDA_VISIBLE_DEVICES": uuid[:12]}})
    assert [g.index for g in visible_gpus(by_uuid).gpus] == [2]
    hidden = HardwareInfo(**{**info.__dict__, "env": {"CUDA_VISIBLE_DEVICES": ""}})
    assert one_rule(check_config({**DDP, "num_processes": 2}, hidden), "processes.no-gpu").severity == "error"


def one_rule(found: list[Finding], rule: str) -> Finding:
    return next(f for f in found if f.rule == rule)


def test_idle_gpus_warning() -> None:
    f = one({**DDP, "num_processes": 2}, "a100-4x", "processes.idle-gpus")
    assert f.severity == "warning" and "2, 3" in f.why
    assert "processes.idle-gpus" not in rules({**DDP, "num_processes": 2, "gpu_ids": "0,1"}, "a100-4x")


@pytest.mark.parametrize(
    ("gpu_ids", "n", "fragment"),
    [
        ("0,1,7,2", 4, "'7' is not a GPU here"),
        ("0;1", 2, "not a comma-separated list"),
        ("0,0", 2, "listed twice"),
        ("1", 1, "fewer than two GPUs"),
    ],
)
def test_gpu_ids_errors(gpu_ids: str, n: int, fragment: str) -> None:
    f = one({**DDP, "num_processes": n, "gpu_ids": gpu_ids}, "a100-4x", "processes.gpu-ids")
    assert f.severity == "error" and fragment in f.what
    assert f.key == "gpu_ids"


def test_gpu_ids_passing_and_fewer_processes() -> None:
    assert rules({**DDP, "num_processes": 2, "gpu_ids": "2,3"}, "a100-4x") == {}
    f = one({**DDP, "num_processes": 2, "gpu_ids": "0,1,2"}, "a100-4x", "processes.idle-gpus")
    assert "GPU 2" in f.why
    f = one({**DDP, "num_processes": 4, "gpu_ids": "0,1"}, "a100-4x", "processes.too-many")
    assert "gpu_ids '0,1' names 2" in f.what


def test_gpu_ids_replacing_cuda_visible_devices_warns() -> None:
    f = one({**DDP, "num_processes": 2, "gpu_ids": "4,5"}, "h100-8x-visible-0-3", "processes.cuda-visible")
    assert "replaces CUDA_VISIBLE_DEVICES" in f.why
    assert "processes.cuda-visible" not in rules(
        {**DDP, "num_processes": 4, "gpu_ids": "0,1,2,3"}, "h100-8x-visible-0-3"
    )


def test_gpu_type_without_gpu() -> None:
    for dtype in ("MULTI_GPU", "DEEPSPEED", "MEGATRON_LM"):
        f = one(
            {**DDP, "distributed_type": dtype, "num_processes": 2, "mixed_precision": "no"},
            "no-gpu",
            "processes.no-gpu",
        )
        assert f.severity == "error" and dtype in f.what
    # The CPU-ranks recipe passes: MULTI_GPU + use_cpu with ACCELERATE_USE_CPU=true set.
    cpu = {**DDP, "num_processes": 2, "use_cpu": True, "mixed_precision": "no"}
    assert rules(cpu, "no-gpu-cpu-env") == {}
    assert rules({**cpu, "use_cpu": False}, "no-gpu-cpu-env") == {}
    assert rules(cpu, "no-gpu", launcher="sftplay-tui") == {}


def test_missing_num_processes() -> None:
    f = one({"distributed_type": "MULTI_GPU"}, "a100-4x", "processes.missing")
    assert "num_processes: 4" in f.fix
    assert one({**DDP, "num_processes": -1}, "a100-4x", "processes.missing").severity == "error"


def test_num_processes_not_divisible() -> None:
    config = {**DDP, "num_processes": 6, "num_machines": 4, "main_process_ip": "10.0.0.1"}
    assert one(config, "a100-4x", "processes.divisible").severity == "error"
    assert "processes.divisible" not in rules({**config, "num_processes": 16}, "a100-4x")


# -- schedulers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot", "scheduler", "numbers"),
    [
        ("a100-4x-slurm-srun-2-per-node", "SLURM", ("2 processes", "starts 4", "8 processes")),
        ("a100-4x-azureml-pytorch-4-per-node", "Azure ML", ("4 processes", "starts 4", "16 processes")),
        ("a100-4x-azureml-mpi-4-per-node", "Azure ML (MPI)", ("4 processes", "starts 4", "16 processes")),
    ],
)
def test_scheduler_multiplies_processes(snapshot: str, scheduler: str, numbers: tuple[str, ...]) -> None:
    f = one({**DDP, "num_processes": 4}, snapshot, "processes.scheduler")
    assert f.severity == "error"
    assert f.what.startswith(scheduler)
    for number in numbers:
        assert number in f.what
    assert "per-node count must be 1" in f.fix


def test_scheduler_fix_names_the_scheduler_setting() -> None:
    azure = one({**DDP, "num_processes": 4}, "a100-4x-azureml-pytorch-4-per-node", "processes.scheduler")
    assert "process_count_per_instance: 1" in azure.fix
    slurm = one({**DDP, "num_processes": 4}, "a100-4x-slurm-srun-2-per-node", "processes.scheduler")
    assert "--ntasks-per-node=1" in slurm.fix


@pytest.mark.parametrize("snapshot", ["a100-4x-slurm-srun-1-per-node", "a100-4x-azureml-pytorch-1-per-node"])
def test_scheduler_with_one_per_node_passes(snapshot: str) -> None:
    assert rules({**DDP, "num_processes": 4}, snapshot) == {}


def test_scheduler_single_process_launch_warns() -> None:
    f = one(
        {**DDP, "distributed_type": "NO", "num_processes": 1}, "a100-4x-slurm-srun-2-per-node", "processes.scheduler"
    )
    assert f.severity == "warning"


def test_slurm_batch_script_warns_only() -> None:
    info = hw("a100-4x")
    batch = HardwareInfo(**{**info.__dict__, "env": {"SLURM_JOB_ID": "7", "SLURM_NTASKS_PER_NODE": "2"}})
    f = one_rule(check_config({**DDP, "num_processes": 4}, batch), "processes.scheduler")
    assert f.severity == "warning" and "srun" in f.what


# -- precision --------------------------------------------------------------------------------------


def test_bf16_on_v100() -> None:
    f = one({**DDP, "num_processes": 4}, "v100-4x", "precision.bf16")
    assert f.severity == "error" and "7.0" in f.what and "fp16" in f.fix
    assert rules({**DDP, "num_processes": 4, "mixed_precision": "fp16"}, "v100-4x") == {}
    # Compute capability from the model name when the driver's nvidia-smi could not say.
    assert one({**DDP, "num_processes": 4}, "v100-4x-smi-only", "precision.bf16")


def test_fp8_needs_89_and_a_backend() -> None:
    fp8 = {**DDP, "num_processes": 4, "mixed_precision": "fp8"}
    f = one(fp8, "a100-4x", "precision.fp8")
    assert "8.0" in f.what and "8.9" in f.why
    # H100 with TransformerEngine recorded: fine (only the busy GPU warning remains).
    assert "precision.fp8" not in rules({**fp8, "num_processes": 8}, "h100-8x")
    # ... but without any backend installed, an error.
    f = one({**fp8, "num_processes": 8}, "h100-8x", "precision.fp8", fp8_backends=[])
    assert "no fp8 backend" in f.what
    f = one({**fp8, "num_processes": 8, "fp8_config": {"backend": "AO"}}, "h100-8x", "precision.fp8")
    assert "torchao is not installed" in f.what


def test_fp16_on_cpu() -> None:
    cpu = {**DDP, "num_processes": 2, "use_cpu": True, "mixed_precision": "fp16"}
    assert one(cpu, "no-gpu-cpu-env", "precision.fp16-cpu").severity == "error"
    assert one({**cpu, "distributed_type": "NO", "num_processes": 1, "use_cpu": False}, "no-gpu", "precision.fp16-cpu")
    assert rules({**cpu, "mixed_precision": "bf16"}, "no-gpu-cpu-env") == {}
    assert one({**cpu, "mixed_precision": "fp8"}, "no-gpu-cpu-env", "precision.fp8").severity == "error"


# -- topology ---------------------------------------------------------------------------------------


def test_no_p2p_warns_with_the_env_vars() -> None:
    f = one({**DDP, "num_processes": 2}, "rtx4090-2x", "topology.p2p")
    assert f.severity == "warning"
    assert "export NCCL_P2P_DISABLE=1 NCCL_IB_DISABLE=1" in f.fix
    assert "topology.p2p" not in rules({**DDP, "num_processes": 2}, "rtx4090-2x-nccl-set")
    # One process: no peer traffic, no warning.
    assert "topology.p2p" not in rules({**DDP, "distributed_type": "NO", "num_processes": 1}, "rtx4090-2x")


def test_rtx_40_warns_even_when_p2p_is_reported() -> None:
    info = hw("rtx4090-2x")
    lying = HardwareInfo(**{**info.__dict__, "p2p": ((None, True), (True, None))})
    f = one_rule(check_config({**DDP, "num_processes": 2}, lying), "topology.p2p")
    assert "RTX 4090" in f.what


def test_multi_node_p2p_fix_leaves_infiniband_alone() -> None:
    config = {**DDP, "num_processes": 4, "num_machines": 2, "main_process_ip": "10.0.0.1"}
    f = one(config, "rtx4090-2x", "topology.p2p")
    assert "NCCL_IB_DISABLE" not in f.fix and "NCCL_P2P_DISABLE=1" in f.fix


def test_mixed_models() -> None:
    f = one({**DDP, "num_processes": 2}, "mixed-4090-3090", "topology.mixed-models")
    assert "RTX 3090" in f.what and "CUDA_DEVICE_ORDER=PCI_BUS_ID" in f.fix
    assert "topology.mixed-models" not in rules({**DDP, "num_processes": 4}, "a100-4x")


# -- busy GPUs --------------------------------------------------------------------------------------


def test_busy_gpus_warn_with_pids() -> None:
    f = one({**DDP, "num_processes": 4}, "a100-4x-busy", "gpus.busy")
    assert f.severity == "warning"
    assert "51877" in f.what and "51878" in f.what
    assert "gpu_ids: 0,1" in f.fix
    assert "gpus.busy" not in rules({**DDP, "num_processes": 2, "gpu_ids": "0,1"}, "a100-4x-busy")
    # A desktop session's Xorg (214 MiB) is not "busy".
    assert "gpus.busy" not in rules({**DDP, "num_processes": 2}, "rtx4090-2x-nccl-set")


# -- multi-node -------------------------------------------------------------------------------------


def test_machine_rank_outside_range() -> None:
    config = {**DDP, "num_processes": 8, "num_machines": 2, "machine_rank": 2, "main_process_ip": "10.0.0.1"}
    f = one(config, "a100-4x", "multinode.machine-rank")
    assert "0..1" in f.what
    assert "multinode.machine-rank" not in rules({**config, "machine_rank": 1}, "a100-4x")


def test_missing_main_process_ip() -> None:
    config = {**DDP, "num_processes": 8, "num_machines": 2, "machine_rank": 0}
    assert one(config, "a100-4x", "multinode.main-ip").severity == "error"
    assert rules({**config, "main_process_ip": "10.0.0.1"}, "a100-4x") == {}


def test_machine_rank_against_the_scheduler() -> None:
    config = {**DDP, "num_processes": 8, "num_machines": 2, "machine_rank": 1, "main_process_ip": "10.0.0.4"}
    f = one(config, "a100-4x-azureml-pytorch-1-per-node", "multinode.scheduler-rank")
    assert "NODE_RANK" in f.what and "--machine_rank $NODE_RANK" in f.fix
    assert "multinode.scheduler-rank" not in rules({**config, "machine_rank": 0}, "a100-4x-azureml-pytorch-1-per-node")


# -- silently wrong ---------------------------------------------------------------------------------


def test_multi_cpu_without_mpirun_starts_one_process() -> None:
    config = {"distributed_type": "MULTI_CPU", "num_processes": 2, "use_cpu": True, "mixed_precision": "no"}
    f = one(config, "no-gpu", "silent.multi-cpu")
    assert f.severity == "error" and "ONE process" in f.why and "sftplay-tui launch" in f.fix
    assert rules(config, "no-gpu", launcher="sftplay-tui") == {}
    assert rules({**config, "mpirun_config": {"mpirun_hostfile": "/etc/hosts.mpi"}}, "no-gpu") == {}
    assert rules({**config, "num_processes": 1}, "no-gpu") == {}


def test_fsdp_without_gpu() -> None:
    fsdp = {**DDP, "distributed_type": "FSDP", "num_processes": 2, "mixed_precision": "no"}
    with_env = one(fsdp, "no-gpu-cpu-env", "silent.fsdp-no-gpu")
    assert "falls back to DDP" in with_env.why
    without = one(fsdp, "no-gpu", "silent.fsdp-no-gpu")
    assert "unconnected" in without.why
    assert "silent.fsdp-no-gpu" not in rules({**fsdp, "num_processes": 4}, "a100-4x")


def test_use_cpu_without_env_var() -> None:
    config = {**DDP, "num_processes": 2, "use_cpu": True, "mixed_precision": "no"}
    f = one(config, "no-gpu", "silent.use-cpu")
    assert f.severity == "error" and "2 unconnected" in f.why and "ACCELERATE_USE_CPU=true" in f.fix
    assert rules(config, "no-gpu-cpu-env") == {}
    # On a GPU machine the key is ignored: the ranks train on GPUs.
    assert one({**config, "num_processes": 4}, "a100-4x", "silent.use-cpu").severity == "warning"
    assert "silent.use-cpu" not in rules({**config, "num_processes": 4}, "a100-4x-cpu-env")


def test_distributed_no_with_several_processes() -> None:
    f = one({**DDP, "distributed_type": "NO", "num_processes": 4}, "a100-4x", "silent.no-distributed")
    assert f.severity == "error"
    assert rules({**DDP, "distributed_type": "NO", "num_processes": 1}, "a100-4x") == {}


def test_layer_class_the_model_lacks() -> None:
    fsdp = {
        **DDP,
        "distributed_type": "FSDP",
        "num_processes": 4,
        "fsdp_config": {
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_transformer_layer_cls_to_wrap": "Phi3DecoderLayer",
        },
    }
    model = ModelInfo(frozenset({"LlamaForCausalLM", "LlamaDecoderLayer"}), ("LlamaDecoderLayer",), "tiny-llama")
    f = one(fsdp, "a100-4x", "silent.layer-class", model=model)
    assert "Phi3DecoderLayer" in f.what and "LlamaDecoderLayer" in f.fix and "Could not find" in f.why
    good = {**fsdp, "fsdp_config": {**fsdp["fsdp_config"], "fsdp_transformer_layer_cls_to_wrap": "LlamaDecoderLayer"}}
    assert rules(good, "a100-4x", model=model) == {}
    unset = {**fsdp, "fsdp_config": {"fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP"}}
    assert check_layer_classes(unset, class_names=model.class_names, no_split_modules=("LlamaDecoderLayer",)) == []
    assert check_layer_classes(unset, class_names={"X"}, no_split_modules=())[0].rule == "silent.layer-class"
    assert check_layer_classes({**DDP, "num_processes": 2}, class_names=set()) == []


def test_deepspeed_not_installed_on_the_recorded_machine() -> None:
    config = {**DDP, "distributed_type": "DEEPSPEED", "num_processes": 4, "deepspeed_config": {"zero_stage": 2}}
    assert one(config, "a100-4x", "software.deepspeed").severity == "error"
    info = hw("a100-4x")
    with_ds = HardwareInfo(**{**info.__dict__, "software": {**info.software, "deepspeed": "0.16.0"}})
    assert check_config(config, with_ds) == []


# -- values accelerate misreads, files ------------------------------------------------------------------


def test_typos_and_renamed_keys_come_from_the_schema() -> None:
    config = {
        **DDP,
        "num_processes": 4,
        "fsdp_config": {"fsdp_backward_prefetch_policy": "BACKWARD_PRE", "fsdp_ofload_params": True},
    }
    texts = [f.render() for f in findings(config, "a100-4x") if f.rule == "schema"]
    assert any("rename it to `fsdp_backward_prefetch`" in t for t in texts)
    assert any("did you mean `fsdp_offload_params`" in t for t in texts)
    assert all("Why:" in t and "Fix:" in t for t in texts)


def test_unquoted_no_is_yaml_false(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.yaml", "distributed_type: NO\nnum_processes: 1\nmixed_precision: no\n")
    report = check_config_file(path, hw("a100-4x"))
    assert [f.rule for f in report.findings] == ["schema", "schema"]
    assert "quote it: `distributed_type: 'NO'`" in report.findings[0].fix
    assert "quote it: `mixed_precision: 'no'`" in report.findings[1].fix
    path.write_text("distributed_type: 'NO'\nnum_processes: 1\nmixed_precision: 'no'\n")
    assert check_config_file(path, hw("a100-4x")).findings == []


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_default_config_yml_is_never_read(tmp_path: Path) -> None:
    folder = tmp_path / "accelerate"
    _write(folder / "default_config.yml", "distributed_type: MULTI_GPU\nnum_processes: 4\nmixed_precision: bf16\n")
    report = check_config_file(folder / "default_config.yaml", hw("a100-4x"))
    assert report.exit_code == 1
    f = report.findings[0]
    assert f.rule == "file.yml-ignored" and "mv " in f.fix
    assert report.checked_path == folder / "default_config.yml"
    # Renamed: passes.
    (folder / "default_config.yml").rename(folder / "default_config.yaml")
    assert check_config_file(folder / "default_config.yaml", hw("a100-4x")).findings == []


def test_yml_beside_yaml_and_yml_named_explicitly(tmp_path: Path) -> None:
    text = "distributed_type: MULTI_GPU\nnum_processes: 4\nmixed_precision: bf16\n"
    yaml_path = _write(tmp_path / "default_config.yaml", text)
    _write(tmp_path / "default_config.yml", text)
    report = check_config_file(yaml_path, hw("a100-4x"))
    assert [(f.rule, f.severity) for f in report.findings] == [("file.yml-ignored", "warning")]
    assert report.exit_code == 0
    named = check_config_file(tmp_path / "default_config.yml", hw("a100-4x"))
    assert named.findings[0].severity == "warning" and "--config_file" in named.findings[0].fix


def test_python_literals_in_json_and_missing_files_are_bad_input(tmp_path: Path) -> None:
    bad = _write(tmp_path / "c.json", '{"distributed_type": "MULTI_GPU", "same_network": True}')
    with pytest.raises(UsageError, match="Python literal `True`; JSON needs `true`"):
        check_config_file(bad, hw("a100-4x"))
    with pytest.raises(UsageError, match="no such config file"):
        check_config_file(tmp_path / "none.yaml", hw("a100-4x"))
    good = _write(tmp_path / "ok.json", '{"distributed_type": "MULTI_GPU", "num_processes": 4, "same_network": true}')
    assert check_config_file(good, hw("a100-4x")).findings == []


def test_findings_have_lines_and_render_on_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.yaml", "distributed_type: MULTI_GPU\nmixed_precision: bf16\nnum_processes: 8\n")
    report = check_config_file(path, hw("v100-4x"))
    lines = report.lines()
    assert all("\n" not in line for line in lines)
    assert any(line.startswith(f"{path}:3: error [processes.too-many]") for line in lines)
    assert any(line.startswith(f"{path}:2: error [precision.bf16]") for line in lines)
    assert [f.severity for f in report.findings] == sorted(
        (f.severity for f in report.findings), key=lambda s: s != "error"
    )


def test_sagemaker_and_other_devices_skip_hardware_rules() -> None:
    assert [
        f.rule for f in findings({"compute_environment": "AMAZON_SAGEMAKER", "distributed_type": "NO"}, "no-gpu")
    ] == [
        "schema",
        "schema",
    ]
    assert rules({"distributed_type": "MULTI_NPU", "num_processes": 8}, "no-gpu") == {}


def test_non_mapping_config_is_one_schema_finding() -> None:
    found = check_config(["not", "a", "mapping"], hw("no-gpu"))  # type: ignore[arg-type]
    assert [f.rule for f in found] == ["schema"]


def test_check_config_probes_this_machine_without_a_record() -> None:
    found = check_config({"distributed_type": "NO", "num_processes": 1, "mixed_precision": "no"})
    assert found == []


# -- hints -------------------------------------------------------------------------------------------


def test_hints_for_each_machine() -> None:
    v100 = hardware_hints(hw("v100-4x"))
    assert (v100.num_processes, v100.machine_type, v100.mixed_precision) == (4, "multi-GPU", "fp16")
    assert v100.unavailable_reason("bf16") == "bf16: Tesla V100-SXM2-32GB has compute capability 7.0; needs 8.0+"
    assert v100.unavailable_reason("fp8") == "fp8: Tesla V100-SXM2-32GB has compute capability 7.0; needs 8.9+"
    assert v100.unavailable_reason("fp16") is None and v100.unavailable_reason("no") is None

    h100 = hardware_hints(hw("h100-8x"))
    assert (h100.num_processes, h100.mixed_precision) == (8, "bf16")
    assert all(c.available for c in h100.precision_choices)  # TE recorded on the H100 box
    assert "GPU 7 already in use" in h100.notes[0]

    a100 = precision_choices(hw("a100-4x"))
    assert [c.value for c in a100] == ["no", "fp16", "bf16", "fp8"]
    assert a100[3].reason == "fp8: NVIDIA A100-SXM4-80GB has compute capability 8.0; needs 8.9+"

    rtx = hardware_hints(hw("rtx4090-2x"))
    assert dict(rtx.env) == {"NCCL_P2P_DISABLE": "1", "NCCL_IB_DISABLE": "1"}
    assert "no fp8 backend" in (rtx.unavailable_reason("fp8") or "")
    assert recommended_env(hw("rtx4090-2x-nccl-set")) == {}
    assert recommended_env(hw("mixed-4090-3090"))["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"

    cpu = hardware_hints(hw("no-gpu"))
    assert (cpu.num_processes, cpu.machine_type, cpu.mixed_precision, cpu.gpu_count) == (2, "multi-CPU", "no", 0)
    assert "fp16" in (cpu.unavailable_reason("fp16") or "")
    assert suggested_num_processes(hw("h100-8x-visible-0-3")) == 4
    assert suggested_mixed_precision(hw("mixed-4090-3090")) == "bf16"


def test_config_rules_are_part_of_check_without_double_reports() -> None:
    # FSDP2 given FSDP1-only options: a config-only rule (shared with presets), reported by check.
    config = {
        "distributed_type": "FSDP",
        "num_processes": 4,
        "mixed_precision": "bf16",
        "fsdp_config": {"fsdp_version": 2, "fsdp_backward_prefetch": "BACKWARD_PRE"},
    }
    found = findings(config, "a100-4x")
    assert any(f.rule.startswith("config.fsdp_config") for f in found)
    # 3 processes on gpu_ids "0,1": the hardware rule reports it; the config rule on the same key does not repeat it.
    crowded = findings({"distributed_type": "MULTI_GPU", "num_processes": 3, "gpu_ids": "0,1"}, "a100-4x")
    assert [f.key for f in crowded].count("gpu_ids") == 1
