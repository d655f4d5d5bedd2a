"""Progress for long work, on stderr so stdout stays scriptable.

On a terminal: a live rich bar with items/s and ETA. Anywhere else (a CI log, ``2> run.log``,
a pipe): plain lines, one per task every ``WORKBENCH_PROGRESS_EVERY`` seconds (default 10) and
one when it completes, so a log shows that work is moving and how fast.

Both have the slice of rich's ``Progress`` API that workbench uses: a context manager with
``add_task(description, total=..., rate=...)`` and ``update(task, completed=/advance=, rate=)``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import IO, Any


def _every() -> float:
    try:
        return max(0.5, float(os.environ.get("WORKBENCH_PROGRESS_EVERY", "10")))
    except ValueError:
        return 10.0


def _clock(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0.0
    rate: str = ""
    started: float = 0.0
    last_line: float = 0.0
    done: bool = False


class PlainProgress:
    """Periodic one-line progress reports for a stream that is not a terminal."""

    def __init__(self, stream: IO[str] | None = None, every: float | None = None):
        self.stream = stream
        self.every = _every() if every is None else every
        self.tasks: list[_Task] = []

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        for t in self.tasks:  # a task left unfinished still gets its last figures
            if not t.done and t.completed:
                t.done = True
                self._line(t)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.__exit__()

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        now = time.monotonic()
        self.tasks.append(_Task(description, total, rate=str(fields.get("rate", "")),
                                started=now, last_line=now))
        return len(self.tasks) - 1

    def update(self, task: int, *, completed: float | None = None, advance: float | None = None,
               total: float | None = None, **fields: Any) -> None:
        t = self.tasks[task]
        if total is not None:
            t.total = total
        if completed is not None:
            t.completed = completed
        if advance:
            t.completed += advance
        if "rate" in fields:
            t.rate = str(fields["rate"])
        now = time.monotonic()
        finished = t.total is not None and t.completed >= t.total
        if finished and not t.done:
            t.done = True
            self._line(t)
        elif not finished and now - t.last_line >= self.every:
            self._line(t)

    def _line(self, t: _Task) -> None:
        t.last_line = now = time.monotonic()
        elapsed = now - t.started
        parts = [t.description]
        if t.total:
            parts.append(f"{t.completed:g}/{t.total:g} ({100 * t.completed / t.total:.0f}%)")
        else:
            parts.append(f"{t.completed:g}")
        if t.rate:
            parts.append(t.rate)
        parts.append(f"elapsed {_clock(elapsed)}")
        if t.total and 0 < t.completed < t.total:
            parts.append(f"eta {_clock(elapsed * (t.total - t.completed) / t.completed)}")
        stream = self.stream or sys.stderr
        stream.write("  ".join(parts) + "\n")
        stream.flush()


def progress(transient: bool = False) -> Any:
    """A progress display on stderr: a live bar on a terminal, plain periodic lines elsewhere."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return PlainProgress()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        # descriptions hold model and suite names: text, never markup
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
    )


def _err() -> Any:
    from rich.console import Console

    return Console(stderr=True)


class StageProgress:
    """Progress of a long step made of stages (``report(stage, done, total)``), on stderr.

    On a terminal it is a rich bar per stage. Otherwise (a log, CI) it prints plain lines: a stage
    that lasts over a second prints where it is every ``interval`` seconds, even while the step
    blocks between reports, and a line when it is done; quick stages print nothing.
    """

    def __init__(self, interval: float = 5.0):
        import threading

        self.interval = interval
        self.bar = progress(transient=True) if _err().is_terminal else None
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
        (self.bar.console if self.bar is not None else _err()).print(text, highlight=False)

    @staticmethod
    def _print(text: str) -> None:
        _err().print(text, highlight=False, soft_wrap=True)

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
