"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import json
import math
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


def cell(value: Any, missing: str = "-") -> str:
    """A table cell: missing values (None, NaN, NaT) as ``missing``, anything else as text."""
    if value is None or strict_json(value) is None:
        return missing
    return str(value)


def progress(transient: bool = False):
    """A progress display on stderr (a live bar on a terminal, plain periodic lines elsewhere)."""
    from ..progress import progress as make

    return make(transient=transient)


class StageProgress:
    """Progress of a long step made of stages (``report(stage, done, total)``), on stderr.

    On a terminal it is a rich bar per stage. Otherwise (a log, CI) it prints plain lines: a stage
    that lasts over a second prints where it is every ``interval`` seconds, even while the step
    blocks between reports, and a line when it is done; quick stages print nothing.
    """

    def __init__(self, interval: float = 5.0):
        import threading

        self.interval = interval
        self.bar = progress(transient=True) if err_console.is_terminal else None
        self._stage: str | None = None
        self._done, self._total = 0, 0
        self._task = None
        self._started = 0.0
        self._last: float | None = None  # when the current stage last printed a line
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None if self.bar is not None else threading.Thread(
            target=self._tick, daemon=True)

    def __enter__(self) -> StageProgress:
        if self.bar is not None:
            self.bar.__enter__()
        else:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
            return
        self._stop.set()
        self._thread.join()
        if exc[0] is None:
            with self._lock:
                self._end_stage()

    def note(self, text: str) -> None:
        """A line of its own (above the bar on a terminal)."""
        (self.bar.console if self.bar is not None else err_console).print(text, highlight=False)

    @staticmethod
    def _print(text: str) -> None:
        err_console.print(text, highlight=False, soft_wrap=True)

    def _end_stage(self) -> None:
        if self._stage is not None and self._last is not None:
            self._print(f"{self._stage}: done")

    def _tick(self) -> None:
        import time

        while not self._stop.wait(0.25):
            now = time.monotonic()
            with self._lock:
                if self._stage is None:
                    continue
                due = (now - self._started >= 1.0 if self._last is None
                       else now - self._last >= self.interval)
                if due:
                    total, done = self._total, self._done
                    where = (f"{100 * done // total}%" if total > 1
                             else f"{now - self._started:.0f} s")
                    self._print(f"{self._stage}: {where}")
                    self._last = now

    def __call__(self, stage: str, done: int, total: int) -> None:
        import time

        if self.bar is not None:
            if stage != self._stage:
                self._task = self.bar.add_task(stage, total=total or None, rate="")
            self.bar.update(self._task, completed=done, total=total or None)
            self._stage = stage
            return
        with self._lock:
            if stage != self._stage:
                self._end_stage()
                self._stage, self._started, self._last = stage, time.monotonic(), None
            self._done, self._total = done, total
