"""Keyword distillation: T_obj / T_sub reply parsing, the LLM route with a scripted chat model,
the frequency filter, the category rule and the offline extractive route."""

from __future__ import annotations

import json

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from recagent.data import Catalog, make_synthetic
from recagent.keywords import (
    ItemKeywords,
    LLMRouteError,
    ReplyFormatError,
    assign_categories,
    distil_with_llm,
    extract_offline,
    frequency_filter,
    parse_objective,
    parse_subjective,
)
from recagent.keywords.offline import candidates, clean_title, fold
from tests.feedback_helpers import fake_embed


def obj_reply(pros=("space battle", "hero"), cons=("gore",), n_pros=3, n_cons=3) -> str:
    return json.dumps({
        "pros": [{"reason": f"pro {k}", "evidence": "the overview says so", "keywords": list(pros)} for k in range(n_pros)],
        "cons": [{"reason": f"con {k}", "evidence": "the overview says so", "keywords": list(cons)} for k in range(n_cons)],
    })


def test_parse_objective_good_reply_and_code_fence():
    parsed = parse_objective(obj_reply(pros=("Space  Battle", "hero")))
    assert len(parsed.pros) == 3 and len(parsed.cons) == 3
    assert parsed.pos_keywords == ["space battle", "hero"]  # lower-cased, whitespace folded, deduplicated
    assert parsed.neg_keywords == ["gore"]
    fenced = "```json\n" + obj_reply() + "\n```"
    assert parse_objective(fenced).pos_keywords == ["space battle", "hero"]


@pytest.mark.parametrize("reply, message", [
    ("Sure! Here are the pros and cons.", "one JSON object"),
    ('{"pros": [}', "invalid JSON"),
    (obj_reply(n_pros=2), "exactly 3"),
    (obj_reply(n_cons=4), "exactly 3"),
    (obj_reply(pros=()), "1-5 strings"),
    (obj_reply(pros=("",)), "non-empty"),
    (obj_reply(pros=("a very long keyword phrase indeed",)), "longer than"),
    (json.dumps({"pros": [{"reason": "x", "keywords": ["a"]}] * 3, "cons": []}), "evidence"),
    ("[1, 2, 3]", "one JSON object"),
])
def test_parse_objective_rejects_malformed(reply, message):
    with pytest.raises(ReplyFormatError, match=message):
        parse_objective(reply)


def test_parse_subjective_good_and_malformed():
    good = json.dumps({"reasons": [{"reason": "too slow", "keywords": ["slow pacing"]}]})
    assert parse_subjective(good) == [{"reason": "too slow", "keywords": ["slow pacing"]}]
    with pytest.raises(ReplyFormatError, match="1-3"):
        parse_subjective(json.dumps({"reasons": []}))
    with pytest.raises(ReplyFormatError, match="reason"):
        parse_subjective(json.dumps({"reasons": [{"keywords": ["x"]}]}))
    with pytest.raises(ReplyFormatError):
        parse_subjective("The user liked it because of the acting.")


def tiny_catalog() -> Catalog:
    genres = np.array([[1, 0], [1, 0], [0, 1]], dtype=bool)
    return Catalog(np.array([1, 2, 3]), ["A (1990)", "B (1991)", "C (1992)"], ["Action", "Drama"], genres,
                   ["a space war", "space heroes", "a love story"])


