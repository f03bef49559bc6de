"""Building the exact `accelerate launch` command for a config, a script (or module) and its args.

What this adds to the plain `accelerate launch --config_file F script args` and why (measured
with accelerate 1.15; see shared/notes/accelerate-launch-facts.md):

- `PYTHONUNBUFFERED=1` always: the single-process path runs the script without `-u`, so its
  output would arrive in 4 KiB blocks, long after the fact.
- `ACCELERATE_USE_CPU=true` whenever the config says `use_cpu`: on the multi-process path the
  YAML key never reaches the workers, which then run as N unconnected copies.
- `--multi_gpu` (+ that variable) for `MULTI_CPU` configs with more than one process and no
  mpirun: accelerate otherwise silently runs ONE process for exactly what `accelerate config`
  writes for multi-CPU.
- `--tee 3 --role rank --log_dir <run>/ranks` for multi-process runs: torch elastic then prefixes
  every line with `[rankN]:` (the log view's per-rank filter) and keeps per-rank files. The single
  process path ignores these options.

The plan is shown to the user before it runs (`display`, shell-quoted and copyable) and is what
the run directory records. `check_launch` turns config problems into findings (errors block,
warnings ask); `recall_choices`/`remember_choices` keep the last choices per project folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tui.core.accelerate_config import LoadedConfig, dump_config, load_config_file
from tui.core.checks import Finding
from tui.core.errors import UsageError
from tui.core.files import atomic_write
from tui.core.graph.state import DEEPSPEED, FSDP, MEGATRON_LM, MULTI_DEVICE
from tui.core.host import detect_host

if TYPE_CHECKING:
    from tui.core.hardware import HardwareInfo
from tui.core.paths import (
    bundled_inference_script,
    bundled_training_script,
    default_config_path,
    runs_dir,
    state_dir,
    user_config_dir,
)

# Which distributed types go through torch elastic (multi_gpu_launcher / deepspeed on one node).
_ELASTIC_TYPES = frozenset({*MULTI_DEVICE, FSDP, DEEPSPEED, MEGATRON_LM})
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
CHOICES_FILE = "launch-choices.json"
DEFAULT_PORT = 29500
MAX_REMEMBERED_PROJECTS = 200


@dataclass(frozen=True)
class LaunchRequest:
    """What the user chose: a config, a script or a module, its arguments, and where to run."""

    config_file: Path
    script: Path | None = None
    module: str | None = None
    args: tuple[str, ...] = ()
    cwd: Path = field(default_factory=Path.cwd)
    #: --tee/--role/--log_dir so lines carry `[rankN]:`; off gives the bare accelerate command.
    rank_prefixes: bool = True
    #: Extra environment for the run (e.g. a preset's NCCL_P2P_DISABLE=1); ours win on conflict.
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LaunchPlan:
    """The exact command, its environment overrides and the run folder it will use."""

    request: LaunchRequest
    argv: tuple[str, ...]
    env: Mapping[str, str]
    run_dir: Path
    config: Mapping[str, Any]
    num_processes: int
    notes: tuple[str, ...] = ()
    #: For a whole-cluster run (tui.core.multinode): lines are labelled `[nodeK host]`, K < this.
    node_groups: int = 0
    #: The config file as plan_launch read it (None when the config was given): its schema
    #: problems and key lines, so the checks need not read and validate it again.
    loaded: LoadedConfig | None = field(default=None, compare=False, repr=False)

    @property
    def display(self) -> str:
        """The copyable shell form: `VAR=value ... accelerate launch ...`."""
        return shell_command(self.argv, self.env)

    @property
    def target(self) -> str:
        """The script path or `-m module`, for lists and titles."""
        if self.request.module:
            return f"-m {self.request.module}"
        return str(self.request.script)


def env_words(env: Mapping[str, str]) -> str:
    """`A=1 B='two words'`: environment assignments as a shell reads them before a command."""
    return " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())


def shell_command(argv: Sequence[str], env: Mapping[str, str]) -> str:
    shown = list(argv)
    if shown and _is_on_path(shown[0]):
        shown[0] = Path(shown[0]).name
    return " ".join(w for w in (env_words(env), shlex.join(shown)) if w)


def _is_on_path(executable: str) -> bool:
    """True when typing the bare name runs the same file (then the copyable form uses the name)."""
    found = shutil.which(Path(executable).name)
    try:
        return found is not None and Path(found).resolve() == Path(executable).resolve()
    except OSError:
        return False


def find_accelerate() -> str:
    """The `accelerate` executable beside this Python (a venv used without activating), else PATH."""
    sibling = Path(sys.executable).parent / "accelerate"
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    found = shutil.which("accelerate")
    if found:
        return found
    raise UsageError(
        "accelerate is not installed in this environment; install the training extras with "
        "`pip install -e '.[train]'` (or `make install`)."
    )


def resolve_config(config_file: str | Path | None) -> Path:
    """--config-file if given, else accelerate's default file; exit 2 if there is none."""
    if config_file:
        path = Path(config_file).expanduser()
        if not path.is_file():
            raise UsageError(f"{path}: no such config file. Write one with `sftplay-tui` (the wizard).")
        return path.resolve()
    path = default_config_path()
    if not path.is_file():
        raise UsageError(
            f"no accelerate config at {path}: run `sftplay-tui` to answer the wizard, or pick a preset "
            "with `sftplay-tui launch --preset NAME` (or pass --config-file FILE)."
        )
    return path


