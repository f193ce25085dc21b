"""`recagent prepare --route llm` end to end through the CLI, against a real OpenAI-compatible HTTP
server on 127.0.0.1 (tests/llm_server.py) that answers the T_obj / T_sub prompts."""

from __future__ import annotations

import json
import re
import socket

import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.data import make_synthetic
from recagent.keywords.llm import T_OBJ, T_SUB, ObjectiveSchema, SubjectiveSchema
from recagent.llm.structured import parse_reply
from tests.feedback_helpers import fake_embed, write_rating_csvs
from tests.llm_server import LLMServer

FAST = ["--param", "sasrec_epochs=1", "--llm-retries", "2", "--llm-backoff", "0", "--llm-timeout", "5", "--quiet"]


@pytest.fixture(autouse=True)
def fast_embeddings(monkeypatch):
    import recagent.embeddings

    monkeypatch.setattr(recagent.embeddings, "embed", fake_embed)


def respond(prompt: str) -> str:
    """Well-formed replies: T_obj keywords are the item's description phrases plus a marker per genre;
    T_sub keywords are the comment's own words."""
    if "exactly 3 pros" in prompt:
        genres = re.search(r"^Categories: (.*)$", prompt, re.M).group(1).lower().split(", ")
        text = re.search(r"^Description: (.*)$", prompt, re.M).group(1)
        phrases = re.search(r"story of (.*)\.", text).group(1).split(", ")
        pros = [{"reason": "it has " + p, "evidence": text, "keywords": [p, f"llm pro {genres[0]}"]} for p in phrases]
        cons = [{"reason": f"not for {g} haters", "evidence": text, "keywords": [f"llm con {g}"]} for g in genres]
        pros, cons = (pros * 3)[:3], (cons * 3)[:3]
        return json.dumps({"pros": pros, "cons": cons})
    if "Explain why this user gave this rating" in prompt:
        comment = re.search(r'wrote: "(.*)"', prompt).group(1)
        return json.dumps({"reasons": [{"reason": "the user said so", "keywords": [comment]}]})
    return "ok"


def run(*args):
    return CliRunner().invoke(app, ["prepare", *map(str, args)])


def cache_entries(cache):
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_responder_replies_parse_as_the_backend_parses_them():
    data = make_synthetic(seed=0)
    prompt = T_OBJ.format(title=data.catalog.titles[0], genres=", ".join(data.catalog.item_genres(0)),
                          text=data.catalog.texts[0])
    assert len(parse_reply(respond(prompt), ObjectiveSchema).pros) == 3
    sub = T_SUB.format(title="X", genres="Drama", rating=4, comment="brisk pacing")
    assert parse_reply(respond(sub), SubjectiveSchema).reasons[0]["keywords"] == ["brisk pacing"]


