"""One agent id everywhere a person types one (issue 28): interventions name agents as `--play`, the
page and the events table do (0 to agents - 1); "user:ID" names the agent of a dataset user id."""

from __future__ import annotations

import pytest

from recagent.errors import UserError
from recagent.scenario_loading import load_scenario
from recagent.simulation import build_model, load_dataset

SOME = {"agents": {"count": 10, "sample": "random"}}


def posts_at_step_1(scenario_file, agent) -> tuple:
    scenario = load_scenario(scenario_file({**SOME, "interventions": [
        {"kind": "inject_post", "at_step": 1, "agent": agent, "item": 5, "text": "See this"}]}))
    model = build_model(scenario, load_dataset(scenario))
    model.step()
    model.step()
    intervention = [e for e in model.step_events if e.kind == "intervention"]
    post = [e for e in model.step_events if e.kind == "post" and e.payload.get("text") == "See this"]
    return model, intervention[0].payload["agent"], post[0].agent_id


def test_inject_post_agent_is_the_agent_id_of_the_events(scenario_file):
    model, intervention_agent, post_agent = posts_at_step_1(scenario_file, 7)
    assert model.n_agents == 10
    assert intervention_agent == 7 and post_agent == 7


def test_user_prefix_names_the_agent_of_a_dataset_user(scenario_file):
    scenario = load_scenario(scenario_file(SOME))
    model = build_model(scenario, load_dataset(scenario))
    # the dataset user behind agent 4 (random sample: agent 4 is not user 4)
    user = int(model.dataset.users.raw_ids[model.world.users[4]])
    assert user != 4
    _, intervention_agent, post_agent = posts_at_step_1(scenario_file, f"user:{user}")
    assert intervention_agent == 4 and post_agent == 4


def test_set_traits_takes_agent_ids_and_user_ids_together(scenario_file):
    scenario = load_scenario(scenario_file(SOME))
    user = int(load_dataset(scenario).users.raw_ids[build_model(scenario, load_dataset(scenario)).world.users[6]])
    scenario = load_scenario(scenario_file({**SOME, "interventions": [
        {"kind": "set_traits", "at_step": 0, "agents": [2, f"user:{user}"], "conformity": 1.0}]}))
    model = build_model(scenario, load_dataset(scenario))
    model.step()
    assert sorted(a for a in range(10) if model.world.conformity[a] == 1.0) == [2, 6]


def test_an_agent_id_past_the_end_names_the_valid_range(scenario_file):
    scenario = load_scenario(scenario_file({**SOME, "interventions": [
        {"kind": "inject_post", "at_step": 1, "agent": 12, "item": 5}]}))
    with pytest.raises(UserError) as err:
        build_model(scenario, load_dataset(scenario))
    message = str(err.value)
    assert "field 'interventions[0].agent'" in message and "agent 12" in message
    assert "10 agents, ids 0 to 9" in message and "user:ID" in message and "\n" not in message


def test_a_user_who_is_not_an_agent_says_how_many_are(scenario_file):
    scenario = load_scenario(scenario_file(SOME))
    model = build_model(scenario, load_dataset(scenario))
    chosen = set(model.dataset.users.raw_ids[model.world.users].tolist())
    outsider = next(int(u) for u in model.dataset.users.raw_ids.tolist() if u not in chosen)
    scenario = load_scenario(scenario_file({**SOME, "interventions": [
        {"kind": "set_traits", "at_step": 1, "agents": [f"user:{outsider}"], "conformity": 0.5}]}))
    with pytest.raises(UserError, match=rf"interventions\[0\]\.agents'.*dataset user {outsider} is not an agent of "
                                        r"this run \(10 of 40 users are agents; .*0 to 9"):
        build_model(scenario, load_dataset(scenario))


@pytest.mark.parametrize("agent", ["user 12", -1, "agent:3", 2.5])
def test_other_spellings_are_refused_when_the_scenario_loads(scenario_file, agent):
    path = scenario_file({"interventions": [{"kind": "inject_post", "at_step": 1, "agent": agent, "item": 5}]})
    with pytest.raises(UserError, match=r"interventions\[0\]\.agent"):
        load_scenario(path)
