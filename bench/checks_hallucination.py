"""Quality and speed of the hallucination check on HaluEval QA (public labelled dev data).

Each QA item gives a question, its knowledge paragraph and a right answer plus hallucinated
answers. Records: context = knowledge, prompt = question, output = an answer; the right answer is
a negative, each distinct hallucinated answer a positive. Items are split by a hash of their id
into a dev part (used while building the check) and a held-out part (only measured), and both are
reported, with a bag-of-words overlap baseline beside the check.

    python -m bench.checks_hallucination
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time

from bench import limit, pick, shared_data_dir
from workbench.check.checks import Record

SOURCE = "halueval/qa_dev.jsonl"


def split_of(key: str) -> str:
    """A stable split: about one third of items held out, by a hash of their id."""
    return "heldout" if int(hashlib.md5(key.encode()).hexdigest(), 16) % 3 == 0 else "dev"


def load() -> list[tuple[str, Record, int]] | None:
    """(split, record, label) for every answer of every QA item; None when the data is absent."""
    root = shared_data_dir()
    if root is None or not (root / SOURCE).is_file():
        return None
    rows = []
    for line in (root / SOURCE).read_text().splitlines():
        item = json.loads(line)
        split = split_of(item["id"])
        answers = [(item["right_answer"], 0)]
        answers += [(h, 1) for h in dict.fromkeys(item["hallucinated_answers"])]
        for k, (answer, label) in enumerate(answers):
            rec = Record(
                id=f"{item['id']}-{k}",
                prompt=item["question"],
                output=answer,
                context=item["knowledge"],
            )
            rows.append((split, rec, label))
    return limit(rows, 60)  # BENCH_QUICK=1: a smoke run on the first 60


def roc_auc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    pairs = sorted(zip(scores, labels, strict=True))
    ranks = [0.0] * len(pairs)
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(lab for _, lab in pairs)
    neg = len(pairs) - pos
    rank_sum = sum(r for r, (_, lab) in zip(ranks, pairs, strict=True) if lab)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def balanced_accuracy(flags: list[bool], labels: list[int]) -> float:
    pos = [f for f, lab in zip(flags, labels, strict=True) if lab]
    neg = [not f for f, lab in zip(flags, labels, strict=True) if not lab]
    return (sum(pos) / len(pos) + sum(neg) / len(neg)) / 2


_WORD = re.compile(r"\w+")


def overlap_baseline(rec: Record) -> float:
    """Bag-of-words baseline: share of output words absent from the context and question."""
    words = [w.lower() for w in _WORD.findall(rec.output)]
    if not words:
        return 0.0
    seen = {w.lower() for w in _WORD.findall(f"{rec.context} {rec.prompt}")}
    return sum(w not in seen for w in words) / len(words)


def _best_threshold_accuracy(scores: list[float], labels: list[int]) -> float:
    """The baseline has no default threshold: give it its best one (an upper bound)."""
    return max(balanced_accuracy([s >= t for s in scores], labels) for t in sorted(set(scores)))


def _figures(findings, rows) -> dict:
    labels = [lab for _, _, lab in rows]
    scores = [f.score for f in findings]
    base = [overlap_baseline(r) for _, r, _ in rows]
    return {
        "records": len(rows),
        "positives": sum(labels),
        "roc_auc": round(roc_auc(scores, labels), 4),
        "balanced_accuracy": round(balanced_accuracy([f.flagged for f in findings], labels), 4),
        "baseline_roc_auc": round(roc_auc(base, labels), 4),
        "baseline_best_balanced_accuracy": round(_best_threshold_accuracy(base, labels), 4),
    }


_FACTS = [
    "The river Vell flows north through Norland for 340 kilometres before it reaches the sea.",
    "Near the old port of Amber a stone bridge built in 1821 still carries the coast road.",
    "Fishing boats have used the harbour since the twelfth century, and a market opens daily.",
    "In spring the valley floods, so the farmers grow rice and keep their cattle on the hills.",
    "The town council restored the lighthouse in 1994 with money raised by local families.",
    "Visitors walk the cliff path to the ruined abbey, which monks left four centuries ago.",
    "A ferry crosses to the island of Tarn twice a day, weather permitting, all year round.",
    "The museum on the quay shows maps, ship models and letters written by the first mayor.",
]


def speed(n: int = 2000) -> dict:
    """Records/s on 150-word answers, each checked against its own ~200-word context.

    The answers restate the context in other orders; every other one also carries a sentence
    with a number and a name the context lacks (the slow path of the check).
    """
    from workbench_checks.hallucination import HallucinationCheck

    recs = []
    for i in range(n):
        facts = _FACTS[i % 8 :] + _FACTS[: i % 8]
        context = f"Record {i}. " + " ".join(facts + facts[:3])
        answer = " ".join(facts[j % 8] for j in range(3, 13))
        if i % 2:
            answer += f" The bridge was rebuilt by Ilse Varga in {1900 + i % 100}."
        recs.append(
            Record(id=str(i), prompt="Tell me about the Vell.", output=answer, context=context)
        )
    check = HallucinationCheck()
    list(check.run(recs[:2]))  # load the word-frequency list outside the timing
    from workbench_checks.misspelling_lexicon import get_lexicon

    get_lexicon()  # and the dictionary (the first capitalised non-word needs it)
    t0, c0 = time.perf_counter(), time.process_time()
    list(check.run(recs))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # CPU time is what one core delivers on a shared machine; wall clock also counts waiting.
    words = sum(len(r.output.split()) for r in recs) / n
    return {
        "records_per_cpu_s": round(n / cpu),
        "records_per_wall_s": round(n / wall),
        "words_per_output": round(words),
    }


def run() -> dict:
    from workbench_checks.hallucination import HallucinationCheck

    rows = load()
    figures: dict = {"speed_150_words": speed(pick(2000, 100))}
    if rows is None:
        print(f"shared data not found ({SOURCE}); quality figures skipped", file=sys.stderr)
        figures["skipped"] = f"{SOURCE} not found (set WORKBENCH_SHARED_DATA)"
        return figures
    check = HallucinationCheck()
    findings = list(check.run([r for _, r, _ in rows]))
    figures["threshold"] = check.options.threshold
    for split in ("dev", "heldout"):
        idx = [i for i, (s, _, _) in enumerate(rows) if s == split]
        figures[split] = _figures([findings[i] for i in idx], [rows[i] for i in idx])
    figures["all"] = _figures(findings, rows)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
