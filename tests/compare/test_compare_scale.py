"""compare_runs counted in DuckDB/numpy agrees with a plain per-item reference on awkward data,
its lazy per-item changes behave as a list, and the large-sample bootstrap agrees with
resampling."""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

import workbench.compare.stats as stats
from workbench.compare.compare import compare_runs
from workbench.compare.comparison import ItemChange
from workbench.compare.stats import bootstrap_mean_ci, paired_bootstrap_ci
from workbench.store import Store

METRIC_TEXTS = [
    lambda r: json.dumps({"exact_match": float(r.random() < 0.6), "bleu": round(r.random(), 2),
                          "ok": r.random() < 0.5}),
    lambda r: '{"exact_match": 1, "bleu": NaN, "note": "text", "list": [1, 2]}',
    lambda r: '{"exact_match": 0, "bleu": Infinity}',
    lambda r: "not json",
    lambda r: "[1, 2, 3]",
    lambda r: None,
]


def _add(store: Store, model: str, items: list[str], rng: random.Random,
         categories: list[str]) -> str:
    run_id, _ = store.start_run(model_id=model, model_name=model, suite_id="s@1",
                                config_key=model, gen_config={}, seed=0)
    outs, finds = [], []
    for item in items:
        oid = f"{run_id}:{item}"
        raw = rng.choice(METRIC_TEXTS)(rng) if rng.random() < 0.3 else METRIC_TEXTS[0](rng)
        outs.append({"output_id": oid, "run_id": run_id, "item_id": item, "text": "x",
                     "metrics": raw})
        if rng.random() < 0.05:
            continue  # no finding at all for this output
        for cat in categories:
            for check in ([cat, cat + "_2"] if cat == "repetition" else [cat]):
                finds.append({"output_id": oid, "run_id": run_id, "check_name": check,
                              "category": cat, "flagged": rng.random() < 0.3, "score": 0.5,
                              "error": "boom" if rng.random() < 0.03 else None})
    store.add_outputs(pd.DataFrame(outs), pd.DataFrame(finds))
    store.finish_run(run_id, {})
    return run_id


def _reference(store: Store, a: str, b: str) -> dict:
    """The comparison's counts and per-item changes worked out item by item in Python."""
    outs = store.query_df("SELECT run_id, item_id, output_id, metrics FROM outputs")
    finds = store.query_df("SELECT output_id, category, flagged FROM findings WHERE error IS NULL")
    status: dict[tuple[str, str], bool] = {}
    for oid, cat, flagged in finds.itertuples(index=False):
        status[(oid, cat)] = status.get((oid, cat), False) or bool(flagged)
    by_run = {r: dict(zip(g.item_id, g.output_id, strict=True)) for r, g in outs.groupby("run_id")}
    metrics = {}
    for oid, raw in zip(outs.output_id, outs.metrics, strict=True):
        try:
            m = json.loads(raw) if isinstance(raw, str) else None
        except json.JSONDecodeError:
            m = None
        metrics[oid] = {k: float(v) for k, v in (m.items() if isinstance(m, dict) else [])
                        if isinstance(v, int | float) and math.isfinite(v)}
    shared = sorted(set(by_run[a]) & set(by_run[b]))
    rows, changes = {}, []
    cats = sorted({c for (_, c) in status})
    for cat in cats:
        pairs = [(i, status[(by_run[a][i], cat)], status[(by_run[b][i], cat)]) for i in shared
                 if (by_run[a][i], cat) in status and (by_run[b][i], cat) in status]
        if not pairs:
            continue
        t = ["fixed" if x and not y else "regressed" if y and not x else
             "still_failing" if x else "still_passing" for _, x, y in pairs]
        rows[cat] = (len(pairs), t.count("fixed"), t.count("regressed"), t.count("still_failing"))
        changes += [(i, cat, x, y, tt) for (i, x, y), tt in zip(pairs, t, strict=True)]
    names = sorted({k for m in metrics.values() for k in m})
    for name in names:
        pairs = [(i, metrics[by_run[a][i]][name], metrics[by_run[b][i]][name]) for i in shared
                 if name in metrics[by_run[a][i]] and name in metrics[by_run[b][i]]]
        if not pairs:
            continue
        binary = all(v in (0.0, 1.0) for _, x, y in pairs for v in (x, y))
        if binary:
            t = ["fixed" if y > x else "regressed" if y < x else
                 "still_passing" if x == 1.0 else "still_failing" for _, x, y in pairs]
        else:
            t = ["fixed" if y > x else "regressed" if y < x else "unchanged" for _, x, y in pairs]
        rows[name] = (len(pairs), t.count("fixed"), t.count("regressed"),
                      t.count("still_failing") if binary else None)
        changes += [(i, name, x, y, tt) for (i, x, y), tt in zip(pairs, t, strict=True)]
    return {"rows": rows, "changes": changes, "n_shared": len(shared)}


