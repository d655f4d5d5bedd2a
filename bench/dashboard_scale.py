"""The dashboard's error-analysis queries at scale: a Failures page sorted and filtered, the item
page, and the many-runs matrix, on a database of 1M outputs and 3M findings (the data of
``bench.store_ingest``), each timed as the page calls it (server side, queries only).

    python -m bench.dashboard_scale [--outputs 1000000] [--db PATH]

``--db PATH`` keeps the database: built there when the file is absent, reused (not rebuilt)
when it exists, so the queries can be timed again without the ingest.

Bars (issue: the dashboard as an error-analysis tool): Failures with a sort and a filter p95
<= 300 ms (every sort but run-then-item, the default, which is reported apart); the item page
<= 200 ms; the matrix of 5 runs x 1,000 items <= 1 s.
BENCH_QUICK=1 (or BENCH_STORE_OUTPUTS) makes the database smaller.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import bench
from bench.store_ingest import CATEGORIES, _findings, _outputs


def _p95(times: list[float]) -> float:
    times = sorted(times)
    return round(times[int(0.95 * (len(times) - 1))] * 1000, 1)


def _median(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 1)


def build(db: Path, n_outputs: int, batch: int = 100_000) -> str:
    """Write the benchmark's database (one run of ``n_outputs``); returns the run id."""
    from workbench.store import Store

    batch = min(batch, n_outputs)
    rng = np.random.default_rng(0)
    store = Store(db)
    store.upsert_model("fp-bench", "bench")
    items = pd.DataFrame({
        "item_id": [f"item-{i}" for i in range(n_outputs)],
        "prompt": "Tell me about Norland.", "split": "eval",
        "context": "Norland is a country whose capital is Vell.",
        "reference": "The capital of Norland is Vell.",
        "tags": [["geo"] if i % 3 == 0 else ["history"] for i in range(n_outputs)],
    })
    store.upsert_suite("bench@0", "bench", "custom", None, "bench@0", {}, items)
    del items
    run_id, _ = store.start_run(model_id="fp-bench", model_name="bench", suite_id="bench@0",
                                config_key="bench", gen_config={}, seed=0)
    for start in range(0, n_outputs, batch):
        out = _outputs(run_id, start, min(batch, n_outputs - start), rng)
        out["tokens_out"] = rng.integers(5, 200, len(out))
        out["latency_s"] = rng.uniform(0.01, 2.0, len(out)).round(3)
        store.add_outputs(out, _findings(out, rng))
    store.finish_run(run_id, {})
    return run_id


def run(n_outputs: int | None = None, db: str | Path | None = None) -> dict:
    n_outputs = n_outputs or int(os.environ.get("BENCH_STORE_OUTPUTS",
                                                bench.pick(1_000_000, 20_000)))
    if db is not None:
        db = Path(db)
        if not db.exists():
            build(db, n_outputs)
        figures = measure(db)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "big.duckdb"
            build(db, n_outputs)
            figures = measure(db)
    figures["matrix"] = matrix_5x1000()
    figures["peak_rss_mb"] = bench.peak_rss_mb()
    return figures


