"""Cache path problems are one line naming the path and the variable, never a traceback: a cache path
that is a file, a dangling symlink, too long, not writable (a read-only file system), a read-only
HOME; an empty RECAGENT_CACHE means unset."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recagent.cache import cache_dir, check_cache_dir, publish_folder
from recagent.cli import app
from recagent.errors import UserError


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder no write can reach: a read-only tmpfs when root (root ignores modes), else mode 555."""
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "inside").mkdir()
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                                 capture_output=True).returncode == 0
        if not mounted:
            pytest.skip("running as root without permission to mount a read-only tmpfs")
        yield folder
        subprocess.run(["umount", str(folder)], check=False)
    else:
        os.chmod(folder, 0o555)
        yield folder
        os.chmod(folder, 0o755)


def prepare(env: dict) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["prepare", "--dataset", "synthetic", "--quiet"], env=env)
    return result.exit_code, result.output


def one_line_naming(output: str, *names: str) -> None:
    assert "Traceback" not in output, output
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    for name in names:
        assert name in " ".join(output.split()), output  # rich may wrap a long line


def test_empty_variable_means_unset(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RECAGENT_CACHE", "")
    assert cache_dir() == tmp_path / ".cache" / "recagent"
    monkeypatch.setenv("RECAGENT_CACHE", "   ")
    assert cache_dir() == tmp_path / ".cache" / "recagent"
    monkeypatch.setenv("RECAGENT_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"


@pytest.mark.parametrize("make, why", [
    (lambda tmp: (tmp / "file").write_text("x") and tmp / "file", "is a file, not a folder"),
    (lambda tmp: (tmp / "link").symlink_to(tmp / "gone") or tmp / "link", "dangling symlink"),
    (lambda tmp: tmp / ("d" * 200) / ("e" * 200) / ("f" * 200) / ("g" * 200) / ("h" * 200) / ("i" * 200) /
     ("j" * 200) / ("k" * 200) / ("l" * 200) / ("m" * 200) / ("n" * 200) / ("o" * 200) / ("p" * 200) /
     ("q" * 200) / ("r" * 200) / ("s" * 200) / ("t" * 200) / ("u" * 200) / ("v" * 200) / ("w" * 200), "too long"),
    (lambda tmp: tmp / ("x" * 300), "longer than"),
    (lambda tmp: (tmp / "file").write_text("x") and tmp / "file" / "below", "is a file, not a folder"),
])
def test_a_bad_cache_variable_is_one_line(tmp_path, make, why):
    path = make(tmp_path)
    code, output = prepare({"RECAGENT_CACHE": str(path)})
    assert code == 2
    one_line_naming(output, why, "RECAGENT_CACHE")
    assert str(path)[:40] in output.replace("\n", "")


def test_a_read_only_cache_folder_is_one_line(read_only_dir):
    code, output = prepare({"RECAGENT_CACHE": str(read_only_dir / "inside")})
    assert code == 2
    one_line_naming(output, "not writable", "RECAGENT_CACHE", str(read_only_dir / "inside"))
    code, output = prepare({"RECAGENT_CACHE": str(read_only_dir / "new" / "cache")})
    assert code == 2
    one_line_naming(output, "cannot be created", "RECAGENT_CACHE")


def test_a_read_only_home_is_one_line(read_only_dir, tmp_path):
    code, output = prepare({"HOME": str(read_only_dir), "RECAGENT_CACHE": ""})
    assert code == 2
    one_line_naming(output, str(read_only_dir / ".cache" / "recagent"), "HOME", "set RECAGENT_CACHE")
    assert not (Path.cwd() / "exposure").exists()


def test_publishing_into_a_read_only_folder_is_one_user_error(read_only_dir):
    with pytest.raises(UserError) as e:
        publish_folder(read_only_dir / "inside" / "entry", lambda tmp: tmp.mkdir(), "marker")
    assert "cannot write the cache entry" in str(e.value) and "RECAGENT_CACHE" in str(e.value)
    assert "\n" not in str(e.value)


def test_an_option_names_itself(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError) as e:
        check_cache_dir(tmp_path / "f", "--cache")
    assert str(e.value) == f"{tmp_path / 'f'}: cache folder is a file, not a folder (from --cache)"


@pytest.mark.parametrize("command", [["prepare", "--dataset", "synthetic", "--quiet"],
                                     ["eval", "exposure", "--dataset", "coat", "--path", "nowhere"]])
def test_a_cache_option_naming_a_file_is_one_line(tmp_path, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(app, [*command, "--cache", str(blocker)])
    assert result.exit_code == 2
    one_line_naming(result.output, "--cache", str(blocker))


def test_prepare_says_which_parts_of_the_ensemble_voted(tmp_path):
    result = CliRunner().invoke(app, ["prepare", "--dataset", "synthetic", "--quiet", "--cache", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "voters:" in result.output and "stacker features:" in result.output
