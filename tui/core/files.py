"""Writing config files safely: atomic replace, a timestamped backup first, and a diff.

Nothing is lost: before an existing file is replaced it is copied to
`<name>.<YYYYmmdd-HHMMSS>.bak` beside it; the new content is written to a temporary file in the
same folder, flushed and fsynced, then renamed over the target (atomic on POSIX), so a crash leaves
either the old file or the new one, never half of each.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tui.core.errors import UsageError


@dataclass(frozen=True)
class WriteResult:
    path: Path
    backup: Path | None
    changed: bool


def backup_path(path: Path, now: float | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    candidate = path.with_name(f"{path.name}.{stamp}.bak")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{stamp}-{counter}.bak")
        counter += 1
    return candidate


def read_user_file(path: Path, what: str, *, missing_hint: str = "") -> str:
    """The text of a file the user named, or a one-line UsageError naming it (never a traceback).

    `what` names the kind of file in the messages ("answers file", "preset file", ...);
    `missing_hint` is appended when it does not exist (how to create one).
    """
    source = str(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{source}: no such {what}.{missing_hint}") from None
    except IsADirectoryError:
        article = "an" if what[:1] in "aeiou" else "a"
        raise UsageError(f"{source}: is a folder, not {article} {what}.") from None
    except UnicodeDecodeError:
        raise UsageError(f"{source}: not a text file (it is not UTF-8); is it the right file?") from None
    except OSError as exc:
        raise UsageError(f"{source}: cannot read it ({exc.strerror or exc}).") from None


def read_existing(path: Path) -> str | None:
    """The current text at `path`, or None when there is no file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder; give a file path with --config-file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the existing file ({exc}).") from None


def unified_diff(old: str | None, new: str, path: Path) -> str:
    """A unified diff from the existing file (or nothing) to the new text."""
    before = (old or "").splitlines(keepends=True)
    after = new.splitlines(keepends=True)
    label = str(path)
    return "".join(
        difflib.unified_diff(
            before,
            after,
            fromfile=f"{label} (current)" if old is not None else "/dev/null",
            tofile=f"{label} (new)",
        )
    )


def atomic_write(path: Path, text: str, *, backup: bool = True) -> WriteResult:
    """Write `text` to `path` atomically, backing up a different existing file first."""
    path = path.expanduser()
    old = read_existing(path)
    if old == text:
        return WriteResult(path=path, backup=None, changed=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{path.parent}: cannot create the folder ({exc.strerror}).") from None
    saved: Path | None = None
    if old is not None and backup:
        saved = backup_path(path)
        try:
            shutil.copy2(path, saved)
        except OSError as exc:
            raise UsageError(
                f"{path}: cannot back up the existing file to {saved} ({exc.strerror}); nothing written."
            ) from None
    mode = path.stat().st_mode & 0o777 if old is not None else 0o644
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"{path.parent}: cannot write there ({exc.strerror}).") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise UsageError(f"{path}: write failed ({exc.strerror}); the existing file is unchanged.") from None
    return WriteResult(path=path, backup=saved, changed=True)