def test_prepare_llm_route_on_synthetic_with_malformed_first_replies(tmp_path):
    data = make_synthetic(seed=0)
    n = len(data.catalog)
    script = [{"content": "Sure! Here are three pros and three cons."}, "wrong_format", "malformed", "500"]
    with LLMServer(script=script, responder=respond) as server:
        result = run("--dataset", "synthetic", "--route", "llm", "--llm-base-url", server.url, "--llm-model",
                     "test-model", "--cache", tmp_path, *FAST)
    assert result.exit_code == 0, result.output
    assert server.count == n + 4  # one T_obj per item, plus one retry for each of the four bad first replies
    assert all(r["model"] == "test-model" for r in server.requests)
    assert "keywords (distilled)" in result.output and "prepared:" in result.output

    [folder] = tmp_path.glob("keywords/llm-*")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["route"] == "llm" and manifest["llm"]["model"] == "test-model"
    assert manifest["llm"]["endpoint"] == [f"127.0.0.1:{server.port}"]
    assert manifest["replies"]["malformed"] == 2 and manifest["replies"]["request_failures"] == 2
    assert manifest["replies"]["calls"] == n + 4 and manifest["failed_items"] == 0
    assert manifest["t_sub"].startswith("skipped: the synthetic dataset has no review")
    kw = json.loads((folder / "keywords.json").read_text())
    assert kw["meta"]["model"] == "test-model" and kw["meta"]["failed_items"] == []
    # every keyword is a genre or came from the server's replies (the item's phrases, the llm markers)
    genres = {g.lower() for g in data.catalog.genre_names}
    for i, item in enumerate(kw["items"]):
        own = {g.lower() for g in data.catalog.item_genres(i)}
        phrases = set(re.search(r"story of (.*)\.", data.catalog.texts[i]).group(1).split(", "))
        assert set(item["pos"]) <= own | phrases | {f"llm pro {g}" for g in own}
        assert set(item["neg"]) <= own | {f"llm con {g}" for g in own}
    vocab = {k for item in kw["items"] for side in ("pos", "neg") for k in item[side]}
    assert any(k.startswith("llm con ") for k in vocab) and any(k.startswith("llm pro ") for k in vocab)
    assert vocab - genres  # more than genres

    [ens] = tmp_path.glob("ensemble/synthetic-*/manifest.json")
    ens = json.loads(ens.read_text())
    assert ens["route"] == "llm" and ens["keywords"]["model"] == "test-model"
    assert ens["params"]["route"] == "llm" and ens["params"]["sasrec_epochs"] == 1
    saved = json.loads((ens_folder := next(tmp_path.glob("ensemble/synthetic-*"))).joinpath("keywords.json").read_text())
    assert saved["items"] == kw["items"]  # the ensemble trained on the LLM keywords
    assert not list(tmp_path.glob("keywords/offline-*")) and not list(tmp_path.glob("keywords/.*"))

    # A second run needs no endpoint: the keywords and the ensemble come from the cache.
    again = run("--dataset", "synthetic", "--route", "llm", "--llm-base-url", dead_url(), "--llm-model", "test-model",
                "--cache", tmp_path, *FAST)
    assert again.exit_code == 0, again.output
    assert "keywords (cached, loaded)" in again.output and "already prepared, loaded" in again.output
    assert str(ens_folder) in again.output.replace("\n", "")


def test_prepare_llm_route_dead_endpoint_exits_2_with_one_line_and_writes_nothing(tmp_path):
    cache = tmp_path / "cache"
    result = run("--dataset", "synthetic", "--route", "llm", "--llm-base-url", dead_url(), "--llm-retries", "1",
                 "--cache", cache, *FAST[:2], "--llm-backoff", "0", "--quiet")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "/models failed: cannot connect" in lines[0] and "Connection refused" in lines[0]  # the LLM preflight
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not cache.exists() or cache_entries(cache) == []


def test_prepare_llm_route_misbehaving_endpoint_exits_2(tmp_path):
    with LLMServer(fault_every=1, faults=["wrong_format"]) as server:
        result = run("--dataset", "synthetic", "--route", "llm", "--llm-base-url", server.url, "--cache", tmp_path,
                     "--llm-concurrency", "2", *FAST)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "no usable T_obj reply for the first 2 item(s) after 3 attempt(s)" in lines[0]
    assert "wrong format" in lines[0] and "Traceback" not in result.output
    assert server.count == 6  # the first wave only: 2 items x 3 attempts, the catalog is never sent
    assert cache_entries(tmp_path) == []


def test_prepare_llm_route_too_many_failed_items_exits_2(tmp_path):
    # the first wave succeeds, then the endpoint starts answering out of format
    with LLMServer(script=["ok"] * 8 + ["wrong_format"] * 2000, responder=respond) as server:
        result = run("--dataset", "synthetic", "--route", "llm", "--llm-base-url", server.url, "--cache", tmp_path,
                     "--llm-retries", "0", *FAST[:2], "--llm-backoff", "0", "--quiet")
    assert result.exit_code == 2, result.output
    assert "292 of 300 items got no usable T_obj reply" in result.output
    assert not list(tmp_path.glob("keywords/*")) and not list(tmp_path.glob("ensemble/*"))


