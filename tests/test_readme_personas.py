"""Personas a reader meets agree with themselves: names match genders, descriptions match favourite genres."""

from __future__ import annotations

from recagent.agents.persona import describe
from recagent.data.synthetic import FEMALE_FIRST_NAMES, MALE_FIRST_NAMES, make_synthetic


def test_synthetic_first_names_match_the_gender():
    users = make_synthetic(n_users=300, n_items=50, history_length=5, seed=11).users
    assert set(users.genders) == {"female", "male"}
    for name, gender in zip(users.names, users.genders):
        first = name.split()[0]
        assert first in (FEMALE_FIRST_NAMES if gender == "female" else MALE_FIRST_NAMES), (name, gender)
    assert not set(FEMALE_FIRST_NAMES) & set(MALE_FIRST_NAMES)


def test_description_is_written_from_the_favourite_genres():
    assert describe("", ["Drama", "Action"]) == "likes drama and action movies"
    assert describe("", ["Sci-Fi"]) == "likes sci-fi movies"
    assert describe("", ["Drama", "Action", "Horror"]) == "likes drama, action and horror movies"
    assert describe("ambitious; interested in sci-fi", ["Sci-Fi", "Drama"]) == \
        "ambitious; interested in sci-fi; likes sci-fi and drama movies"
    assert describe("  ", []) == ""
