"""The hallucination check on real model outputs, each labelled by hand.

bench/realdata/halueval_qa_smollm2.jsonl holds answers of SmolLM2-135M-Instruct to HaluEval QA
dev items (the item's knowledge as context; made by ``python -m bench._halueval_generate``),
each read against the knowledge and labelled (rules: docs/labelling-hallucination.md). The file keeps
only the item id: context, question and right answer are joined from the shared dev file here.

Figures: precision and recall of the flags against the ``hallucination`` label, false flags per
1,000 output words, ROC-AUC of the score; for all outputs and for the two halves of the
benchmark's hash split (``bench.checks_hallucination.split_of``: "dev" was read while the rules
were written and the threshold chosen, "heldout" only measured).

    python -m bench.checks_hallucination_real [--file FILE] [--show flags|passes|misses|wrong]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench import ROOT, shared_data_dir
from bench.checks_hallucination import SOURCE, roc_auc, split_of
from workbench.check.checks import Record

SET = ROOT / "bench" / "realdata" / "halueval_qa_smollm2.jsonl"


def load(path: Path = SET) -> list[tuple[dict, Record, dict]] | None:
    """(row, record, item) per labelled output; None when the shared dev file is absent."""
    root = shared_data_dir()
    if root is None or not (root / SOURCE).is_file():
        return None
    items = {}
    for line in (root / SOURCE).read_text().splitlines():
        it = json.loads(line)
        items[it["id"]] = it
    out = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row.get("source") != "halueval_qa_dev" or row["labels"].get("hallucination") is None:
            continue
        it = items[row["source_id"]]
        rec = Record(
            id=row["source_id"],
            prompt=it["question"],
            output=row["output"],
            context=it["knowledge"],
        )
        out.append((row, rec, it))
    return out


def figures(findings, rows) -> dict:  # noqa: ANN001
    labels = [bool(r["labels"]["hallucination"]) for r, _, _ in rows]
    flags = [f.flagged for f in findings]
    tp = sum(f and y for f, y in zip(flags, labels, strict=True))
    fp = sum(f and not y for f, y in zip(flags, labels, strict=True))
    words = sum(len(rec.output.split()) for _, rec, _ in rows)
    pos = sum(labels)
    return {
        "outputs": len(rows),
        "positives": pos,
        "flagged": tp + fp,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / pos, 3) if pos else None,
        "false_flags_per_1000_words": round(1000 * fp / max(1, words), 2),
        "roc_auc": (
            round(roc_auc([f.score for f in findings], [int(y) for y in labels]), 3)
            if 0 < pos < len(rows)
            else None
        ),
        "flags_without_span": sum(f.flagged and not f.spans for f in findings),
    }


def run(path: Path = SET, show: str | None = None) -> dict:
    from workbench_checks.hallucination import HallucinationCheck

    if not path.is_file():
        return {"skipped": f"{path} not found"}
    rows = load(path)
    if rows is None:
        print(f"shared data not found ({SOURCE}); real-output figures skipped", file=sys.stderr)
        return {"skipped": f"{SOURCE} not found (set WORKBENCH_SHARED_DATA)"}
    check = HallucinationCheck()
    findings = list(check.run([rec for _, rec, _ in rows]))
    out: dict = {"threshold": check.options.threshold, "all": figures(findings, rows)}
    # answers generated and labelled after check version 3, before it was run on them: blind
    blind = [i for i, (row, _, _) in enumerate(rows) if row.get("labelled_after_check_version")]
    for split in ("dev", "heldout"):
        idx = [i for i, (_, rec, _) in enumerate(rows)
               if split_of(rec.id) == split and i not in blind]
        out[split] = figures([findings[i] for i in idx], [rows[i] for i in idx])
    if blind:
        out["labelled_after_version_3"] = figures([findings[i] for i in blind],
                                                  [rows[i] for i in blind])
    if show:
        _show(findings, rows, show)
    return out


def _show(findings, rows, what: str) -> None:  # noqa: ANN001
    """Print outputs for reading: flags, passes, misses (unflagged positives) or wrong flags."""
    for f, (row, rec, it) in zip(findings, rows, strict=True):
        y = bool(row["labels"]["hallucination"])
        keep = {
            "flags": f.flagged,
            "passes": not f.flagged,
            "misses": y and not f.flagged,
            "wrong": f.flagged and not y,
        }[what]
        if keep:
            print(f"=== {rec.id} label={y} score={f.score:.2f} flagged={f.flagged}")
            print(f"K: {rec.context}\nQ: {rec.prompt} | RIGHT: {it['right_answer']}")
            print(f"O: {rec.output}\n-> {f.message}\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=SET)
    ap.add_argument("--show", choices=("flags", "passes", "misses", "wrong"))
    a = ap.parse_args(argv)
    print(json.dumps(run(a.file, a.show), indent=2))


if __name__ == "__main__":
    main()
