"""Store at scale: ingest 1M outputs + 3M findings through the Store (after the suite's 1M
items, timed apart), then time the failure browser's queries (``queries.failures_page``: run +
category + free text, a page of 50, counted as the page counts them; varied categories, words
and offsets up to deep pages) at that size, the dashboard's peak memory on that database (a child
process renders every page with Streamlit's AppTest and reports its own peak RSS), and
``compare_runs`` on two runs of 500,000 items, and the peak memory of exporting the whole run
(jsonl and parquet, each in a child process).

    python -m bench.store_ingest [--outputs 1000000] [--compare-items 500000] [--only export]

``--only export`` builds the database and measures only the exports.

BENCH_QUICK=1 (or BENCH_STORE_OUTPUTS, BENCH_COMPARE_ITEMS) makes the databases smaller.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import bench

CATEGORIES = ["repetition", "length", "misspelling", "hallucination"]
WORDS = ("the river flows into lake oram and the capital of norland is vell with bridges "
         "towers markets museums harbour mountain valley forest").split()


def _outputs(run_id: str, start: int, n: int, rng: np.random.Generator) -> pd.DataFrame:
    idx = np.arange(start, start + n)
    words = np.array(WORDS)
    texts = [" ".join(words[rng.integers(0, len(words), 30)]) for _ in range(n)]
    return pd.DataFrame({
        "output_id": [f"{run_id}-{i}" for i in idx],
        "run_id": run_id,
        "item_id": [f"item-{i}" for i in idx],
        "text": texts,
        "rendered_prompt": "### Instruction:\nTell me about Norland.\n\n### Response:\n",
        "tokens_in": 12,
        "tokens_out": 40,
        "finish_reason": "eos",
        "latency_s": 0.01,
        "cache_key": [f"ck-{run_id}-{i}" for i in idx],
    })


def _findings(outputs: pd.DataFrame, rng: np.random.Generator, per_output: int = 3) -> pd.DataFrame:
    n = len(outputs)
    cats = np.array(CATEGORIES)
    frames = []
    for k in range(per_output):
        flagged = rng.random(n) < 0.2
        frames.append(pd.DataFrame({
            "output_id": outputs.output_id.values,
            "run_id": outputs.run_id.values,
            "check_name": cats[k],
            "check_version": "1",
            "category": cats[k],
            "flagged": flagged,
            "score": rng.random(n),
            "severity": np.where(flagged, "medium", "info"),
            "spans": "[[0, 5]]",
            "message": np.where(flagged, f"{cats[k]} found", ""),
        }))
    return pd.concat(frames, ignore_index=True)


def run(n_outputs: int | None = None, batch: int = 100_000, only: str | None = None) -> dict:
    from workbench.store import Store

    n_outputs = n_outputs or int(os.environ.get("BENCH_STORE_OUTPUTS",
                                                bench.pick(1_000_000, 20_000)))
    batch = min(batch, n_outputs)
    rng = np.random.default_rng(0)
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "big.duckdb"
        store = Store(db)
        store.upsert_model("fp-bench", "bench")
        # the suite's items, as a real run has them (the failure page reads a page's items;
        # a tag filter joins them): stored first, timed apart from the outputs
        items = pd.DataFrame({
            "item_id": [f"item-{i}" for i in range(n_outputs)],
            "prompt": "Tell me about Norland.", "split": "eval",
            "tags": [["geo"] if i % 3 == 0 else ["history"] for i in range(n_outputs)],
        })
        t0 = time.perf_counter()
        store.upsert_suite("bench@0", "bench", "custom", None, "bench@0", {}, items)
        items_s = time.perf_counter() - t0
        del items
        run_id, _ = store.start_run(model_id="fp-bench", model_name="bench", suite_id="bench@0",
                                    config_key="bench", gen_config={}, seed=0)
        # data generation is not what is measured: build the frames first
        batches = []
        for start in range(0, n_outputs, batch):
            out = _outputs(run_id, start, min(batch, n_outputs - start), rng)
            batches.append((out, _findings(out, rng)))
        n_findings = sum(len(f) for _, f in batches)
        t0 = time.perf_counter()
        for out, fnd in batches:
            store.add_outputs(out, fnd)
        ingest_s = time.perf_counter() - t0
        del batches
        figures |= {
            "outputs": n_outputs,
            "findings": n_findings,
            "ingest_seconds": round(ingest_s, 2),
            "ingest_rows_per_s": round((n_outputs + n_findings) / ingest_s),
            "items_ingest_seconds": round(items_s, 2),
            "db_mb": round(db.stat().st_size / 1e6, 1),
        }
        if only == "export":
            return figures | _exports(db, run_id, Path(tmp))
        # the failure browser's own query (workbench/store/queries/failures.py), as its page calls it
        from workbench.store import queries

        ro = Store(db, read_only=True)
        times = []
        # varied: every category (one with no findings), common/rare/absent words, first,
        # near and deep pages (offset 50,000 is past the end for most filters)
        offsets = (0, 50, 1_000, 5_000, 50_000)
        cases = [(c, w) for c in CATEGORIES for w in ("harbour", "vell", "museums", "zzz")] * 2
        for i, (cat, text) in enumerate(cases):
            t = time.perf_counter()
            queries.failures_page(ro, run_id=run_id, category=cat, text=text,
                                  limit=50, offset=offsets[i % len(offsets)])
            times.append(time.perf_counter() - t)
        times.sort()
        figures["failures_page_ms_median"] = round(statistics.median(times) * 1000, 1)
        figures["failures_page_ms_p95"] = round(times[int(0.95 * (len(times) - 1))] * 1000, 1)
        # the same with a severity filter too: category and severity must hold for one finding,
        # which only the findings table can say (a join of the outputs with their findings)
        times = []
        for i, (cat, text) in enumerate(cases):
            t = time.perf_counter()
            queries.failures_page(ro, run_id=run_id, category=cat, severity="medium", text=text,
                                  limit=50, offset=offsets[i % len(offsets)])
            times.append(time.perf_counter() - t)
        times.sort()
        figures["failures_page_severity_ms_median"] = round(statistics.median(times) * 1000, 1)
        figures["failures_page_severity_ms_p95"] = round(
            times[int(0.95 * (len(times) - 1))] * 1000, 1)
        figures["peak_rss_mb"] = bench.peak_rss_mb()
        figures["dashboard"] = dashboard_memory(db)
        figures |= _exports(db, run_id, Path(tmp))
    figures["compare"] = compare_at_scale()
    return figures


def _exports(db: Path, run_id: str, tmp: Path) -> dict:
    """The export of the whole run as jsonl (``export``) and as parquet (``export_parquet``)."""
    return {"export": export_memory(db, run_id, tmp / "export.jsonl"),
            "export_parquet": export_memory(db, run_id, tmp / "export.parquet")}


COMPARE_RATES = {"repetition": 0.12, "misspelling": 0.06, "hallucination": 0.12, "length": 0.03}


def _compare_run(store, model: str, n: int, rng: np.random.Generator, scale: float) -> str:  # noqa: ANN001
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
        }) for c, p in COMPARE_RATES.items()], ignore_index=True)
        store.add_outputs(outs, finds)
    store.finish_run(run_id, {})
    return run_id


def compare_at_scale(n_items: int | None = None) -> dict:
    """compare_runs end to end on two runs of the same N items (default 500,000): four error
    categories and a binary per-sample metric; then one category's fixed items."""
    from workbench.compare.compare import compare_runs
    from workbench.store import Store

    n = n_items or int(os.environ.get("BENCH_COMPARE_ITEMS", bench.pick(500_000, 5_000)))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "c.duckdb")
        a = _compare_run(store, "a", n, rng, 1.0)
        b = _compare_run(store, "b", n, rng, 0.9)
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


