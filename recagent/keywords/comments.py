"""(rating, comment) pairs per item for the LLM route's T_sub prompt.

A ratings CSV may carry the user's review next to the rating (Yelp's `text`, Amazon's
`reviewText`, a `comment` or `review` column). `read_csv_comments` reads that column from the same
file `load_ratings_csv` read, and maps each row to the item index the loader gave it (items are
numbered in order of first appearance, the loader's rule). MovieLens-100K has no review text, so
the LLM route skips T_sub there and says so in its manifest.
"""

from __future__ import annotations

from pathlib import Path

from ..data import Catalog
from ..data.csv_ratings import COLUMN_ALIASES, _detect, _int_id, _open_csv
from ..errors import DataError

COMMENT_ALIASES = ["comment", "comments", "review", "reviews", "review_text", "reviewtext", "review_body", "text",
                   "body"]
MAX_COMMENT_CHARS = 1500


def read_csv_comments(ratings: str | Path, catalog: Catalog, column: str | None = None,
                      columns: dict[str, str] | None = None) -> tuple[list[list[tuple[float, str]]], str] | None:
    """Per item, the (rating, comment) pairs of the CSV's rows with a non-empty comment, and the column name.

    None when the file has no comment column (or no rating column: T_sub needs the rating).
    `column` names the comment column; `columns` are the user/item/rating overrides given to the loader.
    """
    path = Path(ratings)
    columns = columns or {}
    reader, f = _open_csv(path)
    with f:
        names = list(reader.fieldnames)
        comment_col = _detect(names, COMMENT_ALIASES, column, "comment", path)
        item_col = _detect(names, COLUMN_ALIASES["item"], columns.get("item"), "item", path)
        rating_col = _detect(names, COLUMN_ALIASES["rating"], columns.get("rating"), "rating", path)
        if comment_col is None or rating_col is None or item_col is None:
            return None
        item_ids: dict = {}
        out: list[list[tuple[float, str]]] = [[] for _ in range(len(catalog))]
        for row in reader:
            index = item_ids.setdefault(_int_id((row.get(item_col) or "").strip()), len(item_ids))
            text = " ".join((row.get(comment_col) or "").split())
            if not text or index >= len(out):
                continue
            try:
                rating = float(row[rating_col])
            except (TypeError, ValueError):
                raise DataError(f"expected a number for the rating, found {row.get(rating_col)!r}",
                                f"{path}:{reader.line_num}") from None
            out[index].append((rating, text[:MAX_COMMENT_CHARS]))
    if len(item_ids) != len(catalog):
        raise DataError(f"the comments' file has {len(item_ids)} items but the catalog {len(catalog)}", path)
    return out, comment_col


def pick_comments(comments: list[list[tuple[float, str]]], per_item: int,
                  like_threshold: float = 3.0) -> list[list[tuple[float, str]]]:
    """At most `per_item` pairs per item, alternating liked (rating >= like_threshold) and disliked
    ones in file order, so both D_pos and D_neg get subjective reasons where the data has both."""
    out = []
    for pairs in comments:
        liked = [p for p in pairs if p[0] >= like_threshold]
        disliked = [p for p in pairs if p[0] < like_threshold]
        take: list[tuple[float, str]] = []
        while len(take) < per_item and (liked or disliked):
            for side in (liked, disliked):
                if side and len(take) < per_item:
                    take.append(side.pop(0))
        out.append(take)
    return out
