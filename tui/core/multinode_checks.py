"""Checks that keep a multi-node run from hanging: across configs, across machines, on the network.

Each returns `Finding`s (severity, what, why, fix), the same shape the launcher and `check` show:
- `check_config_set`: the per-machine configs agree (ranks unique and complete, same totals and
  main address, consistent `same_network`/rendezvous choices).
- `check_snapshots`: hardware snapshots (`sftplay-hardware/1` JSON from `gpu-info --json`) from
  each machine agree with the config and with each other (GPU count per node, GPU model, driver,
  torch/accelerate versions), and (`check_interfaces`, also for one machine) hint at
  NCCL_SOCKET_IFNAME when a node has several interfaces.
- `check_network`: on the main node the port is free and the address is one of this machine's;
  from another node the main address and port answer within a short timeout (a clear "cannot
  reach 10.0.0.1:29500" instead of a job that hangs at the first collective).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tui.core.checks import Finding
from tui.core.launch import DEFAULT_PORT

CONNECT_TIMEOUT_S = 3.0


def _num(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def check_config_set(configs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Finding]:
    """Configs meant for the machines of one run: (name, config) pairs."""
    findings: list[Finding] = []
    if not configs:
        return findings
    machines = _num(configs[0][1], "num_machines", 1)
    ranks: dict[int, list[str]] = {}
    for name, config in configs:
        rank = _num(config, "machine_rank", 0)
        ranks.setdefault(rank, []).append(name)
        if not 0 <= rank < max(machines, 1):
            findings.append(
                Finding(
                    "multinode.rank-range",
                    "error",
                    f"{name}: machine_rank {rank} is outside 0..{machines - 1}.",
                    "accelerate waits for ranks 0..num_machines-1; an out-of-range rank never joins.",
                    f"give each machine a rank from 0 to {machines - 1}.",
                )
            )
    for rank, names in sorted(ranks.items()):
        if len(names) > 1:
            findings.append(
                Finding(
                    "multinode.rank-duplicate",
                    "error",
                    f"machine_rank {rank} is used by {len(names)} configs ({', '.join(names)}).",
                    "two machines with the same rank both wait for the missing one: the run hangs at start.",
                    "give every machine its own rank (`sftplay-tui multinode` writes the set).",
                )
            )
    if len(configs) == machines:
        missing = sorted(set(range(machines)) - set(ranks))
        if missing:
            findings.append(
                Finding(
                    "multinode.rank-missing",
                    "error",
                    f"no config has machine_rank {', '.join(map(str, missing))}.",
                    "the run waits for every rank.",
                    "write the missing machine's config.",
                )
            )
    for key in (
        "num_machines",
        "num_processes",
        "main_process_ip",
        "main_process_port",
        "distributed_type",
        "mixed_precision",
        "same_network",
        "rdzv_backend",
    ):
        values = {repr(config.get(key)) for _name, config in configs}
        if len(values) > 1:
            findings.append(
                Finding(
                    "multinode.configs-differ",
                    "error",
                    f"the configs disagree on {key}: {', '.join(sorted(values))}.",
                    "every machine must describe the same run; only machine_rank differs.",
                    "regenerate the set from one config with `sftplay-tui multinode`.",
                )
            )
    base = configs[0][1]
    if base.get("same_network") is False and base.get("rdzv_backend", "static") == "static":
        findings.append(
            Finding(
                "multinode.rendezvous",
                "warning",
                "same_network is false but rdzv_backend is static.",
                "across networks the static rendezvous needs the main address reachable as given; c10d copes with NAT "
                "and late nodes better.",
                "set rdzv_backend: c10d (the wizard asks when you answer no to 'same network').",
            )
        )
    return findings


def _gpu_names(snapshot: Mapping[str, Any]) -> list[str]:
    gpus = snapshot.get("gpus") or []
    return [str(g.get("name")) for g in gpus if isinstance(g, Mapping)]


def check_snapshots(config: Mapping[str, Any], snapshots: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Finding]:
    """Hardware snapshots of the machines against the config and each other."""
    findings: list[Finding] = []
    machines = _num(config, "num_machines", 1)
    total = _num(config, "num_processes", 1)
    per_node = total // max(machines, 1)
    use_cpu = bool(config.get("use_cpu"))
    if snapshots and machines > 1 and len(snapshots) != machines:
        findings.append(
            Finding(
                "multinode.snapshot-count",
                "warning",
                f"{len(snapshots)} hardware snapshots for {machines} machines.",
                "machines without a snapshot are not compared.",
                "pass one --hardware snapshot per machine.",
            )
        )
    for name, snap in snapshots:
        gpus = len(_gpu_names(snap))
        if not use_cpu and gpus != per_node:
            findings.append(
                Finding(
                    "multinode.gpus-per-node",
                    "error" if gpus < per_node else "warning",
                    f"{name}: {gpus} GPUs, but the config runs {per_node} processes per machine "
                    f"({total} total / {machines} machines).",
                    "more processes than GPUs fails on that node; fewer leaves GPUs idle. Nodes with different "
                    "GPU counts cannot share one num_processes.",
                    f"set num_processes to {gpus * machines} if every node has {gpus} GPUs.",
                )
            )
    for label, getter in (
        ("GPU model", lambda s: ", ".join(sorted(set(_gpu_names(s)))) or "none"),
        ("NVIDIA driver", lambda s: str(s.get("driver_version"))),
        ("torch", lambda s: str((s.get("software") or {}).get("torch"))),
        ("accelerate", lambda s: str((s.get("software") or {}).get("accelerate"))),
    ):
        _compare(findings, label, snapshots, getter)
    for name, snap in snapshots:
        findings += _interface_hint(name, snap)
    return findings


def check_interfaces(config: Mapping[str, Any], name: str, snapshot: Mapping[str, Any]) -> list[Finding]:
    """The NCCL_SOCKET_IFNAME hint for one machine (a snapshot or this one) of a multi-node run."""
    return _interface_hint(name, snapshot) if _num(config, "num_machines", 1) > 1 else []


def _interface_hint(name: str, snapshot: Mapping[str, Any]) -> list[Finding]:
    interfaces = _routable_interfaces(snapshot)
    env = snapshot.get("env") or {}
    if len(interfaces) < 2 or "NCCL_SOCKET_IFNAME" in env:
        return []
    return [
        Finding(
            "multinode.nccl-interface",
            "warning",
            f"{name}: several network interfaces ({', '.join(interfaces)}) and NCCL_SOCKET_IFNAME unset.",
            "NCCL may pick an interface the other nodes cannot reach (a docker bridge, a management network) and hang.",
            f"export NCCL_SOCKET_IFNAME=<the interface on the nodes' network, e.g. {interfaces[0]}>.",
        )
    ]


def _compare(
    findings: list[Finding],
    label: str,
    snapshots: Sequence[tuple[str, Mapping[str, Any]]],
    getter: Callable[[Mapping[str, Any]], str],
) -> None:
    values: dict[str, list[str]] = {}
    for name, snap in snapshots:
        values.setdefault(getter(snap), []).append(name)
    known = {v: n for v, n in values.items() if v not in ("None", "")}
    if len(known) > 1:
        shown = "; ".join(f"{v} on {', '.join(n)}" for v, n in sorted(known.items()))
        findings.append(
            Finding(
                "multinode.mixed",
                "warning",
                f"the machines differ in {label}: {shown}.",
                "mixed versions or models can hang or crash collectives, or make the slowest node set the pace.",
                f"use the same {label} on every machine.",
            )
        )


def _routable_interfaces(snapshot: Mapping[str, Any]) -> list[str]:
    network = snapshot.get("network") or {}
    interfaces = network.get("interfaces") if isinstance(network, Mapping) else None
    if not isinstance(interfaces, Mapping):
        return []
    names = []
    for name, addresses in interfaces.items():
        if name == "lo" or str(name).startswith(("docker", "veth", "virbr")):
            continue
        if isinstance(addresses, list) and any(not str(a).startswith("127.") for a in addresses):
            names.append(str(name))
    return sorted(names)


# -- network -----------------------------------------------------------------------------------


def local_addresses() -> set[str]:
    import psutil

    addresses = {"127.0.0.1", "localhost", socket.gethostname()}
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                addresses.add(entry.address.split("%")[0])
    return addresses


def resolve(host: str) -> set[str]:
    """The addresses a name (or address) stands for; empty when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return set()
    return {str(info[4][0]).split("%")[0] for info in infos}


