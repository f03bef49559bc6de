"""The launch command builder: flags and environment added per config, quoting, choices, checks."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.support.runs import MULTI_CPU_2, SINGLE_CPU, write_config
from tui.core.checks import Finding
from tui.core.errors import UsageError
from tui.core.launch import (
    LaunchChoices,
    LaunchRequest,
    blocking,
    check_launch,
    plan_launch,
    recall_choices,
    remember_choices,
    resolve_config,
    split_args,
)

ACC = "/opt/venv/bin/accelerate"


@pytest.fixture(autouse=True)
def default_port_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plans must not depend on whether another run on this machine holds port 29500."""
    monkeypatch.setattr("tui.core.launch.port_in_use", lambda port: False)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text("print('hi')\n")
    return path


def plan_for(config: dict, script: Path, tmp_path: Path, **kw: object):  # type: ignore[no-untyped-def]
    request = LaunchRequest(config_file=tmp_path / "c.yaml", script=script, cwd=tmp_path, **kw)  # type: ignore[arg-type]
    return plan_launch(request, config=config, accelerate=ACC, run_dir=tmp_path / "run")


def test_multi_cpu_config_gets_multi_gpu_flag_and_cpu_env(script: Path, tmp_path: Path) -> None:
    plan = plan_for({"distributed_type": "MULTI_CPU", "use_cpu": True, "num_processes": 2}, script, tmp_path)
    assert plan.argv[:4] == (ACC, "launch", "--config_file", str(tmp_path / "c.yaml"))
    assert "--multi_gpu" in plan.argv
    assert plan.env == {"PYTHONUNBUFFERED": "1", "ACCELERATE_USE_CPU": "true"}
    tee = plan.argv.index("--tee")
    assert plan.argv[tee : tee + 6] == ("--tee", "3", "--role", "rank", "--log_dir", str(tmp_path / "run" / "ranks"))
    assert plan.argv[-1] == str(script)
    assert any("single process" in note for note in plan.notes)


def test_multi_cpu_with_mpirun_is_left_to_mpirun(script: Path, tmp_path: Path) -> None:
    config = {
        "distributed_type": "MULTI_CPU",
        "use_cpu": True,
        "num_processes": 2,
        "mpirun_config": {"mpirun_hostfile": "hosts"},
    }
    plan = plan_for(config, script, tmp_path)
    assert "--multi_gpu" not in plan.argv
    assert plan.env["ACCELERATE_USE_CPU"] == "true"


def test_single_process_cpu_gets_env_but_no_tee(script: Path, tmp_path: Path) -> None:
    plan = plan_for({"distributed_type": "NO", "use_cpu": True, "num_processes": 1}, script, tmp_path)
    assert plan.argv == (ACC, "launch", "--config_file", str(tmp_path / "c.yaml"), str(script))
    assert plan.env == {"PYTHONUNBUFFERED": "1", "ACCELERATE_USE_CPU": "true"}


def test_gpu_config_without_use_cpu_gets_only_unbuffered(script: Path, tmp_path: Path) -> None:
    plan = plan_for({"distributed_type": "MULTI_GPU", "num_processes": 4}, script, tmp_path)
    assert plan.env == {"PYTHONUNBUFFERED": "1"}
    assert "--multi_gpu" not in plan.argv  # accelerate reads it from the config
    assert "--tee" in plan.argv


@pytest.mark.parametrize("dist", ["FSDP", "DEEPSPEED", "MULTI_GPU"])
def test_use_cpu_on_multi_process_types_exports_the_variable(script: Path, tmp_path: Path, dist: str) -> None:
    plan = plan_for({"distributed_type": dist, "num_processes": 2, "use_cpu": True}, script, tmp_path)
    assert plan.env["ACCELERATE_USE_CPU"] == "true"
    assert "--multi_gpu" not in plan.argv


def test_rank_prefixes_can_be_turned_off(script: Path, tmp_path: Path) -> None:
    plan = plan_for(
        {"distributed_type": "MULTI_CPU", "use_cpu": True, "num_processes": 2}, script, tmp_path, rank_prefixes=False
    )
    assert "--tee" not in plan.argv and "--log_dir" not in plan.argv
    assert "--multi_gpu" in plan.argv  # the fix that makes the ranks connect stays


