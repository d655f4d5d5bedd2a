"""compare_runs at scale: two runs of the same N items (default 500,000), four error
categories and a binary per-sample metric, compared end to end (``workbench.compare``).

    python -m bench.compare_scale [--items 500000]

BENCH_QUICK=1 makes the runs 5,000 items.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench import pick

CATEGORIES = {"repetition": 0.12, "misspelling": 0.06, "hallucination": 0.12, "length": 0.03}


def _run(store, model: str, n: int, rng: np.random.Generator, scale: float) -> str:  # noqa: ANN001
    run_id, _ = store.start_run(model_id=model, model_name=model, suite_id="syn@1",
                                config_key=model, gen_config={}, seed=0)
    step = 100_000
    for start in range(0, n, step):
        idx = np.arange(start, min(n, start + step))
        oids = [f"{run_id}:{i}" for i in idx]
        em = rng.random(len(idx)) > 0.4 * scale
        outs = pd.DataFrame({
            "output_id": oids, "run_id": run_id, "item_id": [f"e{i}" for i in idx], "text": "x",
            "metrics": np.where(em, json.dumps({"exact_match": 1.0}),
                                json.dumps({"exact_match": 0.0})),
        })
        finds = pd.concat([pd.DataFrame({
            "output_id": oids, "run_id": run_id, "check_name": c, "category": c,
            "flagged": rng.random(len(idx)) < p * scale, "score": 0.5,
        }) for c, p in CATEGORIES.items()], ignore_index=True)
        store.add_outputs(outs, finds)
    store.finish_run(run_id, {})
    return run_id


def run(n_items: int | None = None) -> dict:
    from workbench.compare import compare_runs
    from workbench.store import Store

    n = n_items or pick(500_000, 5_000)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "c.duckdb")
        a = _run(store, "a", n, rng, 1.0)
        b = _run(store, "b", n, rng, 0.9)
        ro = Store(Path(tmp) / "c.duckdb", read_only=True)
        t0 = time.perf_counter()
        cmp = compare_runs(ro, a, b)
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        fixed = cmp.items("repetition", "fixed")
        items_s = time.perf_counter() - t0
        return {
            "items_per_run": n,
            "compare_seconds": round(seconds, 2),
            "rows": len(cmp.rows),
            "transitions": len(cmp.transitions),
            "items_repetition_fixed_seconds": round(items_s, 3),
            "repetition_fixed": len(fixed),
        }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=None)
    for k, v in run(ap.parse_args().items).items():
        print(f"{k:<32} {v}")
