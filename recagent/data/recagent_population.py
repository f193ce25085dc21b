"""RecAgent's reference population: item.csv, user_1000.csv and relationship_1000.csv.

The population has no ratings. So that its agents have a taste to start from, a seeded starting
history is generated from each user's stated interests (e.g. "sci-fi movies, comedy movies"): the
genres named there get most of the taste mass. `Dataset.meta["history"]` says so.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..params import cut
from .core import Catalog, Dataset, Users
from .synthetic import sample_ratings

KNOWN_ROLES = {"Watcher", "Explorer", "Critic", "Chatter", "Poster"}


def _rows(path: Path, required: list[str]):
    if not path.is_file():
        raise DataError("file not found (expected RecAgent's item.csv, user_*.csv and relationship_*.csv)", path)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        try:
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                found = ", ".join(reader.fieldnames or [])
                raise DataError(f"missing columns {missing}; found {found[:200]!r}", path)
            width = len(reader.fieldnames)
            for row in reader:
                # a ragged row would shift or drop fields silently: name its line instead
                if None in row or any(v is None for v in row.values()):
                    given = width + len(row.get(None) or []) - sum(v is None for v in row.values())
                    raise DataError(f"{given} fields, the header has {width}", f"{path}:{reader.line_num}")
                yield reader.line_num, row
        except csv.Error as e:
            raise DataError(f"not readable as CSV ({str(e)[:80]})", f"{path}:{reader.line_num}") from None
        except UnicodeDecodeError:
            raise DataError(f"not UTF-8 text (after line {reader.line_num})", path) from None


def _int(value: str, where: str, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DataError(f"expected an integer {what}, found {cut(value)}", where) from None


def load_recagent_population(folder: str | Path, users_file: str = "user_1000.csv",
                             relations_file: str = "relationship_1000.csv", history_length: int = 20,
                             seed: int = 0) -> Dataset:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("dataset folder not found", folder)

    ids, titles, genre_lists, texts = [], [], [], []
    item_path = folder / "item.csv"
    for line, row in _rows(item_path, ["id", "title", "genre", "description"]):
        ids.append(_int(row["id"], f"{item_path}:{line}", "item id"))
        if ids[-1] in ids[:-1] and len(set(ids)) < len(ids):
            raise DataError(f"item {ids[-1]} appears twice", f"{item_path}:{line}")
        titles.append(row["title"].strip())
        genre_lists.append([g.strip() for g in row["genre"].split("|") if g.strip()])
        texts.append(row["description"].strip())
    genre_names = sorted({g for gs in genre_lists for g in gs})
    pos = {g: k for k, g in enumerate(genre_names)}
    genres = np.zeros((len(ids), len(genre_names)), dtype=bool)
    for n, gs in enumerate(genre_lists):
        genres[n, [pos[g] for g in gs]] = True
    catalog = Catalog(np.array(ids, dtype=np.int64), titles, genre_names, genres, texts)

    user_path = folder / users_file
    uid, names, genders, ages, occupations, descriptions, roles, interests = [], [], [], [], [], [], [], []
    for line, row in _rows(user_path, ["id", "name", "gender", "age", "traits", "status", "interest", "feature"]):
        where = f"{user_path}:{line}"
        uid.append(_int(row["id"], where, "user id"))
        ages.append(_int(row["age"], where, "age"))
        names.append(row["name"].strip())
        genders.append(row["gender"].strip())
        occupations.append(row["status"].strip())
        interest = row["interest"].strip()
        interests.append(interest.lower())
        descriptions.append(f"{row['traits'].strip()}; interested in {interest}")
        found = [r.strip() for r in row["feature"].split(";") if r.strip()]
        unknown = [r for r in found if r not in KNOWN_ROLES]
        if unknown:
            raise DataError(f"unknown role(s) {unknown} in feature; expected some of {sorted(KNOWN_ROLES)}", where)
        roles.append(found)
    users = Users(np.array(uid, dtype=np.int64), names, np.array(ages), genders, occupations, descriptions, roles)

    relations = []
    rel_path = folder / relations_file
    for line, row in _rows(rel_path, ["user_1", "user_2", "relationship", "closeness"]):
        where = f"{rel_path}:{line}"
        a, b = _int(row["user_1"], where, "user_1"), _int(row["user_2"], where, "user_2")
        if not (users.has(a) and users.has(b)):
            raise DataError(f"relationship names unknown user {a if not users.has(a) else b}", where)
        try:
            closeness = float(row["closeness"])
        except ValueError:
            raise DataError(f"expected a number for closeness, found {cut(row['closeness'])}", where) from None
        if not 0 <= closeness < float("inf"):
            raise DataError(f"expected a closeness >= 0, found {cut(row['closeness'])}", where)
        relations.append((users.index_of(a), users.index_of(b), row["relationship"].strip(), closeness))

    rng = np.random.default_rng(seed)
    tastes = np.full((len(users), len(genre_names)), 0.05)
    for u, text in enumerate(interests):
        for g, name in enumerate(genre_names):
            stem = name.lower().replace("'s", "").replace("-", "")
            if stem and stem in text.replace("-", ""):
                tastes[u, g] = 1.0
    tastes /= tastes.sum(1, keepdims=True)
    popularity = rng.pareto(1.5, len(catalog)) + 0.1
    quality = rng.normal(0, 0.12, len(catalog))
    history = sample_ratings(catalog, tastes, quality, popularity, history_length, rng)
    return Dataset("recagent-population", catalog, users, history, relations=relations,
                   meta={"history": "generated from the users' stated interests", "seed": seed, "tastes": tastes})