def port_free(port: int, host: str = "") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def reachable(host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> str | None:
    """None when host:port accepts a TCP connection within the timeout, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except TimeoutError:
        return f"no answer within {timeout_s:.0f} s"
    except socket.gaierror as exc:
        return f"the name does not resolve ({exc.strerror})"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def check_network(config: Mapping[str, Any], *, timeout_s: float = CONNECT_TIMEOUT_S) -> list[Finding]:
    """Main node: the port is free and the address is ours. Other nodes: the main node answers."""
    machines = _num(config, "num_machines", 1)
    if machines < 2:
        return []
    ip = config.get("main_process_ip")
    port = _num(config, "main_process_port", DEFAULT_PORT)
    if not isinstance(ip, str) or not ip:
        return []  # nothing to try; check_config reports the missing address (multinode.main-ip)
    rank = _num(config, "machine_rank", 0)
    resolved = resolve(ip)
    findings: list[Finding] = []
    if resolved and all(ipaddress.ip_address(a).is_loopback for a in resolved):
        findings.append(
            Finding(
                "multinode.main-ip-loopback",
                "warning",
                f"main_process_ip {ip} is a loopback address: only this machine can reach it.",
                "the other machines would try to connect to themselves and wait at the rendezvous.",
                "use the main machine's address on the nodes' network (`ip addr`), unless every machine of "
                "this run is this one (a test).",
            )
        )
    if rank == 0:
        if ip not in local_addresses() and not any(
            a in local_addresses() or ipaddress.ip_address(a).is_loopback for a in resolved
        ):
            findings.append(
                Finding(
                    "multinode.main-ip-local",
                    "error",
                    f"main_process_ip {ip} is not an address of this machine, which is machine_rank 0.",
                    "the main process listens here; the other machines would connect elsewhere and wait.",
                    "use one of this machine's addresses (`ip addr`), or give this machine another rank.",
                )
            )
        if not port_free(port):
            findings.append(
                Finding(
                    "multinode.port-busy",
                    "error",
                    f"port {port} is already in use on this machine.",
                    "the main process cannot listen there, and accelerate only picks a free port by itself on a "
                    "single machine.",
                    "choose a free port for main_process_port (e.g. 29501) in every machine's config.",
                )
            )
        return findings
    why = reachable(ip, port, timeout_s)
    if why is None:
        return findings
    return findings + [
        Finding(
            "multinode.unreachable",
            "warning",
            f"cannot reach {ip}:{port} ({why}).",
            "fine if the main node is not started yet; otherwise this machine would wait at the first collective.",
            f"start machine_rank 0 first, then check the address, the port and the firewall (`nc -z {ip} {port}`).",
        )
    ]
