"""Quality of the length check: natural answers vs copies with injected length errors.

Source: HaluEval general_dev responses labelled hallucination "no" (see bench.checks_repetition).
For every answer, seeded and randomised:

- negatives (untouched output): the plain record; the prompt plus a length limit the answer
  satisfies (phrased in one of many ways, counted with a plain ``split()``/regex counter, not the
  check's own); the answer with a reference of similar length (itself, or itself less a
  sentence holding at most a fifth of its words);
- positives: the answer cut mid-sentence (no finish reason given, as with outputs from logs); the
  answer followed by rambling (sentences from other answers) with the original as reference; the
  prompt plus a limit the answer breaks.

Answers are split dev/held-out by a hash of their id; both are reported.

    python -m bench.checks_length
"""

from __future__ import annotations

import json
import random
import re
import sys

from bench.checks_repetition import load_natural
from workbench.check.checks import Record

SEED = 7_2026
NUMBER_WORDS = "zero one two three four five six seven eight nine ten".split()

# phrasings of limits, filled with a number (as digits or words) and a unit
MAX_TEMPLATES = [
    "Answer in at most {n} {unit}.",
    "Keep your answer under {n} {unit}.",
    "Use no more than {n} {unit}.",
    "Respond in {n} {unit} or less.",
    "Your response should not exceed {n} {unit}.",
    "Limit your answer to {n} {unit}.",
    "(Maximum {n} {unit}.)",
    "Please answer in fewer than {n} {unit}.",
    "Write it in {n} {unit} or fewer.",
    "Reply with a maximum of {n} {unit}.",
    "Keep it within {n} {unit}.",
    "Answer in less than {n} {unit}.",
    "Do not write more than {n} {unit}.",
    "in no more than {n} {unit}",
]
TARGET_TEMPLATES = [
    "Answer in {n} {unit}.",
    "Respond in exactly {n} {unit}.",
    "Explain it in {n} {unit}.",
]
SINGLE_TEMPLATES = {
    "words": ["Give a one-word answer.", "Answer in one word.", "Reply with a single word."],
    "sentences": [
        "Answer in one sentence.",
        "Respond in a single sentence.",
        "Give a one-sentence answer.",
        "Summarize in one sentence.",
    ],
    "paragraphs": ["Answer in one paragraph.", "Keep it to a single paragraph."],
}


_MARKERS = re.compile(r"(?m)^\s*\d{1,3}[.)]\s")


def naive_count(text: str, unit: str) -> int:
    """Counting as a reader might, independent of the check's own counters."""
    if unit == "words":
        return len(text.split())
    if unit == "characters":
        return len(text)
    if unit == "sentences":
        text = _MARKERS.sub("", text)  # "1." opening a list item ends no sentence
        return max(
            1,
            len(re.findall(r"[.!?]+(?=\s|$)", text)) + (0 if re.search(r"[.!?]\s*$", text) else 1),
        )
    if unit == "paragraphs":
        return len([p for p in re.split(r"\n\s*\n", text) if p.strip()])
    raise ValueError(unit)


def _num(n: int, rng: random.Random) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) and rng.random() < 0.5 else str(n)


def _phrase(n: int, unit: str, rng: random.Random, templates: list[str]) -> str:
    if n == 1 and unit in SINGLE_TEMPLATES and rng.random() < 0.7:
        return rng.choice(SINGLE_TEMPLATES[unit])
    u = unit if n != 1 else unit[:-1]
    return rng.choice(templates).format(n=_num(n, rng), unit=u)


def _with_limit(prompt: str, phrase: str, rng: random.Random) -> str:
    return f"{prompt.rstrip()} {phrase}" if rng.random() < 0.7 else f"{phrase} {prompt}"