def test_module_and_arguments_are_passed_verbatim(tmp_path: Path) -> None:
    request = LaunchRequest(
        config_file=tmp_path / "c.yaml",
        module="scripts.train",
        args=("--config", "configs/run bnb.yaml", "--lr=1e-4"),
        cwd=tmp_path,
    )
    plan = plan_launch(request, config={"distributed_type": "NO"}, accelerate=ACC, run_dir=tmp_path / "r")
    assert plan.argv[-5:] == ("-m", "scripts.train", "--config", "configs/run bnb.yaml", "--lr=1e-4")
    assert plan.target == "-m scripts.train"


def test_display_is_a_copyable_shell_command(script: Path, tmp_path: Path) -> None:
    plan = plan_for(
        {"distributed_type": "MULTI_CPU", "use_cpu": True, "num_processes": 2},
        script,
        tmp_path,
        args=("--name", "my run", "--x=$HOME"),
    )
    words = shlex.split(plan.display)
    assert words[:2] == ["PYTHONUNBUFFERED=1", "ACCELERATE_USE_CPU=true"]
    assert words[2:] == list(plan.argv)  # the fake accelerate path is not on PATH, so it stays absolute


def test_request_env_is_kept_but_ours_wins(script: Path, tmp_path: Path) -> None:
    plan = plan_for(
        {"distributed_type": "MULTI_GPU", "num_processes": 2},
        script,
        tmp_path,
        env={"NCCL_P2P_DISABLE": "1", "PYTHONUNBUFFERED": "0"},
    )
    assert plan.env == {"NCCL_P2P_DISABLE": "1", "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"script": Path("missing.py")}, "no such training script"),
        ({"module": "not a module"}, "not a Python module name"),
        ({"script": Path("x.py"), "module": "m"}, "either a training script or a module"),
        ({}, "either a training script or a module"),
    ],
)
def test_bad_targets_are_usage_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    request = LaunchRequest(config_file=tmp_path / "c.yaml", cwd=tmp_path, **kwargs)
    with pytest.raises(UsageError, match=message):
        plan_launch(request, config={"distributed_type": "NO"}, accelerate=ACC, run_dir=tmp_path / "r")


def test_relative_script_is_resolved_against_the_working_folder(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "train.py").write_text("")
    request = LaunchRequest(config_file=tmp_path / "c.yaml", script=Path("scripts/train.py"), cwd=tmp_path)
    plan = plan_launch(request, config={"distributed_type": "NO"}, accelerate=ACC, run_dir=tmp_path / "r")
    assert plan.argv[-1] == "scripts/train.py"  # relative, as typed: the launcher runs in cwd


def test_config_with_schema_errors_is_refused(tmp_path: Path, script: Path) -> None:
    bad = write_config(tmp_path, "distributed_type: MULTI_CPU\nnum_processes: two\n")
    with pytest.raises(UsageError, match="num_processes"):
        plan_launch(LaunchRequest(config_file=bad, script=script, cwd=tmp_path), accelerate=ACC)


def test_no_default_config_tells_to_run_the_wizard_or_pick_a_preset() -> None:
    with pytest.raises(UsageError) as err:
        resolve_config(None)
    assert "wizard" in err.value.message and "--preset" in err.value.message


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such config file"):
        resolve_config(tmp_path / "nope.yaml")


def test_split_args_follows_shell_rules() -> None:
    assert split_args("--a 1 --b 'two words'") == ("--a", "1", "--b", "two words")
    with pytest.raises(UsageError, match="quotes"):
        split_args("--b 'unclosed")


