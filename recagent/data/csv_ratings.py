"""Any ratings CSV (and an optional items CSV) as a Dataset.

Column names are auto-detected among the common spellings and can be overridden.

Every row is checked: a missing id, a rating or time that is not a finite number, a rating
outside the scale, a row with more or fewer fields than the header, are errors naming the file
and line. The scale is declared (`scale: [1, 10]`) or inferred as the smallest common scale
holding every rating (reported in `Dataset.meta["notes"]`); ratings are mapped linearly onto the
1-5 scale the feedback models use. A file without a rating column is an error unless the
dataset is declared implicit (`implicit: true`): each row is then an interaction, a positive
signal, stored as the top of the scale (5), never as a low rating.
"""

from __future__ import annotations

import csv
import math
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
# Common rating scales, smallest first: the inferred scale is the first that holds every rating.
COMMON_SCALES = [(1.0, 5.0), (0.0, 1.0), (0.5, 5.0), (0.0, 5.0), (1.0, 10.0), (0.0, 10.0), (1.0, 100.0), (0.0, 100.0)]
IMPLICIT_RATING = 5.0  # an implicit interaction is a positive signal: the top of the 1-5 scale
FIELD_LIMIT = 1_000_000  # characters in one CSV field (the csv module's default is 131,072)


def _cut(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _rows(reader: csv.DictReader, path: Path):
    """(line, row) for each data row; malformed CSV and rows with too many or too few fields are
    errors naming the line, not exceptions or silently shifted columns."""
    width = len(reader.fieldnames)
    try:
        for row in reader:
            line = f"{path}:{reader.line_num}"
            if None in row:
                raise DataError(f"{width + len(row[None])} fields, the header has {width}", line)
            if any(v is None for v in row.values()):
                given = sum(v is not None for v in row.values())
                raise DataError(f"{given} fields, the header has {width}", line)
            yield line, row
    except csv.Error as e:
        raise DataError(f"not readable as CSV ({str(e)[:80]})", f"{path}:{reader.line_num}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"not UTF-8 text (byte {e.start} of a read block after line {reader.line_num})", path) from None


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
        raise DataError("file not found" if not path.exists() else "not a file", path)
    csv.field_size_limit(FIELD_LIMIT)
    try:
        f = open(path, encoding="utf-8", newline="")
    except OSError as e:
        raise DataError(f"cannot read the file ({e.strerror or 'unreadable'})", path) from None
    try:
        sample = f.read(4096)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(f, dialect=dialect)
        if not reader.fieldnames:
            raise DataError("empty file: expected a header row", path)
    except UnicodeDecodeError:
        f.close()
        raise DataError("not UTF-8 text", path) from None
    except csv.Error as e:
        f.close()
        raise DataError(f"not readable as CSV ({str(e)[:80]})", path) from None
    except DataError:
        f.close()
        raise
    return reader, f


def _number(text: str | None, what: str, line: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise DataError(f"expected a number for {what}, found {_cut(text or '')}", line) from None
    if not math.isfinite(value):
        raise DataError(f"expected a finite number for {what}, found {_cut(text)}", line)
    return value


def infer_scale(ratings: list[float], lines: list[str]) -> tuple[float, float]:
    """The file's rating scale among the common ones, or the line of a rating that breaks it.

    `whole`: the smallest scale holding every rating; `most`: the smallest holding 95% of them.
    They differ when a few ratings are far off (a 99 among 1-5 stars): when `whole` is more than
    twice as wide as `most`, the scale is `most` and the first rating outside it is an error. Half
    stars (0.5-5 against 1-5) stay a scale of their own.
    """
    values = np.asarray(ratings, dtype=np.float64)
    inside = [np.count_nonzero((values >= lo) & (values <= hi)) for lo, hi in COMMON_SCALES]
    whole = next((s for s, n in zip(COMMON_SCALES, inside) if n == len(values)), None)
    most = next((s for s, n in zip(COMMON_SCALES, inside) if n >= 0.95 * len(values)), None)
    if whole is not None and (most is None or whole[1] - whole[0] <= 2 * (most[1] - most[0])):
        return whole
    best = most or COMMON_SCALES[int(np.argmax(inside))]
    k = int(np.flatnonzero((values < best[0]) | (values > best[1]))[0])
    raise DataError(f"rating {ratings[k]:g} is outside the {best[0]:g}-{best[1]:g} scale of the other ratings; "
                    "declare the file's scale with dataset.scale: [lowest, highest] if it is right", lines[k])


def _int_id(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value


def load_ratings_csv(
    ratings: str | Path,
    items: str | Path | None = None,
    columns: dict[str, str] | None = None,
    implicit: bool = False,
    scale: tuple[float, float] | None = None,
) -> Dataset:
    """Load a ratings CSV. `columns` maps user/item/rating/timestamp to column names; `implicit`:
    every row is a positive interaction; `scale`: the file's [lowest, highest] rating (inferred when
    not given)."""
    path = Path(ratings)
    columns = columns or {}
    reader, f = _open_csv(path)
    with f:
        names = list(reader.fieldnames)
        shown = _cut(", ".join(names), 200)
        col = {k: _detect(names, COLUMN_ALIASES[k], columns.get(k), k, path) for k in COLUMN_ALIASES}
        for required in ("user", "item"):
            if col[required] is None:
                raise DataError(
                    f"no {required} column found (looked for {', '.join(COLUMN_ALIASES[required])}); "
                    f"columns are {shown}; name it with dataset.columns.{required}", path)
        if col["rating"] is None and not implicit:
            raise DataError(
                f"no rating column found (looked for {', '.join(COLUMN_ALIASES['rating'])}); columns are {shown}. "
                "If every row is an interaction (clicks, watches), set dataset.implicit: true; "
                "else name the column with dataset.columns.rating", path)
        rating_col = None if implicit else col["rating"]
        user_ids: dict = {}
        item_ids: dict = {}
        u, i, r, t, lines = [], [], [], [], []
        for line, row in _rows(reader, path):
            uid, iid = (row.get(col["user"]) or "").strip(), (row.get(col["item"]) or "").strip()
            if not uid or not iid:
                raise DataError(f"missing {'user' if not uid else 'item'} value", line)
            if "\x00" in uid or "\x00" in iid:
                raise DataError("a NUL byte in an id: is this a binary file?", line)
            rating = _number(row[rating_col], f"rating ({rating_col})", line) if rating_col else IMPLICIT_RATING
            if scale is not None and not scale[0] <= rating <= scale[1]:
                raise DataError(f"rating {rating:g} is outside the declared scale {scale[0]:g}-{scale[1]:g} "
                                "(dataset.scale)", line)
            ts = _number(row[col["timestamp"]], f"time ({col['timestamp']})", line) if col["timestamp"] else len(u)
            if not -2**62 < ts < 2**62:
                raise DataError(f"time {ts:g} is out of range", line)
            u.append(user_ids.setdefault(_int_id(uid), len(user_ids)))
            i.append(item_ids.setdefault(_int_id(iid), len(item_ids)))
            r.append(rating)
            t.append(int(ts))
            if rating_col:
                lines.append(line)
    if not u:
        raise DataError("no rating rows", path)
    notes = []
    if implicit:
        notes.append(f"implicit feedback: {len(u):,} interactions, each a positive signal (rating {IMPLICIT_RATING:g})")
        if col["rating"] is not None:
            notes.append(f"implicit: column {col['rating']!r} ignored")
        values = np.array(r, dtype=np.float32)
    else:
        lo, hi = scale if scale is not None else infer_scale(r, lines)
        how = "declared" if scale is not None else "inferred; declare dataset.scale to change it"
        notes.append(f"ratings on a {lo:g}-{hi:g} scale ({how})" + ("" if (lo, hi) == (1.0, 5.0) else ", mapped onto 1-5"))
        values = (1.0 + 4.0 * (np.array(r, dtype=np.float64) - lo) / (hi - lo)).astype(np.float32)
    raw_items = list(item_ids)
    catalog = _read_items(Path(items), raw_items) if items else _bare_catalog(raw_items)
    users = Users.anonymous(_as_raw_array(list(user_ids)))
    meta = {"implicit": implicit, "rating_scale": None if implicit else [lo, hi], "notes": notes}
    return Dataset(path.stem, catalog, users, Interactions(np.array(u), np.array(i), values, np.array(t)), meta=meta)


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
            raise DataError(f"no item id column found (looked for {', '.join(ITEM_ALIASES['id'])}); "
                            f"columns are {_cut(', '.join(names), 200)}", path)
        text_cols = [c for c in names if c.lower() in TEXT_COLUMNS]
        rows = {}
        for line, row in _rows(reader, path):
            key = _int_id((row.get(col["id"]) or "").strip())
            if key == "":
                raise DataError("missing item id", line)
            if key in rows:
                raise DataError(f"item {_cut(str(key))} appears twice", line)
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
