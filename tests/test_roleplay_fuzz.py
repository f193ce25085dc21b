"""Schemathesis fuzzes the role-play API (no 5xx, every answer documented, invalid data refused)
against the real app, with a real run stepping in a background thread and its turns open, and the
access token on. The page's own behaviour is tests/test_roleplay_browser.py."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from recagent.web import create_app
from recagent.web.play_thread import start_play_thread

from .conftest import SMALL_SCENARIO, merge
from .test_web_fuzz import CHECKS

TOKEN = "fuzz-token-0123456789"
PLAYED = 2


@pytest.fixture(scope="module")
def play_api(tmp_path_factory):
    root = tmp_path_factory.mktemp("playfuzz")
    scenario = merge(SMALL_SCENARIO, {"simulation": {"steps": 200},
                                      "roleplay": {"agents": [PLAYED], "turn_timeout_s": 5, "chat_turns": 2}})
    run = start_play_thread(scenario, root / "runs" / "fuzzed")
    app = create_app(root / "runs", token=TOKEN, play=run.roleplay)
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    yield schema
    run.stop()


@pytest.mark.parametrize("label", ["GET /api/play", "GET /api/play/{agent}", "POST /api/play/{agent}"])
def test_no_server_errors(play_api, label):
    operation = play_api.find_operation_by_label(label)
    # path values mostly the played agent, so many cases reach its turn (few command shapes fit a turn)
    agents = st.fixed_dictionaries({"agent": st.sampled_from([PLAYED, PLAYED, PLAYED, PLAYED + 1, -1])})
    in_domain = [agents.flatmap(lambda values, mode=mode: operation.as_strategy(mode, path_parameters=values))
                 for mode in (GenerationMode.POSITIVE, GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    cases = st.one_of([operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE),
                       *(in_domain if "{agent}" in label else [])])
    statuses: list[int] = []

    @given(case=cases)
    # a command fits a turn (200) for few of the shapes the schema allows: more examples for the POST
    @settings(max_examples=150 if label.startswith("POST") else 40, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        response = case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)
        statuses.append(response.status_code)

    fuzz()
    print(label, sorted(Counter(statuses).items()))
    assert any(200 <= s < 300 for s in statuses), sorted(Counter(statuses).items())
