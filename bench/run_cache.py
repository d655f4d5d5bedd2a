"""Rerunning an unchanged suite against running it the first time, and a run's peak memory.

The demo suite runs (``workbench.run.runner.run_suite``, batch size 32, every check the suite names)
in a fresh database: every output is generated, checked and stored. Then, interleaved, two kinds
of rerun:

- the same call again (what ``workbench run`` does): the finished run with the same identity
  (model, suite, generation config, checks) is found and reported as it is;
- the same call with ``new_run=True`` (``--new-run``): a new run whose outputs all come from the
  store by their cache key (model fingerprint, rendered prompt, generation config), so the
  checks and the store's bookkeeping are left.

All are timed in one process (``repeats`` fresh databases, each first run followed by three
reruns of each kind); the ratios are of the medians. The model is loaded once, outside the
timing (``workbench run`` does not load it at all for a finished run). Two models:

- ``demo``: the demo model (2 layers, hidden 128), whose short answers take about a second to
  generate for the whole suite on a CPU, so the ratio is bounded by the rerun's fixed costs;
- ``100m``: the ~100M-parameter random model of ``bench.generation`` (answers of varied length),
  a first run whose cost is closer to a real checkpoint's (one first run: it is the slow part).

All of it runs in a child process, which reports its own peak resident memory
(VmHWM): that of runs of the demo suite, model and checks included.

    python -m bench.run_cache [--repeats 3]

BENCH_QUICK=1 uses the untrained small demo model, a small random model, 16 items, one repeat.
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


def measure(model: str, repeats: int, reruns: int = 3, model_dir: str | None = None) -> dict:
    """First runs and reruns of the demo suite on ``model`` (demo, or 100m saved in
    ``model_dir``), timed here."""
    import torch

    from workbench.demo import DEMO_SUITE, ensure_demo_model
    from workbench.run.models import load_model
    from workbench.run.runner import run_suite
    from workbench.run.suites import load_suite
    from workbench.store import Store

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    path = model_dir or ensure_demo_model(progress=False, small=bench.quick())
    loaded = load_model(str(path), model, device="cpu", dtype="float32")
    suite = load_suite(DEMO_SUITE)
    if bench.quick():  # a smoke run: the first 16 eval items, as a suite of their own
        suite = dataclasses.replace(suite, items=suite.split("eval")[:16],
                                    fingerprint=suite.fingerprint + "-first16")
    first, again, fresh = [], [], []
    summary: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            store = Store(Path(tmp) / f"run{r}.duckdb")
            t0 = time.perf_counter()
            res = run_suite(store, loaded, suite, batch_size=32, progress=False)
            first.append(time.perf_counter() - t0)
            summary["first"] = res.summary
            for _ in range(reruns):
                # interleaved: the rerun as `workbench run` does it (the finished run is
                # reported), and a new run of the same (--new-run: outputs from the cache)
                t0 = time.perf_counter()
                res = run_suite(store, loaded, suite, batch_size=32, progress=False)
                again.append(time.perf_counter() - t0)
                summary["rerun"] = res.summary
                t0 = time.perf_counter()
                res = run_suite(store, loaded, suite, batch_size=32, progress=False,
                                new_run=True)
                fresh.append(time.perf_counter() - t0)
                summary["new_run"] = res.summary
    f, a, n = statistics.median(first), statistics.median(again), statistics.median(fresh)
    return {
        "parameters_m": round(sum(p.numel() for p in loaded.model.parameters()) / 1e6, 1),
        "items": summary["first"]["items"],
        "generated_first": summary["first"]["generated"],
        "generated_rerun": summary["rerun"]["generated"],
        "reused_rerun": summary["rerun"]["reused"],
        "generated_new_run": summary["new_run"]["generated"],
        "cached_new_run": summary["new_run"]["cached"],
        "tokens_out": summary["first"]["tokens_out_generated"],
        "repeats": repeats,
        "first_run_s_median": round(f, 3),
        "rerun_s_median": round(a, 3),
        "first_runs_s": [round(x, 3) for x in first],
        "reruns_s": [round(x, 3) for x in again],
        "speedup_rerun": round(f / a, 1),
        "new_run_s_median": round(n, 3),
        "new_runs_s": [round(x, 3) for x in fresh],
        "speedup_new_run": round(f / n, 1),
        "run_peak_rss_mb": bench.peak_rss_mb(),
    }


def run(repeats: int | None = None, models: tuple[str, ...] = ("demo", "100m")) -> dict:
    figures: dict = {"bar": "rerun >= 50x faster than the first run"}
    # a child per model, so each peak memory is that model's run (one for all in a smoke run)
    for group in ([list(models)] if bench.quick() else [[m] for m in models]):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "bench.run_cache", "--child", *group]
            if "100m" in group:  # built here, so that the child's peak memory is the run's
                from bench.generation import build_random_model

                size = bench.pick({}, {"hidden": 64, "layers": 2, "intermediate": 128})
                cmd += ["--model-dir", str(build_random_model(Path(tmp) / "m100", **size))]
            if repeats:
                cmd += ["--repeats", str(repeats)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=bench.ROOT,
                                  env={**os.environ, "PYTHONPATH": str(bench.ROOT)})
        if proc.returncode != 0:
            raise RuntimeError(f"child failed: {proc.stderr[-2000:]}")
        figures.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return figures


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--models", nargs="+", default=["demo", "100m"], choices=["demo", "100m"])
    ap.add_argument("--child", nargs="+", choices=["demo", "100m"], help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        # the 100M model's first run is the slow part of this benchmark: once is enough
        print(json.dumps({m: measure(m, a.repeats or (bench.pick(3, 1) if m == "demo" else 1),
                                     model_dir=a.model_dir if m == "100m" else None)
                          for m in a.child}))
    else:
        print(json.dumps(run(a.repeats, tuple(a.models)), indent=2))
