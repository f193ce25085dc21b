"""The hostile and broken inputs of issue 13: each case a scenario (plus any data files it names)
and the fragments its one-line error must contain.

A case is `Case(id, scenario, expect, files)`: `scenario` is YAML text or a dict merged over
`BASE`; `files` maps a relative path to its text or bytes (or a callable given the folder, for
files that must be made another way); `expect` are fragments of the error line, the field first.
`tests/test_hostile.py` runs every case through `validate` and `run`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

BASE: dict[str, Any] = {
    "name": "hostile",
    "seed": 1,
    "dataset": {"kind": "synthetic", "users": 30, "items": 60, "history_length": 5},
    "feedback": {"model": "bias"},
    "recommender": {"name": "popular"},
    "simulation": {"steps": 3},
    "outputs": {"dir": "runs"},
}


@dataclass
class Case:
    id: str
    scenario: str | dict
    expect: tuple[str, ...]
    files: dict[str, str | bytes | Callable[[Path], None]] = field(default_factory=dict)

    def text(self) -> str | bytes:
        if isinstance(self.scenario, (str, bytes)):
            return self.scenario
        return yaml.safe_dump(merge(BASE, self.scenario), sort_keys=False)


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if value is DELETE:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict) and not value.get("_replace"):
            out[key] = merge(out[key], value)
        else:
            out[key] = {k: v for k, v in value.items() if k != "_replace"} if isinstance(value, dict) else value
    return out


DELETE = object()


def csv_dataset(**extra) -> dict:
    return {"dataset": {"_replace": True, "kind": "csv", "ratings": "r.csv", **extra}}


GOOD_RATINGS = "user_id,item_id,rating,timestamp\n" + "".join(
    f"{u},{i},{1 + (u * 7 + i) % 5},{1000 + u * 100 + i}\n" for u in range(1, 9) for i in range(1, 13) if (u + i) % 3)


def ratings_with(line: str, header: str = "user_id,item_id,rating,timestamp") -> str:
    body = GOOD_RATINGS.split("\n", 1)[1]
    return f"{header}\n{body}{line}\n"


def laughs(levels: int = 9) -> str:
    lines = ["name: laughs", "dataset: {kind: synthetic}", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [" + ",".join([f"*a{k - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


GENRES = 19
ML_USERS = "".join(f"{u}|{20 + u}|M|student|1000{u}\n" for u in range(1, 6))
ML_ITEMS = "".join(f"{i}|Film {i} (1995)|01-Jan-1995||http://x|" + "|".join("1" if g == i % GENRES else "0"
                                                                           for g in range(GENRES)) + "\n"
                   for i in range(1, 9))
ML_DATA = "".join(f"{u}\t{i}\t{1 + (u + i) % 5}\t{880000000 + u * 10 + i}\n" for u in range(1, 6) for i in range(1, 9))


def movielens(data: str = ML_DATA, items: str = ML_ITEMS, users: str = ML_USERS) -> dict:
    return {"ml/u.data": data, "ml/u.item": items, "ml/u.user": users}


ML = {"dataset": {"_replace": True, "kind": "movielens-100k", "path": "ml"}}

POP_ITEMS = "id,title,genre,description\n" + "".join(f"{i},Film {i},Comedy|Drama,A film\n" for i in range(1, 11))
POP_USERS = "id,name,gender,age,traits,status,interest,feature\n" + "".join(
    f"{u},Person {u},female,{20 + u},kind,student,comedy,Watcher\n" for u in range(1, 7))
POP_RELS = "user_1,user_2,relationship,closeness\n" + "".join(f"{u},{u + 1},friend,0.5\n" for u in range(1, 6))


def population(items: str = POP_ITEMS, users: str = POP_USERS, rels: str = POP_RELS) -> dict:
    return {"pop/item.csv": items, "pop/user_1000.csv": users, "pop/relationship_1000.csv": rels}


POP = {"dataset": {"_replace": True, "kind": "recagent", "path": "pop"}}


def _a_file_named_runs(folder: Path) -> None:
    (folder / "runs").write_text("I am a file, not a folder\n")


def _a_folder_named_r_csv(folder: Path) -> None:
    (folder / "r.csv").mkdir()


def _big_scenario(folder: Path) -> None:
    (folder / "hostile.yaml").write_text("name: big\ndescription: " + "x" * 1_200_000 + "\n")


CASES: list[Case] = [
    # --- YAML itself ------------------------------------------------------------------------------
    Case("yaml-billion-laughs", laughs(), ("expands to more than",)),
    Case("yaml-alias-fanout-in-params", laughs(7) + "recommender: {name: popular, params: {x: *a6}}\n",
         ("expands to more than",)),
    Case("yaml-deep-flow-nesting", "name: deep\ndataset: {kind: synthetic}\ndescription: " + "[" * 5000 + "]" * 5000,
         ("nested more than",)),
    Case("yaml-deep-block-nesting", "name: deep\ndataset: {kind: synthetic}\nx:\n" + "".join(
        "  " * i + f"k{i}:\n" for i in range(1, 300)), ("nested more than",)),
    Case("yaml-deep-mapping-flow", "name: deep\nx: " + "{a: " * 3000 + "1" + "}" * 3000, ("nested",)),
    Case("yaml-unclosed-bracket", "name: x\ndataset: {kind: synthetic\n", ("YAML syntax error",)),
    Case("yaml-tab-indent", "name: x\ndataset:\n\tkind: synthetic\n", ("YAML syntax error",)),
    Case("yaml-python-tag", "name: !!python/object/apply:os.system ['echo pwned']\ndataset: {kind: synthetic}\n",
         ("YAML tag not allowed",)),
    Case("yaml-custom-tag", "name: !secret x\ndataset: {kind: synthetic}\n", ("YAML tag not allowed",)),
    Case("yaml-unhashable-key", "name: x\ndataset: {kind: synthetic}\n? [a, b]\n: c\n", ("unhashable key",)),
    Case("yaml-top-level-list", "- name: x\n- dataset: synthetic\n", ("expected a mapping", "list")),
    Case("yaml-top-level-scalar", "just a sentence\n", ("expected a mapping", "str")),
    Case("yaml-empty-file", "", ("expected a mapping", "NoneType")),
    Case("yaml-not-utf8", b"name: \xff\xfe\xfa\ndataset: {kind: synthetic}\n", ("not a UTF-8 text file",)),
    Case("yaml-nul-byte", "name: x\x00\ndataset: {kind: synthetic}\n", ("YAML syntax error",)),
    Case("yaml-huge-file", "", ("is not a scenario",), {"": _big_scenario}),
    Case("yaml-huge-unknown-key", "name: x\ndataset: {kind: synthetic}\n" + "k" * 1000 + ": 1\n",
         ("unknown key", "characters)")),
    Case("yaml-many-unknown-keys", "name: x\ndataset: {kind: synthetic}\n" + "".join(f"key{i}: {i}\n" for i in range(5000)),
         ("unknown key 'key0'",)),
    Case("yaml-duplicate-document", "name: x\ndataset: {kind: synthetic}\n---\nname: y\n", ("YAML",)),
    Case("yaml-bad-escape", 'name: "x\\q"\ndataset: {kind: synthetic}\n', ("YAML syntax error",)),
    # --- top-level fields -------------------------------------------------------------------------
    Case("name-missing", {"name": DELETE}, ("field 'name' is required",)),
    Case("name-empty", {"name": ""}, ("field 'name'", "at least 1 character")),
    Case("name-path-traversal", {"name": "../../etc/passwd"}, ("field 'name'", "letters, digits")),
    Case("name-too-long-for-a-file", {"name": "n" * 240}, ("field 'name'", "at most 200")),
    Case("name-megabyte", {"name": "n" * 500_000}, ("field 'name'", "characters)")),
    Case("outputs-dir-name-too-long", {"name": "n" * 199, "outputs": {"dir": "runs/" + "d" * 300}},
         ("field 'outputs.dir'", "file system allows")),
    Case("seed-negative", {"seed": -1}, ("field 'seed'", "greater than or equal to 0")),
    Case("seed-huge", {"seed": 10**30}, ("field 'seed'", "less than or equal")),
    Case("seed-text", {"seed": "lucky"}, ("field 'seed'", "valid integer")),
    Case("dataset-missing", {"dataset": DELETE}, ("field 'dataset' is required",)),
    Case("dataset-kind-unknown", {"dataset": {"_replace": True, "kind": "netflix"}}, ("field 'dataset.kind'", "netflix")),
    Case("dataset-kind-missing", {"dataset": {"_replace": True, "users": 3}}, ("field 'dataset' needs a 'kind'",)),
    Case("dataset-kind-huge", {"dataset": {"_replace": True, "kind": "k" * 100_000}}, ("field 'dataset.kind'", "...")),
    # --- sizes ------------------------------------------------------------------------------------
    Case("users-trillion", {"dataset": {"users": 10**12}}, ("field 'dataset.users'", "less than or equal")),
    Case("users-times-items-exceed-memory", {"dataset": {"users": 50_000_000, "items": 50_000_000}},
         ("field 'dataset.users'", "of memory")),
    Case("users-text", {"dataset": {"users": "big"}}, ("field 'dataset.users'", "valid integer")),
    Case("users-negative", {"dataset": {"users": -4}}, ("field 'dataset.users'", "greater than or equal to 2")),
    Case("items-infinite", {"dataset": {"items": float("inf")}}, ("field 'dataset.items'",)),
    Case("history-zero", {"dataset": {"history_length": 0}}, ("field 'dataset.history_length'",)),
    Case("agents-more-than-users", {"agents": {"count": 10**6}}, ("field 'agents.count'", "30 users")),
    Case("agents-roles-negative", {"agents": {"roles": {"Watcher": -1, "Critic": 1}}}, ("field 'agents.roles'",)),
    Case("agents-roles-unknown", {"agents": {"roles": {"Hacker": 1}}}, ("field 'agents.roles",)),
    Case("page-size-billion", {"simulation": {"page_size": 10**9}}, ("field 'simulation.page_size'", "catalog has 60")),
    Case("page-size-zero", {"simulation": {"page_size": 0}}, ("field 'simulation.page_size'",)),
    Case("max-pages-million", {"simulation": {"max_pages": 10**6}}, ("field 'simulation.max_pages'",)),
    Case("steps-zero", {"simulation": {"steps": 0}}, ("field 'simulation.steps'",)),
    Case("steps-billion", {"simulation": {"steps": 10**9}}, ("field 'simulation.steps'", "less than or equal")),
    Case("step-hours-infinite", {"simulation": {"step_hours": float("inf")}}, ("field 'simulation.step_hours'",)),
    Case("step-hours-nan", {"simulation": {"step_hours": float("nan")}}, ("field 'simulation.step_hours'",)),
    Case("steps-past-year-9999", {"simulation": {"steps": 1_000_000, "step_hours": 8000}},
         ("field 'simulation.steps'", "past the year")),
    Case("start-time-garbage", {"simulation": {"start_time": "yesterday-ish"}}, ("field 'simulation.start_time'",)),
    Case("busy-chat-reversed", {"simulation": {"busy_hours": {"chat": [3, 1]}}}, ("field 'simulation.busy_hours.chat'",)),
    Case("activation-alpha-zero", {"simulation": {"activation": {"alpha": 0}}}, ("field 'simulation.activation.alpha'",)),
    Case("behaviour-watch-scale", {"simulation": {"behaviour": {"watch_scale": 2}}},
         ("field 'simulation.behaviour.watch_scale'",)),
    Case("jaccard-pairs-trillion", {"metrics": {"jaccard_pairs": 10**12}}, ("field 'metrics.jaccard_pairs'",)),
    Case("social-degree-zero", {"social": {"degree": 0}}, ("field 'social.degree'",)),
    Case("social-rewire-two", {"social": {"rewire": 2}}, ("field 'social.rewire'",)),
    Case("social-homophily-nan", {"social": {"homophily": float("nan")}}, ("field 'social.homophily'",)),
    Case("social-graph-dataset-synthetic", {"social": {"graph": "dataset"}}, ("social.graph 'dataset'",)),
    # --- components and their params -------------------------------------------------------------
    Case("recommender-unknown", {"recommender": {"name": "magic"}}, ("field 'recommender.name'", "unknown recommender")),
    Case("recommender-dim-text", {"recommender": {"name": "mf", "params": {"dim": "big"}}},
         ("field 'recommender.params.dim'", "valid integer", "'big'")),
    Case("recommender-dim-negative", {"recommender": {"name": "mf", "params": {"dim": -4}}},
         ("field 'recommender.params.dim'", "greater than or equal to 1")),
    Case("recommender-dim-billion", {"recommender": {"name": "mf", "params": {"dim": 10**9}}},
         ("field 'recommender.params.dim'", "less than or equal")),
    Case("recommender-param-typo", {"recommender": {"name": "mf", "params": {"epoch": 3}}},
         ("field 'recommender.params.epoch'", "did you mean 'epochs'")),
    Case("recommender-params-not-mapping", {"recommender": {"name": "mf", "params": [1, 2]}},
         ("field 'recommender.params'",)),
    Case("recommender-popular-takes-none", {"recommender": {"params": {"k": 3}}},
         ("field 'recommender.params.k'", "takes no parameters")),
    Case("recommender-lr-nan", {"recommender": {"name": "mf", "params": {"lr": float("nan")}}},
         ("field 'recommender.params.lr'",)),
    Case("itemcf-neighbours-negative", {"recommender": {"name": "itemcf", "params": {"neighbours": -1}}},
         ("field 'recommender.params.neighbours'",)),
    Case("content-features-unknown", {"recommender": {"name": "content", "params": {"features": "pictures"}}},
         ("field 'recommender.params.features'", "'pictures'")),
    Case("sasrec-max-len-zero", {"recommender": {"name": "sasrec", "params": {"max_len": 0}}},
         ("field 'recommender.params.max_len'",)),
    Case("reranker-lamda-typo", {"recommender": {"rerankers": [{"name": "mmr", "params": {"lamda": 0.5}}]}},
         ("field 'recommender.rerankers[0].params.lamda'", "did you mean 'lambda'")),
    Case("reranker-lambda-out-of-range", {"recommender": {"rerankers": [{"name": "mmr", "params": {"lambda": 2}}]}},
         ("field 'recommender.rerankers[0].params.lambda'", "less than or equal to 1")),
    Case("reranker-unknown", {"recommender": {"rerankers": [{"name": "shuffle"}]}},
         ("field 'recommender.rerankers[0].name'", "unknown re-ranker")),
    Case("reranker-every-zero", {"recommender": {"rerankers": [{"name": "random_k", "params": {"every": 0}}]}},
         ("field 'recommender.rerankers[0].params.every'",)),
    Case("reranker-second-bad", {"recommender": {"rerankers": [{"name": "mmr"}, {"name": "popularity_penalty",
                                                                                "params": {"beta": -1}}]}},
         ("field 'recommender.rerankers[1].params.beta'",)),
    Case("reranker-name-missing", {"recommender": {"rerankers": [{"params": {"lambda": 0.5}}]}},
         ("field 'recommender.rerankers[0].name' is required",)),
    Case("feedback-unknown", {"feedback": {"model": "oracle"}}, ("field 'feedback.model'", "unknown feedback model")),
    Case("feedback-param-typo", {"feedback": {"params": {"regg_user": 1}}},
         ("field 'feedback.params.regg_user'", "did you mean 'reg_user'")),
    Case("feedback-ensemble-mode", {"feedback": {"model": "ensemble", "params": {"mode": "maybe"}}},
         ("field 'feedback.params.mode'", "'maybe'")),
    Case("feedback-mf-factors-text", {"feedback": {"model": "mf", "params": {"factors": "many"}}},
         ("field 'feedback.params.factors'",)),
    Case("feedback-noise-negative", {"feedback": {"rating_noise": -1}}, ("field 'feedback.rating_noise'",)),
    Case("feedback-like-rating-nine", {"feedback": {"like_rating": 9}}, ("field 'feedback.like_rating'",)),
    Case("feedback-dislike-above-like", {"feedback": {"like_rating": 3, "dislike_rating": 4}},
         ("field 'feedback.dislike_rating'",)),
    Case("llm-provider-unknown", {"llm": {"provider": "skynet"}}, ("field 'llm.provider'",)),
    Case("llm-base-url-ftp", {"llm": {"provider": "openai", "base_url": "ftp://x"}}, ("field 'llm.base_url'",)),
    Case("llm-temperature", {"llm": {"temperature": 5}}, ("field 'llm.temperature'",)),
    Case("llm-api-key-env-unset", {"llm": {"provider": "openai", "api_key_env": "RECAGENT_HOSTILE_NOT_SET"}},
         ("field 'llm.api_key_env'", "not set")),
    # --- interventions ----------------------------------------------------------------------------
    Case("intervention-after-last-step", {"interventions": [{"at_step": 9, "kind": "rewire"}]},
         ("field 'interventions[0].at_step'",)),
    Case("intervention-kind-unknown", {"interventions": [{"at_step": 1, "kind": "earthquake"}]},
         ("field 'interventions[0].kind'", "earthquake")),
    Case("intervention-inject-unknown-agent", {"interventions": [{"at_step": 1, "kind": "inject_post", "agent": 999999,
                                                                  "item": 1}]},
         ("field 'interventions[0].agent'", "999999")),
    Case("intervention-inject-unknown-item", {"interventions": [{"at_step": 1, "kind": "inject_post", "agent": 1,
                                                                 "item": 999999}]},
         ("field 'interventions[0].item'", "999999")),
    Case("intervention-traits-unknown-user", {"interventions": [{"at_step": 1, "kind": "set_traits", "agents": [1, 424242],
                                                                 "conformity": 0.5}]},
         ("field 'interventions[0].agents'", "424242")),
    Case("intervention-traits-user-not-agent", {"agents": {"count": 5, "sample": "first"},
                                                "interventions": [{"at_step": 1, "kind": "set_traits", "agents": [20],
                                                                   "conformity": 0.5}]},
         ("field 'interventions[0].agents'", "not an agent")),
    Case("intervention-traits-nothing", {"interventions": [{"at_step": 1, "kind": "set_traits"}]},
         ("field 'interventions[0]'", "at least one")),
    Case("intervention-switch-dim-negative", {"interventions": [{"at_step": 1, "kind": "switch_recommender", "name": "mf",
                                                                 "params": {"dim": -4}}]},
         ("field 'interventions[0].params.dim'",)),
    Case("intervention-switch-reranker-typo", {"interventions": [{"at_step": 2, "kind": "switch_recommender",
                                                                  "rerankers": [{"name": "mmr", "params": {"lamda": 1}}]}]},
         ("field 'interventions[0].rerankers[0].params.lamda'", "did you mean 'lambda'")),
    Case("intervention-switch-params-without-name", {"interventions": [{"at_step": 1, "kind": "switch_recommender",
                                                                        "params": {"dim": 8}, "rerankers": []}]},
         ("field 'interventions[0].params'", "give its 'name'")),
    Case("intervention-switch-empty", {"interventions": [{"at_step": 1, "kind": "switch_recommender"}]},
         ("field 'interventions[0]'", "give a recommender")),
    Case("intervention-switch-unknown", {"interventions": [{"at_step": 1, "kind": "switch_recommender", "name": "nope"}]},
         ("field 'interventions[0].name'", "unknown recommender")),
    Case("intervention-rewire-share-zero", {"interventions": [{"at_step": 1, "kind": "rewire", "share": 0}]},
         ("field 'interventions[0].share'",)),
    Case("interventions-not-a-list", {"interventions": {"at_step": 1}}, ("field 'interventions'",)),
    # --- outputs ----------------------------------------------------------------------------------
    Case("outputs-dir-is-a-file", {}, ("field 'outputs.dir'", "is a file"), {"": _a_file_named_runs}),
    Case("outputs-dir-below-a-file", {"outputs": {"dir": "runs/inside"}}, ("field 'outputs.dir'", "is a file"),
         {"": _a_file_named_runs}),
    Case("dataset-path-megabyte", {"dataset": {"_replace": True, "kind": "csv", "ratings": "r" * 600_000 + ".csv"}},
         ("field 'dataset.ratings'", "characters) cannot be a path")),
    Case("env-var-name-megabyte", {"outputs": {"dir": "${" + "V" * 600_000 + "}"}}, ("field 'outputs.dir'", "characters)")),
    Case("outputs-dir-env-unset", {"outputs": {"dir": "${RECAGENT_HOSTILE_NOT_SET}/runs"}},
         ("field 'outputs.dir'", "not set")),
    # --- CSV data ---------------------------------------------------------------------------------
    Case("csv-missing", csv_dataset(), ("field 'dataset.ratings'", "does not exist")),
    Case("csv-is-a-folder", csv_dataset(), ("r.csv", "not a file"), {"": _a_folder_named_r_csv}),
    Case("csv-empty", csv_dataset(), ("r.csv", "empty file"), {"r.csv": ""}),
    Case("csv-no-user-column", csv_dataset(), ("r.csv", "no user column", "columns.user"),
         {"r.csv": "who,item_id,rating\n1,2,3\n"}),
    Case("csv-no-rating-column", csv_dataset(), ("r.csv", "no rating column", "implicit: true"),
         {"r.csv": "user_id,item_id\n1,2\n2,3\n"}),
    Case("csv-rating-column-override-missing", csv_dataset(columns={"rating": "stars"}), ("r.csv", "'stars'"),
         {"r.csv": GOOD_RATINGS}),
    Case("csv-rating-nan", csv_dataset(), ("r.csv:", "finite number", "nan"), {"r.csv": ratings_with("3,4,nan,5")}),
    Case("csv-rating-inf", csv_dataset(), ("r.csv:", "finite number", "inf"), {"r.csv": ratings_with("3,4,inf,5")}),
    Case("csv-rating-99", csv_dataset(), ("r.csv:", "rating 99", "scale"), {"r.csv": ratings_with("3,4,99,5")}),
    Case("csv-rating-minus-3-declared", csv_dataset(scale=[1, 5]), ("r.csv:", "rating -3", "dataset.scale"),
         {"r.csv": ratings_with("3,4,-3,5")}),
    Case("csv-rating-text", csv_dataset(), ("r.csv:", "expected a number for rating", "'good'"),
         {"r.csv": ratings_with("3,4,good,5")}),
    Case("csv-rating-megabyte", csv_dataset(), ("r.csv:", "expected a number for rating", "..."),
         {"r.csv": ratings_with("3,4," + "9" * 200_000 + "x,5")}),
    Case("csv-time-text", csv_dataset(), ("r.csv:", "time", "'yesterday'"), {"r.csv": ratings_with("3,4,2,yesterday")}),
    Case("csv-time-overflow", csv_dataset(), ("r.csv:", "time", "out of range"), {"r.csv": ratings_with("3,4,2,1e300")}),
    Case("csv-missing-item", csv_dataset(), ("r.csv:", "missing item value"), {"r.csv": ratings_with("3,,2,5")}),
    Case("csv-extra-field", csv_dataset(), ("r.csv:", "5 fields, the header has 4"), {"r.csv": ratings_with("3,4,2,5,7")}),
    Case("csv-too-few-fields", csv_dataset(), ("r.csv:", "2 fields, the header has 4"), {"r.csv": ratings_with("3,4")}),
    Case("csv-not-utf8", csv_dataset(), ("r.csv", "not UTF-8"), {"r.csv": GOOD_RATINGS.encode() + b"3,4,\xff\xfe,5\n"}),
    Case("csv-nul-byte", csv_dataset(), ("r.csv:", "NUL byte"), {"r.csv": ratings_with("3,4\x00,2,5")}),
    Case("csv-field-over-limit", csv_dataset(), ("r.csv", "CSV"),
         {"r.csv": ratings_with('3,4,2,"' + "1" * 1_100_000 + '"')}),
    Case("csv-scale-reversed", csv_dataset(scale=[5, 1]), ("field 'dataset.scale'", "lowest < highest"),
         {"r.csv": GOOD_RATINGS}),
    Case("csv-implicit-not-bool", csv_dataset(implicit="sometimes"), ("field 'dataset.implicit'",), {"r.csv": GOOD_RATINGS}),
    Case("csv-column-key-unknown", csv_dataset(columns={"stars": "rating"}), ("field 'dataset.columns",),
         {"r.csv": GOOD_RATINGS}),
    Case("items-ragged-row", csv_dataset(items="i.csv"), ("i.csv:3", "fields, the header has 3"),
         {"r.csv": GOOD_RATINGS, "i.csv": "item_id,title,genres\n1,A,Drama\n2,B,Drama,Comedy,extra\n"}),
    Case("items-short-row", csv_dataset(items="i.csv"), ("i.csv:3", "2 fields, the header has 3"),
         {"r.csv": GOOD_RATINGS, "i.csv": "item_id,title,genres\n1,A,Drama\n2,B\n"}),
    Case("items-duplicate-id", csv_dataset(items="i.csv"), ("i.csv:3", "appears twice"),
         {"r.csv": GOOD_RATINGS, "i.csv": "item_id,title,genres\n1,A,Drama\n1,B,Drama\n"}),
    Case("items-missing-id", csv_dataset(items="i.csv"), ("i.csv:3", "missing item id"),
         {"r.csv": GOOD_RATINGS, "i.csv": "item_id,title,genres\n1,A,Drama\n,B,Drama\n"}),
    Case("items-no-id-column", csv_dataset(items="i.csv"), ("i.csv", "no item id column"),
         {"r.csv": GOOD_RATINGS, "i.csv": "title,genres\nA,Drama\n"}),
    # --- MovieLens and RecAgent population files --------------------------------------------------
    Case("ml-folder-missing", ML, ("field 'dataset.path'", "does not exist")),
    Case("ml-rating-seven", ML, ("u.data:", "between 1 and 5", "7"),
         movielens(ML_DATA + "1\t1\t7\t880000000\n")),
    Case("ml-rating-nan", ML, ("u.data:", "nan"), movielens(ML_DATA + "1\t1\tnan\t880000000\n")),
    Case("ml-unknown-item", ML, ("u.data:", "item 77 is not in u.item"), movielens(ML_DATA + "1\t77\t3\t880000000\n")),
    Case("ml-items-ragged", ML, ("u.item:", "'|'-separated fields"), movielens(items=ML_ITEMS + "9|Broken film\n")),
    Case("ml-items-duplicate", ML, ("u.item", "appears twice"), movielens(items=ML_ITEMS + ML_ITEMS.splitlines()[0] + "\n")),
    Case("ml-items-genre-flag-two", ML, ("u.item:", "0/1 genre flags"),
         movielens(items=ML_ITEMS + "9|Film 9|x||u|" + "|".join(["2"] * GENRES) + "\n")),
    Case("ml-time-overflow", ML, ("u.data:", "out of range"), movielens(ML_DATA + "1\t1\t3\t" + "9" * 30 + "\n")),
    Case("ml-tmdb-not-utf8", {"dataset": {**ML["dataset"], "tmdb": "tmdb.csv"}}, ("tmdb.csv", "not UTF-8"),
         {**movielens(), "tmdb.csv": b"movie_id,overview\n1,\xff\xfe\xfd\n"}),
    Case("ml-tmdb-no-movie-id", {"dataset": {**ML["dataset"], "tmdb": "tmdb.csv"}}, ("tmdb.csv", "'movie_id' column"),
         {**movielens(), "tmdb.csv": "id,overview\n1,A film\n"}),
    Case("ml-users-ragged", ML, ("u.user:6", "5 '|'-separated fields"), movielens(users=ML_USERS + "6|30|F\n")),
    Case("ml-fold-missing", {"dataset": {**ML["dataset"], "fold": 2}}, ("u2.base", "file not found"), movielens()),
    Case("csv-only-header", csv_dataset(), ("r.csv", "no rating rows"), {"r.csv": "user_id,item_id,rating\n"}),
    Case("items-not-utf8", csv_dataset(items="i.csv"), ("i.csv", "not UTF-8"),
         {"r.csv": GOOD_RATINGS, "i.csv": b"item_id,title\n1,\xff\xfe\n"}),
    Case("pop-missing-columns", POP, ("item.csv", "missing columns"), population(items="id,title\n1,A\n")),
    Case("pop-items-ragged", POP, ("item.csv:", "fields, the header has 4"),
         population(items=POP_ITEMS + "11,Broken\n")),
    Case("pop-closeness-nan", POP, ("relationship_1000.csv:", "closeness"), population(rels=POP_RELS + "1,3,friend,nan\n")),
    Case("pop-unknown-role", POP, ("user_1000.csv:", "unknown role"),
         population(users=POP_USERS + "7,P,female,30,kind,student,comedy,Wizard\n")),
    Case("pop-relation-unknown-user", POP, ("relationship_1000.csv:", "unknown user"),
         population(rels=POP_RELS + "1,99,friend,0.5\n")),
]
