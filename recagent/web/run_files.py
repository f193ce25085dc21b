"""Files of a run folder read by the server, which trusts none of them: they may come from someone else.

- `inside(root, path)` resolves a path (every symlink on the way) and refuses one that leads
  outside the served root: a `run.json` or `events.sqlite` linking to `~/.ssh/id_rsa` is not served;
- `read_json` reads a JSON file of bounded size and nesting (pydantic-core's parser has a recursion
  limit, so a 100,000-deep run.json is refused with a reason instead of a RecursionError) and says
  why it could not, so the run list can show the run as unreadable and go on with the others.
"""

from __future__ import annotations

from pathlib import Path

import pydantic_core

from .request_checks import depth

MAX_JSON_BYTES = 1 << 20  # run.json is a few kB; a megabyte is far beyond any real one
MAX_JSON_DEPTH = 32


class Unreadable(Exception):
    """A run folder, or one of its files, that cannot be read safely (answered with 422, listed with its reason)."""


def inside(root: Path, path: Path) -> Path:
    """`path` resolved; Unreadable when it (or a symlink on the way) leads outside `root` (itself resolved)."""
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(root):
        raise Unreadable(f"{Path(path).name} leads outside the served folder (to {resolved})")
    return resolved


def read_json(path: Path, missing: dict | None = None) -> dict:
    """A JSON object from `path` ({} or `missing` when the file does not exist); Unreadable when it is
    not a regular file, too large, not JSON, nested too deeply or not an object."""
    if not path.exists():
        return {} if missing is None else missing
    if not path.is_file():
        raise Unreadable(f"{path.name} is not a regular file")
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise Unreadable(f"{path.name} is {size} bytes; at most {MAX_JSON_BYTES} are read")
        with open(path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)
    except OSError as e:
        raise Unreadable(f"{path.name} cannot be read: {e.strerror or e}") from None
    if len(raw) > MAX_JSON_BYTES:  # it grew since stat
        raise Unreadable(f"{path.name} is larger than {MAX_JSON_BYTES} bytes")
    try:
        value = pydantic_core.from_json(raw)
    except ValueError as e:
        reason = "is nested too deeply" if "recursion" in str(e) else f"is not valid JSON ({str(e)[:80]})"
        raise Unreadable(f"{path.name} {reason}") from None
    if depth(value) > MAX_JSON_DEPTH:
        raise Unreadable(f"{path.name} is nested more than {MAX_JSON_DEPTH} levels deep")
    if not isinstance(value, dict):
        raise Unreadable(f"{path.name} holds {type(value).__name__}, not a JSON object")
    return value
