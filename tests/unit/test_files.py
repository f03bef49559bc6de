"""Safe writes (backup, atomic replace, nothing lost) and reading user-named files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.core.errors import UsageError
from tui.core.files import atomic_write, backup_path, read_user_file, unified_diff


def test_new_file_no_backup(tmp_path: Path) -> None:
    result = atomic_write(tmp_path / "a" / "b.yaml", "x: 1\n")
    assert result.changed and result.backup is None
    assert (tmp_path / "a" / "b.yaml").read_text() == "x: 1\n"


def test_existing_file_is_backed_up_then_replaced(tmp_path: Path) -> None:
    target = tmp_path / "c.yaml"
    target.write_text("old: 1\n")
    target.chmod(0o600)
    result = atomic_write(target, "new: 2\n")
    assert result.backup is not None and result.backup.read_text() == "old: 1\n"
    assert target.read_text() == "new: 2\n"
    assert target.stat().st_mode & 0o777 == 0o600  # permissions kept
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_same_content_is_not_rewritten_nor_backed_up(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    target = folder / "c.yaml"
    target.write_text("same\n")
    result = atomic_write(target, "same\n")
    assert not result.changed and result.backup is None
    assert sorted(p.name for p in folder.iterdir()) == ["c.yaml"]


def test_backups_never_overwrite_each_other(tmp_path: Path) -> None:
    target = tmp_path / "c.yaml"
    target.write_text("1\n")
    first = backup_path(target, now=0)
    first.write_text("taken")
    assert backup_path(target, now=0) != first


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_is_one_clear_error_and_the_file_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "c.yaml"
    target.write_text("keep\n")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(UsageError):
            atomic_write(target, "new\n")
    finally:
        tmp_path.chmod(0o700)
    assert target.read_text() == "keep\n"


def test_target_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a folder"):
        atomic_write(tmp_path, "x\n")


def test_diff_against_nothing_and_something(tmp_path: Path) -> None:
    target = tmp_path / "c.yaml"
    assert "/dev/null" in unified_diff(None, "a: 1\n", target)
    diff = unified_diff("a: 1\n", "a: 2\n", target)
    assert "-a: 1" in diff and "+a: 2" in diff


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such answers file. Try X."),
        (lambda p: p.mkdir(), "is a folder, not an? answers file"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00bin"), "not a text file"),
    ],
)
def test_read_user_file_errors(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "f"
    make(path)
    with pytest.raises(UsageError, match=message):
        read_user_file(path, "answers file", missing_hint=" Try X.")