def test_prepare_llm_route_budget_spent_exits_2_and_a_rerun_reuses_the_paid_replies(tmp_path):
    with LLMServer(responder=respond) as server:
        result = run("--dataset", "synthetic", "--route", "llm", "--llm-base-url", server.url, "--llm-max-calls", "5",
                     "--cache", tmp_path, *FAST)
        assert result.exit_code == 2, result.output
        assert "LLM budget spent (5 calls) before every t_obj prompt was answered" in result.output
        assert server.count == 5 and not list(tmp_path.glob("keywords/*"))
        again = run("--dataset", "synthetic", "--route", "llm", "--llm-base-url", server.url, "--cache", tmp_path, *FAST)
    assert again.exit_code == 0, again.output
    assert server.count == 300  # the 5 paid replies came from the prompt cache
    [manifest] = tmp_path.glob("keywords/llm-*/manifest.json")
    assert json.loads(manifest.read_text())["replies"]["cache_hits"] == 5


@pytest.fixture()
def csv_with_reviews(tmp_path):
    """The synthetic ratings as a CSV with a review column on a few items, and its items CSV."""
    data = make_synthetic(40, 80, 15, seed=1)
    ratings, items = tmp_path / "reviews.csv", tmp_path / "items.csv"
    return write_rating_csvs(data, ratings, items, "user_id", "item_id",
                             review=lambda i, r: ("brisk pacing" if r >= 3 else "tedious pacing") if i < 12 else "")


def test_prepare_llm_route_csv_reviews_feed_t_sub(tmp_path, csv_with_reviews):
    ratings, items = csv_with_reviews
    from recagent.data import load_ratings_csv

    data = load_ratings_csv(ratings, items)
    with LLMServer(responder=respond) as server:
        result = run("--dataset", "csv", "--path", ratings, "--items", items, "--route", "llm", "--llm-base-url",
                     server.url, "--comments-per-item", "2", "--cache", tmp_path / "cache", *FAST)
    assert result.exit_code == 0, result.output
    t_sub = [r for r in server.requests if "Explain why this user gave this rating" in r["messages"][-1]["content"]]
    [folder] = (tmp_path / "cache").glob("keywords/llm-*")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["t_sub"].startswith(f"{len(t_sub)} (rating, comment) pairs from column 'review', at most 2")
    assert 0 < len(t_sub) <= 24 and manifest["llm"]["endpoint"] == [f"127.0.0.1:{server.port}"]
    kw = json.loads((folder / "keywords.json").read_text())["items"]
    liked = set(data.interactions.items[data.interactions.ratings >= 3].tolist())
    disliked = set(data.interactions.items[data.interactions.ratings < 3].tolist())
    reviewed = data.catalog.raw_ids <= 12  # the CSV has reviews on the synthetic items 1..12
    assert any("brisk pacing" in item["pos"] for item in kw) and any("tedious pacing" in item["neg"] for item in kw)
    for i, item in enumerate(kw):  # a liked review's reasons join D_pos, a disliked one's D_neg
        assert ("brisk pacing" in item["pos"]) == bool(reviewed[i] and i in liked)
        assert ("tedious pacing" in item["neg"]) == bool(reviewed[i] and i in disliked)
        assert "brisk pacing" not in item["neg"] and "tedious pacing" not in item["pos"]


def test_prepare_route_validation(tmp_path):
    bad = run("--dataset", "synthetic", "--route", "gpt", "--cache", tmp_path, "--quiet")
    assert bad.exit_code == 2 and "--route: expected offline or llm" in bad.output
    no_key = run("--dataset", "synthetic", "--route", "llm", "--cache", tmp_path, "--quiet")
    assert no_key.exit_code == 2 and "--llm-api-key-env" in no_key.output
    unset = run("--dataset", "synthetic", "--route", "llm", "--llm-api-key-env", "RECAGENT_TEST_UNSET_KEY",
                "--cache", tmp_path, "--quiet")
    assert unset.exit_code == 2 and "RECAGENT_TEST_UNSET_KEY is not set" in unset.output
    url = run("--dataset", "synthetic", "--route", "llm", "--llm-base-url", "ftp://x", "--cache", tmp_path, "--quiet")
    assert url.exit_code == 2 and "--llm-base-url" in url.output and "http" in url.output
    offline = run("--dataset", "synthetic", "--llm-base-url", "http://x/v1", "--cache", tmp_path, "--quiet")
    assert offline.exit_code == 2 and "--route llm" in offline.output
    assert cache_entries(tmp_path) == []
