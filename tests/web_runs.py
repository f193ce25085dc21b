"""Run folders for the web tests: real runs of a small scenario, one with hostile text patched in."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

import yaml

from tests.conftest import SMALL_SCENARIO, merge

WEB_SCENARIO = merge(SMALL_SCENARIO, {"name": "webtest", "simulation": {"steps": 6}})
HOSTILE_NAME = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> Mallory'
HOSTILE_TITLE = "<b>Bold</b> & <i>Co</i>"


def make_runs(root: Path) -> dict[str, Path]:
    """root/runs/{plain, hostile}: a finished run and a copy with an agent name and a title that are HTML.

    The runs are simulated once per pytest session (in the session's base temp folder, next to
    `root`) and copied for each caller, so every test module gets folders of its own to write
    interviews into without paying for the simulation again.
    """
    template = root.parent / "web-runs-template"
    if not template.is_dir():
        building = Path(tempfile.mkdtemp(prefix="web-runs-", dir=root.parent))
        _simulate(building)
        building.rename(template)  # whole or not at all: a failed build leaves no half template
    shutil.copytree(template, root, dirs_exist_ok=True)
    runs = root / "runs"
    return {"root": runs, "plain": runs / "plain", "hostile": runs / "hostile"}


def _simulate(root: Path) -> None:
    from recagent.simulation.runner import run_scenario

    root.mkdir(parents=True, exist_ok=True)
    scenario = root / "web.yaml"
    scenario.write_text(yaml.safe_dump(WEB_SCENARIO, sort_keys=False))
    runs = root / "runs"
    plain = run_scenario(scenario, out=runs / "plain", progress=False).run_dir
    hostile = runs / "hostile"
    shutil.copytree(plain, hostile)
    conn = sqlite3.connect(hostile / "events.sqlite")
    with conn:
        conn.execute("UPDATE agents SET name = ? WHERE agent_id = 0", (HOSTILE_NAME,))
        watched = conn.execute("SELECT item_id FROM events WHERE kind = 'watch' ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE items SET title = ? WHERE item_id = ?", (HOSTILE_TITLE, watched))
    conn.close()
    info = json.loads((hostile / "run.json").read_text())
    info["scenario"] = "hostile <script>x</script>"
    (hostile / "run.json").write_text(json.dumps(info))


def folder_digest(path: Path) -> dict[str, str]:
    """Name -> sha256 of every file under path (to prove that reads write nothing)."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}
