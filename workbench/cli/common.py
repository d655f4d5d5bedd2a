"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from ..store import Store


console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="DuckDB file (default: $WORKBENCH_DB or ./workbench.duckdb).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PluginsDirOption = Annotated[
    list[Path] | None,
    typer.Option("--plugins-dir", help="Load loose .py plugin files from this directory."),
]


def open_store(db: Path | None, read_only: bool = False) -> Store:
    # imported here: duckdb and pandas are not needed for `--help`
    from ..store import Store, default_db_path

    return Store(db if db is not None else default_db_path(), read_only=read_only)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def progress(transient: bool = False):
    """A progress display on stderr (a live bar on a terminal, plain periodic lines elsewhere)."""
    from ..progress import progress as make

    return make(transient=transient)
