"""Check an accelerate config against a machine's hardware record, before anything is launched.

accelerate checks almost nothing of this before it starts processes: it will start 8 ranks on a
4-GPU box, run bf16 on a V100, hang on RTX 40xx P2P, start one process where the config asks for
several, or let a scheduler multiply every `accelerate launch` by its own per-node count.

`check_config(config, hardware)` returns `Finding`s, each one line: severity, what, why, fix.
Schema problems come from `accelerate_config.validate_config` (not repeated here); every other
rule reads the config (tolerantly: a lowercase `multi_gpu` is still checked as MULTI_GPU) and the
`HardwareInfo` (its GPUs, topology and the environment it was taken in). `check_config_file`
adds the file-level rules (the `default_config.yml` accelerate never reads) and raises
`UsageError` for files that cannot be read at all (exit status 2 in the CLI).

Rule ids (stable, for tests and front ends): schema, file.yml-ignored, processes.missing,
processes.divisible, processes.no-gpu, processes.too-many, processes.idle-gpus,
processes.gpu-ids, processes.cuda-visible, processes.scheduler, precision.bf16, precision.fp8,
precision.fp16-cpu, topology.p2p, topology.mixed-models, gpus.busy, multinode.machine-rank,
multinode.main-ip, multinode.scheduler-rank, software.deepspeed, silent.multi-cpu,
silent.no-distributed, silent.fsdp-no-gpu, silent.use-cpu, silent.layer-class.

`launcher="sftplay-tui"` checks for `sftplay-tui launch`, which exports ACCELERATE_USE_CPU=true for
configs with `use_cpu: true` or MULTI_CPU and so starts connected CPU ranks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tui.core.accelerate_config import LoadedConfig, Problem, load_config_file, location_prefix, validate_config
from tui.core.hardware.base import BUSY_MEMORY_MIB, GpuInfo, HardwareInfo
from tui.core.hardware.env import SchedulerLayout, as_int, scheduler_layout, truthy
from tui.core.hardware.gpu_models import is_geforce_rtx_40, short_name
from tui.core.hardware.visible import resolve_ids, visible_gpus
from tui.core.hints import installed_fp8
from tui.core.paths import DEFAULT_CONFIG_NAME
from tui.core.yaml_lines import line_of

Severity = Literal["error", "warning", "info"]
Launcher = Literal["accelerate", "sftplay-tui"]

GPU_TYPES = frozenset({"MULTI_GPU", "FSDP", "DEEPSPEED", "MEGATRON_LM"})
OTHER_DEVICE_TYPES = frozenset(
    {"MULTI_NPU", "MULTI_MLU", "MULTI_SDAA", "MULTI_MUSA", "MULTI_XPU", "XLA", "MULTI_HPU", "MULTI_NEURON"}
)


@dataclass(frozen=True)
class Finding:
    """One line of `check`: severity, what, why, the fix."""

    rule: str
    severity: Severity
    what: str
    why: str = ""
    fix: str = ""
    key: str | None = None
    line: int | None = None

    def render(self, source: str | None = None) -> str:
        """`file:line: severity [rule]: what Why: ... Fix: ...` on one line."""
        return f"{location_prefix(source, self.line)}{self.severity} {self.details()}"

    def details(self) -> str:
        """`[rule]: what Why: ... Fix: ...`: the finding without where and how severe (for a UI
        that shows the severity its own way)."""
        text = f"[{self.rule}]: {self.what}"
        if self.why:
            text += f" Why: {self.why}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return " ".join(text.split())

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "what": self.what,
            "why": self.why,
            "fix": self.fix,
            "key": self.key,
            "line": self.line,
        }


@dataclass(frozen=True)
class ModelInfo:
    """What the launcher knows about the model: its class names and `_no_split_modules`."""

    class_names: frozenset[str]
    no_split_modules: tuple[str, ...] = ()
    name: str | None = None


@dataclass
class CheckReport:
    path: Path | None
    findings: list[Finding] = field(default_factory=list)
    #: The file actually checked (a default_config.yml when the .yaml is missing).
    checked_path: Path | None = None
    #: The config as loaded from it (for checks across several configs).
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def lines(self) -> list[str]:
        source = str(self.checked_path or self.path) if (self.checked_path or self.path) else None
        return [f.render(source) for f in self.findings]


# -- reading the config tolerantly ---------------------------------------------------------------


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return truthy(value)
    return bool(value)


@dataclass(frozen=True)
class _Config:
    compute_environment: str
    distributed_type: str
    precision: str
    num_processes: int | None
    num_machines: int
    machine_rank: int | None
    use_cpu: bool
    gpu_ids: str | None
    main_process_ip: str | None
    mpirun_hostfile: str | None
    fsdp: Mapping[str, Any]
    fp8_backend: str | None

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> _Config:
        precision = data.get("mixed_precision")
        if precision is None and data.get("fp16") is True:
            precision = "fp16"  # accelerate's loader converts the legacy key
        n = as_int(data.get("num_processes"))
        machines = as_int(data.get("num_machines"))
        gpu_ids = data.get("gpu_ids")
        mpirun = data.get("mpirun_config")
        fsdp = data.get("fsdp_config")
        fp8 = data.get("fp8_config")
        return cls(
            compute_environment=str(data.get("compute_environment") or "LOCAL_MACHINE").upper(),
            # `or`: an unquoted NO is YAML's false (the schema finding says so); read it as NO.
            distributed_type=str(data.get("distributed_type") or "NO").upper(),
            precision=str(precision or "no").lower(),
            num_processes=n if n is not None and n >= 1 else None,
            num_machines=machines if machines is not None and machines >= 1 else 1,
            machine_rank=as_int(data.get("machine_rank", 0)),
            use_cpu=_as_bool(data.get("use_cpu", False)),
            gpu_ids=None if gpu_ids is None else str(gpu_ids).strip(),
            main_process_ip=str(data["main_process_ip"]) if data.get("main_process_ip") else None,
            mpirun_hostfile=(mpirun.get("mpirun_hostfile") if isinstance(mpirun, Mapping) else None)
            or data.get("mpirun_hostfile"),
            fsdp=fsdp if isinstance(fsdp, Mapping) else {},
            fp8_backend=str(fp8.get("backend")).upper() if isinstance(fp8, Mapping) and fp8.get("backend") else None,
        )

    @property
    def per_machine(self) -> int | None:
        if self.num_processes is None:
            return None
        return max(self.num_processes // self.num_machines, 1)

    @property
    def spawns(self) -> bool:
        """Whether `accelerate launch` itself starts several processes per machine."""
        return self.distributed_type in GPU_TYPES


def _parse_gpu_ids(text: str) -> list[str] | None:
    parts = [p.strip() for p in text.split(",")]
    if not parts or any(not re.fullmatch(r"\d+|GPU-[0-9a-fA-F-]+|MIG-[0-9a-zA-Z/-]+", p) for p in parts):
        return None
    return parts


def _names(gpus: Iterable[GpuInfo]) -> str:
    return ", ".join(str(g.index) for g in gpus)


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}es" if word.endswith("s") else f"{n} {word}s"


# -- the rules -----------------------------------------------------------------------------------


class _Checker:
    def __init__(
        self,
        data: Mapping[str, Any],
        hw: HardwareInfo,
        lines: Mapping[tuple[str, ...], int] | None,
        launcher: Launcher,
        fp8_backends: Sequence[str] | None,
    ) -> None:
        self.data = data
        self.cfg = _Config.read(data)
        self.hw = hw
        self.env = hw.env
        self.lines = lines or {}
        self.launcher = launcher
        self.fp8_backends = fp8_backends
        self.out: list[Finding] = []
        self.visible = visible_gpus(hw)
        self.chosen: list[GpuInfo] = list(self.visible.gpus)
        self.layout: SchedulerLayout = scheduler_layout(self.env)

    def add(self, rule: str, severity: Severity, what: str, why: str, fix: str, key: str | None = None) -> None:
        line = line_of(self.lines, *key.split(".")) if key else None
        self.out.append(Finding(rule, severity, what, why, fix, key, line))

    # The effective device: accelerate runs on CPU when told to (use_cpu, ACCELERATE_USE_CPU,
    # MULTI_CPU) or when there is no GPU to run on.
    @property
    def env_use_cpu(self) -> bool:
        return truthy(self.env.get("ACCELERATE_USE_CPU"))

    @property
    def sftplay_sets_cpu(self) -> bool:
        return self.launcher == "sftplay-tui" and (self.cfg.use_cpu or self.cfg.distributed_type == "MULTI_CPU")

    @property
    def on_cpu(self) -> bool:
        c = self.cfg
        return not self.visible.gpus or c.use_cpu or c.distributed_type == "MULTI_CPU" or self.env_use_cpu

    def run(self) -> list[Finding]:
        c = self.cfg
        if c.compute_environment != "LOCAL_MACHINE":
            return self.out  # SageMaker configs run on machines this record does not describe
        if c.distributed_type in OTHER_DEVICE_TYPES:
            return self.out  # TPUs, NPUs, ...: NVIDIA probes say nothing about them
        if not c.spawns:
            self.chosen = list(self.visible.gpus[:1])  # one process on cuda:0
        self.processes()
        self.precision()
        self.topology()
        self.busy()
        self.multinode()
        self.scheduler()
        self.silent()
        self.software()
        return self.out

    # processes ----------------------------------------------------------------------------

    def processes(self) -> None:
        c = self.cfg
        for problem in self.visible.problems:
            self.add(
                "processes.cuda-visible",
                "warning",
                problem,
                "torch only sees the GPUs before the first invalid entry.",
                "list existing GPU indexes or UUIDs (see `sftplay-tui gpu-info`).",
            )
        if c.num_processes is None:
            raw = self.data.get("num_processes")
            if raw is None or as_int(raw) == -1:
                suggested = max(len(self.visible.gpus), 1) * c.num_machines
                self.add(
                    "processes.missing",
                    "error",
                    "num_processes is not set." if raw is None else "num_processes is -1 (not set).",
                    "accelerate launch stops with 'You need to manually pass in `--num_processes` using "
                    "this config yaml.'",
                    f"add `num_processes: {suggested}` (the total across all machines).",
                    "num_processes",
                )
            return
        n, m = c.num_processes, c.num_machines
        if c.spawns and m > 1 and n % m != 0:
            self.add(
                "processes.divisible",
                "error",
                f"num_processes {n} is not a multiple of num_machines {m}.",
                f"num_processes is the total across machines; accelerate starts {n // m} per machine, "
                f"{(n // m) * m} in all, not {n}.",
                f"set num_processes to {m} x (GPUs per machine), e.g. {m * max(len(self.visible.gpus), 1)}.",
                "num_processes",
            )
        if c.spawns:
            self._gpu_ids_and_counts()

    def _gpu_ids_and_counts(self) -> None:
        c, hw = self.cfg, self.hw
        per = c.per_machine or 1
        gpus_here = list(self.visible.gpus)
        ids_text = c.gpu_ids
        if ids_text and ids_text.lower() != "all":
            parsed = _parse_gpu_ids(ids_text)
            if parsed is None:
                self.add(
                    "processes.gpu-ids",
                    "error",
                    f"gpu_ids {ids_text!r} is not a comma-separated list of GPU indexes.",
                    "accelerate puts it into CUDA_VISIBLE_DEVICES as is; CUDA ignores what it cannot read.",
                    "write e.g. `gpu_ids: 0,1` or `gpu_ids: all`.",
                    "gpu_ids",
                )
                return
            # accelerate replaces CUDA_VISIBLE_DEVICES with gpu_ids: they index the machine's GPUs.
            base = list(hw.gpus)
            chosen, problem = resolve_ids(ids_text, base)
            if problem:
                have = _names(base) or "none"
                self.add(
                    "processes.gpu-ids",
                    "error",
                    f"gpu_ids {ids_text!r}: {problem}.",
                    f"this machine's GPUs are {have}; a rank on a missing GPU fails with 'invalid device ordinal'.",
                    f"use existing indexes, e.g. `gpu_ids: {','.join(str(g.index) for g in base[:per]) or 'all'}`.",
                    "gpu_ids",
                )
                return
            cvd = self.env.get("CUDA_VISIBLE_DEVICES")
            if cvd is not None and cvd.replace(" ", "") != ids_text.replace(" ", "") and not hw.visible_devices_applied:
                self.add(
                    "processes.cuda-visible",
                    "warning",
                    f"CUDA_VISIBLE_DEVICES={cvd} is set, and gpu_ids is {ids_text!r}.",
                    "accelerate launch replaces CUDA_VISIBLE_DEVICES with gpu_ids for its processes.",
                    "keep one of them: unset CUDA_VISIBLE_DEVICES or set `gpu_ids: all`.",
                    "gpu_ids",
                )
            if c.distributed_type == "MULTI_GPU" and c.num_machines <= 1 and len(chosen) < 2:
                self.add(
                    "processes.gpu-ids",
                    "error",
                    f"gpu_ids {ids_text!r} names fewer than two GPUs for a multi-GPU run.",
                    "accelerate launch stops with 'Less than two GPU ids were configured and tried to run "
                    "on multiple GPUs.'",
                    "list at least two GPUs, use `gpu_ids: all`, or `distributed_type: NO` for one GPU.",
                    "gpu_ids",
                )
                return
            if len(chosen) > per:
                self.add(
                    "processes.idle-gpus",
                    "warning",
                    f"gpu_ids lists {_plural(len(chosen), 'GPU')} but {per} process"
                    f"{'es' if per != 1 else ''} per machine use them.",
                    f"GPU{'s' if len(chosen) - per != 1 else ''} {_names(chosen[per:])} stay idle.",
                    f"set num_processes to {len(chosen) * c.num_machines}, or drop the extra ids.",
                    "num_processes",
                )
            gpus_here = chosen
            how = f"gpu_ids {ids_text!r} names {len(chosen)}"
        else:
            how = self.visible.how if self.env.get("CUDA_VISIBLE_DEVICES") is not None else ""
        self.chosen = gpus_here[:per]
        if not self.hw.gpus or not gpus_here:
            self._no_gpu()
            return
        if per > len(gpus_here):
            total = len(gpus_here) * c.num_machines
            self.add(
                "processes.too-many",
                "error",
                f"num_processes {c.num_processes} on {_plural(c.num_machines, 'machine')} starts {per} per "
                f"machine, but this machine has {_plural(len(self.hw.gpus), 'GPU')}" + (f" ({how})." if how else "."),
                "each process takes one GPU; the ranks without one fail with 'invalid device ordinal' or "
                "share a GPU and run out of memory.",
                f"set `num_processes: {total}`"
                + (" (GPUs per machine x num_machines)." if c.num_machines > 1 else "."),
                "num_processes",
            )
        elif per < len(gpus_here) and (not ids_text or ids_text.lower() == "all"):
            idle = gpus_here[per:]
            self.add(
                "processes.idle-gpus",
                "warning",
                f"{per} process{'es' if per != 1 else ''} per machine on {_plural(len(gpus_here), 'GPU')}.",
                f"GPU{'s' if len(idle) != 1 else ''} {_names(idle)} stay idle.",
                f"set `num_processes: {len(gpus_here) * c.num_machines}` to use every GPU, or choose the GPUs "
                f"with `gpu_ids: {_names(gpus_here[:per]).replace(' ', '')}`.",
                "num_processes",
            )

    def _no_gpu(self) -> None:
        c = self.cfg
        n = c.num_processes or 1
        why_hidden = (
            f" ({self.visible.how})" if self.hw.gpus and self.env.get("CUDA_VISIBLE_DEVICES") is not None else ""
        )
        cpu_ranks = self.env_use_cpu or self.sftplay_sets_cpu
        if c.distributed_type == "FSDP":
            if cpu_ranks:
                why = (
                    "with ACCELERATE_USE_CPU=true accelerate silently falls back to DDP: every rank holds "
                    "the whole model, nothing is sharded."
                )
            else:
                why = f"without ACCELERATE_USE_CPU=true the {n} processes run unconnected, each a full run."
            self.add(
                "silent.fsdp-no-gpu",
                "error",
                f"FSDP on a machine without GPUs{why_hidden}.",
                why,
                "run FSDP on a GPU machine; to try the pipeline on CPU use DDP (`distributed_type: MULTI_GPU`, "
                "`use_cpu: true`, launched by `sftplay-tui launch`, or with ACCELERATE_USE_CPU=true exported).",
                "distributed_type",
            )
            return
        if c.distributed_type == "MULTI_GPU":
            if cpu_ranks:
                return  # the CPU-ranks recipe: MULTI_GPU + ACCELERATE_USE_CPU=true gives N gloo ranks
            if c.use_cpu:
                self.add(
                    "silent.use-cpu",
                    "error",
                    f"MULTI_GPU with `use_cpu: true` and {_plural(n, 'process')}, but ACCELERATE_USE_CPU is not set.",
                    f"the config key does not reach the workers: {n} unconnected single-process runs start, "
                    "each believing it is the main process.",
                    "export ACCELERATE_USE_CPU=true before `accelerate launch`, or launch with "
                    "`sftplay-tui launch` (which does).",
                    "use_cpu",
                )
                return
        what = f"{c.distributed_type} needs GPUs and this machine has none{why_hidden}."
        fix = (
            "run it on a GPU machine; on CPU use `distributed_type: MULTI_GPU` with `use_cpu: true` "
            "launched by `sftplay-tui launch` (connected CPU ranks), or `distributed_type: NO`."
        )
        self.add(
            "processes.no-gpu",
            "error",
            what,
            f"the {_plural(n, 'process')} cannot form a GPU process group: they fail at start or run unconnected.",
            fix,
            "distributed_type",
        )

    # precision ----------------------------------------------------------------------------

    def precision(self) -> None:
        c = self.cfg
        p = c.precision
        if p not in ("fp16", "bf16", "fp8"):
            return
        if self.on_cpu:
            if p == "fp16":
                self.add(
                    "precision.fp16-cpu",
                    "error",
                    "mixed_precision fp16 on CPU"
                    + (" (this machine has no GPU)." if not self.visible.gpus else " (use_cpu / MULTI_CPU)."),
                    "accelerate stops with 'fp16 mixed precision requires a GPU'.",
                    "use `mixed_precision: bf16` (CPU autocast supports it) or `mixed_precision: no`.",
                    "mixed_precision",
                )
            elif p == "fp8":
                self.add(
                    "precision.fp8",
                    "error",
                    "mixed_precision fp8 without a GPU.",
                    "fp8 training needs NVIDIA GPUs of compute capability 8.9+ (Ada, Hopper).",
                    "use `mixed_precision: bf16` or `no` on CPU.",
                    "mixed_precision",
                )
            return
        gpus = self.chosen or list(self.visible.gpus)
        if p == "bf16":
            old = [g for g in gpus if g.compute_capability is not None and g.compute_capability < (8, 0)]
            if old:
                g = old[0]
                self.add(
                    "precision.bf16",
                    "error",
                    f"mixed_precision bf16 on {short_name(g.name)} (GPU {_names(old)}), compute capability "
                    f"{g.cc_text}.",
                    "bf16 needs compute capability 8.0+ (Ampere or newer); older GPUs fail or emulate it slowly.",
                    "use `mixed_precision: fp16`.",
                    "mixed_precision",
                )
        elif p == "fp8":
            old = [g for g in gpus if g.compute_capability is not None and g.compute_capability < (8, 9)]
            if old:
                g = old[0]
                self.add(
                    "precision.fp8",
                    "error",
                    f"mixed_precision fp8 on {short_name(g.name)} (GPU {_names(old)}), compute capability {g.cc_text}.",
                    "fp8 needs compute capability 8.9+ (Ada Lovelace, Hopper or newer).",
                    "use `mixed_precision: bf16`"
                    + (" (fp16 on this GPU)." if g.compute_capability and g.compute_capability < (8, 0) else "."),
                    "mixed_precision",
                )
            backends = installed_fp8(self.hw, self.fp8_backends)
            wanted = {"TE": "transformer_engine", "AO": "torchao", "MSAMP": "msamp"}.get(c.fp8_backend or "")
            if not backends:
                self.add(
                    "precision.fp8",
                    "error",
                    "mixed_precision fp8 but no fp8 backend is installed"
                    + (" on the recorded machine." if self.hw.fp8_backends is not None else "."),
                    "accelerate needs TransformerEngine, torchao (>= 0.6.1) or MS-AMP for fp8.",
                    "pip install transformer-engine (or torchao), or use `mixed_precision: bf16`.",
                    "mixed_precision",
                )
            elif wanted and wanted not in backends:
                self.add(
                    "precision.fp8",
                    "error",
                    f"fp8_config.backend is {c.fp8_backend} but {wanted} is not installed "
                    f"(installed: {', '.join(backends)}).",
                    "accelerate fails when it sets up the chosen fp8 backend.",
                    f"install {wanted} or set fp8_config.backend to one that is installed.",
                    "fp8_config.backend",
                )

    # topology -----------------------------------------------------------------------------

    def topology(self) -> None:
        c = self.cfg
        if not c.spawns or self.on_cpu or (c.per_machine or 1) < 2 or len(self.chosen) < 2:
            return
        chosen = self.chosen
        hw = self.hw
        pos = {g.index: k for k, g in enumerate(hw.gpus)}
        no_p2p: list[tuple[int, int]] = []
        for a in range(len(chosen)):
            for b in range(a + 1, len(chosen)):
                i, j = pos.get(chosen[a].index), pos.get(chosen[b].index)
                if i is None or j is None:
                    continue
                if hw.p2p[i][j] is False or hw.p2p[j][i] is False:
                    no_p2p.append((chosen[a].index, chosen[b].index))
        rtx40 = [g for g in chosen if is_geforce_rtx_40(g.name)]
        if no_p2p or rtx40:
            unset = []
            if not truthy(self.env.get("NCCL_P2P_DISABLE")):
                unset.append("NCCL_P2P_DISABLE=1")
            if c.num_machines <= 1 and not truthy(self.env.get("NCCL_IB_DISABLE")):
                unset.append("NCCL_IB_DISABLE=1")
            if unset:
                if no_p2p:
                    pairs = ", ".join(f"{i}-{j}" for i, j in no_p2p[:6]) + (", ..." if len(no_p2p) > 6 else "")
                    what = f"GPUs without peer-to-peer access ({pairs})"
                else:
                    what = f"{short_name(rtx40[0].name)} GPUs (no working PCIe P2P, whatever the driver reports)"
                self.add(
                    "topology.p2p",
                    "warning",
                    f"{what}, and {' / '.join(v.split('=')[0] for v in unset)} not set.",
                    "NCCL may try P2P anyway and hang at the first collective (the well-known RTX 40xx hang) "
                    "or run slowly.",
                    f"export {' '.join(unset)} before launching.",
                )
        models = sorted({g.name for g in chosen})
        if len(models) > 1:
            order = (
                ""
                if self.env.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID"
                else (
                    " Also export CUDA_DEVICE_ORDER=PCI_BUS_ID so CUDA numbers GPUs as nvidia-smi does "
                    "(by default it puts the fastest first)."
                )
            )
            self.add(
                "topology.mixed-models",
                "warning",
                f"mixed GPU models in one run: {', '.join(short_name(m) for m in models)}.",
                "every step waits for the slowest GPU, and the smallest memory limits the batch size.",
                "use one model (choose them with `gpu_ids`)." + order,
                "gpu_ids",
            )

    # busy GPUs ----------------------------------------------------------------------------

    def busy(self) -> None:
        if self.on_cpu or (not self.cfg.spawns and self.cfg.distributed_type != "NO"):
            return
        chosen = self.chosen
        busy: list[str] = []
        pids: list[int] = []
        for g in chosen:
            procs = list(g.busy_processes)
            if procs:
                busy.append(
                    f"GPU {g.index}: "
                    + ", ".join(f"pid {p.pid} ({p.name.rsplit('/', 1)[-1]}, {p.used_mib} MiB)" for p in procs)
                )
                pids += [p.pid for p in procs]
            elif g.memory_used_mib >= max(BUSY_MEMORY_MIB, g.memory_total_mib // 20) and not g.processes:
                busy.append(f"GPU {g.index}: {g.memory_used_mib} MiB used by processes not visible from here")
        if not busy:
            return
        free = [g for g in self.visible.gpus if not g.busy_processes]
        free = [g for g in free if g.memory_used_mib < max(BUSY_MEMORY_MIB, g.memory_total_mib // 20)]
        fix = "wait for them or stop them"
        if pids:
            fix += f" (`kill {' '.join(str(p) for p in sorted(set(pids)))}` if they are yours)"
        if len(free) >= 2 and self.cfg.spawns:
            fix += (
                f", or leave those GPUs out: `gpu_ids: {','.join(str(g.index) for g in free)}` with "
                f"`num_processes: {len(free) * self.cfg.num_machines}`"
            )
        self.add(
            "gpus.busy",
            "warning",
            "other processes hold memory on the chosen GPUs: " + "; ".join(busy) + ".",
            "your ranks get less memory (out-of-memory errors) and share the GPU's compute.",
            fix + ".",
        )

    # multi-node ---------------------------------------------------------------------------

    def multinode(self) -> None:
        c = self.cfg
        if c.machine_rank is not None and not 0 <= c.machine_rank < c.num_machines:
            self.add(
                "multinode.machine-rank",
                "error",
                f"machine_rank {c.machine_rank} is outside 0..{c.num_machines - 1} (num_machines {c.num_machines}).",
                "the rendezvous waits for ranks that never come: the job hangs.",
                f"give each machine its own machine_rank from 0 to {c.num_machines - 1} (0 on the main machine).",
                "machine_rank",
            )
        if c.num_machines > 1 and not c.main_process_ip and c.distributed_type != "MULTI_CPU":
            self.add(
                "multinode.main-ip",
                "error",
                f"num_machines {c.num_machines} but main_process_ip is not set.",
                "the other machines cannot find the main one (torch defaults to 127.0.0.1): they wait forever.",
                "set `main_process_ip:` to the main machine's address, reachable from every machine "
                "(and `main_process_port:`).",
                "main_process_ip",
            )
        node_rank = self.layout.node_rank
        if (
            c.num_machines > 1
            and node_rank is not None
            and c.machine_rank is not None
            and node_rank != c.machine_rank
            and self.layout.scheduler is not None
        ):
            var = next((v for v in ("NODE_RANK", "SLURM_NODEID") if v in self.env), "GROUP_RANK")
            self.add(
                "multinode.scheduler-rank",
                "warning",
                f"machine_rank is {c.machine_rank} but the scheduler says this is node {node_rank} ({var}).",
                "two machines with the same rank make the rendezvous fail or hang.",
                f"launch with `accelerate launch --machine_rank ${var}` instead of a fixed machine_rank.",
                "machine_rank",
            )

    # schedulers ---------------------------------------------------------------------------

    def scheduler(self) -> None:
        lay = self.layout
        if lay.scheduler is None:
            return
        c = self.cfg
        per = (c.per_machine or 1) if c.spawns else 1  # NO and MULTI_CPU: the simple launcher, one
        gpus = len(self.visible.gpus)
        fix = _scheduler_fix(lay.scheduler)
        if lay.per_node is not None and lay.per_node > 1:
            product = lay.per_node * per
            if per > 1:
                what = (
                    f"{lay.scheduler} already runs {lay.per_node} processes on this node ({lay.evidence}) and "
                    f"each `accelerate launch` starts {per}: {product} processes on this node"
                    + (f" for {_plural(gpus, 'GPU')}." if gpus else ".")
                )
                why = (
                    "the processes multiply instead of sharing the GPUs: ranks collide on the same GPUs and "
                    "the same port, and the job fails or hangs."
                )
                full_fix = (
                    f"with accelerate launch the scheduler's per-node count must be 1 ({fix}); accelerate then "
                    f"starts one process per GPU (num_processes {per} per node)."
                )
                severity: Severity = "error" if lay.in_step else "warning"
                if not lay.in_step:
                    what = (
                        f"this SLURM job asks for {lay.per_node} tasks per node ({lay.evidence}); started with "
                        f"srun, each task runs `accelerate launch` with {per} processes: {product} per node."
                    )
                self.add("processes.scheduler", severity, what, why, full_fix, "num_processes")
            else:
                self.add(
                    "processes.scheduler",
                    "warning",
                    f"{lay.scheduler} already runs {lay.per_node} processes on this node ({lay.evidence}), each "
                    "running `accelerate launch` of a single process.",
                    "accelerate does not join them into one run unless the script itself initialises "
                    "torch.distributed from the scheduler's variables.",
                    f"set the scheduler's per-node count to 1 ({fix}) and let accelerate start one process "
                    f"per GPU (`num_processes: {max(gpus, 1) * c.num_machines}`).",
                )
        elif lay.per_node is None and per > 1:
            self.add(
                "processes.scheduler",
                "warning",
                f"this process already runs as one of several ranks ({lay.evidence}), and `accelerate launch` "
                f"would start {per} more per node.",
                "if the scheduler starts more than one process per node, each launch multiplies the count.",
                f"make sure the scheduler starts one process per node ({fix}).",
            )

    # configs that run silently wrong ------------------------------------------------------

    def silent(self) -> None:
        c = self.cfg
        n = c.num_processes
        if n is None:
            return
        multi_cpu = c.distributed_type == "MULTI_CPU" and n > c.num_machines and not c.mpirun_hostfile
        if multi_cpu and self.launcher != "sftplay-tui":
            per = n // c.num_machines
            self.add(
                "silent.multi-cpu",
                "error",
                f"MULTI_CPU with {per} processes per machine and no mpirun (mpirun_config).",
                "accelerate launch starts ONE process (its simple launcher), with no warning; "
                "multi-CPU ranks need mpirun.",
                f"launch it with `sftplay-tui launch`, which runs {per} connected CPU ranks "
                "(MULTI_GPU + ACCELERATE_USE_CPU=true); or set `mpirun_config.mpirun_hostfile`; or "
                "write `distributed_type: MULTI_GPU`, `use_cpu: true` and export ACCELERATE_USE_CPU=true.",
                "distributed_type",
            )
        if c.distributed_type == "NO" and n > 1:
            self.add(
                "silent.no-distributed",
                "error",
                f"distributed_type NO with num_processes {n}.",
                "accelerate launch starts one process for NO; the other processes never exist.",
                "write `distributed_type: MULTI_GPU` for several GPUs (or with `use_cpu: true` for CPU "
                "ranks), or `num_processes: 1`.",
                "num_processes",
            )
        if (
            c.distributed_type == "MULTI_GPU"
            and c.use_cpu
            and self.visible.gpus
            and n > 1
            and not self.env_use_cpu
            and self.launcher != "sftplay-tui"
        ):
            self.add(
                "silent.use-cpu",
                "warning",
                "MULTI_GPU with `use_cpu: true`, but ACCELERATE_USE_CPU is not set.",
                "the YAML key does not reach the workers: they train on the GPUs, not on the CPU.",
                "export ACCELERATE_USE_CPU=true (or launch with `sftplay-tui launch`) if you meant CPU; "
                "else set `use_cpu: false`.",
                "use_cpu",
            )

    def software(self) -> None:
        if self.cfg.distributed_type == "DEEPSPEED" and self.hw.software and "deepspeed" not in self.hw.software:
            self.add(
                "software.deepspeed",
                "error",
                "distributed_type DEEPSPEED but deepspeed is not installed"
                + (" on the recorded machine." if self.hw.source != "none" or self.hw.hostname else "."),
                "accelerate launch stops: 'DeepSpeed is not installed'.",
                "pip install deepspeed, or use FSDP (`distributed_type: FSDP`).",
                "distributed_type",
            )


def _scheduler_fix(name: str) -> str:
    if name == "SLURM":
        return "`#SBATCH --ntasks-per-node=1` / `srun --ntasks-per-node=1`"
    if name.startswith("Azure ML"):
        return "`process_count_per_instance: 1` in the job's distribution"
    if name == "MPI":
        return "`mpirun -npernode 1`"
    if name == "torchrun":
        return "`torchrun --nproc_per_node=1`, or run `accelerate launch` directly instead of under torchrun"
    return "one process per node"


# -- schema problems as findings -----------------------------------------------------------------


def _schema_finding(p: Problem) -> Finding:
    text = p.message
    if "normalises this value's case" in text:
        why = "the spelling accelerate writes keeps diffs against its own files and other tools clean."
    elif "SageMaker" in text or "case-sensitive" in text:
        why = "accelerate compares these values exactly, letter case included."
    elif "deprecated" in text:
        why = "accelerate 1.15 still reads it but warns on every launch; a later version may not."
    elif "renamed" in text or "removed" in text:
        why = "accelerate 1.15 reads the key under its new name only."
    elif "unknown key" in text:
        why = "accelerate rejects unknown top-level keys and silently ignores unknown nested ones."
    elif "wrong type" in text:
        why = "accelerate would misread the value or crash on it."
    elif "required" in text:
        why = "accelerate cannot tell what kind of run to start without it."
    else:
        why = "accelerate 1.15 would reject or misread it."
    what = f"{p.key}: {text}" if p.key else text
    return Finding("schema", p.severity, what, why, p.fix, p.key or None, p.line)


def _config_rule_findings(
    config: Mapping[str, Any], lines: Mapping[tuple[str, ...], int] | None, covered: set[str]
) -> list[Finding]:
    """The hardware-independent cross-field rules (shared with presets), minus keys the hardware
    rules above already reported on with the machine's numbers (one finding per problem)."""
    from tui.core.config_rules import check_rules

    out: list[Finding] = []
    for problem in check_rules(config):
        if problem.key in covered:
            continue
        path = tuple(problem.key.split(".")) if problem.key else ()
        line = lines.get(path) if lines and path in lines else problem.line
        out.append(
            Finding(
                "config." + (problem.key or "rules"),
                problem.severity,
                f"{problem.key}: {problem.message}" if problem.key else problem.message,
                "accelerate accepts this combination in the file but it cannot work as written.",
                problem.fix,
                problem.key or None,
                line,
            )
        )
    return out


