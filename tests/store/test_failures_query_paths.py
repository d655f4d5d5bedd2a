"""The failure browser's query paths (findings first then text/tag, one pass, findings only)
agree with the same filters applied row by row in pandas, page after page."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from workbench.store import Store, queries

WORDS = "river harbour vell bridge tower market 100% under_score".split()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = random.Random(5)
    store = Store(tmp_path_factory.mktemp("fq") / "f.duckdb")
    items = pd.DataFrame([{
        "item_id": f"i{i:03d}",
        # the item's prompt is not searched: the rendered prompt (the model's input) is
        "prompt": None if i % 9 == 0 else f"ask about {rng.choice(WORDS)} {i}",
        "reference": None, "context": None, "split": "eval",
        "tags": ["geo"] if i % 3 == 0 else ["math"],
    } for i in range(120)])
    store.upsert_suite("s@1", "s", "custom", None, "s@1", {}, items)
    frames_o, frames_f = [], []
    for model in ("a", "b"):
        run_id, _ = store.start_run(model_id=model, model_name=model, suite_id="s@1",
                                    config_key=model, gen_config={}, seed=0)
        for i in range(120):
            if model == "b" and i % 10 == 0:
                continue  # items run b never answered
            oid = f"{run_id}:{i:03d}"
            frames_o.append({"output_id": oid, "run_id": run_id, "item_id": f"i{i:03d}",
                             "text": " ".join(rng.choice(WORDS) for _ in range(4)).upper(),
                             "rendered_prompt": None if i % 11 == 0
                             else f"render {rng.choice(WORDS)} ask {i}"})
            for check, cat in (("rep", "repetition"), ("len", "length"), ("hal", "hallucination")):
                flagged = rng.random() < 0.4
                frames_f.append({"output_id": oid, "run_id": run_id, "check_name": check,
                                 "category": cat, "flagged": flagged, "score": 0.5,
                                 "severity": rng.choice(["high", "low"]) if flagged else "info"})
        store.add_outputs(pd.DataFrame([o for o in frames_o if o["run_id"] == run_id]),
                          pd.DataFrame([f for f in frames_f if f["run_id"] == run_id]))
    return (Store(store.path, read_only=True), pd.DataFrame(frames_o), pd.DataFrame(frames_f),
            items)


def _expected(outs, finds, items, *, run_id=None, category=None, severity=None, tag=None,
              text=None, flagged_only=True) -> list[str]:
    f = finds
    keep = pd.Series(True, index=f.index)
    if flagged_only:
        keep &= f.flagged
    if category:
        keep &= f.category == category
    if severity:
        keep &= f.severity == severity
    ids = set(f[keep].output_id) if (flagged_only or category or severity) else set(outs.output_id)
    o = outs[outs.output_id.isin(ids)].merge(items, on="item_id", how="left")
    if run_id:
        o = o[o.run_id == run_id]
    if tag:
        o = o[[isinstance(t, list) and tag in t for t in o.tags]]
    if text:
        prompt = o.rendered_prompt.fillna("")
        o = o[o.text.str.lower().str.contains(text.lower(), regex=False)
              | prompt.str.lower().str.contains(text.lower(), regex=False)]
    return list(o.sort_values(["run_id", "item_id", "output_id"]).output_id)


@pytest.mark.parametrize("filters", [
    {"category": "repetition", "text": "harbour"},
    {"category": "length", "severity": "high", "text": "Render"},   # the rendered prompt
    {"category": "hallucination", "tag": "geo", "text": "ask"},
    {"text": "100%"},                                                # no findings filter
    {"tag": "math"},
    {"category": "repetition"},                                      # findings only
    {"category": "length", "text": "under_score", "flagged_only": False},
    {"category": "repetition", "text": "no such word"},
])
def test_pages_match_the_filters_row_by_row(data, filters):
    ro, outs, finds, items = data
    run_id = outs.run_id.iloc[0]
    for kw in (filters, {**filters, "run_id": run_id}):
        want = _expected(outs, finds, items, **kw)
        got, offset = [], 0
        while True:
            page = queries.failures_page(ro, **kw, limit=7, offset=offset)
            assert page.total == len(want)
            assert queries.count_failures(ro, **kw) == len(want)
            if page.rows.empty:
                break
            # wide columns come with every row of the page, items joined
            assert page.rows.text.notna().all() and page.rows.suite_id.eq("s@1").all()
            got += list(page.rows.output_id)
            # as the dashboard pages: the count known already (cached), the page alone
            known = queries.failures_page(ro, **kw, limit=7, offset=offset, total=len(want))
            assert list(known.rows.output_id) == list(page.rows.output_id)
            offset += 7
        assert got == want
