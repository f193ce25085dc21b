"""Ratings of self-chosen items together with ratings of randomly shown ones (random-exposure data).

Such data is what tells a user simulator how much less people like what they are merely shown
(see `recagent/feedback/exposure.py`). Three formats, all loaded into one `ExposureData`:

- **Coat** (Schnabel et al. 2016): a folder with `train.ascii` (self-chosen) and `test.ascii`
  (random), dense users x items integer matrices, 0 = not rated; optional `item_features.ascii`
  and `user_features.ascii` (0/1 rows) with their `*_map.txt` column names.
- **Yahoo! R3**: a folder with `user.txt` (self-chosen) and `random.txt` (random): one
  `user, item, rating` triplet per line, tab or comma separated, ids counted from 0 or from 1 (kept
  as the dataset's ids).
- **A generic ratings CSV** with a header `user,item,rating,exposure` (`exposure` is `chosen` or
  `random`; an optional `timestamp` column orders the chosen ratings).

A broken file raises a one-line DataError naming the file and the line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .core import Catalog, Dataset, Interactions, Users

FORMATS = ("coat", "yahoo", "csv")


@dataclass
class ExposureData:
    """`dataset.interactions` are the self-chosen ratings; `random` the ratings of randomly shown items."""

    dataset: Dataset
    random: Interactions

    @property
    def name(self) -> str:
        return self.dataset.name


def _read_matrix(path: Path, what: str) -> np.ndarray:
    """A whitespace-separated integer matrix, every row as wide as the first."""
    if not path.is_file():
        raise DataError(f"file not found ({what})", path)
    rows: list[list[int]] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            try:
                row = [int(t) for t in tokens]
            except ValueError:
                bad = next(t for t in tokens if not re.fullmatch(r"[+-]?\d+", t))
                raise DataError(f"line {line_no}: expected integers, found {bad!r}", path) from None
            if rows and len(row) != len(rows[0]):
                raise DataError(f"line {line_no}: expected {len(rows[0])} columns like line 1, found {len(row)}", path)
            rows.append(row)
    if not rows:
        raise DataError(f"empty file: expected a users x items matrix ({what})", path)
    return np.asarray(rows, dtype=np.int64)


def _check_ratings(matrix: np.ndarray, path: Path) -> None:
    bad = np.argwhere((matrix < 0) | (matrix > 5))
    if len(bad):
        line, col = bad[0]
        raise DataError(f"line {line + 1}, column {col + 1}: expected a rating 1-5 or 0 (not rated), "
                        f"found {matrix[line, col]}", path)


def _feature_names(path: Path, width: int) -> list[str]:
    if path.is_file():
        names = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        if len(names) == width:
            return names
        raise DataError(f"expected {width} feature names (one per column of the features file), found {len(names)}", path)
    return [f"feature {k}" for k in range(width)]


def _cells(matrix: np.ndarray) -> Interactions:
    u, i = np.nonzero(matrix)
    return Interactions(u, i, matrix[u, i].astype(np.float32), np.arange(len(u)))


def load_coat(folder: str | Path) -> ExposureData:
    """Coat: train.ascii (self-chosen), test.ascii (random), optional feature files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("expected the Coat folder (train.ascii, test.ascii, ...), not found", folder)
    chosen = _read_matrix(folder / "train.ascii", "self-chosen ratings")
    random = _read_matrix(folder / "test.ascii", "random ratings")
    _check_ratings(chosen, folder / "train.ascii")
    _check_ratings(random, folder / "test.ascii")
    if random.shape != chosen.shape:
        raise DataError(f"expected the shape of train.ascii {chosen.shape}, found {random.shape}", folder / "test.ascii")
    n_users, n_items = chosen.shape
    item_features, genre_names = _read_features(folder, "item", n_items)
    described = [[genre_names[k] for k in np.flatnonzero(row)] for row in item_features]
    titles = [f"Coat {i}" + (f" ({', '.join(d.split(':', 1)[-1] for d in words)})" if words else "")
              for i, words in enumerate(described)]
    texts = [" ".join(d.replace(":", " ") for d in words) for words in described]
    catalog = Catalog(np.arange(n_items), titles, genre_names, item_features > 0, texts)
    users = Users.anonymous(np.arange(n_users))
    user_features, names = _read_features(folder, "user", n_users)
    for u, row in enumerate(user_features):
        words = [names[k] for k in np.flatnonzero(row)]
        users.descriptions[u] = ", ".join(words)
        users.genders[u] = next((w.split(":", 1)[1] for w in words if w.startswith("gender:")), "")
    dataset = Dataset("coat", catalog, users, _cells(chosen), meta={"format": "coat", "path": str(folder)})
    return ExposureData(dataset, _cells(random))


