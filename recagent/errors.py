"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A problem with the user's input: a file, a field, a value.

    `where` names the file (and line or field path) and the message says what was expected
    and what was found.
    """

    def __init__(self, message: str, where: str | Path | None = None):
        self.where = str(where) if where is not None else None
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class DataError(UserError):
    """A dataset file is missing or has a broken row."""
