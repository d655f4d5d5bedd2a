"""Reading a suite's files and saying where a problem is: a file read only when it is a regular
file under a size limit, JSONL items read line by line, YAML nodes located by line, alias bombs
refused, pydantic errors as one line each with their place."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import SuiteError

DEFAULT_MAX_DATA_BYTES = 4 * 2**30  # a suite's YAML or JSONL file; WORKBENCH_MAX_DATA_BYTES


def place_of(parts: tuple[Any, ...]) -> str:
    """A pydantic error location as one printable line (odd keys shown quoted)."""
    return ".".join(str(p) if str(p).isprintable() else repr(p) for p in parts)


def validation_problems(exc: ValidationError) -> list[str]:
    out = []
    for e in exc.errors():
        loc = place_of(e["loc"])
        out.append(f"{loc}: {e['msg']}" if loc else e["msg"])
    return out


def yaml_line(node: Any, key: str) -> int | None:
    """The 1-based line of a top-level key in the YAML file, for error messages."""
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if getattr(k, "value", None) == key:
                return k.start_mark.line + 1
    return None


def yaml_line_at(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest key (or list entry) of ``loc`` found in the YAML."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)),
                         None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(
                node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def near_name(name: str, known: Any) -> str:
    """' (did you mean 'length'?)' for a misspelt name close to a known one, else ''."""
    import difflib

    close = difflib.get_close_matches(str(name), sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _has_lone_surrogate(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_or_note(path: Path, what: str, problems: list[str]) -> bytes | None:
    """The bytes of ``path`` (a regular file under the size limit: not /dev/zero or a FIFO),
    or None with the reason in ``problems``."""
    try:
        return read_regular_file(path)
    except OSError as exc:
        problems.append(f"{path}: cannot read {what}: {exc.strerror or exc}")
    except (ValueError, SuiteError) as exc:
        problems.append(f"{path}: cannot read {what}: {exc}")
    return None


def read_jsonl_items(path: Path, problems: list[str]) -> list[tuple[int, dict[str, Any]]]:
    """Parse a JSONL file into (line number, object) pairs, recording every bad line."""
    rows: list[tuple[int, dict[str, Any]]] = []
    raw = read_or_note(path, "data file", problems)
    if raw is None:
        return rows
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"{path}:{n}: not valid UTF-8 (byte {exc.start})")
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{n}: malformed JSON: {exc.msg} (column {exc.colno})")
            continue
        except RecursionError:
            problems.append(f"{path}:{n}: malformed JSON: nested too deeply")
            continue
        # a \ud800-style escape can decode to a lone surrogate, which no store or file can hold
        if "\\u" in text and _has_lone_surrogate(obj):
            problems.append(f"{path}:{n}: a string holds an unpaired surrogate escape (\\udXXX)")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
            continue
        rows.append((n, obj))
    return rows


MAX_YAML_NODES = 1_000_000  # after alias expansion


def yaml_alias_problem(root: Any) -> str | None:
    """Why the YAML's aliases make it unusable (recursive, or expanding past MAX_YAML_NODES, as
    in a "billion laughs" file), else None. Counts each shared node once per use, memoised."""
    if root is None:
        return None
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise ValueError("a recursive alias")
        open_.add(key)
        if isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(c) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            n = 1
        open_.discard(key)
        sizes[key] = min(n, MAX_YAML_NODES + 1)
        return sizes[key]

    try:
        total = size(root)
    except ValueError as exc:
        return f"bad YAML: {exc}"
    if total > MAX_YAML_NODES:
        return f"bad YAML: aliases expand to more than {MAX_YAML_NODES:,} values"
    return None


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
