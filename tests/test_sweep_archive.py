"""A run folder returned by a (Ray) worker is input: a crafted or cut archive is one line, and
nothing of it lands, inside or outside the sweep folder (issue 24)."""

from __future__ import annotations

import io
import tarfile

import pytest

from recagent.errors import UserError
from recagent.sweep.worker import unpack_run


def archive(*members: tuple[str, bytes | None, str | None]) -> bytes:
    """A tar.gz of (name, data, link target) members: a file, or a symlink when a target is given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data, target in members:
            info = tarfile.TarInfo(name)
            if target is not None:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            else:
                info.size = len(data or b"")
                tar.addfile(info, io.BytesIO(data or b""))
    return buffer.getvalue()


def test_a_good_archive_is_unpacked_whole(tmp_path):
    run_dir = tmp_path / "sweep" / "runs" / "mf" / "seed-1"
    unpack_run(archive(("run.json", b"{}", None), ("metrics.csv", b"step\n0\n", None)), run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == ["metrics.csv", "run.json"]


def test_an_absolute_name_lands_inside_the_run_folder(tmp_path):
    outside = tmp_path / "outside"
    run_dir = tmp_path / "sweep" / "runs" / "mf" / "seed-1"
    unpack_run(archive((str(outside / "evil.txt"), b"x", None)), run_dir)  # tarfile's "data" filter strips the /
    assert not outside.exists() and list(run_dir.rglob("evil.txt"))


@pytest.mark.parametrize("case", ["parent", "link_out", "garbage", "cut"])
def test_a_crafted_archive_is_one_line_and_writes_nothing(tmp_path, case):
    outside = tmp_path / "outside"
    good = archive(("run.json", b"{}", None))
    data = {
        "parent": archive(("../../../outside/evil.txt", b"x", None)),
        "link_out": archive(("events.sqlite", None, str(outside / "target"))),
        "garbage": b"\x1f\x8b not an archive",
        "cut": good[: len(good) // 2],
    }[case]
    sweep = tmp_path / "sweep"
    run_dir = sweep / "runs" / "mf" / "seed-1"
    with pytest.raises(UserError, match="does not unpack") as raised:
        unpack_run(data, run_dir)
    assert "\n" not in str(raised.value)
    assert not run_dir.exists() and not outside.exists()
    assert [p for p in sweep.rglob("*") if p.is_file()] == []  # no staging folder left either
