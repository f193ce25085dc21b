"""`recagent eval influence`: the adoption-timing influence figure (recagent/metrics/influence.py) of a
real dataset (`--dataset csv --events FILE --edges FILE`) or of a recagent run (`--dataset run --run DIR`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import UserError

if TYPE_CHECKING:  # numpy and pandas load when a command runs: `recagent --help` stays light
    import numpy as np
    import pandas as pd

console = Console()

USER_NAMES = ("user_id", "user", "userid")
ITEM_NAMES = ("item_id", "item", "itemid", "movie_id", "artist_id")
DATE_NAMES = ("timestamp", "date", "time", "day")
RATING_NAMES = ("rating", "rating_or_weight", "score")


def _read_csv(path: Path, option: str) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise UserError(f"{option}: no such file", path)
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"not a readable CSV file: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
                        path) from None


def _pick(frame: pd.DataFrame, names: tuple[str, ...], what: str, path: Path) -> str:
    lower = {c.lower(): c for c in frame.columns}
    for name in names:
        if name in lower:
            return lower[name]
    raise UserError(f"no {what} column: expected one of {', '.join(names)}, found {', '.join(map(str, frame.columns))}",
                    path)


def to_days(values: pd.Series, path: Path) -> np.ndarray:
    """Dates (ISO text) or unix seconds -> whole days since 1970 (day resolution: same day = a tie)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values):
        days = np.floor(values.to_numpy(np.float64) / 86400.0)
    else:
        when = pd.to_datetime(values, errors="coerce", utc=True)
        bad = when.isna() & values.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise UserError(f"line {row + 2}: expected a date (YYYY-MM-DD) or unix seconds, found {values.iloc[row]!r}",
                            path)
        days = ((when - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds() // 86400).to_numpy(np.float64)
    return days


def load_events(path: Path, with_rating: bool = False) -> pd.DataFrame:
    """user, item, day of each dated adoption; `with_rating`: also the file's rating column as it is
    (a float column, NaN-free, or absent when the file has none)."""
    import pandas as pd

    frame = _read_csv(path, "--events")
    user, item = _pick(frame, USER_NAMES, "user", path), _pick(frame, ITEM_NAMES, "item", path)
    date = _pick(frame, DATE_NAMES, "date", path)
    if frame.empty:
        raise UserError("no adoptions (the file has a header only)", path)
    out = pd.DataFrame({"user": frame[user].astype(str), "item": frame[item].astype(str),
                        "day": to_days(frame[date], path)})
    rating = next((c for c in frame.columns if c.lower() in RATING_NAMES), None)
    if with_rating and rating is not None:
        out["rating"] = frame[rating].to_numpy("float64")
    return out


def load_edges(path: Path, symmetric: bool) -> pd.DataFrame:
    import pandas as pd

    frame = _read_csv(path, "--edges")
    if frame.shape[1] < 2:
        raise UserError("expected at least two columns (source, target)", path)
    source = "source" if "source" in frame.columns else frame.columns[0]
    target = "target" if "target" in frame.columns else frame.columns[1]
    edges = pd.DataFrame({"source": frame[source].astype(str), "target": frame[target].astype(str)})
    if symmetric:
        edges = pd.concat([edges, edges.rename(columns={"source": "target", "target": "source"})], ignore_index=True)
    return edges


def print_result(result, title: str) -> None:
    from ..metrics.influence import format_table

    table = Table(title=title)
    for col in ("window", "exposed share", "timing null: mean [2.5%, 97.5%]", "ratio", "exposed adoptions"):
        table.add_column(col, justify="left" if col == "window" else "right")
    for row in format_table(result):
        table.add_row(*row)
    console.print(table)
    console.print(f"{result.adoptions:,} adoptions, {result.counted:,} by people with a neighbour (the denominator), "
                  f"{result.pairs:,} (adoption, neighbour's adoption of the same item) pairs; null: each item's "
                  f"adoption dates shuffled among its adopters, {result.shuffles} times", highlight=False)


def influence_command(
    dataset: str = typer.Option(..., "--dataset", help="csv (--events, --edges) or run (--run, a recagent run folder)"),
    events: Optional[Path] = typer.Option(None, "--events", help="CSV with user, item and date columns "
                                          "(user_id/item_id/timestamp or user/item/date; ISO dates or unix seconds)"),
    edges: Optional[Path] = typer.Option(None, "--edges", help="CSV source,target: source hears from target "
                                         "(trusts, follows, is a friend of)"),
    symmetric: bool = typer.Option(False, "--symmetric", help="each edge counts both ways (a friendship list given once)"),
    run: Optional[Path] = typer.Option(None, "--run", help="a recagent run folder (watches as adoptions, its social "
                                       "edges both ways, simulated time in days)"),
    windows: Optional[str] = typer.Option(None, "--windows", help="comma-separated days or 'any' (default any,30,7)"),
    shuffles: int = typer.Option(20, "--shuffles", min=1, max=1000, help="timing-null draws"),
    seed: int = typer.Option(0, "--seed"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the figures here as JSON"),
) -> None:
    """Share of adoptions a neighbour adopted strictly earlier, against each item's dates shuffled among its adopters."""
    from ..metrics.influence import influence, parse_windows, run_adoptions

    chosen = parse_windows(windows)
    if dataset == "csv":
        if events is None or edges is None:
            raise UserError("--dataset csv needs --events and --edges")
        adoption_frame, edge_frame = load_events(events), load_edges(edges, symmetric)
        title = f"Influence in {events.parent.name or events.name}"
    elif dataset == "run":
        if run is None:
            raise UserError("--dataset run needs --run (a run folder)")
        if not (run / "events.sqlite").is_file():
            raise UserError("not a run folder (no events.sqlite)", run)
        from ..events import UnreadableLog

        try:
            adoption_frame, edge_frame = run_adoptions(run)
        except UnreadableLog as e:
            raise UserError(str(e)) from None
        title = f"Influence in run {run.name}"
    else:
        raise UserError(f"expected csv or run, found {dataset!r}", "--dataset")
    result = influence(adoption_frame, edge_frame, windows=chosen, shuffles=shuffles, seed=seed)
    print_result(result, title)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"source": str(events or run), **result.as_dict()}, indent=2))
        console.print(f"wrote {json_out}")
