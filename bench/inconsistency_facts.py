"""Does sampled disagreement predict a wrong answer? The demo's facts suite on the real model.

The 64 eval items of ``facts`` (questions about fictional places, answered from a context; the
``answer`` metric says whether the fact asked for is in the output) run through
``workbench.run.runner.run_suite`` on SmolLM2-135M-Instruct with five answers per item: the greedy
one and four samples at temperature 0.7 (what ``workbench run --samples 5`` does to a greedy
suite). Per item, the greedy answer is wrong when its ``answer`` metric is 0.

Figures: ROC-AUC of the inconsistency score, of the hallucination check's score on the greedy
answer, and of their mean; the inconsistency flags at the default threshold.

    python -m bench.inconsistency_facts [--db FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from bench import quick
from bench.checks_hallucination import roc_auc

FACTS = Path(__file__).resolve().parents[1] / "workbench" / "demo" / "data" / "facts.yaml"


def run(db: str | None = None) -> dict:
    from workbench.demo.real_model import ensure_real_model
    from workbench.run.models import load_model
    from workbench.run.runner import run_suite, select_checks
    from workbench.run.suites import load_suite
    from workbench.store import Store

    suite = load_suite(FACTS).with_samples(5)
    with tempfile.TemporaryDirectory() as tmp:
        if quick():  # a tiny random model on eight items: checks that the benchmark works
            from workbench.demo.tiny import build_tiny_llama, build_tokenizer

            suite.items = suite.items[:8]
            tok = build_tokenizer([(i.prompt or "") + " " + (i.context or "")
                                   for i in suite.items], 300)
            build_tiny_llama(Path(tmp) / "tiny", tok)
            model = str(Path(tmp) / "tiny")
        else:
            model = str(ensure_real_model())
        store = Store(db or Path(tmp) / "f.duckdb")
        loaded = load_model(model, "smollm2", device="cpu")
        checks = select_checks(suite, ["inconsistency", "hallucination"])
        res = run_suite(store, loaded, suite, batch_size=20, checks=checks, progress=False)
        outs, found = store.run_outputs(res.run_id), store.run_findings(res.run_id)
    wrong = {r.item_id: (json.loads(r.metrics) or {}).get("answer") == 0
             for r in outs.itertuples()}
    ids = sorted(wrong)
    y = [int(wrong[i]) for i in ids]

    def scores(check: str) -> list[float]:
        by = found[found.check_name == check].set_index("item_id").score
        return [float(by.get(i, 0.0)) for i in ids]

    inc, hal = scores("inconsistency"), scores("hallucination")
    flagged = set(found[(found.check_name == "inconsistency") & found.flagged].item_id)
    both = 0 < sum(y) < len(y)
    return {
        "items": len(ids), "wrong": sum(y), "answers_per_item": 5,
        "roc_auc_inconsistency": round(roc_auc(inc, y), 3) if both else None,
        "roc_auc_hallucination": round(roc_auc(hal, y), 3) if both else None,
        "roc_auc_combined": round(roc_auc([(a + b) / 2 for a, b in zip(inc, hal, strict=True)],
                                          y), 3) if both else None,
        "flagged": len(flagged), "flagged_wrong": sum(wrong[i] for i in flagged),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None, help="keep the run in this database")
    a = ap.parse_args()
    os.environ.setdefault("WORKBENCH_THREADS", "1")
    print(json.dumps(run(a.db), indent=2))
