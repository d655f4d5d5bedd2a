"""compare and suggest at scale, and how well suggest targets failures and guards eval items.

Synthetic suite: 24 topics, each with its own words and question templates; invented entity
names. Figures:

- compare: seconds for compare_runs on 10,000 paired items x 4 categories + 1 metric;
- suggest_large_pool: seconds and peak memory of suggest with a 30,000-row pool;
- suggest: seconds for 3,000 eval items, a 6,000-row pool and ~900 failing items;
- targeting: share of suggested rows on the failing item's topic (hybrid, tfidf, fuzz
  similarity), and on the demo suite the share of the top 3 train rows per eval item that ask the
  same kind of question (its second tag: place / known / number / describe);
- guard: share of injected near-duplicates of eval items dropped (recall) and share of distinct
  rows wrongly dropped (false positives): the default rule (ratio >= 90 and idf-weighted word
  overlap >= 0.8) against the fuzzy ratio alone.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench import peak_rss_mb, pick

TOPICS = 24
WORDS = 40


def _name(rng: random.Random) -> str:
    syl = ["ka", "lo", "ve", "dri", "mon", "tas", "ur", "bel", "qui", "sen", "ro", "fa", "zim"]
    return "".join(rng.choice(syl) for _ in range(rng.randint(2, 3))).capitalize()


def _topics(rng: random.Random) -> list[dict]:
    out = []
    for t in range(TOPICS):
        words = [f"{_name(rng).lower()}{t}" for _ in range(WORDS)]
        templates = [
            "What is the {w1} of {e} and how does it affect the {w2}?",
            "Explain the {w1} of {e} in terms of {w2} and {w3}.",
            "Describe how {e} uses {w1} for {w2}.",
            "Why does {e} need a {w1} near the {w2}?",
        ]
        out.append({"words": words, "templates": templates})
    return out


def _prompt(rng: random.Random, topic: dict) -> str:
    w = rng.sample(topic["words"], 3)
    return rng.choice(topic["templates"]).format(e=_name(rng), w1=w[0], w2=w[1], w3=w[2])


def _near_duplicate(rng: random.Random, text: str) -> str:
    """Edits that leave the same question: case and punctuation, one word, word order."""
    words = text.split()
    kind = rng.randrange(3)
    if kind == 0:
        return text.lower().rstrip("?.") + " ?"
    if kind == 1:
        i = rng.randrange(len(words))
        words[i] = {"the": "a", "of": "for", "and": "&"}.get(words[i], words[i])
        return " ".join(words) + " Thanks."
    i = rng.randrange(len(words) - 1)
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def _build(store, rng: random.Random, n_eval: int, n_pool: int, n_dups: int):  # noqa: ANN001, ANN202
    topics = _topics(rng)
    items, topic_of = [], {}
    for i in range(n_eval):
        t = i % TOPICS
        items.append({"item_id": f"e{i}", "prompt": _prompt(rng, topics[t]), "split": "eval",
                      "reference": "ok"})
        topic_of[f"e{i}"] = t
    for i in range(n_pool):
        t = rng.randrange(TOPICS)
        items.append({"item_id": f"t{i}", "prompt": _prompt(rng, topics[t]), "split": "train",
                      "reference": f"answer {i}"})
        topic_of[f"t{i}"] = t
    dups = rng.sample(range(n_eval), n_dups)
    for k, i in enumerate(dups):
        items.append({"item_id": f"d{k}", "prompt": _near_duplicate(rng, items[i]["prompt"]),
                      "split": "train", "reference": "dup"})
        topic_of[f"d{k}"] = topic_of[f"e{i}"]
    df = pd.DataFrame([{"context": None, **it} for it in items])
    store.upsert_suite("syn@1", "syn", "custom", None, "syn1", {}, df)
    return topic_of


def _run(store, model: str, n_eval: int, rng: random.Random, fail_p: float) -> str:  # noqa: ANN001
    run_id, _ = store.start_run(model_id=model, model_name=model, suite_id="syn@1",
                                config_key=model, gen_config={}, seed=0)
    outs, finds = [], []
    for i in range(n_eval):
        oid = f"{run_id}:{i}"
        outs.append({"output_id": oid, "run_id": run_id, "item_id": f"e{i}", "text": "x",
                     "metrics": json.dumps({"exact_match": float(rng.random() > 0.4)})})
        for c, p in (("repetition", fail_p), ("misspelling", fail_p / 2),
                     ("hallucination", fail_p), ("length", fail_p / 4)):
            finds.append({"output_id": oid, "run_id": run_id, "check_name": c, "category": c,
                          "flagged": rng.random() < p, "score": 0.5})
    store.add_outputs(pd.DataFrame(outs), pd.DataFrame(finds))
    store.finish_run(run_id, {})
    return run_id


def run() -> dict:
    from workbench.compare.compare import compare_runs
    from workbench.store import Store
    from workbench.suggest.suggest import suggest

    rng = random.Random(0)
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "b.duckdb")
        # BENCH_QUICK=1: a smoke run at a twentieth of the size
        n_eval, n_pool, n_dups = pick((10_000, 6_000, 300), (500, 400, 20))
        topic_of = _build(store, rng, n_eval, n_pool, n_dups)
        a = _run(store, "a", n_eval, rng, 0.12)
        b = _run(store, "b", n_eval, rng, 0.10)
        t0 = time.perf_counter()
        cmp = compare_runs(store, a, b)
        figures["compare_10k_items_s"] = round(time.perf_counter() - t0, 2)
        figures["compare_rows"] = len(cmp.rows)

        # suggest on the first 3,000 eval items' failures: a run of its own
        small = _run(store, "c", pick(3_000, 300), rng, 0.12)
        for method in ("hybrid", "tfidf", "fuzz"):
            t0 = time.perf_counter()
            res = suggest(store, small, per_failure=3, similarity=method)
            secs = time.perf_counter() - t0
            pairs = [(f["item_id"], s.pool_row) for s in res.rows
                     for f in s.provenance["failures"]]
            on_topic = sum(topic_of[i] == topic_of[r] for i, r in pairs) / max(1, len(pairs))
            figures[f"suggest_{method}"] = {
                "seconds": round(secs, 2), "failing_items": len({i for i, _ in pairs}),
                "suggestions": len(res.rows), "on_topic_share": round(on_topic, 3),
                "chance_on_topic": round(1 / TOPICS, 3),
            }
        # the guard, on the whole pool at the default threshold
        import numpy as np
        from rapidfuzz import fuzz, process, utils

        from workbench.suggest.pool import eval_texts, suite_pool
        from workbench.suggest.similarity import (
            DEFAULT_MIN_OVERLAP,
            DEFAULT_THRESHOLD,
            near_duplicates,
        )

        rows = suite_pool(store, "syn@1")
        _, texts = eval_texts(store, "syn@1")
        pool_texts = [r.text for r in rows]
        dup = np.array([r.row_id.startswith("d") for r in rows])
        t0 = time.perf_counter()
        hits = {i for i, _, _ in near_duplicates(pool_texts, texts)}
        secs = time.perf_counter() - t0
        flagged = np.array([i in hits for i in range(len(rows))])
        t0 = time.perf_counter()
        ratio = np.zeros(len(rows))
        for scorer in (fuzz.ratio, fuzz.token_sort_ratio):
            m = process.cdist(pool_texts, texts, scorer=scorer, processor=utils.default_process,
                              score_cutoff=DEFAULT_THRESHOLD, dtype=np.float32, workers=-1)
            ratio = np.maximum(ratio, m.max(axis=1))
        ratio_secs = time.perf_counter() - t0
        by_ratio = ratio >= DEFAULT_THRESHOLD
        figures["guard"] = {
            "pool_rows": len(rows), "eval_items": len(texts),
            "near_duplicates_injected": int(dup.sum()),
            "default": {"threshold": DEFAULT_THRESHOLD, "min_overlap": DEFAULT_MIN_OVERLAP,
                        "seconds": round(secs, 2), "recall": round(flagged[dup].mean(), 3),
                        "false_positive_rate": round(flagged[~dup].mean(), 4)},
            "ratio_only": {"threshold": DEFAULT_THRESHOLD, "seconds": round(ratio_secs, 2),
                           "recall": round(by_ratio[dup].mean(), 3),
                           "false_positive_rate": round(by_ratio[~dup].mean(), 4)},
        }
    figures["demo_targeting_top3_same_kind"] = _demo_targeting()
    figures["suggest_large_pool"] = _large_pool()
    return figures


def _large_pool() -> dict:
    """suggest with a 30,000-row pool: time and peak memory (similarity is computed in blocks)."""
    from workbench.store import Store
    from workbench.suggest.suggest import suggest

    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "big.duckdb")
        pool = pick(30_000, 1_000)
        _build(store, rng, 1000, pool, 50)
        run_id = _run(store, "x", 1000, rng, 0.12)
        t0, c0 = time.perf_counter(), time.process_time()
        res = suggest(store, run_id, per_failure=3)
        return {
            "pool_rows": pool + 50, "failures": sum(v["failures"] for v in res.per_category.values()),
            "suggestions": len(res.rows), "seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(time.process_time() - c0, 1),
            "peak_rss_mb": peak_rss_mb(),
        }


def _demo_targeting() -> dict:
    import numpy as np

    from bench import ROOT
    from workbench.run.suites import load_suite
    from workbench.suggest.pool import PoolRow
    from workbench.suggest.similarity import SIMILARITIES, similarity_matrix

    suite = load_suite(ROOT / "suites" / "demo.yaml")
    ev, tr = suite.split("eval"), suite.split("train")
    q = [PoolRow(i.id, i.prompt or "", i.context).text for i in ev]
    d = [PoolRow(i.id, i.prompt or "", i.context).text for i in tr]
    out = {}
    for method in SIMILARITIES:
        top = np.argsort(-similarity_matrix(q, d, method), axis=1, kind="stable")[:, :3]
        same = [ev[a].tags[1:] == tr[b].tags[1:] for a, row in enumerate(top) for b in row]
        out[method] = round(float(np.mean(same)), 3)
    kinds = [tuple(i.tags[1:]) for i in tr]
    out["chance"] = round(float(np.mean([kinds.count(tuple(i.tags[1:])) / len(kinds)
                                         for i in ev])), 3)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