# -- public API ----------------------------------------------------------------------------------


def check_config(
    config: Mapping[str, Any],
    hardware: HardwareInfo | None = None,
    *,
    lines: Mapping[tuple[str, ...], int] | None = None,
    launcher: Launcher = "accelerate",
    model: ModelInfo | None = None,
    fp8_backends: Sequence[str] | None = None,
    schema: bool = True,
) -> list[Finding]:
    """Every finding for `config` on `hardware`: schema problems first, then the hardware rules.

    `hardware`: the record to check against (None: probe this machine now).
    `lines` maps key paths to line numbers (see yaml_lines.key_lines) so findings say where.
    `fp8_backends` overrides the record's installed-backend list (None: the record's, else this
    machine's). `model` enables the layer-class rule. Errors come before warnings.
    """
    findings: list[Finding] = []
    if schema:
        findings += [_schema_finding(p) for p in validate_config(config, lines=lines)]
    if not isinstance(config, Mapping):
        return findings
    if hardware is None:
        from tui.core.hardware import probe_hardware

        hardware = probe_hardware()
    own = _Checker(config, hardware, lines, launcher, fp8_backends).run()
    findings += own
    findings += _config_rule_findings(config, lines, covered={f.key for f in own if f.key})
    if model is not None:
        findings += check_layer_classes(
            config, class_names=model.class_names, no_split_modules=model.no_split_modules, model_name=model.name
        )
    return sorted(findings, key=lambda f: 0 if f.severity == "error" else 1)