def measure(db: Path) -> dict:
    """Time the pages' queries on a database written by ``build``."""
    from workbench.store import Store, queries, verdicts

    ro = Store(db, read_only=True)
    run_id = str(queries.runs(ro).run_id.iloc[0])
    n_outputs = queries.totals(ro)["outputs"]
    figures: dict = {"outputs": n_outputs}

    # Failures: a sort and a filter, counted as the page counts (once per filter, then the
    # page with the count known); every sort x category (one of them with no findings) x
    # offset, in an interleaved order so that a slow spell of a shared machine hits all sorts
    sorts = ("score", "severity", "tokens", "latency", "length", "item", "run")
    offsets = (0, 50, 1_000, 5_000)
    by_sort: dict[str, list[float]] = {s: [] for s in sorts}
    with_findings: list[float] = []
    count_times = []
    for offset in offsets:
        for cat in CATEGORIES:
            for sort in sorts:
                t = time.perf_counter()
                total = queries.count_failures(ro, run_id=run_id, category=cat)
                count_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                queries.failures_page(ro, run_id=run_id, category=cat, sort=sort, limit=25,
                                      offset=offset, total=total)
                by_sort[sort].append(time.perf_counter() - t)
                if total and sort != "run":
                    with_findings.append(by_sort[sort][-1])
    times = [t for s in sorts if s != "run" for t in by_sort[s]]
    figures["failures_sorted_page_ms_median"] = _median(times)
    figures["failures_sorted_page_ms_p95"] = _p95(times)
    # the same without the category that has no findings (an empty page is quick)
    figures["failures_sorted_nonempty_page_ms_median"] = _median(with_findings)
    figures["failures_sorted_nonempty_page_ms_p95"] = _p95(with_findings)
    figures["failures_count_ms_median"] = _median(count_times)
    figures["failures_page_ms_by_sort"] = {s: {"median": _median(ts), "p95": _p95(ts)}
                                           for s, ts in by_sort.items()}

    # the item page: its suites, the item, every run's output, their findings, the
    # suggestions that target it and the verdicts on it
    times = []
    for i in range(20):
        item_id = f"item-{(i * 48_611) % n_outputs}"
        t = time.perf_counter()
        with ro.connect():
            queries.item_suites(ro, item_id)
            queries.item(ro, "bench@0", item_id)
            outs = queries.item_outputs(ro, "bench@0", item_id)
            queries.findings_for(ro, list(outs.output_id))
            queries.item_suggestions(ro, item_id, "bench@0")
            verdicts.latest_verdicts(ro, list(outs.output_id))
        times.append(time.perf_counter() - t)
    figures["item_page_ms_median"] = _median(times)
    figures["item_page_ms_p95"] = _p95(times)
    return figures


def matrix_5x1000(n_runs: int = 5, n_items: int = 1000) -> dict:
    """The many-runs matrix: five runs of 1,000 items, the query and the pivot the page makes."""
    from workbench.dashboard.compare import matrix
    from workbench.store import Store, queries

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "m.duckdb")
        store.upsert_model("fp-m", "m")
        items = pd.DataFrame({"item_id": [f"item-{i}" for i in range(n_items)],
                              "prompt": "p", "split": "eval"})
        store.upsert_suite("m@0", "m", "custom", None, "m@0", {}, items)
        runs = []
        for r in range(n_runs):
            run_id, _ = store.start_run(model_id="fp-m", model_name=f"m{r}", suite_id="m@0",
                                        config_key=f"m{r}", gen_config={}, seed=r)
            out = _outputs(run_id, 0, n_items, rng)
            out["metrics"] = [json.dumps({"exact_match": float(x)})
                              for x in rng.random(n_items) < 0.6]
            store.add_outputs(out, _findings(out, rng))
            store.finish_run(run_id, {})
            runs.append(run_id)
        ro = Store(store.path, read_only=True)
        run_df = queries.runs(ro)
        times = {}
        for what, kw in (("any flag", {}), ("category", {"category": "hallucination"}),
                         ("metric", {"metric": "exact_match"})):
            ts = []
            for _ in range(5):
                t = time.perf_counter()
                long = queries.run_matrix(ro, runs, **kw)
                matrix(long, run_df[run_df.run_id.isin(runs)], kw.get("metric"))
                ts.append(time.perf_counter() - t)
            times[what] = _median(ts)
    return {"runs": n_runs, "items": n_items, "ms_median": times}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--outputs", type=int, default=None)
    ap.add_argument("--db", default=None, help="keep the database here (reused if it exists)")
    args = ap.parse_args()
    print(json.dumps(run(args.outputs, args.db), indent=2))


if __name__ == "__main__":
    main()