@pytest.fixture
def awkward(tmp_path):
    store = Store(tmp_path / "w.duckdb")
    rng = random.Random(7)
    items = [f"q{i:03d}" for i in range(300)]
    a = _add(store, "a", items[:290], rng, ["hallucination", "length", "repetition"])
    b = _add(store, "b", items[5:], rng, ["hallucination", "misspelling", "repetition"])
    return store, a, b


def test_counts_and_changes_match_a_per_item_reference(awkward):
    store, a, b = awkward
    cmp = compare_runs(store, a, b)
    ref = _reference(store, a, b)
    assert (cmp.n_shared, cmp.only_a, cmp.only_b) == (ref["n_shared"], 5, 10)
    got = {r.name: (r.n, r.fixed, r.regressed, r.still_failing) for r in cmp.rows}
    assert got == ref["rows"]
    assert set(got) == {"hallucination", "repetition", "exact_match", "bleu", "ok"}
    assert [(t.item_id, t.name, t.a, t.b, t.transition) for t in cmp.transitions] \
        == ref["changes"]
    assert any("'length' was only checked in run A" in n for n in cmp.notes)
    assert any("'misspelling' was only checked in run B" in n for n in cmp.notes)
    # values keep their Python types (JSON output, equality with plain values)
    t = cmp.items("repetition")[0]
    assert type(t.a) is bool and type(t.item_id) is str and type(t.transition) is str
    assert type(cmp.items("bleu")[0].a) is float


def test_transitions_read_like_a_list(awkward):
    store, a, b = awkward
    cmp = compare_runs(store, a, b)
    every = list(cmp.transitions)
    assert len(cmp.transitions) == len(every) > 0
    assert cmp.transitions[0] == every[0] and cmp.transitions[-3:] == every[-3:]
    assert all(isinstance(t, ItemChange) for t in every)
    fixed = cmp.items("hallucination", "fixed")
    assert fixed == [t for t in every if t.name == "hallucination" and t.transition == "fixed"]
    assert cmp.items("nothing") == []
    d = cmp.to_dict()
    assert d["transitions"] == [asdict(t) for t in every]
    json.dumps(d)


def test_large_discrete_bootstrap_agrees_with_resampling(monkeypatch):
    rng = np.random.default_rng(3)
    a = (rng.random(30_000) < 0.20).astype(float)
    b = (rng.random(30_000) < 0.17).astype(float)
    fast = paired_bootstrap_ci(a, b)
    monkeypatch.setattr(stats, "EXACT_RESAMPLE_MAX", 10**9)  # index resampling, as below 20k
    slow = paired_bootstrap_ci(a, b)
    assert fast == pytest.approx(slow, abs=0.0015)
    assert fast[0] < (b - a).mean() < fast[1]
    monkeypatch.undo()
    assert fast == paired_bootstrap_ci(a, b)
    # continuous values keep index resampling at any size
    x = rng.random(25_000)
    lo, hi = bootstrap_mean_ci(x)
    assert lo < x.mean() < hi
