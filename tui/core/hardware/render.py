"""Rich renderables of a hardware record, shared by `sftplay-tui gpu-info` and the app's panel.

Pure presentation of a `HardwareInfo` (no probing, no Textual): the GPU table with memory bars,
the P2P/NVLink matrix, the CPU/RAM line, the launch-relevant environment, and suggestions.
Imported only when something is drawn, so `gpu-info --json` never loads rich.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.core.hardware.base import HardwareInfo
from tui.core.hardware.gpu_models import short_name

BAR_WIDTH = 10


def _gib(mib: int) -> str:
    return f"{mib / 1024:.1f}"


def memory_bar(used_mib: int, total_mib: int, width: int = BAR_WIDTH) -> Text:
    """`[██████░░░░░░░░] 35.0/79.6 GiB`, green / yellow / red by how full it is."""
    fraction = 0.0 if total_mib <= 0 else min(max(used_mib / total_mib, 0.0), 1.0)
    filled = round(fraction * width)
    if used_mib > 0 and filled == 0 and fraction >= 0.01:
        filled = 1
    style = "green" if fraction < 0.5 else "yellow" if fraction < 0.9 else "red"
    text = Text()
    text.append("█" * filled, style=style)
    text.append("░" * (width - filled), style="dim")
    text.append(f" {_gib(used_mib):>5}/{_gib(total_mib)} GiB")
    return text


def processes_text(hw: HardwareInfo) -> Text:
    """One line per GPU with processes: `GPU 7  pid 88231 python3 35218 MiB`."""
    text = Text()
    for g in hw.gpus:
        if not g.processes:
            continue
        if text:
            text.append("\n")
        busy = bool(g.busy_processes)
        text.append(f"GPU {g.index}  ", style="bold")
        text.append(
            ", ".join(f"pid {p.pid} {p.name.rsplit('/', 1)[-1]} {p.used_mib} MiB" for p in g.processes),
            style="yellow" if busy else "",
        )
    return text


def _opt(value: object, suffix: str = "") -> str:
    return "-" if value is None else f"{value}{suffix}"


def summary_line(hw: HardwareInfo) -> Text:
    text = Text()
    if hw.gpus:
        names = sorted({short_name(g.name) for g in hw.gpus})
        text.append(f"{len(hw.gpus)}x {' + '.join(names)}", style="bold")
    else:
        text.append("No NVIDIA GPU found", style="bold")
    text.append(f"  (source: {hw.source}")
    if hw.driver_version:
        text.append(f", driver {hw.driver_version}")
    if hw.cuda_version:
        text.append(f", CUDA {hw.cuda_version}")
    text.append(")")
    return text


def gpu_table(hw: HardwareInfo) -> Table:
    table = Table(expand=False, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("GPU", justify="right", no_wrap=True)
    table.add_column("Name", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("CC", justify="center", no_wrap=True)
    table.add_column("Memory used", no_wrap=True)
    table.add_column("Util", justify="right", no_wrap=True)
    table.add_column("Temp", justify="right", no_wrap=True)
    table.add_column("Power", justify="right", no_wrap=True)
    for g in hw.gpus:
        busy = bool(g.busy_processes)
        table.add_row(
            Text(str(g.index), style="yellow" if busy else ""),
            short_name(g.name),
            g.cc_text,
            memory_bar(g.memory_used_mib, g.memory_total_mib),
            _opt(g.utilization_pct, "%"),
            _opt(g.temperature_c, "C"),
            "-" if g.power_w is None else f"{g.power_w:.0f} W",
        )
    return table


def _link_cell(hw: HardwareInfo, i: int, j: int) -> Text:
    if i == j:
        return Text("X", style="dim")
    links = hw.nvlink[i][j]
    if links:
        return Text(f"NV{links}", style="green")
    p2p = hw.p2p[i][j]
    if p2p is True:
        return Text("P2P", style="green")
    if p2p is False:
        return Text("none", style="red")
    return Text("?", style="dim")


def topology_table(hw: HardwareInfo) -> Table | None:
    """GPU x GPU: NV# (NVLink count), P2P (PCIe peer access), none (no P2P), ? (unknown)."""
    n = len(hw.gpus)
    if n < 2:
        return None
    table = Table(show_edge=False, pad_edge=False, header_style="bold", title=None)
    table.add_column("")
    for g in hw.gpus:
        table.add_column(f"GPU{g.index}", justify="center")
    for i, g in enumerate(hw.gpus):
        table.add_row(f"GPU{g.index}", *[_link_cell(hw, i, j) for j in range(n)])
    return table


def system_line(hw: HardwareInfo) -> Text:
    cpu = hw.cpu
    text = Text("CPU  ", style="bold")
    if cpu.model:
        text.append(f"{cpu.model}, ")
    cores = (
        f"{cpu.physical_cores} cores / {cpu.logical_cores} threads"
        if cpu.physical_cores
        else f"{cpu.logical_cores} threads"
    )
    text.append(cores)
    if cpu.numa_nodes:
        text.append(f", {cpu.numa_nodes} NUMA node{'s' if cpu.numa_nodes != 1 else ''}")
    text.append("\nRAM  ", style="bold")
    text.append(f"{_gib(hw.memory_total_mib)} GiB")
    if hw.memory_available_mib is not None:
        text.append(f" ({_gib(hw.memory_available_mib)} GiB available)")
    interfaces = {k: v for k, v in hw.network_interfaces.items() if k != "lo" and v}
    if interfaces:
        text.append("\nNET  ", style="bold")
        text.append(", ".join(f"{name} {addresses[0]}" for name, addresses in interfaces.items()))
    return text


def env_table(hw: HardwareInfo) -> RenderableType:
    if not hw.env:
        return Text("Environment: none of the variables accelerate, torch or NCCL read is set.", style="dim")
    table = Table(show_edge=False, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("Environment")
    table.add_column("Value", overflow="fold")
    for name, value in hw.env.items():
        table.add_row(name, value)
    return table


def hints_text(hw: HardwareInfo) -> Text:
    from tui.core.hints import hardware_hints

    hints = hardware_hints(hw)
    text = Text("Suggested  ", style="bold")
    text.append(f"{hints.machine_type}, num_processes {hints.num_processes}, mixed precision {hints.mixed_precision}")
    if hints.env:
        text.append("; export " + " ".join(f"{k}={v}" for k, v in hints.env.items()))
    for choice in hints.precision_choices:
        if choice.reason:
            text.append(f"\n  not available: {choice.reason}", style="dim")
    for note in hints.notes:
        text.append(f"\n  {note}", style="yellow")
    return text


def render_hardware(hw: HardwareInfo, *, notes: bool = True, suggestions: bool = True) -> Group:
    parts: list[RenderableType] = [summary_line(hw)]
    if hw.gpus:
        parts += [Text(""), gpu_table(hw)]
        procs = processes_text(hw)
        if procs:
            parts += [Text(""), Text("Processes using the GPUs", style="bold"), procs]
        topo = topology_table(hw)
        if topo is not None:
            parts += [
                Text(""),
                Text("Links (NV# = NVLinks, P2P = PCIe peer access, none = no P2P)", style="bold"),
                topo,
            ]
    parts += [Text(""), system_line(hw), Text(""), env_table(hw)]
    if suggestions:
        parts += [Text(""), hints_text(hw)]
    if notes and hw.notes:
        parts += [Text(""), Text("\n".join(f"note: {n}" for n in hw.notes), style="dim")]
    return Group(*parts)
