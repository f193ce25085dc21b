"""The wheel carries the web page: build recagent's wheel, install it into a fresh venv, serve the page.

The wheel is built by pip from a copy of the sources (the checkout gets no build/ or egg-info),
without build isolation or an index, so it runs offline. The fresh venv gets the wheel itself and
sees the dev venv's site-packages only as a plain path (a .pth line), for the dependencies: the
dev venv's editable hook for the checkout is a .pth *file* in that folder, which Python does not
run when the folder is merely on sys.path, so the recagent that answers is the installed wheel.
"""

from __future__ import annotations

import shutil
import site
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

PAGE_FILES = {"index.html", "app.js", "charts.js", "graph.js", "style.css"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "recagent", source / "recagent", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "--quiet", "--wheel-dir", str(work / "dist"), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [built] = (work / "dist").glob("recagent-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies from the dev venv, appended after the fresh site-packages (see the module doc)
    (Path(purelib) / "dev-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                           "--quiet", str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return root


def test_the_wheel_lists_the_page(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"recagent/web/static/{f}" for f in PAGE_FILES} <= names
    assert not any(n.startswith("web/") for n in names)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_installed_wheel_serves_the_page(venv, tmp_path):
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import recagent.web.app as a; print(a.__file__); print(a.web_dir())"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    module, page = where.stdout.split()
    assert Path(module).is_relative_to(venv) and not Path(module).is_relative_to(ROOT)  # the wheel, not the checkout
    assert Path(page).is_relative_to(venv) and (Path(page) / "index.html").is_file()

    runs = tmp_path / "runs"
    runs.mkdir()
    port = free_port()
    proc = subprocess.Popen([str(venv / "bin" / "recagent"), "serve", str(runs), "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, index = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                index = httpx.get(base + "/", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert index is not None, "the installed `recagent serve` did not answer"
        assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/static/app.js">' in index.text and '<canvas id="graph">' in index.text
        script = httpx.get(base + "/static/app.js", timeout=5)
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert script.text == (ROOT / "recagent" / "web" / "static" / "app.js").read_text()
        assert httpx.get(base + "/static/style.css", timeout=5).status_code == 200
        assert httpx.get(base + "/api/runs", timeout=5).json()["runs"] == []
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert f"{base}/" in output
