"""Output paths are checked and written files follow the umask (issue 12, "One line
everywhere").

:mod:`exhibit_engine.config.paths` is the one place every requested output goes
through: the parent must be an existing, writable folder, the destination a regular file
or absent (never a device, a link or a folder), the name UTF-8; a write is atomic and
its mode is ``0o666`` less the umask (bundles used to be ``0600`` because of mkstemp).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from exhibit_engine.config.paths import (
    check_file_name,
    check_output_dir,
    check_output_path,
    shown,
    write_atomic,
)
from exhibit_engine.errors import ConfigError, ExhibitError

from ..conftest import writes_anywhere


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_an_absent_or_regular_destination_in_a_folder_is_accepted(tmp_path: Path) -> None:
    assert check_output_path(tmp_path / "new.png") == tmp_path / "new.png"
    (tmp_path / "old.png").write_bytes(b"x")
    assert check_output_path(tmp_path / "old.png") == tmp_path / "old.png"


def test_bad_destinations_are_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "dir").mkdir()
    (tmp_path / "target").write_bytes(b"kept")
    os.symlink(tmp_path / "target", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    cases = {tmp_path / "file" / "x.png": "is a file, not a folder",
             tmp_path / "missing" / "x.png": "does not exist",
             tmp_path / "dir": "is a folder",
             tmp_path / "link": "symbolic link",
             tmp_path / "fifo": "not a regular file",
             Path("/dev/full"): "not a regular file",
             Path(os.fsdecode(bytes(tmp_path) + b"/\xff.png")): "not a UTF-8 name"}
    for path, rule in cases.items():
        with pytest.raises(ConfigError, match=rule) as err:
            check_output_path(path, "-o")
        text = str(err.value)
        assert text.startswith("-o: ") and "\n" not in text and "\udcff" not in text
    assert (tmp_path / "target").read_bytes() == b"kept"


@pytest.mark.skipif(writes_anywhere(), reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            check_output_path(ro / "x.png")
        with pytest.raises(ConfigError, match="not writable"):
            check_output_dir(ro)
    finally:
        ro.chmod(0o755)


def test_written_files_follow_the_umask(tmp_path: Path, umask: None) -> None:
    out = write_atomic(tmp_path / "a.bin", b"data")
    assert out.read_bytes() == b"data" and out.stat().st_mode & 0o777 == 0o640
    secret = write_atomic(tmp_path / "s.bin", b"k", mode=0o600)
    assert secret.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "s.bin"]


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.bin").write_bytes(b"old")

    def full(f: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(ExhibitError, match=r"a\.bin: cannot write \(No space left"):
        write_atomic(tmp_path / "a.bin", full)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    assert (tmp_path / "a.bin").read_bytes() == b"old"


def test_packed_bundles_follow_the_umask(tmp_path: Path, umask: None) -> None:
    from exhibit_engine.assets.pack import pack

    src = Path(__file__).resolve().parents[2] / "content" / "ice-festival"
    out = tmp_path / "ice.exb"
    pack(src, out)
    assert out.stat().st_mode & 0o777 == 0o640       # not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ice.exb"]


@pytest.mark.parametrize("name", ["opening", "2026-12-01_opening", "Премьера", "a b"])
def test_safe_file_names(name: str) -> None:
    assert check_file_name(name) is None


@pytest.mark.parametrize("name", ["", "a/b", "a\\b", "..", ".", ".x", "a\nb", "x" * 129,
                                  os.fsdecode(b"\xff"), 7, None])
def test_unsafe_file_names(name: object) -> None:
    assert check_file_name(name) is not None


def test_shown_is_one_printable_line() -> None:
    assert shown(os.fsdecode(b"/tmp/a\xffb\nc")) == "/tmp/a\\udcffb\\nc"