def satisfied_limit(text: str, rng: random.Random) -> str:
    unit = rng.choice(["words", "words", "sentences", "paragraphs", "characters"])
    count = naive_count(text, unit)
    if unit == "words":
        n = count + rng.randint(0, max(2, count // 3))
        n = int(-(-n // 10) * 10) if rng.random() < 0.6 else n  # round up, as people do
    elif unit == "characters":
        n = int(-(-(count + rng.randint(0, 100)) // 50) * 50)
    else:
        n = count + rng.randint(0, 2)
    templates = (
        MAX_TEMPLATES if unit in ("words", "characters") or rng.random() < 0.7 else TARGET_TEMPLATES
    )
    return _phrase(n, unit, rng, templates)


def violated_limit(text: str, rng: random.Random) -> str | None:
    options = []
    words = naive_count(text, "words")
    sents = naive_count(text, "sentences")
    paras = naive_count(text, "paragraphs")
    if words >= 8:
        options += ["words", "words"]
    if sents >= 2:
        options.append("sentences")
    if paras >= 2:
        options.append("paragraphs")
    if len(text) >= 120:
        options.append("characters")
    if not options:
        return None
    unit = rng.choice(options)
    count = {"words": words, "sentences": sents, "paragraphs": paras, "characters": len(text)}[unit]
    if unit in ("words", "characters"):
        n = max(1, int(count * rng.uniform(0.2, 0.75)))
        if unit == "words" and rng.random() < 0.5:
            n = max(10, n // 10 * 10) if n >= 10 else n
        if n >= count * 0.8:
            n = max(1, int(count * 0.5))
        templates = MAX_TEMPLATES if rng.random() < 0.8 else TARGET_TEMPLATES
    else:
        n = rng.randint(1, max(1, count - 1))
        if n >= count:
            return None
        templates = MAX_TEMPLATES
    return _phrase(n, unit, rng, templates)


_SENT_RE = re.compile(r"[^.!?\n]+[.!?]")


def truncate(text: str, rng: random.Random) -> str | None:
    """Cut inside a sentence: at a word boundary (most often) or inside a word."""
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    if len(spans) < 6:
        return None
    # a cut point whose word does not end a sentence, not in the first few words
    # ... that is not at the end of a line (a cut there leaves a whole list item or verse line)
    cands = [
        i
        for i in range(3, len(spans) - 1)
        if not re.search(r"[.!?:]$", text[spans[i][0] : spans[i][1]])
        and not text[spans[i][1] : spans[i + 1][0]].count("\n")
    ]
    if not cands:
        return None
    i = rng.choice(cands)
    a, b = spans[i]
    if rng.random() < 0.2 and b - a >= 5:
        return text[: a + rng.randint(2, b - a - 2)]
    return text[:b].rstrip(",;")


def ramble(text: str, pool: list[str], rng: random.Random) -> str:
    """The answer, then sentences it has no reason to say: 40-150% more words."""
    target = int(len(text.split()) * rng.uniform(0.4, 1.5)) + 1
    extra: list[str] = []
    while sum(len(s.split()) for s in extra) < target:
        extra.append(rng.choice(pool))
    joiner = "\n\n" if rng.random() < 0.4 else " "
    return text + joiner + " ".join(extra)


def _drop_sentence(text: str, rng: random.Random) -> str:
    """The answer less one of its sentences (one holding at most a fifth of its words): a
    reference of about the answer's length."""
    words = len(text.split())
    ss = [m for m in _SENT_RE.finditer(text) if len(m.group().split()) <= words / 5]
    if not ss:
        return text
    m = rng.choice(ss)
    return text[: m.start()] + text[m.end() :]


def build(rows: list[dict], seed: int = SEED) -> list[tuple[str, str, Record, int]]:
    rng = random.Random(seed)
    pool = [
        m.group().strip()
        for r in rows
        for m in _SENT_RE.finditer(r["output"])
        if len(m.group().split()) >= 6
    ]
    out: list[tuple[str, str, Record, int]] = []
    for r in rows:
        rid, prompt, text, split = r["id"], r["prompt"], r["output"], r["split"]
        out.append((split, "natural", Record(rid, prompt, text), 0))
        p = _with_limit(prompt, satisfied_limit(text, rng), rng)
        out.append((split, "natural+limit", Record(rid + "-lim", p, text), 0))
        # a reference of about the answer's length: itself, or itself less a short sentence
        ref = text if rng.random() < 0.5 else _drop_sentence(text, rng)
        out.append(
            (split, "natural+reference", Record(rid + "-ref", prompt, text, reference=ref), 0)
        )
        cut = truncate(text, rng)
        if cut:
            out.append((split, "truncated", Record(rid + "-cut", prompt, cut), 1))
        out.append(
            (
                split,
                "rambling",
                Record(rid + "-ramble", prompt, ramble(text, pool, rng), reference=text),
                1,
            )
        )
        bad = violated_limit(text, rng)
        if bad:
            out.append(
                (
                    split,
                    "limit_violated",
                    Record(rid + "-over", _with_limit(prompt, bad, rng), text),
                    1,
                )
            )
    return out


KINDS = ["truncated", "rambling", "limit_violated"]
NEG_KINDS = ["natural", "natural+limit", "natural+reference"]


def measure(data, check) -> dict:
    findings = {f.record_id: f for f in check.run([d[2] for d in data])}
    figures: dict = {}
    for split in ("dev", "heldout"):
        part = [d for d in data if d[0] == split]
        neg = [d for d in part if d[3] == 0]
        pos = [d for d in part if d[3] == 1]

        def rate(ds):
            return round(sum(findings[d[2].id].flagged for d in ds) / max(1, len(ds)), 4)

        figures[split] = {
            "negatives": len(neg),
            "positives": len(pos),
            "recall": rate(pos),
            "fpr": rate(neg),
            "recall_by_kind": {k: rate([d for d in pos if d[1] == k]) for k in KINDS},
            "fpr_by_kind": {k: rate([d for d in neg if d[1] == k]) for k in NEG_KINDS},
        }
    return figures


def run() -> dict:
    rows = load_natural()
    if rows is None:
        print(
            "skipped: shared data not found (halueval/general_dev.jsonl); set WORKBENCH_SHARED_DATA",
            file=sys.stderr,
        )
        return {"skipped": "shared data absent"}
    from workbench_checks.length import LengthCheck

    figures = measure(build(rows), LengthCheck())
    figures["bar"] = "recall >= 0.95 at fpr <= 0.03"
    return figures


def misses(split: str = "dev", limit: int = 25) -> None:
    """Print missed positives and false positives (for development)."""
    from workbench_checks.length import LengthCheck

    data = build(load_natural() or [])
    f = {x.record_id: x for x in LengthCheck().run([d[2] for d in data])}
    for d in [d for d in data if d[0] == split and d[3] and not f[d[2].id].flagged][:limit]:
        print(
            "MISS",
            d[1],
            round(f[d[2].id].score, 2),
            repr(d[2].prompt[-80:]),
            repr(d[2].output[-150:]),
        )
    for d in [d for d in data if d[0] == split and not d[3] and f[d[2].id].flagged][:limit]:
        print("FP", d[1], f[d[2].id].message, repr(d[2].prompt[-80:]), repr(d[2].output[-100:]))


if __name__ == "__main__":
    if "--misses" in sys.argv:
        misses()
    else:
        print(json.dumps(run(), indent=2))
