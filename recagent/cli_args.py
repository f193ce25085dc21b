"""Option values the sub-commands parse alike (kept apart from `recagent.cli`, which imports them)."""

from __future__ import annotations

from .errors import UserError


def int_list(text: str, option: str) -> list[int]:
    """'1,2,3' -> [1, 2, 3]; anything else is a UserError naming `option`."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"expected comma-separated integers like 1,2,3, found {text!r}", option) from None
    if not values:
        raise UserError("expected at least one integer", option)
    return values
