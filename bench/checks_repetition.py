"""Quality of the repetition check: natural answers vs copies with injected degeneration.

Negatives: HaluEval general_dev responses labelled hallucination "no" (ChatGPT answers written for
real user queries), untouched. Positives: a copy of each with one kind of degeneration injected
(seeded, randomised): word stutters, a sentence looping, a phrase looping at the tail, a block of
sentences looping, a paragraph or sentence duplicated further on, a loop that runs into the token
limit. Answers are split by a hash of their id into a dev part (used while building the check) and a
held-out part (only measured); both are reported.

    python -m bench.checks_repetition
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from collections.abc import Callable

from bench import limit, shared_data_dir
from workbench.check.checks import Record

SOURCE = "halueval/general_dev.jsonl"
SEED = 20261121


def split_of(key: str) -> str:
    """A stable split: about one third of answers held out, by a hash of their id."""
    return "heldout" if int(hashlib.md5(key.encode()).hexdigest(), 16) % 3 == 0 else "dev"


def load_natural() -> list[dict] | None:
    """Natural answers: {id, prompt, output, split}; None when the shared data is absent."""
    root = shared_data_dir()
    if root is None or not (root / SOURCE).is_file():
        return None
    rows = []
    for line in (root / SOURCE).read_text().splitlines():
        item = json.loads(line)
        if item.get("hallucination") != "no" or not item["chatgpt_response"].strip():
            continue
        rows.append(
            {
                "id": str(item["ID"]),
                "prompt": item["user_query"],
                "output": item["chatgpt_response"].strip(),
                "split": split_of(str(item["ID"])),
            }
        )
    return limit(rows, 80)  # BENCH_QUICK=1: a smoke run on the first 80


# -- injections -------------------------------------------------------------------------------
_SENT = re.compile(r"[^.!?\n]+[.!?]+")
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


def _sentences(text: str) -> list[re.Match]:
    return [m for m in _SENT.finditer(text) if len(m.group().split()) >= 3]


def stutter(text: str, rng: random.Random) -> str:
    """One word written 2-6 times in a row ("the the the")."""
    ws = list(_WORD.finditer(text))
    m = rng.choice(ws)
    copies = rng.choice([2, 3, 3, 4, 5, 6])
    return text[: m.end()] + (" " + m.group()) * (copies - 1) + text[m.end() :]


def sentence_loop(text: str, rng: random.Random) -> str:
    """A sentence repeated 2-6 more times back to back, the rest of the answer kept or dropped."""
    ss = _sentences(text) or [re.match(r".+", text)]
    m = rng.choice(ss)
    s = m.group().strip()
    loop = (" " + s) * rng.randint(2, 6)
    tail = text[m.end() :] if rng.random() < 0.5 else ""
    return text[: m.end()] + loop + tail


def tail_phrase_loop(text: str, rng: random.Random) -> str:
    """The last few words repeated at the end of the generation, as a model stuck in a loop."""
    body = text.rstrip(" .!?\n")
    ws = body.split()
    k = rng.randint(2, 8)
    phrase = " ".join(ws[-k:])
    sep = rng.choice([" ", ", ", ". ", "... "])
    return body + (sep + phrase) * rng.randint(2, 7)


def block_loop(text: str, rng: random.Random) -> str:
    """Two or three consecutive sentences repeated as a block, two or more times."""
    ss = _sentences(text)
    if len(ss) < 3:
        return sentence_loop(text, rng)
    k = rng.randint(2, 3)
    i = rng.randint(0, len(ss) - k)
    block = text[ss[i].start() : ss[i + k - 1].end()].strip()
    end = ss[i + k - 1].end()
    return text[:end] + (" " + block) * rng.randint(2, 3) + text[end:]


def duplicate_block(text: str, rng: random.Random) -> str:
    """A paragraph (or a sentence) copied again, right after or further on."""
    paras = [p for p in text.split("\n\n") if len(p.split()) >= 8]
    if len(paras) >= 2 and rng.random() < 0.6:
        p = rng.choice(paras)
        if rng.random() < 0.5:
            return text.replace(p, p + "\n\n" + p, 1)
        return text + "\n\n" + p
    ss = _sentences(text)
    if len(ss) < 2:
        return text + " " + text
    m = rng.choice(ss[:-1])
    later = rng.choice([x for x in ss if x.start() > m.start()])
    return text[: later.end()] + " " + m.group().strip() + text[later.end() :]


def loop_to_limit(text: str, rng: random.Random) -> str:
    """A sentence looping until the token limit cuts the last copy mid-way."""
    ss = _sentences(text) or [re.match(r".+", text)]
    s = rng.choice(ss).group().strip()
    looped = text[: text.find(s) + len(s)] + (" " + s) * rng.randint(2, 5)
    cut = rng.randint(1, max(1, len(s.split()) - 1))
    return looped + " " + " ".join(s.split()[:cut])


INJECTIONS: dict[str, Callable[[str, random.Random], str]] = {
    "stutter": stutter,
    "sentence_loop": sentence_loop,
    "tail_phrase_loop": tail_phrase_loop,
    "block_loop": block_loop,
    "duplicate_block": duplicate_block,
    "loop_to_limit": loop_to_limit,
}


def build(rows: list[dict], seed: int = SEED) -> list[tuple[str, str, Record, int]]:
    """(split, kind, record, label): each natural answer untouched, plus one injected copy."""
    rng = random.Random(seed)
    out = []
    kinds = list(INJECTIONS)
    for r in rows:
        out.append((r["split"], "natural", Record(r["id"], r["prompt"], r["output"]), 0))
        kind = rng.choice(kinds)
        bad = INJECTIONS[kind](r["output"], rng)
        out.append((r["split"], kind, Record(r["id"] + "-" + kind, r["prompt"], bad), 1))
    return out


def measure(data: list[tuple[str, str, Record, int]], check) -> dict:
    """Recall (per kind and overall) and false-positive rate, per split."""
    findings = {f.record_id: f for f in check.run([d[2] for d in data])}
    figures: dict = {}
    for split in ("dev", "heldout"):
        part = [d for d in data if d[0] == split]
        neg = [d for d in part if d[3] == 0]
        pos = [d for d in part if d[3] == 1]
        fp = [d for d in neg if findings[d[2].id].flagged]
        tp = [d for d in pos if findings[d[2].id].flagged]
        per_kind = {}
        for kind in INJECTIONS:
            k = [d for d in pos if d[1] == kind]
            if k:
                per_kind[kind] = round(sum(findings[d[2].id].flagged for d in k) / len(k), 4)
        figures[split] = {
            "negatives": len(neg),
            "positives": len(pos),
            "recall": round(len(tp) / max(1, len(pos)), 4),
            "fpr": round(len(fp) / max(1, len(neg)), 4),
            "recall_by_kind": per_kind,
        }
    return figures


def run() -> dict:
    rows = load_natural()
    if rows is None:
        print(
            f"skipped: shared data not found ({SOURCE}); set WORKBENCH_SHARED_DATA", file=sys.stderr
        )
        return {"skipped": "shared data absent"}
    from workbench_checks.repetition import RepetitionCheck

    data = build(rows)
    figures = measure(data, RepetitionCheck())
    figures["bar"] = "recall >= 0.95 at fpr <= 0.02"
    return figures


def misses(split: str = "dev", limit: int = 20) -> None:
    """Print missed positives and false positives (for development)."""
    from workbench_checks.repetition import RepetitionCheck

    data = build(load_natural() or [])
    check = RepetitionCheck()
    f = {x.record_id: x for x in check.run([d[2] for d in data])}
    fn = [d for d in data if d[0] == split and d[3] and not f[d[2].id].flagged]
    fp = [d for d in data if d[0] == split and not d[3] and f[d[2].id].flagged]
    for d in fn[:limit]:
        print("MISS", d[1], f[d[2].id].score, repr(d[2].output[-300:]))
    for d in fp[:limit]:
        print("FP", f[d[2].id].message, repr(d[2].output[:300]))


if __name__ == "__main__":
    if "--misses" in sys.argv:
        misses()
    else:
        print(json.dumps(run(), indent=2))
