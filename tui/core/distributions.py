"""Installed distributions (name -> version) found by their `.dist-info` folders, without importing
`importlib.metadata`.

`importlib.metadata` pulls in the email parser and friends (~20-30 ms): too much for start-up,
where the app only needs to know whether a few packages are installed (what accelerate's
`_is_package_available` asks) and accelerate's version. A distribution is installed when a
`<name>-<version>.dist-info` (or `.egg-info`) folder sits on `sys.path`, which is what
`importlib.metadata.metadata(name)` finds; names compare normalized (PEP 503: case, `-`, `_`, `.`).
"""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache

_SEPARATORS = re.compile(r"[-_.]+")


def normalize(name: str) -> str:
    return _SEPARATORS.sub("-", name).lower()


@lru_cache(maxsize=1)
def _installed() -> dict[str, str]:
    """{normalized name: version} for every dist-info/egg-info folder on sys.path (first wins)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if not folder.endswith((".dist-info", ".egg-info")):
                continue
            stem = folder.rsplit(".", 1)[0]
            name, _, version = stem.partition("-")
            # Wheel folders are "<name>-<version>"; a development egg-info may carry no version.
            key = normalize(name)
            if not found.get(key):
                found[key] = version.split("-")[0] if version else ""
    return found


def installed_version(name: str) -> str | None:
    """The installed version of distribution `name`, or None when it is not installed."""
    return _installed().get(normalize(name))


def is_installed(name: str) -> bool:
    return normalize(name) in _installed()
