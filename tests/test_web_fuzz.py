"""Schemathesis fuzzes every endpoint of the web API (no 5xx), against the real app and real run folders.

The schema is the app's own OpenAPI document. Cases come from it as it stands (positive and
negative modes: any run name, agent and item id, step, limit, query, interview body) and, half of
them, with path values drawn from the runs' own domain (a real run, agents 0-41, steps -1-7, watched
items), so the fuzzer reaches the views behind the lookups as well as the lookups that refuse. The app
requires an access token, and the fuzzer sends it, so the token check is on the path of every
case. Beside them sit hostile run folders (a non-SQLite log, a log and a run.json that link outside
the root, a run.json nested 100,000 deep), which every endpoint must refuse with a 4xx (422), never
a 5xx. Examples per endpoint are bounded to keep the file well under a minute.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from recagent.web import create_app

from .web_runs import make_runs

TOKEN = "fuzz-token-0123456789"
# no 5xx; every answer's status and content type documented, its body as documented (4xx: {"error"});
# and data the schema calls invalid is refused
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
RUNS = ["plain", "hostile"]
BROKEN = ["not-sqlite", "linked-log", "linked-info", "deep-info"]
STUDIES = ["study", "broken-study"]  # a study's layout (recagent/sweep/runner.py) around copies of `plain`
NESTED = ["study~runs~popular~seed-3", "study~runs~popular~seed-4", "broken-study~runs~popular~seed-3"]


def add_broken_runs(root, plain, outside):
    """Hostile copies of `plain` under `root` (see the module docstring)."""
    import shutil

    outside.mkdir(exist_ok=True)
    shutil.copy(plain / "events.sqlite", outside / "events.sqlite")
    (outside / "run.json").write_text('{"scenario": "outside"}')
    for name in BROKEN:
        shutil.copytree(plain, root / name)
    (root / "not-sqlite" / "events.sqlite").write_bytes(b"\x00garbage" * 1000)
    for name, file in (("linked-log", "events.sqlite"), ("linked-info", "run.json")):
        (root / name / file).unlink()
        (root / name / file).symlink_to(outside / file)
    (root / "deep-info" / "run.json").write_text("{\"a\":" * 100_000 + "1" + "}" * 100_000)


def add_studies(root, plain):
    """root/study: a comparison's folder holding two seeds of one strategy; root/broken-study: one whose
    sweep.json is nested 100,000 deep and whose run's metrics.csv is not a table."""
    import shutil

    for ident in NESTED:
        shutil.copytree(plain, root.joinpath(*ident.split("~")))
    (root / "study" / "sweep.json").write_text('{"scenario": "webtest", "parameters": [], "baseline": "popular"}')
    (root / "broken-study" / "sweep.json").write_text("[" * 100_000 + "]" * 100_000)
    (root / "broken-study" / "runs" / "popular" / "seed-3" / "metrics.csv").write_bytes(b"step,watches\n0\n\xff,1,2\n")


OPERATIONS = [f"{method.upper()} {path}" for path, operations in create_app("/nonexistent").openapi()["paths"].items()
              for method in operations]


@pytest.fixture(scope="module")
def web_api(tmp_path_factory):
    runs = make_runs(tmp_path_factory.mktemp("webfuzz"))
    add_broken_runs(runs["root"], runs["plain"], runs["root"].parent / "outside")
    add_studies(runs["root"], runs["plain"])
    app = create_app(runs["root"], token=TOKEN, poll_seconds=0.02)
    folders = [runs[run] for run in RUNS] + [runs["root"].joinpath(*ident.split("~")) for ident in NESTED]
    for folder in folders:  # so explanations answer from the model too, not only "preparing" (one child for all)
        app.state.explainer.prepare(folder)
    for folder in folders:
        assert app.state.explainer.wait(folder, 120)
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app  # cases are sent to the ASGI app in-process
    with sqlite3.connect(runs["plain"] / "events.sqlite") as db:
        watched = [i for (i,) in db.execute("SELECT DISTINCT item_id FROM events WHERE kind = 'watch' LIMIT 20")]
    # path values from the runs' own domain (and just past it), so cases get behind the lookups
    # (readable runs weighted x3, so a view behind the lookups is reached within the bounded examples)
    domain = {"run": RUNS * 3 + NESTED + BROKEN, "study": STUDIES * 2 + ["study~runs", "plain"], "agent_id": list(range(42)), "step": list(range(-1, 8)), "item_id": [*watched, 0]}
    return schema, domain


def test_every_api_route_is_fuzzed():
    from fastapi.routing import APIRoute

    routes = {f"{m} {r.path}" for r in create_app("/nonexistent").routes if isinstance(r, APIRoute) for m in r.methods}
    assert routes == set(OPERATIONS) and len(OPERATIONS) >= 12  # no route hidden from the schema


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_errors(web_api, label):
    schema, domain = web_api
    operation = schema.find_operation_by_label(label)
    names = [name for name in domain if f"{{{name}}}" in label]
    in_domain = st.fixed_dictionaries({name: st.sampled_from(domain[name]) for name in names})
    cases = st.one_of([strategy for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) for strategy in (
        operation.as_strategy(mode),  # every path value the schema allows
        in_domain.flatmap(lambda values, mode=mode: operation.as_strategy(mode, path_parameters=values)),
    )])

    statuses: list[int] = []

    @given(case=cases)
    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        response = case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)
        statuses.append(response.status_code)

    fuzz()
    print(label, sorted(Counter(statuses).items()))
    # the fuzzer got past the token and the lookups: some cases reached a real view
    assert any(200 <= s < 300 for s in statuses), sorted(Counter(statuses).items())
