"""How big a template's values are, and how big an operation's result would be, measured before
the operation builds it: a string's length, the printed size of a nested list (shared parts
counted each time they print, measured once), the output of a printf- or ``str.format``-style
format. ``workbench.run.template_limits`` refuses an operation whose estimate is over its bound."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

SCALAR_CHARS = 32  # the printed size of a number, None or an object without parts


def measure(value: Any, limit: int) -> tuple[int, int, int]:
    """(characters, items, depth) of ``value`` as ``str()`` would print it: characters are the
    string lengths plus a few per item (escapes aside), items the elements of every list, tuple,
    set and dict inside it, depth how deeply they nest. Stops counting past ``limit`` characters
    or items (the figures are then only known to be over it). Each distinct container is
    measured once, so a list holding the same big list ten times, ten levels deep, is measured
    in ten steps, not ten billion."""
    memo: dict[int, tuple[int, int, int]] = {}

    def walk(v: Any, seen: frozenset[int]) -> tuple[int, int, int]:
        if isinstance(v, str | bytes | bytearray):
            return len(v) + 2, 0, 0
        parts = _parts(v)
        if parts is None:
            return SCALAR_CHARS, 0, 0
        key = id(v)
        if key in memo:
            return memo[key]
        if key in seen:  # a list holding itself prints as [...]
            return 5, 0, 0
        chars, items, depth = 2, 0, 0
        inner = seen | {key}
        for p in parts:
            c, i, d = walk(p, inner)
            chars += c + 2
            items += i + 1
            depth = max(depth, d)
            if chars > limit or items > limit:
                break
        memo[key] = (chars, items, depth + 1)
        return memo[key]

    try:
        return walk(value, frozenset())
    except RecursionError:  # nested deeper than Python prints
        return limit + 1, limit + 1, limit + 1


def chars(value: Any, limit: int) -> int:
    """The printed size of ``value`` (see :func:`measure`)."""
    if isinstance(value, str):
        return len(value)
    return measure(value, limit)[0]


def _parts(v: Any) -> Any:
    """The values a container prints (keys and values of a mapping), or None for a scalar."""
    if isinstance(v, Mapping):
        return [x for kv in v.items() for x in kv]
    if isinstance(v, list | tuple | set | frozenset):
        return v
    from jinja2.utils import Namespace

    if isinstance(v, Namespace):  # namespace() prints its attributes
        return [x for kv in v._Namespace__attrs.items() for x in kv]
    return None


_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def printf_size(fmt: str, args: Any, limit: int) -> int:
    """An upper bound on the length of ``fmt % args``: the format's text, and for each
    conversion its width, its precision and the largest argument."""
    values = list(args.values()) if isinstance(args, Mapping) else (
        list(args) if isinstance(args, tuple) else [args])
    widest = max((chars(v, limit) for v in values), default=0)
    star = max((abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool)),
               default=0)
    total = len(fmt)
    for m in _PRINTF.finditer(fmt):
        for n in (m.group(1), m.group(2)):
            total += star if n == "*" else int(n) if n else 0
        total += widest
        if total > limit:
            break
    return total


def format_size(fmt: str, args: tuple, kwargs: Mapping, limit: int) -> int:
    """An upper bound on the length of ``fmt.format(*args, **kwargs)``: the literal text, and for
    each field the largest argument plus every number in its format spec (a nested ``{}`` field
    in the spec counts as the largest number passed)."""
    values = [*args, *kwargs.values()]
    widest = max((chars(v, limit) for v in values), default=0)
    numbers = [abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]
    star = max(numbers, default=0)
    total = 0
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return len(fmt)  # malformed: str.format raises without building anything
    for literal, name, spec, _conv in fields:
        total += len(literal)
        if name is not None:
            spec = spec or ""
            total += widest + sum(int(d) for d in re.findall(r"\d+", spec))
            total += star * spec.count("{")
        if total > limit:
            break
    return total


def replaced_size(s: str, old: str, new: str, count: Any) -> int:
    """The length of ``s.replace(old, new, count)``, counted without building it."""
    n = len(s) + 1 if old == "" else s.count(old)
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        n = min(n, count)
    return len(s) + n * (len(new) - len(old))
