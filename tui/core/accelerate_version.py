"""Which accelerate is installed, and whether it is the one the question graph mirrors (1.15).

Found without importing accelerate (which imports torch): the version from package metadata and,
when it differs, the `ClusterConfig` field names read from the installed source with `ast`. Keys
the installed version would reject ("unknown keys") are then left out of what we write.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from tui.core import distributions

MIRRORED = "1.15"


def installed_version() -> str | None:
    return distributions.installed_version("accelerate")


def matches(version: str | None) -> bool:
    return version is not None and (version == MIRRORED or version.startswith(MIRRORED + "."))


def version_note(version: str | None = None) -> str | None:
    """One line for the user when the installed accelerate is not 1.15 (None when it is)."""
    version = installed_version() if version is None else version
    if version is None:
        return (
            "accelerate is not installed: configs are written for accelerate 1.15; install it "
            "(`pip install 'accelerate>=1.15,<1.16'`) to launch runs."
        )
    if matches(version):
        return None
    return (
        f"accelerate {version} is installed; these questions mirror accelerate {MIRRORED}. Questions and "
        "defaults may differ from what `accelerate config` asks there; keys that version does not know "
        "are left out of the file."
    )


@lru_cache(maxsize=1)
def cluster_config_fields() -> frozenset[str] | None:
    """The installed accelerate's ClusterConfig + BaseConfig field names (None if unknown)."""
    try:
        spec = importlib.util.find_spec("accelerate")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(next(iter(spec.submodule_search_locations))) / "commands" / "config" / "config_args.py"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in ("BaseConfig", "ClusterConfig"):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
    return frozenset(names) or None


def installable(config: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """`config` as written for the installed accelerate: without the top-level keys it would
    reject, and those keys (to tell the user). Every writer and every preview goes through it."""
    dropped = tuple(keys_unknown_to_installed(dict(config)))
    return {k: v for k, v in config.items() if k not in dropped}, dropped


def keys_unknown_to_installed(config: dict[str, object]) -> list[str]:
    """Top-level keys of `config` the installed accelerate would reject (empty when it is 1.15)."""
    if matches(installed_version()):
        return []
    known = cluster_config_fields()
    if known is None or config.get("compute_environment") == "AMAZON_SAGEMAKER":
        return []
    return sorted(key for key in config if key not in known)