def dashboard_memory(db: Path) -> dict:
    """Every dashboard page rendered on ``db`` in a child process: seconds per page and the
    child's peak resident memory."""
    proc = subprocess.run([sys.executable, "-m", "bench.store_ingest", "--dashboard", str(db)],
                          capture_output=True, text=True, cwd=bench.ROOT,
                          env={**os.environ, "PYTHONPATH": str(bench.ROOT)})
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def export_memory(db: Path, run_id: str, out: Path) -> dict:
    """``workbench export RUN --out FILE`` (streamed; parquet when FILE ends in .parquet, else
    jsonl) on ``db`` in a child process: seconds, the child's peak resident memory, the rows
    written (``lines``) and the file's size. The file is removed afterwards."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.store_ingest", "--export", str(db),
                           run_id, str(out)], capture_output=True, text=True, cwd=bench.ROOT,
                          env={**os.environ, "PYTHONPATH": str(bench.ROOT)})
    seconds = round(time.perf_counter() - t, 1)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if not out.exists():
        return {"seconds": seconds, "peak_rss_mb": got["peak_rss_mb"], "lines": 0, "mb": 0}
    if out.suffix == ".parquet":
        import pyarrow.parquet as pq

        lines = pq.ParquetFile(out).metadata.num_rows
    else:
        lines = sum(1 for _ in out.open())
    mb = round(out.stat().st_size / 1e6, 1)
    out.unlink()
    return {"seconds": seconds, "peak_rss_mb": got["peak_rss_mb"], "lines": lines, "mb": mb}


def _export(db: str, run_id: str, out: str) -> dict:
    from typer.testing import CliRunner

    from workbench.cli import app

    fmt = "parquet" if out.endswith(".parquet") else "jsonl"
    res = CliRunner().invoke(app, ["export", run_id, "--db", db, "--out", out, "--format", fmt])
    if res.exit_code != 0:
        raise SystemExit(res.output)
    return {"peak_rss_mb": bench.peak_rss_mb()}


def _render_dashboard(db: str) -> dict:
    from streamlit.testing.v1 import AppTest

    from workbench.dashboard import APP_PATH

    os.environ["WORKBENCH_DB"] = db
    seconds: dict[str, float] = {}
    problems: list[str] = []
    t = time.perf_counter()
    at = AppTest.from_file(str(APP_PATH), default_timeout=600).run()
    seconds["overview"] = round(time.perf_counter() - t, 2)
    for page in ("failures.py", "compare.py", "suggestions.py"):
        t = time.perf_counter()
        at.switch_page(page).run()
        seconds[page.removesuffix(".py")] = round(time.perf_counter() - t, 2)
        problems += [f"{page}: {e.value}" for e in list(at.exception) + list(at.error)]
    return {"page_seconds": seconds, "problems": problems,
            "peak_rss_mb": bench.peak_rss_mb()}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--outputs", type=int, default=None)
    ap.add_argument("--compare-items", type=int, default=None)
    ap.add_argument("--dashboard", metavar="DB", help=argparse.SUPPRESS)
    ap.add_argument("--only", choices=["export"], default=None,
                    help="build the database and measure only the exports")
    ap.add_argument("--export", nargs=3, metavar=("DB", "RUN", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.export:
        print(json.dumps(_export(*a.export)))
        raise SystemExit(0)
    if a.dashboard:
        print(json.dumps(_render_dashboard(a.dashboard)))
        raise SystemExit(0)
    if a.compare_items:
        os.environ["BENCH_COMPARE_ITEMS"] = str(a.compare_items)
    for k, v in run(a.outputs, only=a.only).items():
        print(f"{k:<28} {v}")
