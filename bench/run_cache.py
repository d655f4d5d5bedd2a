"""Rerunning an unchanged suite against running it the first time, and a run's peak memory.

The demo suite runs on the demo model (``workbench.runner.run_suite``, batch size 32, every check
the suite names) in a fresh database: every output is generated, checked and stored. Then the
same call again: each output comes from the store by its cache key (model fingerprint, rendered
prompt, generation config), and only checks and the store's writes are left. Both are timed in
one process, ``repeats`` fresh databases each, interleaved; the ratio is of the medians. The model
is loaded once, outside the timing.

All of it runs in a child process, which reports its own peak resident memory
(VmHWM): that of runs of the demo suite, model and checks included.

    python -m bench.run_cache [--repeats 3]

BENCH_QUICK=1 uses the untrained small demo model, 16 items and one repeat.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench


def measure(repeats: int, reruns: int = 3) -> dict:
    """First runs and reruns of the demo suite, timed in this process."""
    import torch

    from workbench.demo import DEMO_SUITE, ensure_demo_model
    from workbench.models import load_model
    from workbench.runner import run_suite
    from workbench.store import Store
    from workbench.suites import load_suite

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    loaded = load_model(str(ensure_demo_model(progress=False, small=bench.quick())), "demo-base",
                        device="cpu")
    suite = load_suite(DEMO_SUITE)
    if bench.quick():  # a smoke run: the first 16 eval items, as a suite of their own
        suite = dataclasses.replace(suite, items=suite.split("eval")[:16],
                                    fingerprint=suite.fingerprint + "-first16")
    first, again = [], []
    summary: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            store = Store(Path(tmp) / f"run{r}.duckdb")
            t0 = time.perf_counter()
            res = run_suite(store, loaded, suite, batch_size=32, progress=False)
            first.append(time.perf_counter() - t0)
            summary["first"] = res.summary
            for _ in range(reruns):
                t0 = time.perf_counter()
                res = run_suite(store, loaded, suite, batch_size=32, progress=False)
                again.append(time.perf_counter() - t0)
            summary["rerun"] = res.summary
    f, a = statistics.median(first), statistics.median(again)
    return {
        "items": summary["first"]["items"],
        "generated_first": summary["first"]["generated"],
        "generated_rerun": summary["rerun"]["generated"],
        "cached_rerun": summary["rerun"]["cached"],
        "tokens_out": summary["first"]["tokens_out_generated"],
        "repeats": repeats,
        "first_run_s_median": round(f, 3),
        "rerun_s_median": round(a, 3),
        "first_runs_s": [round(x, 3) for x in first],
        "reruns_s": [round(x, 3) for x in again],
        "speedup_rerun": round(f / a, 1),
        "run_peak_rss_mb": bench.peak_rss_mb(),
    }


def run(repeats: int | None = None) -> dict:
    repeats = repeats or bench.pick(3, 1)
    proc = subprocess.run([sys.executable, "-m", "bench.run_cache", "--child",
                           "--repeats", str(repeats)], capture_output=True, text=True,
                          cwd=bench.ROOT, env={**os.environ, "PYTHONPATH": str(bench.ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {proc.stderr[-2000:]}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["bar"] = "rerun >= 50x faster than the first run"
    return figures


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(measure(a.repeats or bench.pick(3, 1))))
    else:
        print(json.dumps(run(a.repeats), indent=2))
