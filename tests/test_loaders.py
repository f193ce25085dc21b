"""Each loader on small real files, including malformed ones (error names file and line)."""

from __future__ import annotations

import numpy as np
import pytest

from recagent.data import History, load_movielens_100k, load_ratings_csv, load_recagent_population, make_synthetic
from recagent.errors import DataError

from .conftest import SHARED_DATA, needs_shared

GENRE_FLAGS = "|".join(["0"] * 19)


def write_movielens(folder, data_lines, item_lines=None):
    folder.mkdir(exist_ok=True)
    items = item_lines or [f"1|Toy Story (1995)|01-Jan-1995||http://x|{'0|0|0|1|1|1|' + '|'.join(['0'] * 13)}",
                           f"2|GoldenEye (1995)|01-Jan-1995||http://x|{GENRE_FLAGS}",
                           f"3|Caf\xe9 (1996)|01-Jan-1996||http://x|{GENRE_FLAGS}"]
    (folder / "u.item").write_bytes("\n".join(items).encode("latin-1") + b"\n")
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    (folder / "u.data").write_text("\n".join(data_lines) + "\n")
    return folder


def test_movielens_original_formats(tmp_path):
    folder = write_movielens(tmp_path / "ml", ["1\t1\t5\t100", "1\t2\t3\t200", "2\t3\t1\t150"])
    ds = load_movielens_100k(folder)
    assert len(ds.catalog) == 3 and len(ds.users) == 2 and len(ds.interactions) == 3
    assert ds.catalog.titles[2] == "Caf\xe9 (1996)"  # latin-1 decoded
    assert ds.catalog.item_genres(0) == ["Animation", "Children's", "Comedy"]
    assert ds.users.genders == ["male", "female"]
    np.testing.assert_array_equal(ds.interactions.ratings, [5, 3, 1])


@pytest.mark.parametrize("line, message", [
    ("1\t1\t5", "expected 4 tab-separated fields"),
    ("1\tx\t5\t100", "expected integers"),
    ("1\t99\t5\t100", "item 99 is not in u.item"),
    ("7\t1\t5\t100", "user 7 is not in u.user"),
    ("1\t1\t9\t100", "rating must be between 1 and 5"),
])
def test_movielens_broken_row_names_file_and_line(tmp_path, line, message):
    folder = write_movielens(tmp_path / "ml", ["1\t1\t5\t100", line])
    with pytest.raises(DataError) as err:
        load_movielens_100k(folder)
    assert "u.data:2" in str(err.value)
    assert message in str(err.value)


def test_movielens_missing_folder_says_where_it_comes_from(tmp_path):
    with pytest.raises(DataError, match="grouplens"):
        load_movielens_100k(tmp_path / "absent")


def test_movielens_bad_item_row(tmp_path):
    folder = write_movielens(tmp_path / "ml", ["1\t1\t5\t100"], item_lines=["1|Only three|fields"])
    with pytest.raises(DataError, match=r"u.item:1.*expected 24"):
        load_movielens_100k(folder)


@needs_shared
def test_movielens_100k_reference_counts():
    ds = load_movielens_100k(SHARED_DATA / "ml-100k", tmdb=SHARED_DATA / "ml-100k-tmdb" / "movies_enriched.csv")
    assert (len(ds.interactions), len(ds.users), len(ds.catalog)) == (100_000, 943, 1682)
    assert sum(1 for t in ds.catalog.texts if t) >= 1580
    fold = load_movielens_100k(SHARED_DATA / "ml-100k", fold=1)
    assert (len(fold.interactions), len(fold.test_interactions)) == (80_000, 20_000)


def test_ratings_csv_autodetects_columns_and_items(tmp_path):
    (tmp_path / "r.csv").write_text("userId,movieId,rating,timestamp\n10,100,4.0,5\n10,200,2.0,6\n11,100,5.0,7\n")
    (tmp_path / "i.csv").write_text("movieId,title,genres,overview\n100,Alpha,Action|Drama,A film\n200,Beta,Comedy,\n")
    ds = load_ratings_csv(tmp_path / "r.csv", tmp_path / "i.csv")
    assert len(ds.interactions) == 3 and len(ds.users) == 2
    assert ds.catalog.titles == ["Alpha", "Beta"]
    assert ds.catalog.item_genres(0) == ["Action", "Drama"]
    assert ds.catalog.texts[0] == "A film"


