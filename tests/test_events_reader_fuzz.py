"""Hypothesis against the readers of files and requests from elsewhere: whatever the bytes, each
reader returns a value or refuses with its own error (one message), never anything else."""

from __future__ import annotations

import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recagent.events import EventReader, UnreadableLog, decode_payload
from recagent.web.request_checks import MAX_DEPTH, Refused, depth, media_type, parse_json
from recagent.web.run_files import Unreadable, read_json

FAST = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                        max_size=3), max_leaves=40)
nested = st.integers(0, 3000).map(lambda n: b"[" * n + b"]" * n) | st.integers(0, 3000).map(
    lambda n: b'{"a":' * n + b"1" + b"}" * n)


@FAST
@given(st.binary(max_size=300) | nested)
def test_parse_json_returns_a_shallow_value_or_refuses(raw):
    try:
        value = parse_json(raw)
    except Refused as e:
        assert e.status == 400 and str(e)
    else:
        assert depth(value) <= MAX_DEPTH


@FAST
@given(json_values)
def test_parse_json_reads_back_what_json_writes(value):
    import json

    if depth(value) <= MAX_DEPTH:
        assert parse_json(json.dumps(value).encode()) == value


@FAST
@given(st.text(max_size=80))
def test_media_type_never_lets_a_parameter_pass_as_the_type(header):
    parsed = media_type(header)
    if parsed == "application/json":
        assert header.strip().split(";")[0].strip().lower() == "application/json"


@FAST
@given(st.binary(max_size=300) | nested | st.text(max_size=50).map(str.encode))
def test_decode_payload_is_always_a_dict(raw):
    assert isinstance(decode_payload(raw), dict)
    assert isinstance(decode_payload(raw.decode("utf-8", "replace")), dict)


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=300) | nested)
def test_read_json_returns_an_object_or_says_why(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("rj") / "run.json"
    path.write_bytes(raw)
    try:
        value = read_json(path)
    except Unreadable as e:
        assert "run.json" in str(e)
    else:
        assert isinstance(value, dict)


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.binary(min_size=1, max_size=2000), st.sampled_from([b"", b"SQLite format 3\x00"]))
def test_the_event_reader_refuses_any_file_that_is_not_a_log(tmp_path_factory, raw, prefix):
    path = tmp_path_factory.mktemp("ev") / "events.sqlite"
    path.write_bytes(prefix + raw)
    try:
        EventReader(path).check()
    except UnreadableLog as e:
        assert str(path) in str(e)
    except sqlite3.OperationalError as e:  # an empty database: a log not created yet (the page polls again)
        assert "no such table" in str(e)