def test_llm_route_retries_malformed_replies_and_merges_subjective_keywords():
    catalog = tiny_catalog()
    replies = [
        AIMessage(obj_reply(pros=("space battle", "hero"), cons=("gore",))),   # item 0
        AIMessage("I think this movie is great!"),                               # item 1: malformed
        AIMessage(obj_reply(pros=("romance",), cons=("slow",))),                 # item 2
        AIMessage(obj_reply(pros=("space battle",), cons=("gore", "slow"))),     # item 1 retried: good
        AIMessage(json.dumps({"reasons": [{"reason": "r", "keywords": ["hero"]}]})),     # T_sub item 1, rated 1
        AIMessage(json.dumps({"reasons": [{"reason": "r", "keywords": ["romance"]}]})),  # T_sub item 2, rated 5
    ]
    chat = GenericFakeChatModel(messages=iter(replies))
    kw = distil_with_llm(catalog, chat, comments=[[], [(1.0, "boring hero")], [(5.0, "so romantic")]],
                         retries=1, max_concurrency=1, min_items=2, max_fraction=1.0)
    assert kw.route == "llm" and kw.meta["failed_items"] == []
    # keywords held by one item only are dropped by the frequency filter (min_items=2)
    assert kw.pos[0] == ["action", "space battle", "hero"]
    assert kw.pos[1] == ["action", "space battle"]
    assert kw.neg[1] == ["action", "gore", "slow", "hero"]  # the low rating's T_sub reason joins D_neg
    assert kw.pos[2] == [] and kw.neg[2] == ["slow"]        # 'romance' and 'drama' are held by one item only


def test_llm_route_gives_up_after_retries():
    # item 1 stays malformed after its retry: it keeps only its genre and is listed as failed
    replies = [AIMessage(obj_reply(pros=("space battle",))), AIMessage("nope"), AIMessage(obj_reply(pros=("romance",))),
               AIMessage("still nope")]
    chat = GenericFakeChatModel(messages=iter(replies))
    kw = distil_with_llm(tiny_catalog(), chat, retries=1, max_concurrency=1, min_items=1, max_fraction=1.0,
                         max_failed=0.5)
    assert kw.meta["failed_items"] == [1]
    assert kw.pos[1] == ["action"]  # only the genre is left
    assert kw.meta["replies"]["malformed"] == 2 and kw.meta["replies"]["calls"] == 4


def test_llm_route_stops_when_the_endpoint_never_answers_in_format():
    chat = GenericFakeChatModel(messages=iter([AIMessage("nope")] * 10))
    with pytest.raises(LLMRouteError, match=r"no usable T_obj reply for the first 1 item\(s\) after 2 attempt"):
        distil_with_llm(tiny_catalog(), chat, retries=1, max_concurrency=1, min_items=1, max_fraction=1.0)
    # more failed items than max_failed allows
    replies = [AIMessage(obj_reply())] + [AIMessage("nope")] * 10
    with pytest.raises(LLMRouteError, match="2 of 3 items got no usable T_obj reply"):
        distil_with_llm(tiny_catalog(), GenericFakeChatModel(messages=iter(replies)), retries=1, max_concurrency=1,
                        max_failed=0.5)


def test_backend_schemas_validate_like_the_strict_parsers():
    from recagent.keywords.llm import ObjectiveSchema, SubjectiveSchema
    from recagent.llm import ReplyFormatError as BackendFormatError
    from recagent.llm import parse_reply

    parsed = parse_reply("```json\n" + obj_reply(pros=("Space  Battle", "hero")) + "\n```", ObjectiveSchema)
    assert parsed.reply().pos_keywords == ["space battle", "hero"]
    assert parse_reply(parsed.as_text(), ObjectiveSchema) == parsed  # what the prompt cache stores parses again
    for bad in (obj_reply(n_pros=2), obj_reply(pros=("a very long keyword phrase indeed",)), '{"pros": [}'):
        with pytest.raises(BackendFormatError):
            parse_reply(bad, ObjectiveSchema)
    assert parse_reply('{"reasons": [{"reason": "r", "keywords": ["Slow"]}]}', SubjectiveSchema).reasons == [
        {"reason": "r", "keywords": ["slow"]}]
    with pytest.raises(BackendFormatError, match="1-3"):
        parse_reply('{"reasons": []}', SubjectiveSchema)


def test_frequency_filter_drops_too_rare_and_too_common():
    pos = [["a", "b", "c"], ["a", "b"], ["a", "d"], ["a"]]
    neg = [["e"], ["e"], [], ["b"]]
    p, n = frequency_filter(pos, neg, min_items=2, max_fraction=0.75)
    assert p == [["b"], ["b"], [], []]  # a in 4/4 items (too common), c and d in 1 (too rare)
    assert n == [["e"], ["e"], [], ["b"]]


