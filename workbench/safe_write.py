"""Writing a user-named output file without ever destroying data.

Every command that writes a file goes through :func:`safe_output`: the target may not be the
database or an input of the command (same resolved path or same inode), an existing file is
replaced only with ``force``, and the content goes to a temporary file in the target's directory
that is renamed into place (``os.replace``) only when complete; on any failure the temporary file
is removed and the old file, if any, is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError

# (what it is, its path): e.g. ("the database", "w.duckdb"), ("the input", "r.jsonl")
Inputs = Iterable[tuple[str, "str | os.PathLike[str] | None"]]


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(path: str | os.PathLike[str], inputs: Inputs = (), *, force: bool = False) -> Path:
    """Refuse (OutputError) a target that is an input, a directory, in a missing directory, or
    an existing file without ``force``. Returns the target as a Path."""
    target = Path(path)
    for what, p in inputs:
        if p is None or str(p) in ("", ":memory:"):
            continue
        if _same(target, Path(p)):
            raise OutputError(f"refusing to write {target}: it is {what} of this command")
    if not target.parent.is_dir():
        raise OutputError(f"cannot write {target}: directory does not exist: {target.parent}")
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a directory")
    if target.exists() and not force:
        raise OutputError(f"{target} already exists: pass --force to overwrite it")
    return target


def _mode(target: Path) -> int:
    """The mode the file would get if opened normally (or the replaced file's mode)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def safe_output(path: str | os.PathLike[str], inputs: Inputs = (), *,
                force: bool = False) -> Iterator[Path]:
    """Check the target (see :func:`check_output`) and yield a temporary path next to it to write;
    when the block completes, the temporary file replaces the target. On failure it is removed;
    an OSError (disk full, permission) becomes a one-line OutputError."""
    target = check_output(path, inputs, force=force)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _mode(target))
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