def test_choices_are_remembered_per_project_folder(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    remember_choices(LaunchChoices(script="scripts/train.py", args=["--config", "a.yaml"]), one)
    remember_choices(LaunchChoices(module="pkg.train"), two)
    got = recall_choices(one)
    assert got is not None and got.script == "scripts/train.py" and got.args == ["--config", "a.yaml"]
    other = recall_choices(two)
    assert other is not None and other.module == "pkg.train" and other.script is None
    assert recall_choices(tmp_path) is None


def test_corrupt_choices_file_is_ignored(tmp_path: Path, isolated_home: Path) -> None:
    path = isolated_home / ".config" / "sftplay-tui" / "launch-choices.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert recall_choices(tmp_path) is None
    remember_choices(LaunchChoices(script="t.py"), tmp_path)
    assert recall_choices(tmp_path).script == "t.py"  # type: ignore[union-attr]


def test_checks_report_notes_schema_warnings_and_checker_findings(tmp_path: Path, script: Path) -> None:
    config = write_config(tmp_path, MULTI_CPU_2)
    plan = plan_launch(LaunchRequest(config_file=config, script=script, cwd=tmp_path), accelerate=ACC)

    machine = Finding("processes.no-gpu", "error", "2 processes but 0 GPUs", "nothing to run on", "use MULTI_CPU")
    findings = check_launch(plan, lambda path, cfg: [machine, Finding("disk", "warning", "slow disk")])
    severities = [f.severity for f in findings]
    assert severities == ["info", "error", "warning"]
    assert blocking(findings)[0].what == "2 processes but 0 GPUs"
    assert "Fix: use MULTI_CPU" in blocking(findings)[0].render()


def test_checks_without_checker_pass_a_clean_config(tmp_path: Path, script: Path) -> None:
    config = write_config(tmp_path, SINGLE_CPU)
    plan = plan_launch(LaunchRequest(config_file=config, script=script, cwd=tmp_path), accelerate=ACC)
    assert check_launch(plan, None) == []


def test_the_machine_checks_do_not_block_what_the_launcher_fixes(tmp_path: Path, script: Path) -> None:
    """MULTI_CPU with 2 processes is an error for a bare `accelerate launch`, not for ours."""
    config = write_config(tmp_path, MULTI_CPU_2)
    plan = plan_launch(LaunchRequest(config_file=config, script=script, cwd=tmp_path), accelerate=ACC)
    assert blocking(check_launch(plan)) == []


def test_a_busy_default_port_gets_a_free_one(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui.core.launch.port_in_use", lambda port: port == 29500)
    plan = plan_for({"distributed_type": "MULTI_CPU", "use_cpu": True, "num_processes": 2}, script, tmp_path)
    at = plan.argv.index("--main_process_port")
    assert int(plan.argv[at + 1]) != 29500
    assert any("29500" in note for note in plan.notes)
    chosen = {"distributed_type": "MULTI_GPU", "num_processes": 2, "main_process_port": 29500}
    fixed = plan_for(chosen, script, tmp_path)
    assert "--main_process_port" not in fixed.argv  # a port the user chose is theirs to keep


def test_a_preset_becomes_a_config_file_to_launch(tmp_path: Path, script: Path) -> None:
    from tui.core.launch import preset_config_file

    path, env, defaults = preset_config_file("cpu")
    assert path.is_file() and path.name == "cpu.yaml"
    assert "--per_device_train_batch_size" in defaults
    assert env.get("ACCELERATE_USE_CPU") == "true"
    plan = plan_launch(LaunchRequest(config_file=path, script=script, cwd=tmp_path, env=env), accelerate=ACC)
    assert "--multi_gpu" in plan.argv and plan.num_processes == 2


def test_an_unknown_preset_is_a_usage_error() -> None:
    from tui.core.launch import preset_config_file

    with pytest.raises(UsageError, match="unknown preset 'cpux'"):
        preset_config_file("cpux")


def test_the_launch_screens_checker_probes_the_machine_once(
    tmp_path: Path, script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.core import hardware
    from tui.core.hardware import load_snapshot
    from tui.core.launch import ProbeOnceChecker

    snapshots = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "snapshots"
    probes: list[int] = []

    def probe_hardware() -> object:  # the recorded 4x A100 machine stands in for this one
        probes.append(1)
        return load_snapshot(snapshots / "a100-4x.json")

    monkeypatch.setattr(hardware, "probe_hardware", probe_hardware)
    config = write_config(tmp_path, MULTI_CPU_2.replace("num_processes: 2", "num_processes: 8"))
    checker = ProbeOnceChecker()
    verdicts = []
    for args in ((), ("--max_steps", "5"), ("--max_steps", "50")):  # the command edited, key by key
        request = LaunchRequest(config_file=config, script=script, args=args, cwd=tmp_path)
        verdicts.append([f.rule for f in check_launch(plan_launch(request, accelerate=ACC), checker)])
    assert len(probes) == 1
    assert verdicts[0] == verdicts[1] == verdicts[2] and "launch.note" in verdicts[0]


def test_the_checks_reuse_the_config_the_plan_read(tmp_path: Path, script: Path) -> None:
    config = write_config(tmp_path, MULTI_CPU_2.replace("mixed_precision: 'no'", "mixed_precision: 'NO'"))
    plan = plan_launch(LaunchRequest(config_file=config, script=script, cwd=tmp_path), accelerate=ACC)
    assert plan.loaded is not None and plan.loaded.problems  # the case-only warning, read once
    config.unlink()  # nothing reads the file again
    schema = [f for f in check_launch(plan, None) if f.rule == "schema"]
    assert [f.severity for f in schema] == ["warning"] and "mixed_precision" in schema[0].what
