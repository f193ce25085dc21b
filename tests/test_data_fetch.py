"""`recagent data fetch`: download over real HTTP (a file server on 127.0.0.1 serving a zip the test
builds), size and sha256 checks, only known members written, atomic placement, one line on failure."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import socket
import threading
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.data import fetch as fetch_module
from recagent.data.fetch import ML_100K, Remote, fetch
from recagent.errors import UserError

from .conftest import ROOT, SHARED_DATA

FILES = {"u.data": b"1\t2\t5\t881250949\n", "u.item": b"2|Toy|01-Jan-1995||x|" + b"0|" * 18 + b"1\n"}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A plain HTTP file server on 127.0.0.1 over tmp_path/www; yields its base address."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def build_zip(path: Path, files: dict[str, bytes], prefix: str = "ml-100k/", extra: dict[str, bytes] | None = None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(prefix + name, data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)


@pytest.fixture
def small_remote(monkeypatch):
    spec = Remote(url="http://127.0.0.1:9/never-used.zip", prefix="ml-100k/", terms="test terms",
                  files={n: (len(d), hashlib.sha256(d).hexdigest()) for n, d in FILES.items()})
    monkeypatch.setitem(fetch_module.DATASETS, "ml-100k", spec)
    return spec


def test_fetch_downloads_verifies_and_places_only_the_known_files(server, small_remote, tmp_path):
    root, base = server
    build_zip(root / "a.zip", FILES, extra={"ml-100k/../../escaped": b"x", "/etc/absolute": b"x",
                                            "ml-100k/allbut.pl": b"#!perl"})
    dest = tmp_path / "data" / "ml-100k"
    assert fetch("ml-100k", url=f"{base}/a.zip", dest=dest) == dest
    assert sorted(p.name for p in dest.iterdir()) == ["u.data", "u.item"]
    assert (dest / "u.data").read_bytes() == FILES["u.data"]
    # nothing else anywhere: no escaped member, no temporary folder left beside the dataset
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["ml-100k"]
    assert not (tmp_path / "escaped").exists()


@pytest.mark.parametrize("change, message", [
    ({"u.data": b"1\t2\t4\t881250949\n"}, r"ml-100k/u.data has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}"),
    ({"u.data": b"1\t2\t5\t88125094\n"}, r"ml-100k/u.data has 15 bytes, expected 16"),
    ({"u.item": None}, r"ml-100k/u.item is missing from the archive"),
])
def test_a_file_that_does_not_match_leaves_nothing(server, small_remote, tmp_path, change, message):
    root, base = server
    files = {n: d for n, d in {**FILES, **change}.items() if d is not None}
    build_zip(root / "bad.zip", files)
    dest = tmp_path / "data" / "ml-100k"
    with pytest.raises(UserError, match=message) as err:
        fetch("ml-100k", url=f"{base}/bad.zip", dest=dest)
    assert str(err.value).startswith(f"{base}/bad.zip: ") and "\n" not in str(err.value)
    assert list((tmp_path / "data").iterdir()) == []


def test_a_failed_fetch_keeps_the_previous_copy_and_force_replaces_it(server, small_remote, tmp_path):
    root, base = server
    dest = tmp_path / "ml-100k"
    dest.mkdir()
    (dest / "u.data").write_text("old")
    (root / "not-a-zip.zip").write_text("<html>a login page</html>")
    with pytest.raises(UserError, match="not a zip archive"):
        fetch("ml-100k", url=f"{base}/not-a-zip.zip", dest=dest, force=True)
    assert (dest / "u.data").read_text() == "old"
    build_zip(root / "a.zip", FILES)
    fetch("ml-100k", url=f"{base}/a.zip", dest=dest, force=True)
    assert (dest / "u.data").read_bytes() == FILES["u.data"]
    (root / "a.zip").unlink()  # complete now: a second fetch does not download
    assert fetch("ml-100k", url=f"{base}/a.zip", dest=dest) == dest


def test_http_and_network_failures_are_one_line(server, small_remote, tmp_path):
    _, base = server
    with pytest.raises(UserError, match=r"/missing.zip: download failed: HTTP 404"):
        fetch("ml-100k", url=f"{base}/missing.zip", dest=tmp_path / "a")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match=rf"http://127.0.0.1:{port}/x.zip: download failed: .*refused"):
        fetch("ml-100k", url=f"http://127.0.0.1:{port}/x.zip", dest=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_an_archive_past_the_size_limit_is_refused(server, monkeypatch, tmp_path):
    root, base = server
    spec = Remote(url="", prefix="ml-100k/", terms="", files={}, max_bytes=1000)
    monkeypatch.setitem(fetch_module.DATASETS, "ml-100k", spec)
    (root / "big.zip").write_bytes(b"0" * 5000)
    with pytest.raises(UserError, match=r"big.zip: more than 1,000 bytes"):
        fetch("ml-100k", url=f"{base}/big.zip", dest=tmp_path / "d")


def test_an_unknown_dataset_names_the_known_ones():
    with pytest.raises(UserError, match=r"dataset 'ml-1m' cannot be fetched; known: ml-100k"):
        fetch("ml-1m")


def test_cli_failure_is_one_line_with_exit_2(server, small_remote, tmp_path, monkeypatch):
    _, base = server
    monkeypatch.setenv("RECAGENT_DATA", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["data", "fetch", "ml-100k", "--url", f"{base}/missing.zip"])
    assert result.exit_code == 2
    assert "download failed: HTTP 404" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not (SHARED_DATA / "ml-100k" / "u.data").exists(),
                    reason="reference data ../shared/data/ml-100k is not on this machine")
def test_real_ml_100k_files_fetch_by_cli_and_the_scenario_finds_them(server, tmp_path, monkeypatch):
    """The published checksums hold for the reference copy; a scenario beside no data uses the fetched copy."""
    from recagent.data import load_movielens_100k
    from recagent.scenario_loading import load_scenario

    root, base = server
    build_zip(root / "ml-100k.zip", {n: (SHARED_DATA / "ml-100k" / n).read_bytes() for n in ML_100K.files},
              extra={"ml-100k/ua.base": b"not kept"})
    monkeypatch.setenv("RECAGENT_DATA", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["data", "fetch", "ml-100k", "--url", f"{base}/ml-100k.zip"])
    assert result.exit_code == 0, result.output
    assert "17 files verified (sha256)" in result.output
    fetched = tmp_path / "data" / "ml-100k"
    assert sorted(p.name for p in fetched.iterdir()) == sorted(ML_100K.files)
    again = CliRunner().invoke(app, ["data", "fetch", "ml-100k"])  # complete: no download (no --url needed)
    assert again.exit_code == 0 and "already in" in again.output
    # the shipped scenario, copied where ../../shared does not exist, reads the fetched copy
    clone = tmp_path / "clone" / "scenarios"
    clone.mkdir(parents=True)
    shutil.copy(ROOT / "scenarios" / "movielens_cocoon.yaml", clone)
    scenario = load_scenario(clone / "movielens_cocoon.yaml")
    assert scenario.dataset.path == fetched
    assert len(load_movielens_100k(fetched).interactions) == 100_000


def test_without_data_the_scenario_error_says_how_to_fetch(tmp_path, monkeypatch):
    from recagent.scenario_loading import load_scenario

    monkeypatch.setenv("RECAGENT_DATA", str(tmp_path / "empty"))
    clone = tmp_path / "clone" / "scenarios"
    clone.mkdir(parents=True)
    shutil.copy(ROOT / "scenarios" / "movielens_cocoon.yaml", clone)
    with pytest.raises(UserError, match=r"field 'dataset.path': .* does not exist, nor is MovieLens-100K in the data "
                                        r"folder .*empty/ml-100k.*`recagent data fetch ml-100k`"):
        load_scenario(clone / "movielens_cocoon.yaml")
