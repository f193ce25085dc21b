"""The terminal consoles of the command line, and how a user error is reported there.

A leaf module (rich, typer and recagent.errors only), so any sub-package's command can print and
fail without importing `recagent.cli`; the handler around the Typer app (recagent/cli.py) reports
every UserError that a command lets through the same way.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape  # a message's brackets (recagent[web], a list) are text

from .errors import UserError

console = Console()
err_console = Console(stderr=True)


def fail(error: UserError) -> None:
    """Print a user error as one line on stderr and exit with code 2 (no traceback)."""
    err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)
