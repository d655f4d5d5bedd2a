"""How many CPU threads torch may use, chosen so that it never oversubscribes the cores.

On a busy 2-core machine two intra-op threads ran ~9x slower than one: the threads wait on each
other while the other core is taken. So the default is the cores this process may run on minus
the ones other processes keep busy, at least one. Busy is read from the kernel's count of
runnable tasks (``/proc/loadavg``) less this process, at its lowest over a few samples 20 ms
apart; the 1-minute load average is no guide, since it counts this process's own recent work
(a model conversion just before, say). ``WORKBENCH_THREADS`` (or the usual ``OMP_NUM_THREADS``)
sets the number instead. torch is configured when a model loads and before each generation or training.
"""

from __future__ import annotations

import os


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
    busy = _busy_elsewhere()
    n = max(1, cores - busy)
    return n, f"{cores} cores, {busy} busy elsewhere; WORKBENCH_THREADS overrides"


def _busy_elsewhere(samples: int = 5) -> int:
    """Runnable tasks other than this one, at the quietest of a few samples."""
    import time

    seen = []
    for i in range(samples):
        try:
            running = int(open("/proc/loadavg").read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):  # not Linux: the 1-minute load average
            try:
                return int(os.getloadavg()[0] + 0.5)
            except OSError:
                return 0
        seen.append(max(0, running - 1))
        if i + 1 < samples:
            time.sleep(0.02)
    return min(seen)


def configure_torch_threads() -> tuple[int, str]:
    """Set torch's intra-op thread count for the work about to start; return (threads, why).

    Called when a model loads and again before each long phase (generation, training): the
    machine may have got busier or quieter since, and a thread too many on a taken core is the
    costly mistake.
    """
    import torch

    chosen = choose_threads()
    if torch.get_num_threads() != chosen[0]:
        torch.set_num_threads(chosen[0])
    return chosen
