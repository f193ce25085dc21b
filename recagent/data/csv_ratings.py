"""Any ratings CSV (and an optional items CSV) as a Dataset.

Column names are auto-detected among the common spellings and can be overridden.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import DataError
from .core import Catalog, Dataset, Interactions, Users

COLUMN_ALIASES = {
    "user": ["user_id", "userid", "user", "uid", "reviewer_id", "reviewerid"],
    "item": ["item_id", "itemid", "movie_id", "movieid", "item", "iid", "business_id", "asin", "product_id"],
    "rating": ["rating", "score", "stars", "overall", "value"],
    "timestamp": ["timestamp", "time", "ts", "date", "unix_time", "unixreviewtime"],
}
ITEM_ALIASES = {
    "id": ["id", "item_id", "itemid", "movie_id", "movieid", "item", "business_id", "asin"],
    "title": ["title", "name"],
    "genres": ["genres", "genre", "categories", "category"],
}
TEXT_COLUMNS = ["overview", "description", "tagline", "summary", "plot", "text"]


def _detect(fieldnames: list[str], aliases: list[str], override: str | None, what: str, path: Path) -> str | None:
    if override:
        if override not in fieldnames:
            raise DataError(f"column {override!r} for {what} not found; columns are {fieldnames}", path)
        return override
    lowered = {f.lower().strip(): f for f in fieldnames}
    for alias in aliases:
        if alias in lowered:
            return lowered[alias]
    return None


def _open_csv(path: Path) -> tuple[csv.DictReader, object]:
    if not path.is_file():
        raise DataError("file not found", path)
    f = open(path, encoding="utf-8", newline="")
    sample = f.read(4096)
    f.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(f, dialect=dialect)
    if not reader.fieldnames:
        f.close()
        raise DataError("empty file: expected a header row", path)
    return reader, f


def _int_id(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value


def load_ratings_csv(
    ratings: str | Path,
    items: str | Path | None = None,
    columns: dict[str, str] | None = None,
) -> Dataset:
    """Load a ratings CSV. `columns` maps user/item/rating/timestamp to column names."""
    path = Path(ratings)
    columns = columns or {}
    reader, f = _open_csv(path)
    with f:
        names = list(reader.fieldnames)
        col = {k: _detect(names, COLUMN_ALIASES[k], columns.get(k), k, path) for k in COLUMN_ALIASES}
        for required in ("user", "item"):
            if col[required] is None:
                raise DataError(
                    f"no {required} column found (looked for {COLUMN_ALIASES[required]}); "
                    f"columns are {names}; name it with columns.{required}", path)
        user_ids: dict = {}
        item_ids: dict = {}
        u, i, r, t = [], [], [], []
        for row in reader:
            line = f"{path}:{reader.line_num}"
            uid, iid = (row.get(col["user"]) or "").strip(), (row.get(col["item"]) or "").strip()
            if not uid or not iid:
                raise DataError("missing user or item value", line)
            try:
                rating = float(row[col["rating"]]) if col["rating"] else 1.0
                ts = int(float(row[col["timestamp"]])) if col["timestamp"] else len(u)
            except (TypeError, ValueError):
                raise DataError(f"expected a number for rating/timestamp, found {row}", line)
            u.append(user_ids.setdefault(_int_id(uid), len(user_ids)))
            i.append(item_ids.setdefault(_int_id(iid), len(item_ids)))
            r.append(rating)
            t.append(ts)
    if not u:
        raise DataError("no rating rows", path)
    raw_items = list(item_ids)
    catalog = _read_items(Path(items), raw_items) if items else _bare_catalog(raw_items)
    users = Users.anonymous(_as_raw_array(list(user_ids)))
    return Dataset(path.stem, catalog, users, Interactions(np.array(u), np.array(i), np.array(r), np.array(t)))


def _as_raw_array(raw: list) -> np.ndarray:
    """Integer ids stay integers; string ids (Yelp, Amazon) are replaced by their position."""
    if all(isinstance(x, int) for x in raw):
        return np.array(raw, dtype=np.int64)
    return np.arange(len(raw), dtype=np.int64)


def _bare_catalog(raw_items: list) -> Catalog:
    return Catalog(_as_raw_array(raw_items), [f"Item {x}" for x in raw_items], [],
                   np.zeros((len(raw_items), 0), dtype=bool), [""] * len(raw_items))


def _read_items(path: Path, raw_items: list) -> Catalog:
    reader, f = _open_csv(path)
    with f:
        names = list(reader.fieldnames)
        col = {k: _detect(names, ITEM_ALIASES[k], None, k, path) for k in ITEM_ALIASES}
        if col["id"] is None:
            raise DataError(f"no item id column found (looked for {ITEM_ALIASES['id']}); columns are {names}", path)
        text_cols = [c for c in names if c.lower() in TEXT_COLUMNS]
        rows = {}
        for row in reader:
            key = _int_id((row.get(col["id"]) or "").strip())
            if key == "":
                raise DataError("missing item id", f"{path}:{reader.line_num}")
            rows[key] = row
    genre_lists, titles, texts = [], [], []
    for key in raw_items:
        row = rows.get(key, {})
        titles.append((row.get(col["title"]) if col["title"] else None) or f"Item {key}")
        raw_genres = (row.get(col["genres"]) if col["genres"] else "") or ""
        genre_lists.append([g.strip() for g in raw_genres.split("|") if g.strip()])
        texts.append(" ".join((row.get(c) or "").strip() for c in text_cols).strip())
    genre_names = sorted({g for gs in genre_lists for g in gs})
    pos = {g: k for k, g in enumerate(genre_names)}
    genres = np.zeros((len(raw_items), len(genre_names)), dtype=bool)
    for n, gs in enumerate(genre_lists):
        genres[n, [pos[g] for g in gs]] = True
    return Catalog(_as_raw_array(raw_items), titles, genre_names, genres, texts)
