"""Hypothesis fuzzing of the scenario loader (issue 13): whatever the file holds, loading it gives a
Scenario or a UserError, never another exception; the same for the component checks run next."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recagent.errors import UserError
from recagent.preflight import check_components, check_output
from recagent.scenario import Scenario
from recagent.scenario_loading import load_scenario
from tests.hostile.cases import BASE

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = {
    **BASE,
    "agents": {"count": 20, "sample": "first"},
    "social": {"graph": "watts-strogatz", "degree": 4},
    "recommender": {"name": "mf", "params": {"dim": 8, "epochs": 1},
                    "rerankers": [{"name": "mmr", "params": {"lambda": 0.5}}, {"name": "random_k"}]},
    "feedback": {"model": "bias", "params": {"reg_user": 3.0}},
    "simulation": {"steps": 4, "page_size": 3, "busy_hours": {"chat": [0.5, 1.0]}},
    "interventions": [{"at_step": 1, "kind": "switch_recommender", "name": "itemcf", "params": {"neighbours": 5}},
                      {"at_step": 2, "kind": "set_traits", "agents": [1, 2], "conformity": 0.3},
                      {"at_step": 3, "kind": "inject_post", "agent": 1, "item": 2}],
}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", "synthetic", "csv", "mf", "mmr", "lambda", "all", "~", "${HOME}", "${NOPE_NOT_SET}",
                     "../../etc", "2024-01-01", "1e400", ".nan", "yes"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)


def load_text(text: str) -> Scenario | None:
    """load_scenario on `text`; None when it was a UserError. Anything else propagates (a failure)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            scenario = load_scenario(path)
            check_components(scenario, path)
            check_output(scenario, None, path)
        except UserError as error:
            assert str(error) and "Traceback" not in str(error)
            assert len(str(error)) < 2000, "an error message quoting an unbounded input"
            return None
        return scenario


def test_the_valid_base_loads():
    assert isinstance(load_text(yaml.safe_dump(VALID)), Scenario)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("{}[]:,-&*!|>'\"#%@`?\n\t ab1.~")), max_size=200))
def test_yaml_ish_text_gives_a_scenario_or_a_user_error(text):
    load_text(text)


@FUZZ
@given(st.dictionaries(st.sampled_from(list(Scenario.model_fields) + ["extra", "kind"]), values, max_size=8))
def test_random_documents_give_a_scenario_or_a_user_error(doc):
    load_text(yaml.safe_dump(doc, allow_unicode=True))


def _paths(node, prefix=()):
    """Every (path, value) in a nested document."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for k, value in enumerate(node):
            yield from _paths(value, prefix + (k,))


def _mutate(doc, path, how, value):
    import copy

    doc = copy.deepcopy(doc)
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if how == "replace":
        parent[key] = value
    elif how == "delete":
        del parent[key]
    elif how == "add" and isinstance(parent[key], dict):
        parent[key][str(value)[:20]] = value
    elif how == "add" and isinstance(parent[key], list):
        parent[key].append(value)
    else:
        parent[key] = value
    return doc


PATHS = [p for p, _ in _paths(VALID) if p]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(["replace", "delete", "add"]), values),
                min_size=1, max_size=3))
def test_mutated_valid_scenarios_give_a_scenario_or_a_user_error(mutations):
    doc = VALID
    for path, how, value in mutations:
        try:
            doc = _mutate(doc, path, how, value)
        except (KeyError, IndexError, TypeError):  # an earlier mutation removed or retyped this path
            continue
    scenario = load_text(yaml.safe_dump(doc, allow_unicode=True))
    if scenario is not None:  # what was accepted is within the documented bounds
        assert scenario.simulation.steps >= 1 and math.isfinite(scenario.simulation.step_hours)
        assert 1 <= len(scenario.name) <= 200


csv_cells = st.one_of(st.integers(-3, 12).map(str), st.sampled_from(["", "nan", "inf", "-inf", "1e999", "x", "3.5",
                                                                      '"a,b"', "\x00", "0.5"]),
                      st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=6))


@FUZZ
@given(header=st.lists(st.sampled_from(["user_id", "item_id", "rating", "timestamp", "title", "x"]), min_size=1,
                       max_size=5),
       rows=st.lists(st.lists(csv_cells, min_size=0, max_size=6), max_size=12),
       implicit=st.booleans(), scale=st.sampled_from([None, (1.0, 5.0), (0.0, 10.0)]))
def test_ratings_csv_gives_a_dataset_or_a_data_error(header, rows, implicit, scale):
    """Any ratings CSV loads into ratings on 1-5 (finite) or stops with a DataError naming the file."""
    from recagent.data import load_ratings_csv
    from recagent.errors import DataError

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.csv"
        path.write_text("\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n", encoding="utf-8")
        try:
            ds = load_ratings_csv(path, implicit=implicit, scale=scale)
        except DataError as error:
            assert str(path) in str(error) and len(str(error)) < 2000
            return
    ratings = ds.interactions.ratings
    assert len(ratings) and all(math.isfinite(r) and 1 - 1e-6 <= r <= 5 + 1e-6 for r in ratings)