def test_ratings_csv_override_and_broken_row(tmp_path):
    (tmp_path / "r.csv").write_text("who;what;stars\na;x;4\nb;y;oops\n")
    with pytest.raises(DataError, match=r"r.csv:3"):
        load_ratings_csv(tmp_path / "r.csv", columns={"user": "who", "item": "what", "rating": "stars"})
    with pytest.raises(DataError, match="no user column"):
        load_ratings_csv(tmp_path / "r.csv")


def write_population(folder, bad_relation=False):
    folder.mkdir()
    (folder / "item.csv").write_text("id,title,genre,description\n0,Toy Story,Animation|Comedy,Toys.\n"
                                     "1,Alien,Horror|Sci-Fi,\"A crew, a monster.\"\n2,Heat,Crime|Thriller,Heist.\n")
    (folder / "user_1000.csv").write_text(
        "id,name,gender,age,traits,status,interest,feature\n"
        "0,Ann Lee,female,30,\"kind, curious\",writer,\" sci-fi movies, horror movies\",Watcher;Critic;\n"
        "1,Bo Ng,male,40,calm,nurse,\" comedy movies\",Chatter;\n")
    target = "9" if bad_relation else "1"
    (folder / "relationship_1000.csv").write_text(
        f"user_1,user_2,relationship,closeness\n0,{target},friend,0.8\n1,0,friend,0.8\n")
    return folder


def test_recagent_population(tmp_path):
    ds = load_recagent_population(write_population(tmp_path / "pop"), history_length=2, seed=1)
    assert ds.users.names == ["Ann Lee", "Bo Ng"]
    assert ds.users.roles == [["Watcher", "Critic"], ["Chatter"]]
    assert ds.relations == [(0, 1, "friend", 0.8), (1, 0, "friend", 0.8)]
    assert len(ds.interactions) >= 4  # generated starting history, at least 2 ratings each
    assert "generated" in ds.meta["history"]
    taste = ds.meta["tastes"][0]
    assert taste[ds.catalog.genre_names.index("Sci-Fi")] > taste[ds.catalog.genre_names.index("Comedy")]


def test_recagent_population_bad_relation(tmp_path):
    with pytest.raises(DataError, match=r"relationship_1000.csv:2.*unknown user 9"):
        load_recagent_population(write_population(tmp_path / "pop", bad_relation=True))


@needs_shared
def test_recagent_reference_population():
    ds = load_recagent_population(SHARED_DATA / "recagent-1000")
    assert (len(ds.users), len(ds.catalog), len(ds.relations)) == (1000, 3883, 20846)


def test_synthetic_is_seeded():
    a, b, c = make_synthetic(30, 80, seed=5), make_synthetic(30, 80, seed=5), make_synthetic(30, 80, seed=6)
    np.testing.assert_array_equal(a.interactions.items, b.interactions.items)
    assert a.catalog.titles == b.catalog.titles
    assert not np.array_equal(a.interactions.items[:50], c.interactions.items[:50])
    assert a.interactions.ratings.min() >= 1 and a.interactions.ratings.max() <= 5


def test_history_padding_and_seen():
    h = History(3)
    h.add([0, 0, 2], [5, 7, 1], [4.0, 2.0, 5.0])
    items, ratings = h.padded([0, 1, 2], 3)
    np.testing.assert_array_equal(items, [[-1, 5, 7], [-1, -1, -1], [-1, -1, 1]])
    assert np.isnan(ratings[1]).all() and ratings[0, 2] == 2.0
    seen = h.seen_matrix([2, 0], 10).toarray()
    assert seen[0].nonzero()[0].tolist() == [1] and seen[1].nonzero()[0].tolist() == [5, 7]
