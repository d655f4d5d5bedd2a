"""How many CPU threads torch may use, chosen so that it never oversubscribes the cores.

On a busy 2-core machine two intra-op threads ran ~9x slower than one: the threads wait on each
other while the other core is taken. So the default is the cores this process may run on minus
the ones already busy (the 1-minute load average, rounded), at least one. ``WORKBENCH_THREADS``
(or the usual ``OMP_NUM_THREADS``) sets the number instead. torch is configured once per process.
"""

from __future__ import annotations

import os

_chosen: tuple[int, str] | None = None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def choose_threads() -> tuple[int, str]:
    """(threads, why) — the why is one phrase for the user."""
    for var in ("WORKBENCH_THREADS", "OMP_NUM_THREADS"):
        raw = os.environ.get(var, "").strip()
        if raw:
            try:
                n = int(raw)
            except ValueError:
                continue
            if n > 0:
                return n, f"{var}={n}"
    cores = _cores()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    n = max(1, min(cores, cores - int(load + 0.5)))
    return n, f"{cores} cores, load {load:.1f}; WORKBENCH_THREADS overrides"


def configure_torch_threads() -> tuple[int, str]:
    """Set torch's intra-op thread count (once per process); return (threads, why)."""
    global _chosen
    if _chosen is None:
        import torch

        _chosen = choose_threads()
        torch.set_num_threads(_chosen[0])
    return _chosen
