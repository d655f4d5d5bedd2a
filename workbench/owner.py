"""Which process owns unfinished work (a run, a training in progress), and whether it still lives.

A process is named by its host, pid and start time (read from ``/proc`` where there is one, so
a pid the system reused for another process is not taken for the owner). Work whose owner is
gone was interrupted (a kill, a crash, a reboot): it is shown as such and the next identical
command takes it over. An owner on another host cannot be checked from here and counts as alive.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from typing import Any


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (the state first), else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name (2nd field) may hold spaces and parentheses: split after the last ')'
    return stat[stat.rfind(")") + 2:].split()


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), else None."""
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


@cache
def _host() -> str:
    return socket.gethostname()


def this_process() -> dict[str, Any]:
    """The owner record of the calling process."""
    pid = os.getpid()
    return {"host": _host(), "pid": pid, "start": _start_time(pid)}


def is_alive(owner: Any) -> bool:
    """Whether the process an owner record names still runs (True when it cannot be told: no
    record, another host)."""
    if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
        return True
    if owner.get("host") != _host():
        return True
    pid = owner["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        pass
    except OSError:
        return True
    start = owner.get("start")
    now = _start_time(pid)
    if start is not None and now is not None and start != now:
        return False  # the pid now names another process
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    rest = _stat_fields(pid)
    return bool(rest) and rest[0] == "Z"


def is_dead(owner: Any) -> bool:
    return not is_alive(owner)