def _read_features(folder: Path, kind: str, n_rows: int) -> tuple[np.ndarray, list[str]]:
    """Coat's optional `{kind}_features.ascii` one-hot rows (one per user or item of train.ascii) and
    their names from `{kind}_features_map.txt`; no columns when the file is absent."""
    path = folder / f"{kind}_features.ascii"
    if not path.is_file():
        return np.zeros((n_rows, 0), dtype=np.int64), []
    features = _read_matrix(path, f"{kind} features")
    if features.shape[0] != n_rows:
        raise DataError(f"expected {n_rows} rows (one per {kind} of train.ascii), found {features.shape[0]}", path)
    return features, _feature_names(folder / f"{kind}_features_map.txt", features.shape[1])


def _read_triplets(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """user, item, rating per line; tab, comma or whitespace separated; a header line is skipped."""
    if not path.is_file():
        raise DataError("file not found", path)
    users, items, ratings = [], [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, 1):
            text = line.strip()
            if not text:
                continue
            fields = [x.strip() for x in re.split(r"[\t,]|\s+", text) if x.strip()]
            if line_no == 1 and fields and not re.fullmatch(r"[+-]?\d+", fields[0]):
                continue  # a header
            if len(fields) < 3:
                raise DataError(f"line {line_no}: expected user, item, rating separated by tabs or commas, "
                                f"found {text[:60]!r}", path)
            try:
                u, i = int(fields[0]), int(fields[1])
                r = float(fields[2])
            except ValueError:
                raise DataError(f"line {line_no}: expected integer ids and a numeric rating, found {text[:60]!r}",
                                path) from None
            if not 1 <= r <= 5:
                raise DataError(f"line {line_no}: expected a rating 1-5, found {fields[2]}", path)
            users.append(u)
            items.append(i)
            ratings.append(r)
    if not users:
        raise DataError("empty file: expected user, item, rating lines", path)
    return np.asarray(users), np.asarray(items), np.asarray(ratings, dtype=np.float32)


def _build(name: str, chosen: tuple, random: tuple, meta: dict, chosen_times: np.ndarray | None = None) -> ExposureData:
    """Dense indices over the ids of both parts (the dataset's own ids stay in raw_ids)."""
    user_ids = np.unique(np.r_[chosen[0], random[0]])
    item_ids = np.unique(np.r_[chosen[1], random[1]])
    n_items = len(item_ids)
    catalog = Catalog(item_ids, [f"Item {int(i)}" for i in item_ids], [], np.zeros((n_items, 0), dtype=bool),
                      [""] * n_items)

    def part(triplets, times=None) -> Interactions:
        u, i, r = triplets
        return Interactions(np.searchsorted(user_ids, u), np.searchsorted(item_ids, i), r,
                            np.arange(len(u)) if times is None else times)

    dataset = Dataset(name, catalog, Users.anonymous(user_ids), part(chosen, chosen_times), meta=meta)
    return ExposureData(dataset, part(random))


def load_yahoo_r3(folder: str | Path) -> ExposureData:
    """Yahoo! R3: user.txt (self-chosen) and random.txt (random) triplet files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("expected the Yahoo! R3 folder (user.txt, random.txt), not found", folder)
    chosen = _read_triplets(folder / "user.txt")
    random = _read_triplets(folder / "random.txt")
    return _build("yahoo-r3", chosen, random, {"format": "yahoo", "path": str(folder)})


def load_exposure_csv(path: str | Path) -> ExposureData:
    """A ratings CSV with columns user, item, rating, exposure (chosen / random) and optionally timestamp."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    parts = {"chosen": ([], [], [], []), "random": ([], [], [], [])}
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in ("user", "item", "rating", "exposure") if c not in header]
        if missing:
            raise DataError(f"line 1: expected a header with user, item, rating, exposure; missing {missing}", path)
        col = {c: header.index(c) for c in ("user", "item", "rating", "exposure")}
        time_col = header.index("timestamp") if "timestamp" in header else None
        for line_no, row in enumerate(reader, 2):
            if not any(x.strip() for x in row):
                continue
            if len(row) < len(header):
                raise DataError(f"line {line_no}: expected {len(header)} fields, found {len(row)}", path)
            kind = row[col["exposure"]].strip().lower()
            if kind not in parts:
                raise DataError(f"line {line_no}: exposure must be 'chosen' or 'random', found {row[col['exposure']]!r}",
                                path)
            try:
                u, i = int(row[col["user"]]), int(row[col["item"]])
                r = float(row[col["rating"]])
                t = int(float(row[time_col])) if time_col is not None else line_no
            except ValueError:
                raise DataError(f"line {line_no}: expected integer user and item ids and numeric rating"
                                f"{' and timestamp' if time_col is not None else ''}, found {','.join(row)[:60]!r}",
                                path) from None
            if not 1 <= r <= 5:
                raise DataError(f"line {line_no}: expected a rating 1-5, found {row[col['rating']]}", path)
            for store, value in zip(parts[kind], (u, i, r, t)):
                store.append(value)
    for kind, (u, _, _, _) in parts.items():
        if not u:
            raise DataError(f"no {kind} ratings: the exposure column needs both 'chosen' and 'random' rows", path)
    chosen, random = ([np.asarray(x) for x in parts[k]] for k in ("chosen", "random"))
    return _build(path.stem, (chosen[0], chosen[1], chosen[2].astype(np.float32)),
                  (random[0], random[1], random[2].astype(np.float32)), {"format": "csv", "path": str(path)},
                  chosen_times=chosen[3])


