"""Child processes that die with the command that started them."""

from __future__ import annotations

import os
import signal


def die_with_parent(parent: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when its parent dies, even by SIGKILL
    (PR_SET_PDEATHSIG); elsewhere do nothing. With ``parent`` (the pid that forked this
    process), exit at once if it is already gone: the request came too late to be heard."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))
    except (OSError, AttributeError):  # not Linux
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)
