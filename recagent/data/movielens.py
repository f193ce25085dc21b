"""MovieLens-100K in its original GroupLens file formats.

`u.item` is pipe-separated latin-1 (id, title, release date, video date, IMDb URL, 19 genre flags),
`u.user` is pipe-separated (id, age, gender, occupation, zip), ratings are tab-separated
(user, item, rating, unix time): `u.data` for all of them or `uK.base` / `uK.test` for fold K.
The optional TMDB file (`movies_enriched.csv`) adds overviews and taglines as item text.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..params import cut
from .core import Catalog, Dataset, Interactions, Users

ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
]

WHERE_FROM = (
    "MovieLens-100K comes from GroupLens (https://grouplens.org/datasets/movielens/100k/); "
    "`recagent data fetch ml-100k` downloads and checks it, or unzip it yourself and set `dataset.path` in the "
    "scenario to the folder holding u.data and u.item"
)


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"file not found. {WHERE_FROM}", path)
    return path


def read_items(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    ids, titles, flags = [], [], []
    with open(_require(path), encoding="latin-1") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split("|")
            if len(parts) != 5 + len(ML100K_GENRES):
                raise DataError(
                    f"expected {5 + len(ML100K_GENRES)} '|'-separated fields, found {len(parts)}",
                    f"{path}:{lineno}",
                )
            try:
                ids.append(int(parts[0]))
                flags.append([int(x) for x in parts[5:]])
            except ValueError:
                raise DataError("expected an integer item id and 0/1 genre flags", f"{path}:{lineno}") from None
            if not set(flags[-1]) <= {0, 1}:
                raise DataError("expected 0/1 genre flags", f"{path}:{lineno}")
            titles.append(parts[1])
    if len(set(ids)) < len(ids):
        seen: set[int] = set()
        first = next(k for k, i in enumerate(ids) if i in seen or seen.add(i))
        raise DataError(f"item {ids[first]} appears twice", path)
    if not ids:
        raise DataError("no items", path)
    return np.array(ids, dtype=np.int64), titles, np.array(flags, dtype=bool).reshape(-1, len(ML100K_GENRES))


def read_users(path: Path) -> Users:
    ids, ages, genders, occupations = [], [], [], []
    with open(_require(path), encoding="latin-1") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("|")
            if len(parts) != 5:
                raise DataError(f"expected 5 '|'-separated fields, found {len(parts)}", f"{path}:{lineno}")
            try:
                ids.append(int(parts[0]))
                ages.append(int(parts[1]))
            except ValueError:
                raise DataError("expected integer user id and age", f"{path}:{lineno}") from None
            genders.append({"M": "male", "F": "female"}.get(parts[2], parts[2]))
            occupations.append(parts[3])
    n = len(ids)
    return Users(
        raw_ids=np.array(ids, dtype=np.int64),
        names=[f"User {i}" for i in ids],
        ages=np.array(ages, dtype=int),
        genders=genders,
        occupations=occupations,
        descriptions=[""] * n,
        roles=[[] for _ in range(n)],
    )


def read_ratings(path: Path, catalog: Catalog, users: Users) -> Interactions:
    u, i, r, t = [], [], [], []
    with open(_require(path), encoding="latin-1") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 4:
                raise DataError(f"expected 4 tab-separated fields (user item rating time), found {len(parts)}",
                                f"{path}:{lineno}")
            try:
                uid, iid, rating, ts = int(parts[0]), int(parts[1]), float(parts[2]), int(parts[3])
            except ValueError:
                raise DataError("expected integers for user, item, rating and time", f"{path}:{lineno}") from None
            if not -2**62 < ts < 2**62:
                raise DataError(f"time {cut(parts[3])} is out of range", f"{path}:{lineno}")
            if not users.has(uid):
                raise DataError(f"user {uid} is not in u.user", f"{path}:{lineno}")
            if not catalog.has(iid):
                raise DataError(f"item {iid} is not in u.item", f"{path}:{lineno}")
            if not 1 <= rating <= 5:
                raise DataError(f"rating must be between 1 and 5 (MovieLens' scale), found {cut(parts[2])}",
                                f"{path}:{lineno}")
            u.append(users.index_of(uid))
            i.append(catalog.index_of(iid))
            r.append(rating)
            t.append(ts)
    return Interactions(np.array(u), np.array(i), np.array(r), np.array(t))


def read_tmdb_texts(path: Path, raw_ids: np.ndarray) -> list[str]:
    """Overview and tagline per item from the TMDB-enriched CSV; "" for items it lacks."""
    texts: dict[int, str] = {}
    with open(_require(path), encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        try:
            if reader.fieldnames is None or "movie_id" not in reader.fieldnames:
                raise DataError("expected a 'movie_id' column", path)
            for row in reader:
                try:
                    mid = int(float(row["movie_id"]))
                except (TypeError, ValueError, OverflowError):
                    raise DataError(f"expected an integer movie_id, found {cut(row['movie_id'])}",
                                    f"{path}:{reader.line_num}") from None
                parts = [(row.get("tagline") or "").strip(), (row.get("overview") or "").strip()]
                texts[mid] = " ".join(p for p in parts if p and p.lower() != "nan")
        except csv.Error as e:
            raise DataError(f"not readable as CSV ({str(e)[:80]})", f"{path}:{reader.line_num}") from None
        except UnicodeDecodeError:
            raise DataError(f"not UTF-8 text (after line {reader.line_num})", path) from None
    return [texts.get(int(r), "") for r in raw_ids]


def load_movielens_100k(folder: str | Path, fold: int | None = None, tmdb: str | Path | None = None) -> Dataset:
    """Load ML-100K from `folder`. With `fold` K, train on uK.base and keep uK.test as the test part."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"dataset folder not found. {WHERE_FROM}", folder)
    raw_ids, titles, genres = read_items(folder / "u.item")
    texts = read_tmdb_texts(Path(tmdb), raw_ids) if tmdb else [""] * len(raw_ids)
    catalog = Catalog(raw_ids, titles, list(ML100K_GENRES), genres, texts)
    users = read_users(folder / "u.user")
    if fold is None:
        return Dataset("ml-100k", catalog, users, read_ratings(folder / "u.data", catalog, users))
    if fold not in range(1, 6):
        raise DataError(f"fold must be 1-5, found {fold}", folder)
    train = read_ratings(folder / f"u{fold}.base", catalog, users)
    test = read_ratings(folder / f"u{fold}.test", catalog, users)
    return Dataset(f"ml-100k-u{fold}", catalog, users, train, test_interactions=test, meta={"fold": fold})
