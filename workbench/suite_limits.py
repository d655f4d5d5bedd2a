"""Bounds on what a suite may cost to read and render: its files are read only when they are
regular files under a size limit, and its Jinja template renders in a sandbox whose loops, output
size and time are capped. A suite from elsewhere is untrusted input."""

from __future__ import annotations

import os
import stat
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from .errors import SuiteError

DEFAULT_MAX_DATA_BYTES = 4 * 2**30  # a suite's YAML or JSONL file; WORKBENCH_MAX_DATA_BYTES
MAX_TEMPLATE_STEPS = 1_000_000  # range() steps in one render, nested loops counted together
MAX_RENDERED_CHARS = 64 * 2**20  # one rendered prompt (a 10 MB prompt still renders)
TEMPLATE_TIMEOUT_S = 10.0  # one render, checked at each loop step, call and output chunk


# -- files ---------------------------------------------------------------------------------------
def max_data_bytes() -> int:
    """The largest suite file read: ``WORKBENCH_MAX_DATA_BYTES`` (bytes), else 4 GiB."""
    raw = os.environ.get("WORKBENCH_MAX_DATA_BYTES", "").strip()
    if not raw:
        return DEFAULT_MAX_DATA_BYTES
    try:
        value = int(float(raw))
    except ValueError:
        raise SuiteError(f"WORKBENCH_MAX_DATA_BYTES={raw!r} is not a number of bytes") from None
    if value <= 0:
        raise SuiteError(f"WORKBENCH_MAX_DATA_BYTES={raw!r} must be positive")
    return value


def read_regular_file(path: Path, limit: int | None = None) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``limit`` bytes (default
    ``max_data_bytes()``): a device (``/dev/zero``), a FIFO or a directory is refused without
    blocking, and a file over the limit without reading it. Raises OSError (unreadable) or
    ValueError (refused) with a one-line reason."""
    limit = max_data_bytes() if limit is None else limit
    # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"not a regular file ({_kind(st.st_mode)})")
        if st.st_size > limit:
            raise ValueError(_too_big(st.st_size, limit))
        chunks, n = [], 0
        while chunk := os.read(fd, min(1 << 24, limit + 1 - n)):
            chunks.append(chunk)
            n += len(chunk)
            if n > limit:  # grew while being read
                raise ValueError(_too_big(n, limit))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"


def _too_big(size: int, limit: int) -> str:
    return (f"{size:,} bytes, over the limit of {limit:,} "
            "(raise it with WORKBENCH_MAX_DATA_BYTES=BYTES)")


# -- templates -----------------------------------------------------------------------------------
class TemplateLimit(SuiteError):
    """A template went past a bound (loop steps, output size, time) while rendering."""


class _Budget:
    __slots__ = ("deadline", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + TEMPLATE_TIMEOUT_S

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_TEMPLATE_STEPS:
            raise TemplateLimit(f"the template loops more than {MAX_TEMPLATE_STEPS:,} times")
        if not self.steps & 0x3FF:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimit(f"the template took more than {TEMPLATE_TIMEOUT_S:g}s to render")


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


class _Range:
    """``range()`` in a template: each step taken counts against the render's budget."""

    def __init__(self, *args: int) -> None:
        self._r = range(*args)

    def _counted(self, it: Any) -> Any:
        budget = _budget.get()
        for v in it:
            if budget is not None:
                budget.step()
            yield v

    def __iter__(self) -> Any:
        return self._counted(iter(self._r))

    def __reversed__(self) -> Any:
        return self._counted(reversed(self._r))

    def __len__(self) -> int:
        return len(self._r)

    def __getitem__(self, i: Any) -> Any:
        got = self._r[i]
        return _Range(got.start, got.stop, got.step) if isinstance(got, range) else got

    def __contains__(self, v: object) -> bool:
        return v in self._r

    def __repr__(self) -> str:
        return repr(self._r)


def _sized(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def sandbox() -> Any:
    """A Jinja sandbox (no access to Python internals) with bounded ``range``, ``*`` and ``**``
    and calls that check the render's time limit."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    class Bounded(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.globals["range"] = _Range

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    size = _sized(seq)
                    if size is not None and isinstance(n, int) and size * n > MAX_RENDERED_CHARS:
                        raise TemplateLimit(f"the template builds a value over "
                                            f"{MAX_RENDERED_CHARS:,} long")
            elif (operator == "**" and isinstance(left, int) and isinstance(right, int)
                  and abs(left) > 1 and right > 0 and left.bit_length() * right > 1_000_000):
                raise TemplateLimit("the template computes a number over a million bits long")
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            budget = _budget.get()
            if budget is not None:
                budget.check_time()
            for a in (*args, *kwargs.values()):
                if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_RENDERED_CHARS:
                    raise TemplateLimit(f"the template passes a number over {MAX_RENDERED_CHARS:,}"
                                        " to a call")
            return super().call(__context, __obj, *args, **kwargs)

    return Bounded(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render_bounded(template: Any, **variables: Any) -> str:
    """``template.render(**variables)``, stopped with TemplateLimit past the loop, output-size or
    time bound."""
    budget = _Budget()
    token = _budget.set(budget)
    try:
        out: list[str] = []
        size = 0
        for chunk in template.generate(**variables):
            size += len(chunk)
            if size > MAX_RENDERED_CHARS:
                raise TemplateLimit(f"the rendered prompt is over {MAX_RENDERED_CHARS:,} "
                                    "characters long")
            out.append(chunk)
            budget.check_time()
        return "".join(out)
    finally:
        _budget.reset(token)
