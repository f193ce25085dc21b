"""The plug-in example (examples/plugin) builds, installs, and serves a scenario by its entry-point name.

pip builds a real wheel from a copy of the example and installs it into a temp folder (`--target`),
not into the shared venv, so that other tests never see the extra recommender; the run is a
`recagent` process with that folder on PYTHONPATH, where importlib.metadata finds the entry point.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PLUGIN = ROOT / "examples" / "plugin"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    work = tmp_path_factory.mktemp("plugin")
    source = work / "src"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                           "--no-index", "--quiet", "--target", str(target), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(target.glob("my_recs-0.1.0.dist-info")) or list(target.glob("my_recs*.dist-info")), \
        sorted(p.name for p in target.iterdir())
    return work, target


def _env(site) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_entry_point_is_registered(installed_plugin):
    _, site = installed_plugin
    code = ("from recagent.recommenders import available_recommenders; "
            "print(sorted(available_recommenders()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(site), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "'newest'" in done.stdout


@pytest.mark.slow
def test_scenario_runs_with_the_plugin(installed_plugin):
    work, site = installed_plugin
    recagent = shutil.which("recagent", path=os.path.dirname(sys.executable)) or "recagent"
    done = subprocess.run([recagent, "run", str(PLUGIN / "newest.yaml"), "--out", str(work / "run"), "--steps", "3",
                           "--quiet"], capture_output=True, text=True, env=_env(site), timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    import sqlite3

    con = sqlite3.connect(work / "run" / "events.sqlite")
    pages = [json.loads(p) for (p,) in con.execute("SELECT payload FROM events WHERE kind = 'page'")]
    n_items = con.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    con.close()
    assert pages and {p["recommender"] for p in pages} == {"newest"}
    # newest first: the first page of a visit holds items from the top of the catalog's id range
    first_pages = [p["items"] for p in pages if p["page"] == 0]
    assert max(max(items) for items in first_pages) == n_items  # synthetic item ids are 1..n
    assert min(min(items) for items in first_pages) > n_items - 60


def test_plugin_without_install_is_a_clear_error(tmp_path):
    recagent = shutil.which("recagent", path=os.path.dirname(sys.executable)) or "recagent"
    done = subprocess.run([recagent, "validate", str(PLUGIN / "newest.yaml")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert "unknown recommender 'newest'" in done.stderr + done.stdout