def check_layer_classes(
    config: Mapping[str, Any],
    *,
    class_names: Iterable[str],
    no_split_modules: Sequence[str] = (),
    model_name: str | None = None,
) -> list[Finding]:
    """FSDP's `fsdp_transformer_layer_cls_to_wrap` against the model's classes.

    Called by `check_config` when the model is known (`check --model`, which reads its structure
    with `tui.core.model_structure`); the training script makes the same check when it starts.
    """
    fsdp = config.get("fsdp_config")
    if str(config.get("distributed_type", "")).upper() != "FSDP" or not isinstance(fsdp, Mapping):
        return []
    if str(fsdp.get("fsdp_auto_wrap_policy", "")).upper() != "TRANSFORMER_BASED_WRAP":
        return []
    names = set(class_names)
    model = f"the model{f' ({model_name})' if model_name else ''}"
    suggestion = ", ".join(no_split_modules) if no_split_modules else None
    raw = fsdp.get("fsdp_transformer_layer_cls_to_wrap")
    if not raw:
        if no_split_modules:
            return []  # accelerate falls back to the model's _no_split_modules
        return [
            Finding(
                "silent.layer-class",
                "error",
                f"TRANSFORMER_BASED_WRAP without fsdp_transformer_layer_cls_to_wrap, and {model} declares no "
                "_no_split_modules.",
                "FSDP has no layer class to wrap: the whole model becomes one unit (no memory saving) or "
                "accelerate fails.",
                "set `fsdp_transformer_layer_cls_to_wrap:` to the model's decoder layer class, or use SIZE_BASED_WRAP.",
                "fsdp_config.fsdp_transformer_layer_cls_to_wrap",
            )
        ]
    wanted = [c.strip() for c in str(raw).split(",") if c.strip()]
    missing = [c for c in wanted if c not in names]
    if not missing:
        return []
    return [
        Finding(
            "silent.layer-class",
            "error",
            f"fsdp_transformer_layer_cls_to_wrap names {', '.join(missing)}, which {model} does not have.",
            f"accelerate fails with 'Could not find the transformer layer class {missing[0]} in the model.'",
            (
                f"use `fsdp_transformer_layer_cls_to_wrap: {suggestion}` (the model's _no_split_modules)."
                if suggestion
                else "use the model's decoder layer class name (see its _no_split_modules)."
            ),
            "fsdp_config.fsdp_transformer_layer_cls_to_wrap",
        )
    ]


