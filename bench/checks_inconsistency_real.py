"""The inconsistency check on a real model's sampled answers: does disagreement predict a wrong
answer?

bench/realdata/halueval_qa_smollm2_samples.jsonl holds, for HaluEval QA dev items, six answers of
SmolLM2-135M-Instruct each (made by ``python -m bench._samples_generate``): the greedy answer and
four samples at temperature 0.7, up to 40 new tokens. The greedy answers are the ones labelled by
hand in halueval_qa_smollm2.jsonl (``correct``: does the answer give the right answer to the
question; labelled at 64 new tokens, so the shorter greedy answer must be its prefix); items whose
greedy answer is not are left out and counted.

Figures: ROC-AUC of the inconsistency score for "the greedy answer is wrong", beside the
hallucination check's score on the same greedy answers (item knowledge as context) and the two
combined (their mean); precision and recall of the inconsistency flags at the default threshold.

    python -m bench.checks_inconsistency_real [--show flags|passes]
"""

from __future__ import annotations

import argparse
import json
import sys

from bench import ROOT, limit, shared_data_dir
from bench.checks_hallucination import SOURCE, roc_auc
from workbench.check.checks import Record

SAMPLES = ROOT / "bench" / "realdata" / "halueval_qa_smollm2_samples.jsonl"
LABELS = ROOT / "bench" / "realdata" / "halueval_qa_smollm2.jsonl"


def load() -> tuple[list[tuple[Record, bool]], int] | None:
    """(record with its samples, greedy answer wrong) per usable item, and how many items were
    left out because the greedy answer is not the labelled one; None without the shared data."""
    from bench._halueval_generate import user_turn

    root = shared_data_dir()
    if root is None or not (root / SOURCE).is_file() or not SAMPLES.is_file():
        return None
    items = {}
    for line in (root / SOURCE).read_text().splitlines():
        it = json.loads(line)
        items[it["id"]] = it
    labelled = {}
    for line in LABELS.read_text().splitlines():
        row = json.loads(line)
        if row["labels"].get("correct") is not None:
            labelled[row["source_id"]] = row
    out, skipped = [], 0
    for line in SAMPLES.read_text().splitlines():
        row = json.loads(line)
        lab = labelled.get(row["source_id"])
        if lab is None:
            continue
        answers = row["answers"]
        # generated with a smaller max_new_tokens, the greedy answer is a prefix of the labelled
        if not lab["output"].strip().startswith(answers[0].strip()) or not answers[0].strip():
            skipped += 1
            continue
        it = items[row["source_id"]]
        rec = Record(id=row["source_id"], prompt=user_turn(it["knowledge"], it["question"]),
                     output=answers[0], context=it["knowledge"], samples=tuple(answers))
        out.append((rec, not lab["labels"]["correct"]))
    return out, skipped


def run(show: str | None = None) -> dict:
    loaded = load()
    if loaded is None:
        return {"skipped": "shared data (halueval/qa_dev.jsonl) or the samples file is absent"}
    rows, skipped = loaded
    rows = limit(rows, 20)
    from workbench_checks.hallucination import HallucinationCheck
    from workbench_checks.inconsistency import InconsistencyCheck

    inc, hal = InconsistencyCheck(), HallucinationCheck()
    inc_f = [next(iter(inc.run([rec]))) for rec, _ in rows]
    # the hallucination check reads the question, not the whole chat prompt
    hal_f = list(hal.run([Record(id=rec.id, prompt=rec.prompt.rsplit("Question: ", 1)[-1],
                                 output=rec.output, context=rec.context) for rec, _ in rows]))
    wrong = [int(w) for _, w in rows]
    inc_s = [f.score for f in inc_f]
    hal_s = [f.score for f in hal_f]
    tp = sum(f.flagged and w for f, w in zip(inc_f, wrong, strict=True))
    flagged = sum(f.flagged for f in inc_f)
    if show:
        for (rec, w), f in zip(rows, inc_f, strict=True):
            if f.flagged == (show == "flags"):
                print(f"--- {rec.id} wrong={w} score={f.score:.2f} {f.message}", file=sys.stderr)
                for a in rec.samples:
                    print(f"    {a[:110]!r}", file=sys.stderr)
    return {
        "items": len(rows), "left_out_greedy_differs": skipped, "wrong": sum(wrong),
        "answers_per_item": len(rows[0][0].samples) if rows else 0,
        "roc_auc_inconsistency": round(roc_auc(inc_s, wrong), 3),
        "roc_auc_hallucination": round(roc_auc(hal_s, wrong), 3),
        "roc_auc_combined": round(roc_auc([(a + b) / 2 for a, b in zip(inc_s, hal_s,
                                                                        strict=True)], wrong), 3),
        "flagged": flagged,
        "precision": round(tp / flagged, 3) if flagged else None,
        "recall": round(tp / sum(wrong), 3) if sum(wrong) else None,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show", choices=["flags", "passes"])
    print(json.dumps(run(ap.parse_args().show), indent=2))
