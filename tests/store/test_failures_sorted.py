"""Every sort order of the failure browser, through whichever query path serves it, gives
exactly the rows of a straightforward ordering of the raw rows in pandas: page after page, both
directions, with ties, missing values and outputs flagged by several checks of one category."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from workbench.store import Store, queries

RANK = {"high": 3, "medium": 2, "low": 1, "info": 0}
CHECKS = (("rep", "repetition"), ("len", "length"), ("hal", "hallucination"),
          ("hal2", "hallucination"))  # two checks report the same category


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = random.Random(11)
    store = Store(tmp_path_factory.mktemp("fs") / "s.duckdb")
    items = pd.DataFrame({"item_id": [f"i{i:03d}" for i in range(90)], "prompt": "p",
                          "split": "eval",
                          "tags": [["geo"] if i % 3 == 0 else ["math"] for i in range(90)]})
    store.upsert_suite("s@1", "s", "custom", None, "s@1", {}, items)
    outs, finds = [], []
    for model in ("a", "b"):
        run_id, _ = store.start_run(model_id=model, model_name=model, suite_id="s@1",
                                    config_key=model, gen_config={}, seed=0)
        o_run, f_run = [], []
        for i in range(90):
            oid = f"{run_id}:{i:03d}"
            o_run.append({"output_id": oid, "run_id": run_id, "item_id": f"i{i:03d}",
                          "text": "word " * rng.choice([2, 3, 3, 5]) + ("harbour" if i % 4
                                                                        else ""),
                          # few distinct values: many ties; some missing
                          "tokens_out": rng.choice([None, 3, 7, 7, 9]),
                          "latency_s": rng.choice([None, 0.5, 0.5, 1.25])})
            for check, cat in CHECKS:
                flagged = rng.random() < 0.45
                f_run.append({"output_id": oid, "run_id": run_id, "check_name": check,
                              "category": cat, "flagged": flagged,
                              "score": rng.choice([None, 0.2, 0.5, 0.5, 0.9]),
                              "severity": rng.choice(["high", "medium", "low"]) if flagged
                              else "info"})
        store.add_outputs(pd.DataFrame(o_run), pd.DataFrame(f_run))
        outs += o_run
        finds += f_run
    return Store(store.path, read_only=True), pd.DataFrame(outs), pd.DataFrame(finds)


def _expected(outs, finds, sort, descending, *, category=None, check=None, severity=None,
              run_id=None, text=None, flagged_only=True) -> list[str]:
    cats = [category] if isinstance(category, str) else list(category or [])
    f = finds[finds.flagged] if flagged_only else finds
    keep = pd.Series(True, index=f.index)
    if cats:
        keep &= f.category.isin(cats)
    if check:
        keep &= f.check_name == check
    if severity:
        keep &= f.severity == severity
    o = outs
    if flagged_only or cats or check or severity:
        o = o[o.output_id.isin(f[keep].output_id)]
    if run_id:
        o = o[o.run_id == run_id]
    if text:
        o = o[o.text.str.contains(text, case=False, regex=False)]
    # the value of a score or severity order: the flagged findings of the chosen categories
    fl = finds[finds.flagged & (finds.category.isin(cats) if cats else True)]
    best = fl.assign(r=fl.severity.map(RANK)).groupby("output_id").agg(s=("score", "max"),
                                                                        r=("r", "max"))
    o = o.assign(score=o.output_id.map(best.s), severity=o.output_id.map(best.r),
                 length=o.text.str.len(), tokens=o.tokens_out, latency=o.latency_s,
                 item=o.item_id)
    ties = ["run_id", "item_id", "output_id"]
    if sort == "run":
        return list(o.sort_values(ties, ascending=not descending).output_id)
    o = o.sort_values([sort, *ties], ascending=[not descending, True, True, True],
                      na_position="last", kind="mergesort")
    return list(o.output_id)


FILTERS = [
    {},
    {"category": "hallucination"},                 # two checks: an output flagged twice
    {"category": ["repetition", "length"]},
    {"category": "length", "run_id": "RUN"},
    {"category": "hallucination", "check": "hal2"},   # a finding-level filter
    {"severity": "high"},
    {"category": "repetition", "text": "harbour"},    # an output-level filter
    {"category": "repetition", "flagged_only": False},
]


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f) for f in FILTERS])
@pytest.mark.parametrize("sort", list(queries.SORTS))
def test_sorted_pages_equal_a_plain_ordering(data, sort, filters):
    ro, outs, finds = data
    if filters.get("run_id") == "RUN":
        filters = {**filters, "run_id": outs.run_id.iloc[-1]}
    with ro.connect():  # one connection for the test's many pages
        for descending in (True, False):
            want = _expected(outs, finds, sort, descending, **filters)
            total = queries.count_failures(ro, **filters)
            assert total == len(want)
            got = []
            for offset in range(0, total + 1, 30):
                page = queries.failures_page(ro, **filters, sort=sort, descending=descending,
                                             limit=30, offset=offset, total=total)
                got += list(page.rows.output_id)
            assert got == want, (sort, descending)
            # a deep page on its own (the widened top-N), counted as it is read
            start = max(0, total - 7)
            deep = queries.failures_page(ro, **filters, sort=sort, descending=descending,
                                         limit=5, offset=start)
            assert deep.total == total and list(deep.rows.output_id) == want[start:start + 5]
