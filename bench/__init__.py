"""Benchmarks that measure (throughput, detector quality); they are not tests.

Each module ``bench/<name>.py`` exposes ``run() -> dict`` of figures and runs on its own with
``python -m bench.<name>``. ``python -m bench`` (``make bench``) runs them all and writes JSON.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The public labelled dev data (../shared/data beside the repo, or $WORKBENCH_SHARED_DATA)."""
    env = os.environ.get("WORKBENCH_SHARED_DATA")
    path = Path(env) if env else ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


def quick() -> bool:
    """Smoke mode (env BENCH_QUICK=1): each benchmark runs its smallest configuration, to check
    that it works and its figures are sane, not to measure."""
    return os.environ.get("BENCH_QUICK", "").strip().lower() not in ("", "0", "false", "no")


def pick(full, small):  # noqa: ANN001, ANN201 - any value
    """``small`` in quick mode, ``full`` otherwise."""
    return small if quick() else full


def limit(rows: list, n_quick: int) -> list:
    """The first ``n_quick`` rows in quick mode, all of them otherwise."""
    return rows[:n_quick] if quick() else rows


def median_times(fns: dict, repeats: int) -> dict[str, list[float]]:
    """Wall-clock seconds of each callable in ``fns``, ``repeats`` times, interleaved (a, b, c,
    a, b, c, ...) so that a slow spell of a shared machine hits every contender alike. Returns
    the sorted times per name; take the median (``statistics.median``) for the figure."""
    import time

    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: sorted(ts) for name, ts in times.items()}


def peak_rss_mb() -> int:
    """This process's peak resident memory in MB: VmHWM from /proc (the high-water mark of this
    program's own memory; ``ru_maxrss`` on Linux also carries the peak of the process that
    spawned it across exec), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
