"""How serve finds run folders under its root (recagent/web/studies.py), on folders holding only a
run.json: bounded depth, no walk into a run folder, names it does not accept, links that loop or
leave the root, and ids that name something else."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from recagent.web import create_app
from recagent.web.studies import MAX_DEPTH, find_runs, run_path


def run_folder(path, **info):
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"scenario": path.name, "status": "completed", **info}))
    return path


def test_the_walk_is_bounded_and_stays_out_of_run_folders(tmp_path):
    root = tmp_path / "root"
    run_folder(root / "a" / "b" / "c" / "d" / "e" / "deep")  # 6 below the root: found
    run_folder(root / "a" / "b" / "c" / "d" / "e" / "f" / "deeper")  # 7 below: not walked
    outer = run_folder(root / "outer")
    run_folder(outer / "memory" / "inner")  # inside a run folder: never a run
    run_folder(root / "bad name")  # a space: not a name the page accepts
    run_folder(root / ".hidden")
    (root / "loop").symlink_to(root)
    assert MAX_DEPTH == 6
    assert [f.id for f in find_runs(root.resolve())] == ["a~b~c~d~e~deep", "outer"]
    resolved = root.resolve()
    assert run_path(resolved, "a~b~c~d~e~f~deeper") is None and run_path(resolved, "outer~memory~inner") is None
    assert run_path(resolved, "loop~outer") is None  # the same folder by a link: one id only
    assert run_path(resolved, "outer") == resolved / "outer"


def test_the_strategy_a_run_ended_on(tmp_path):
    root = tmp_path / "root"
    run_folder(root / "plain", recommender="popular")
    run_folder(root / "switched", recommender="popular", recommender_switches=[
        {"step": 2, "from": "popular", "to": "mf", "rerankers": "none"},
        {"step": 5, "from": "mf", "to": "mf+mmr(lambda=0.5)", "rerankers": "none"}])
    run_folder(root / "garbled", recommender="popular", recommender_switches=[{"to": 3}, "x"])
    rows = {r["id"]: r for r in TestClient(create_app(root)).get("/api/runs").json()["runs"]}
    assert (rows["plain"]["strategy"], rows["plain"]["switches"]) == ("popular", 0)
    assert (rows["switched"]["strategy"], rows["switched"]["switches"]) == ("mf+mmr(lambda=0.5)", 2)
    assert (rows["garbled"]["strategy"], rows["garbled"]["switches"]) == ("popular", 0)  # malformed: ignored


def test_a_folder_that_is_not_a_study_is_not_one(tmp_path):
    root = tmp_path / "root"
    run_folder(root / "cmp" / "runs" / "mf" / "seed-1")
    body = TestClient(create_app(root)).get("/api/runs").json()
    (run,) = body["runs"]
    assert run["id"] == "cmp~runs~mf~seed-1" and run["study"] is None and run["seed"] == "1"
    assert body["studies"] == []
    (root / "cmp" / "sweep.json").write_text('{"parameters": [], "baseline": "mf"}')
    body = TestClient(create_app(root)).get("/api/runs").json()
    assert body["runs"][0]["study"] == "cmp" and body["studies"][0]["groups"][0]["key"] == "mf"


def test_serve_says_what_it_found(tmp_path):
    from recagent.web.studies import found_words

    root = tmp_path / "root"
    root.mkdir()
    assert found_words(root) == (f"no run folders under {root} yet (a run folder holds run.json or events.sqlite; "
                                 "looked 6 levels down, into compare and sweep folders too)")
    run_folder(root / "plain")
    for seed in (1, 2):
        run_folder(root / "cmp" / "runs" / "mf" / f"seed-{seed}")
    (root / "cmp" / "sweep.json").write_text("{}")
    assert found_words(root) == "found 3 run folders, 2 of them in 1 study (cmp)"
