"""The hallucination check on model-written abstractive summaries (FRANK, validation split).

FRANK (Pagnoni et al., 2021) has people judge the factuality of summaries that nine models wrote
of CNN/DailyMail and BBC (XSum) articles. Records: context = the article, output = a summary;
a summary every annotator judged factual (``Factuality`` 1.0) is a negative, one none did (0.0) a
positive (mixed verdicts are left out). Only FRANK's validation split is read; its test split is
not used. The summaries are lowercased and tokenised as the models wrote them ("study 's").

The data is not part of the project: point ``$WORKBENCH_FRANK`` at a folder holding FRANK's
``human_annotations.json`` and ``validation_split.txt`` (github.com/artidoro/frank, ``data/``)
and an ``articles/`` folder with one ``<hash>.json`` per validation article (``data/
articles-wbertscore-json/`` at commit 5860706 of that repository: the article and every model's
summary). Without it the benchmark says so and is skipped.

Figures: the flag rate on faithful summaries and the recall on unfaithful ones at the check's
threshold, ROC-AUC of the score, and the lowest flag rate on faithful summaries at which recall
reaches 0.60 (the bar: at most 0.30).

    WORKBENCH_FRANK=/path/to/frank python -m bench.checks_hallucination_summaries
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bench.checks_hallucination import roc_auc
from workbench.check.checks import Record


def source() -> Path | None:
    env = os.environ.get("WORKBENCH_FRANK")
    path = Path(env) if env else None
    if path is None or not (path / "human_annotations.json").is_file():
        return None
    return path


def load(root: Path) -> list[tuple[Record, int, str]]:
    """(record, label, dataset) for each validation summary with a unanimous verdict."""
    valid = set((root / "validation_split.txt").read_text().split())
    out = []
    for row in json.loads((root / "human_annotations.json").read_text()):
        if row["hash"] not in valid:
            continue
        fact = float(row["Factuality"])
        if fact not in (0.0, 1.0):
            continue
        path = root / "articles" / f"{row['hash']}.json"
        if not path.is_file():
            continue
        art = json.loads(path.read_text())
        summary = art.get(row["model_name"])
        if not summary:
            continue
        rec = Record(
            id=f"{row['hash']}:{row['model_name']}",
            prompt="Summarise the article.",
            output=summary,
            context=art["article"],
        )
        out.append((rec, int(fact == 0.0), row["dataset"]))
    return out


def _figures(scores: list[float], flags: list[bool], labels: list[int]) -> dict:
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    pos = sorted((s for s, y in zip(scores, labels, strict=True) if y), reverse=True)
    # the highest threshold that still catches 60% of the unfaithful summaries
    need = max(1, -(-6 * len(pos) // 10))
    at = pos[need - 1] if len(pos) >= need else None
    return {
        "summaries": len(labels),
        "unfaithful": sum(labels),
        "flag_rate_faithful": round(
            sum(f for f, y in zip(flags, labels, strict=True) if not y) / max(1, len(neg)), 3
        ),
        "recall": round(
            sum(f for f, y in zip(flags, labels, strict=True) if y) / max(1, len(pos)), 3
        ),
        "roc_auc": round(roc_auc(scores, labels), 3) if pos and neg else None,
        "flag_rate_faithful_at_recall_0.60": (
            round(sum(s >= at for s in neg) / len(neg), 3) if at is not None and neg else None
        ),
    }


def run() -> dict:
    from workbench_checks.hallucination import HallucinationCheck

    root = source()
    if root is None:
        print("FRANK data not found (set WORKBENCH_FRANK); summary figures skipped", file=sys.stderr)
        return {"skipped": "set WORKBENCH_FRANK to a folder with FRANK's annotations"}
    rows = load(root)
    findings = list(HallucinationCheck().run([r for r, _, _ in rows]))
    out: dict = {}
    for name in ("all", "cnndm", "bbc"):
        idx = [i for i, (_, _, d) in enumerate(rows) if name in ("all", d)]
        out[name] = _figures(
            [findings[i].score for i in idx],
            [findings[i].flagged for i in idx],
            [rows[i][1] for i in idx],
        )
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
