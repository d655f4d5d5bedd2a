"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape

if TYPE_CHECKING:
    from ..store import Store


PIPE_WIDTH = 1000  # the width of a console that is not a terminal: lines and tables print whole


class _Console(Console):
    """A rich Console that, writing to a pipe or a log rather than a terminal, prints tables and
    lines whole instead of cutting them to 80 columns (``COLUMNS`` still sets a width)."""

    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(PIPE_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


# no emoji codes: a name holding ":smile:" prints as it is
console = _Console(emoji=False)
err_console = _Console(stderr=True, emoji=False)

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


def open_store(db: Path | None, read_only: bool = False, *, existing: bool = False) -> Store:
    """The store of ``--db`` (or the default). ``existing``: a command that only reads says the
    database does not exist rather than creating an empty one at a mistyped path."""
    # imported here: duckdb and pandas are not needed for `--help`
    from ..errors import StoreError
    from ..store import Store, default_db_path

    path = db if db is not None else default_db_path()
    if ((existing or read_only) and str(path) != ":memory:" and not Path(path).exists()
            and Path(path).resolve().parent.is_dir()):  # (a missing directory: Store says so)
        raise StoreError(f"database {path} does not exist (check --db or WORKBENCH_DB)")
    return Store(path, read_only=read_only)


def strict_json(obj: Any) -> Any:
    """obj with what JSON cannot hold made null: NaN and infinities (pandas' missing numbers and
    strings), and pandas' missing timestamps, through dicts, lists and tuples."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json(v) for v in obj]
    if type(obj).__name__ == "NaTType":
        return None
    return obj


def print_json(obj: Any) -> None:
    """JSON for scripts on stdout: always valid JSON (no NaN), whatever the data holds."""
    sys.stdout.write(json.dumps(strict_json(obj), indent=2, default=str, allow_nan=False) + "\n")


def esc(value: Any) -> str:
    """An untrusted value (a name, an id, an error, anything read from the database, a suite or
    a plugin) as text inside console markup: ``[/]`` or ``[bold]`` in it prints as it is."""
    return escape(str(value))


def cell(value: Any, missing: str = "-") -> str:
    """A table cell: missing values (None, NaN, NaT) as ``missing``, anything else as text
    (markup escaped: rich reads table cells as markup)."""
    if value is None or strict_json(value) is None:
        return missing
    return esc(value)


def progress(transient: bool = False):
    """A progress display on stderr (a live bar on a terminal, plain periodic lines elsewhere)."""
    from ..progress import progress as make

    return make(transient=transient)


def metric_text(metrics: dict[str, Any] | None) -> str:
    """A run's headline metrics in one cell: exact match, or its lm-eval task metrics."""
    m = metrics or {}
    if "exact_match" in m and m.get("n_scored"):
        return f"{m['exact_match']:.3f} (n={m['n_scored']})"
    # lm-eval runs: task/metric (stderr left to `workbench show`)
    lm = [f"{k} {v:.3f}" for k, v in m.items() if "/" in k and not k.endswith("_stderr")
          and isinstance(v, int | float)]
    return ", ".join(lm) or "-"
