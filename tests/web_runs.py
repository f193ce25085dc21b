"""Run folders for the web tests: real runs of a small scenario, one with hostile text patched in."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import yaml

from tests.conftest import SMALL_SCENARIO, merge

WEB_SCENARIO = merge(SMALL_SCENARIO, {"name": "webtest", "simulation": {"steps": 6}})
HOSTILE_NAME = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> Mallory'
HOSTILE_TITLE = "<b>Bold</b> & <i>Co</i>"


def make_runs(root: Path) -> dict[str, Path]:
    """root/runs/{plain, hostile}: a finished run and a copy with an agent name and a title that are HTML."""
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
    return {"root": runs, "plain": plain, "hostile": hostile}


def folder_digest(path: Path) -> dict[str, str]:
    """Name -> sha256 of every file under path (to prove that reads write nothing)."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}