def test_assign_categories_drops_most_and_least_frequent():
    genres = np.array([
        [1, 1, 0, 0],  # Drama (most frequent) dropped -> Comedy
        [1, 0, 0, 1],  # Drama, Noir (least) -> both dropped, kept as-is -> Drama (most frequent of own)
        [1, 1, 1, 0],  # -> Comedy (more frequent than War)
        [1, 0, 1, 0],  # -> War
        [0, 0, 0, 0],  # no genre
        [1, 1, 0, 0],
    ], dtype=bool)
    cat = Catalog(np.arange(6), [f"t{i}" for i in range(6)], ["Drama", "Comedy", "War", "Noir"], genres, [""] * 6)
    assert assign_categories(cat) == ["Comedy", "Drama", "Comedy", "War", "(none)", "Comedy"]


def test_candidates_and_title_cleaning():
    assert clean_title("Usual Suspects, The (1995)") == "usual suspects"
    c = candidates("Two friends battle the Galactic Empire.")
    assert "friend" in c and "galactic empire" in c and "the" not in c


@pytest.mark.parametrize("word, folded", [
    # plurals
    ("friends", "friend"), ("games", "game"), ("houses", "house"), ("horses", "horse"), ("days", "day"),
    ("stories", "story"), ("families", "family"), ("spies", "spy"), ("lies", "lie"), ("ties", "tie"),
    ("movies", "movie"), ("zombies", "zombie"), ("cookies", "cookie"), ("b-movies", "b-movie"),
    ("witches", "witch"), ("beaches", "beach"), ("headaches", "headache"), ("boxes", "box"), ("taxes", "tax"),
    ("wishes", "wish"), ("classes", "class"), ("kisses", "kiss"), ("heroes", "hero"), ("shoes", "shoe"),
    ("viruses", "virus"), ("buses", "bus"), ("wolves", "wolf"), ("werewolves", "werewolf"), ("crises", "crisis"),
    ("nazis", "nazi"), ("critics", "critic"), ("half-sisters", "half-sister"), ("boy's", "boy"),
    # not plurals: left alone
    ("james", "james"), ("charles", "charles"), ("series", "series"), ("species", "species"), ("news", "news"),
    ("boss", "boss"), ("class", "class"), ("us", "us"), ("physics", "physics"), ("politics", "politics"),
    ("tennis", "tennis"), ("virus", "virus"), ("famous", "famous"), ("paris", "paris"), ("texas", "texas"),
    ("christmas", "christmas"), ("chaos", "chaos"), ("lens", "lens"), ("gas", "gas"), ("working-class", "working-class"),
    # already singular
    ("friend", "friend"), ("story", "story"), ("movie", "movie"),
])
def test_fold_known_answers(word, folded):
    assert fold(word) == folded
    assert fold(folded) == folded  # folding twice changes nothing


def test_candidates_keep_names_and_fold_plurals():
    c = candidates("James and the zombies fight witches in the series.")
    assert "james" in c and "jame" not in c
    assert "zombie" in c and "witch" in c and "series" in c and "sery" not in c


def test_offline_route_on_synthetic_catalog():
    data = make_synthetic(20, 60, 5, seed=0)
    kw, vectors = extract_offline(data.catalog, top_k=4, embed_fn=fake_embed)
    assert len(kw) == 60 and kw.route == "offline"
    assert set(kw.vocabulary()) == set(vectors)
    for i in range(60):
        own_genres = {g.lower() for g in data.catalog.item_genres(i)}
        assert set(kw.neg[i]) - own_genres <= set(kw.pos[i])  # cons beyond genres are salient aspects too
    assert sum(len(p) for p in kw.pos) > 60
    again = ItemKeywords.from_json(json.loads(json.dumps(kw.to_json())))
    assert again.pos == kw.pos and again.neg == kw.neg and again.categories == kw.categories