def _yml_findings(path: Path, requested: Path) -> list[Finding]:
    out: list[Finding] = []
    yml_name = DEFAULT_CONFIG_NAME.replace(".yaml", ".yml")
    if path != requested:
        out.append(
            Finding(
                "file.yml-ignored",
                "error",
                f"{requested} does not exist; {path.name} beside it does.",
                f"accelerate only reads {requested.name}; it never reads {path.name}, so `accelerate launch` "
                "runs without this config (defaults or a prompt).",
                f"rename it: `mv {path} {requested}`.",
            )
        )
    elif path.name == yml_name:
        out.append(
            Finding(
                "file.yml-ignored",
                "warning",
                f"the config file is named {path.name}.",
                f"`accelerate launch` without --config_file reads {DEFAULT_CONFIG_NAME}, never {yml_name}.",
                f"rename it to {DEFAULT_CONFIG_NAME}, or always pass `--config_file {path}`.",
            )
        )
    elif path.name == DEFAULT_CONFIG_NAME and path.with_name(yml_name).exists():
        out.append(
            Finding(
                "file.yml-ignored",
                "warning",
                f"{path.with_name(yml_name)} sits beside the config.",
                f"accelerate ignores {yml_name}; edits made there have no effect.",
                f"delete it or merge what you need into {path.name}.",
            )
        )
    return out


def check_config_file(
    path: Path,
    hardware: HardwareInfo,
    *,
    launcher: Launcher = "accelerate",
    model: ModelInfo | None = None,
    fp8_backends: Sequence[str] | None = None,
) -> CheckReport:
    """Load and check a config file. Missing or malformed files raise `UsageError` (exit 2),
    except a missing `default_config.yaml` with a `default_config.yml` beside it: that file is
    checked and reported as never read (an error)."""
    requested = path
    target = path
    yml = path.with_suffix(".yml")
    if not path.exists() and path.suffix == ".yaml" and yml.exists():
        target = yml
    loaded: LoadedConfig = load_config_file(target)
    findings = _yml_findings(target, requested)
    findings += check_config(
        loaded.data, hardware, lines=loaded.lines, launcher=launcher, model=model, fp8_backends=fp8_backends
    )
    findings.sort(key=lambda f: 0 if f.severity == "error" else 1)
    return CheckReport(path=requested, findings=findings, checked_path=target, data=dict(loaded.data))