class PresetLaunch(NamedTuple):
    """What `launch --preset NAME` needs from the preset, read once."""

    config_file: Path
    #: The preset's recommended environment, exported for the run.
    env: dict[str, str]
    #: The preset's training defaults as arguments of the bundled trainer.
    training_args: list[str]


def preset_config_file(name: str) -> PresetLaunch:
    """Build preset `name` (a user preset shadows a built-in one) into a config file to launch.

    The file goes to `$XDG_STATE_HOME/sftplay-tui/preset-configs/<name>.yaml` (each run keeps its
    own copy), written as `write --preset` writes it for the installed accelerate.
    """
    from tui.core.accelerate_version import installable
    from tui.core.presets import build_preset, resolve

    host = detect_host()
    entry = resolve(name, host)  # UnknownPreset (exit 2) lists the available ones
    preset = entry.require()  # PresetError (exit 2) names file and line
    built = build_preset(preset, host)
    target = state_dir() / "preset-configs" / f"{name}.yaml"
    atomic_write(target, dump_config(installable(built.config)[0], target), backup=False)
    env = {str(k): str(v) for k, v in dict(getattr(built, "env", {}) or {}).items()}
    return PresetLaunch(target, env, preset.preset.training.as_args())


def new_run_id(request: LaunchRequest, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    name = request.module.rsplit(".", 1)[-1] if request.module else (request.script or Path("run")).stem
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "run"
    return f"{stamp}-{slug}"


def _fresh_run_dir(request: LaunchRequest, base: Path | None) -> Path:
    root = base if base is not None else runs_dir()
    run_id = new_run_id(request)
    candidate = root / run_id
    counter = 2
    while candidate.exists():
        candidate = root / f"{run_id}-{counter}"
        counter += 1
    return candidate


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _num_processes(config: Mapping[str, Any]) -> int:
    value = config.get("num_processes", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


def plan_launch(
    request: LaunchRequest,
    *,
    config: Mapping[str, Any] | None = None,
    accelerate: str | None = None,
    runs_root: Path | None = None,
    run_dir: Path | None = None,
) -> LaunchPlan:
    """The command for `request`; raises UsageError for a missing script, bad module or config."""
    if (request.script is None) == (request.module is None):
        raise UsageError("give either a training script or a module (-m), not both.")
    loaded: LoadedConfig | None = None
    if config is None:
        loaded = load_config_file(request.config_file)
        if loaded.errors:
            first = loaded.errors[0].render(str(request.config_file))
            raise UsageError(f"{first} (fix the config first: `sftplay-tui check`).")
        config = loaded.data
    argv: list[str] = [accelerate or find_accelerate(), "launch", "--config_file", str(request.config_file)]
    env: dict[str, str] = {**request.env, "PYTHONUNBUFFERED": "1"}
    notes: list[str] = []
    dist = str(config.get("distributed_type", "NO"))
    nproc = _num_processes(config)
    use_cpu = _truthy(config.get("use_cpu", False))
    if dist == "MULTI_CPU" and nproc > 1 and not config.get("mpirun_config"):
        argv.append("--multi_gpu")
        env["ACCELERATE_USE_CPU"] = "true"
        notes.append(
            f"MULTI_CPU with {nproc} processes: added --multi_gpu and ACCELERATE_USE_CPU=true; accelerate "
            "alone would run a single process for this config."
        )
    elif use_cpu:
        env["ACCELERATE_USE_CPU"] = "true"
        if nproc > 1:
            notes.append("use_cpu: exported ACCELERATE_USE_CPU=true so the CPU ranks connect to each other.")
    elastic = nproc > 1 and (dist in _ELASTIC_TYPES or "--multi_gpu" in argv)
    machines = config.get("num_machines", 1)
    if elastic and machines in (1, None) and not config.get("main_process_port") and port_in_use(DEFAULT_PORT):
        # Two runs on one machine both default to 29500; the second would die at the rendezvous
        # with "address already in use". A free port keeps this run independent of the other.
        port = free_port()
        argv += ["--main_process_port", str(port)]
        notes.append(
            f"port {DEFAULT_PORT} (accelerate's default) is in use, probably by another run: "
            f"added --main_process_port {port}."
        )
    target_dir = run_dir if run_dir is not None else _fresh_run_dir(request, runs_root)
    if request.rank_prefixes and elastic:
        argv += ["--tee", "3", "--role", "rank", "--log_dir", str(target_dir / "ranks")]
    if request.module is not None:
        if not _MODULE_NAME.match(request.module):
            raise UsageError(f"{request.module!r} is not a Python module name (e.g. scripts.train).")
        argv += ["-m", request.module]
    else:
        assert request.script is not None
        script = request.script if request.script.is_absolute() else request.cwd / request.script
        if not script.is_file():
            raise UsageError(f"{request.script}: no such training script (looked in {request.cwd}).")
        argv.append(str(request.script))
    argv += list(request.args)
    return LaunchPlan(
        request=request,
        argv=tuple(argv),
        env=env,
        run_dir=target_dir,
        config=dict(config),
        num_processes=nproc,
        notes=tuple(notes),
        loaded=loaded,
    )


def port_in_use(port: int) -> bool:
    """True when nothing can listen on `port` (torch's rendezvous store binds every interface)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("", port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


def default_script() -> Path:
    return bundled_training_script()


def default_infer_script() -> Path:
    """The bundled batch-inference script (`launch --infer`, the launch screen's Inference)."""
    return bundled_inference_script()


def split_args(text: str) -> tuple[str, ...]:
    """Training arguments typed as one line (shell rules); UsageError on an unclosed quote."""
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise UsageError(f"training arguments: {exc} (check the quotes).") from None


# -- checks before launching ------------------------------------------------------------------

Checker = Callable[[Path, Mapping[str, Any]], Sequence[Finding]]


def hardware_findings(
    config_file: Path, config: Mapping[str, Any], hardware: HardwareInfo | None = None
) -> list[Finding]:
    """`tui.core.checks.check_config` on this machine (probed now unless `hardware` is given), as
    `sftplay-tui launch` will run it.

    `launcher="sftplay-tui"`: the rules then know that this launcher exports ACCELERATE_USE_CPU
    and adds --multi_gpu, so they do not report what the plan already fixes. Schema problems are
    left out (check_launch reports them from the file, with line numbers).
    """
    from tui.core.checks import check_config
    from tui.core.yaml_lines import key_lines

    try:
        text = config_file.read_text(encoding="utf-8")
        lines = {} if config_file.suffix == ".json" else key_lines(text)
    except (OSError, UnicodeDecodeError):
        lines = {}
    try:
        found = check_config(dict(config), hardware, lines=lines, launcher="sftplay-tui", schema=False)
    except UsageError:
        raise
    except Exception as exc:  # a checker bug must not block a launch; say so instead
        return [
            Finding("launch.checks", "warning", f"the hardware checks could not run ({type(exc).__name__}: {exc}).")
        ]
    return found


class ProbeOnceChecker:
    """`hardware_findings` against one probe of this machine, taken at the first check.

    The launch screen re-checks whenever the command is edited (every keystroke); the machine
    does not change between keystrokes, and a probe (NVML or nvidia-smi) costs far more than the
    rules. Safe to call from several worker threads.
    """

    def __init__(self) -> None:
        self._hardware: HardwareInfo | None = None
        self._lock = threading.Lock()

    def __call__(self, config_file: Path, config: Mapping[str, Any]) -> list[Finding]:
        with self._lock:
            if self._hardware is None:
                from tui.core.hardware import probe_hardware

                self._hardware = probe_hardware()
        return hardware_findings(config_file, config, self._hardware)


def check_launch(plan: LaunchPlan, checker: Checker | None = hardware_findings) -> list[Finding]:
    """Schema problems of the config, what the launcher changes (info), and the hardware checks."""
    findings: list[Finding] = []
    try:
        loaded = plan.loaded or load_config_file(plan.request.config_file)
        for problem in loaded.problems:
            findings.append(
                Finding(
                    "schema",
                    problem.severity,
                    f"{problem.key or plan.request.config_file.name}: {problem.message}",
                    fix=problem.fix,
                    key=problem.key or None,
                    line=problem.line,
                )
            )
    except UsageError as exc:
        findings.append(Finding("launch.config", "error", exc.message))
    for note in plan.notes:
        findings.append(Finding("launch.note", "info", note))
    if checker is not None:
        findings.extend(checker(plan.request.config_file, plan.config))
    return findings


def blocking(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


def warnings_of(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "warning"]


# -- remembered choices -----------------------------------------------------------------------


@dataclass
class LaunchChoices:
    """The last launch choices in one project folder."""

    config_file: str | None = None
    preset: str | None = None
    script: str | None = None
    module: str | None = None
    args: list[str] = field(default_factory=list)
    #: Arguments of the last inference run (training/infer.py), kept apart from the training ones.
    infer_args: list[str] = field(default_factory=list)
    updated: float = 0.0

    @classmethod
    def from_json(cls, data: Any) -> LaunchChoices | None:
        if not isinstance(data, Mapping):
            return None

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        args = data.get("args")
        infer_args = data.get("infer_args")
        updated = data.get("updated")
        return cls(
            config_file=text("config_file"),
            preset=text("preset"),
            script=text("script"),
            module=text("module"),
            args=[a for a in args if isinstance(a, str)] if isinstance(args, list) else [],
            infer_args=[a for a in infer_args if isinstance(a, str)] if isinstance(infer_args, list) else [],
            updated=float(updated) if isinstance(updated, int | float) else 0.0,
        )


def _choices_path() -> Path:
    return user_config_dir() / CHOICES_FILE


def _load_all_choices() -> dict[str, Any]:
    try:
        data = json.loads(_choices_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recall_choices(project_dir: Path | None = None) -> LaunchChoices | None:
    """The choices last used in `project_dir` (default: the current folder), if any."""
    key = str((project_dir or Path.cwd()).resolve())
    return LaunchChoices.from_json(_load_all_choices().get(key))


def remember_choices(choices: LaunchChoices, project_dir: Path | None = None) -> None:
    """Store the choices for `project_dir`; keeps the newest few hundred folders. Never raises."""
    key = str((project_dir or Path.cwd()).resolve())
    data = _load_all_choices()
    choices.updated = time.time()
    data[key] = asdict(choices)
    if len(data) > MAX_REMEMBERED_PROJECTS:

        def age(item: tuple[str, Any]) -> float:
            value = item[1].get("updated", 0) if isinstance(item[1], dict) else 0
            return float(value) if isinstance(value, int | float) else 0.0

        data = dict(sorted(data.items(), key=age)[-MAX_REMEMBERED_PROJECTS:])
    # Remembering is a convenience: a read-only config folder must not stop a launch.
    with contextlib.suppress(UsageError):
        atomic_write(_choices_path(), json.dumps(data, indent=2, sort_keys=True) + "\n", backup=False)
