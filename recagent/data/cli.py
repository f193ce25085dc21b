"""`recagent data fetch NAME`: a public dataset downloaded, verified and placed in the data folder
(recagent/data/fetch.py says where and how)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

data_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Public datasets: fetch them into the data folder ($RECAGENT_DATA, else "
                            "~/.local/share/recagent).")


@data_app.command("fetch")
def fetch_command(
    name: str = typer.Argument(..., help="Dataset to fetch: ml-100k"),
    url: Optional[str] = typer.Option(None, "--url", help="Download from this address instead (a mirror); "
                                      "the files are checked against the same checksums"),
    dest: Optional[Path] = typer.Option(None, "--dest", help="Folder to create (default: <data folder>/NAME)"),
    force: bool = typer.Option(False, "--force", help="Download again even if a complete copy is there"),
) -> None:
    """Download a public dataset, check every file's sha256 and place it in the data folder."""
    from ..console import console
    from .fetch import fetch, fetched_path, is_complete, remote

    spec = remote(name)
    target = dest if dest is not None else fetched_path(name)
    if not force and is_complete(target, spec):
        console.print(f"{name}: already in {target} (--force downloads it again)", highlight=False, soft_wrap=True)
        return
    console.print(f"{name}: downloading {url or spec.url}", highlight=False, soft_wrap=True)
    folder = fetch(name, url=url, dest=dest, force=force)
    console.print(f"[green]ok[/] {name}: {len(spec.files)} files verified (sha256) in {folder}; {spec.terms}",
                  highlight=False, soft_wrap=True)