def load_exposure_data(kind: str, path: str | Path) -> ExposureData:
    """One of FORMATS by name."""
    if kind == "coat":
        return load_coat(path)
    if kind == "yahoo":
        return load_yahoo_r3(path)
    if kind == "csv":
        return load_exposure_csv(path)
    raise DataError(f"unknown random-exposure format {kind!r}; expected one of {list(FORMATS)}", "--dataset")


def load_calibration(path: str | Path, dataset: Dataset) -> Interactions:
    """Ratings of randomly shown items for `feedback.calibration`, in the dataset's own ids.

    A CSV with a header user,item,rating (an `exposure` column, if present, keeps only `random`
    rows), or headerless user, item, rating triplets (Yahoo!'s random.txt).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found (feedback.calibration: ratings of randomly shown items)", path)
    first = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0].lower()
    if "exposure" in first:
        data = load_exposure_csv(path)
        raw = (data.dataset.users.raw_ids[data.random.users], data.dataset.catalog.raw_ids[data.random.items],
               data.random.ratings)
    else:
        raw = _read_triplets(path)
    users, items = [], []
    for n, (u, i) in enumerate(zip(raw[0].tolist(), raw[1].tolist())):
        if not dataset.users.has(u):
            raise DataError(f"row {n + 1}: user {u} is not in the dataset {dataset.name!r}", path)
        if not dataset.catalog.has(i):
            raise DataError(f"row {n + 1}: item {i} is not in the dataset {dataset.name!r}", path)
        users.append(dataset.users.index_of(u))
        items.append(dataset.catalog.index_of(i))
    return Interactions(np.asarray(users), np.asarray(items), np.asarray(raw[2], dtype=np.float32), np.arange(len(users)))
