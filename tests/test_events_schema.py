"""recagent/events: the kinds, the payload models and the schema version, held to the writer and the docs."""

from __future__ import annotations

import json
import sqlite3

import pytest

from recagent.events import (
    PAYLOADS,
    SCHEMA_VERSION,
    SIMULATION_KINDS,
    EventKind,
    EventReader,
    UnreadableLog,
    stamp,
)
from recagent.events.reference import events_reference, json_type, undocumented
from recagent.simulation.events import EVENT_KINDS

from .conftest import ROOT
from .web_runs import make_runs


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("events"))["plain"]


def test_every_kind_the_writer_writes_is_an_event_kind_in_its_order():
    assert SIMULATION_KINDS == EVENT_KINDS  # run_log's per-kind counts are indexed in this order
    assert set(PAYLOADS) == set(EventKind)


def test_every_kind_and_key_of_the_models_is_described():
    assert undocumented() == []


def test_the_committed_output_reference_is_what_the_models_generate():
    """docs/outputs-reference.md's events part, byte for byte (`python -m recagent.reference` rewrites it)."""
    page = (ROOT / "docs" / "outputs-reference.md").read_text(encoding="utf-8")
    generated = "\n".join(events_reference())
    assert page.endswith(generated), "run `python -m recagent.reference`: the events part differs from the models"
    for kind, model in PAYLOADS.items():  # each kind, key, type and meaning is on the page
        assert f"### `{kind.value}`\n\n{model.meaning}. Ids: {model.ids}." in page
        for name, info in model.model_fields.items():
            assert f"| `{name}` | {json_type(info.annotation)} | {info.description.replace('|', chr(92) + '|')} |" in page


def test_json_types_read_as_json_schema_would():
    assert json_type(float | None) == "number" and json_type(list[int] | None) == "list of integers"
    assert json_type(int | list[int] | None) == "integer or list of integers" and json_type(bool | None) == "boolean"


def test_every_payload_of_a_real_run_fits_its_model(plain):
    rows = EventReader(plain / "events.sqlite").events()
    assert len(rows) > 200 and {r[3] for r in rows} >= {"page", "watch", "chat", "hear", "leave"}
    for _, _, _, kind, _, _, payload in rows:
        data = json.loads(payload)
        model = PAYLOADS[EventKind(kind)].model_validate(data)
        assert not model.model_extra, (kind, model.model_extra)  # no key the schema does not name
        assert model.model_dump(exclude_unset=True) == data


def test_the_reader_selects_what_sql_selects(plain):
    reader = EventReader(plain / "events.sqlite")
    with sqlite3.connect(plain / "events.sqlite") as db:
        direct = db.execute("SELECT id, step, agent_id, kind, item_id, target_agent_id, payload FROM events "
                            "WHERE agent_id = 3 AND step <= 2 AND kind IN ('watch', 'chat') ORDER BY id DESC LIMIT 5"
                            ).fetchall()
        top = db.execute("SELECT MAX(id) FROM events").fetchone()[0]
    assert reader.events(agent=3, max_step=2, kinds=[EventKind.WATCH, "chat"], limit=5, newest_first=True) == direct
    assert reader.last_id() == top and reader.events(ids=[]) == []
    assert [r[0] for r in reader.events(ids=[3, 1, 2])] == [1, 2, 3]
    with pytest.raises(ValueError):
        reader.events(kinds=["watch'); DROP TABLE events; --"])  # not a kind: refused before any SQL


def test_the_reader_never_writes(plain, tmp_path):
    import shutil

    copy = tmp_path / "events.sqlite"
    shutil.copy(plain / "events.sqlite", copy)
    before = copy.read_bytes()
    reader = EventReader(copy)
    reader.check()
    reader.events(agent=1)
    reader.frame(["id", "kind"])
    assert copy.read_bytes() == before
    assert not (tmp_path / "events.sqlite-journal").exists() and not (tmp_path / "events.sqlite-wal").exists()
    with pytest.raises(UnreadableLog, match="no event log here"):
        EventReader(tmp_path / "missing.sqlite").check()
    assert not (tmp_path / "missing.sqlite").exists()  # read-only: a missing log is not created


def test_schema_version_is_recorded_beside_the_events_and_checked(plain, tmp_path):
    import shutil

    copy = tmp_path / "events.sqlite"
    shutil.copy(plain / "events.sqlite", copy)
    with sqlite3.connect(copy) as db:
        rows_before = db.execute("SELECT * FROM events ORDER BY id").fetchall()
    assert EventReader(copy).schema_version() == 1  # a log from before the version was recorded
    conn = sqlite3.connect(copy)
    stamp(conn)
    conn.close()
    assert EventReader(copy).schema_version() == SCHEMA_VERSION
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT * FROM events ORDER BY id").fetchall() == rows_before  # the events untouched
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(UnreadableLog, match="schema version 99"):
        EventReader(copy).check()


def test_load_run_reads_through_the_reader(plain):
    from recagent import load_run

    events = load_run(plain).events
    with sqlite3.connect(plain / "events.sqlite") as db:
        assert len(events) == db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert list(events.columns[:7]) == ["id", "step", "sim_time", "agent_id", "kind", "item_id", "target_agent_id"]
    assert str(events["agent_id"].dtype) == "Int64" and "rating" in events.columns


def test_no_sql_over_events_in_the_page_or_the_interview():
    """The page and the interview read the log only through recagent.events (issue 26)."""
    import re
    from pathlib import Path

    import recagent

    package = Path(recagent.__file__).parent
    files = [*sorted((package / "web").glob("*.py")), package / "llm" / "interview.py",
             package / "simulation" / "run_data.py"]
    pattern = re.compile(r"\bFROM\s+events\b|\bJOIN\s+events\b|sqlite3\.connect", re.IGNORECASE)
    offenders = [f"{f.relative_to(package)}:{n}" for f in files
                 for n, line in enumerate(f.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == [] or all("run_data.py" in o for o in offenders), offenders
