"""Reading an impression log: one row per item shown on a recommender page.

Columns (a header row is required; names are matched case-insensitively, extra columns are ignored):
user, session, page, position, item, watched, and optionally p_like. Comma or tab separated (tab when
the file ends in .tsv/.tab or its header holds a tab). `user`, `session` and `item` are any ids
(MIND's "U13740" as well as numbers); a visit is a (user, session) pair. `page` and `position` count
from 0 or from 1 (a log whose smallest page or position is 1 is shifted to start from 0), `watched`
is 0/1 (or true/false), `p_like` a probability in [0, 1]. Every problem is a one-line DataError
naming the file, the line and the column.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

IMPRESSION_COLUMNS = ("user", "session", "page", "position", "item", "watched")
OPTIONAL_COLUMNS = ("p_like",)
TRUE, FALSE = {"1", "true", "yes"}, {"0", "false", "no"}


def _cut(value, width: int = 40) -> str:
    text = str(value)
    return repr(text if len(text) <= width else text[:width] + "...")


def _separator(path: Path) -> str:
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline()
    return "\t" if "\t" in header else ","


def read_impressions(path: str | Path) -> pd.DataFrame:
    """The log as a DataFrame sorted by visit, page and position, with 0-based `page` and `position`,
    `watched` as 0/1, `p_like` when the log has it, `visit` (0..n_visits-1) and `line` (file line)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("impression log not found (expected a CSV or TSV file)", path)
    try:
        raw = pd.read_csv(path, sep=_separator(path), dtype=str, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"the file is empty; expected a header row with columns {', '.join(IMPRESSION_COLUMNS)}",
                        path) from None
    except pd.errors.ParserError as e:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if found:
            want, line, saw = found.groups()
            raise DataError(f"expected {want} fields, found {saw}", f"{path}:{line}") from None
        raise DataError("not a readable CSV/TSV table", path) from None
    except UnicodeDecodeError:
        raise DataError("not a UTF-8 text file", path) from None
    return _validated(raw, path)


def _validated(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    names = {str(c).strip().lower(): c for c in raw.columns}
    missing = [c for c in IMPRESSION_COLUMNS if c not in names]
    if missing:
        found = ", ".join(_cut(c, 20) for c in list(raw.columns)[:12])
        raise DataError(f"missing column(s) {', '.join(missing)}; expected a header with "
                        f"{', '.join(IMPRESSION_COLUMNS)} (and optionally p_like), found {found}", f"{path}:1")
    keep = [c for c in IMPRESSION_COLUMNS + OPTIONAL_COLUMNS if c in names]
    table = raw[[names[c] for c in keep]].set_axis(keep, axis=1)
    table = table.apply(lambda col: col.str.strip())
    table["line"] = np.arange(len(table)) + 2  # the header is line 1; blank lines keep their numbers
    table = table[(table[list(keep)] != "").any(axis=1)]
    if table.empty:
        raise DataError("the log has a header but no rows", path)

    def bad(mask: np.ndarray, column: str, expected: str):
        if mask.any():
            row = table.iloc[int(np.argmax(mask))]
            raise DataError(f"column '{column}': expected {expected}, found {_cut(row[column])}", f"{path}:{row['line']}")

    for column in ("user", "session", "item"):
        bad((table[column] == "").to_numpy(), column, "an id")
    out = pd.DataFrame({"user": table["user"], "session": table["session"], "item": table["item"],
                        "line": table["line"]})
    for column in ("page", "position"):
        values = pd.to_numeric(table[column], errors="coerce").to_numpy()
        bad(~(np.isfinite(values) & (values >= 0) & (values == np.floor(values)) & (values < 1e6)), column,
            "a whole number from 0 (or from 1)")
        out[column] = values.astype(np.int64)
    flag = table["watched"].str.lower()
    bad(~flag.isin(TRUE | FALSE).to_numpy(), "watched", "0 or 1")
    out["watched"] = flag.isin(TRUE).to_numpy().astype(np.int8)
    if "p_like" in table:
        values = pd.to_numeric(table["p_like"], errors="coerce").to_numpy()
        bad(~(np.isfinite(values) & (values >= 0) & (values <= 1)), "p_like", "a probability in [0, 1]")
        out["p_like"] = values

    for column in ("page", "position"):  # numbering from 1 is read as numbering from 0
        if out[column].min() == 1:
            out[column] -= 1
    out["visit"] = out.groupby(["user", "session"], sort=False).ngroup()
    out = out.sort_values(["visit", "page", "position"], kind="stable").reset_index(drop=True)
    dup = out.duplicated(["visit", "page", "position"]).to_numpy()
    if dup.any():
        row = out.iloc[int(np.argmax(dup))]
        raise DataError(f"column 'position': position {row['position']} of page {row['page']} of session "
                        f"{_cut(row['session'])} (user {_cut(row['user'])}) appears twice", f"{path}:{row['line']}")
    # pages of a visit are 0, 1, ..., last: a person reaches page p only by moving on from page p - 1
    pages = out.drop_duplicates(["visit", "page"])
    expected = pages.groupby("visit").cumcount().to_numpy()
    gap = pages["page"].to_numpy() != expected
    if gap.any():
        row = pages.iloc[int(np.argmax(gap))]
        raise DataError(f"column 'page': session {_cut(row['session'])} (user {_cut(row['user'])}) has page "
                        f"{row['page']} without page {expected[int(np.argmax(gap))]}; a visit's pages must be "
                        f"consecutive from the first", f"{path}:{row['line']}")
    return out
