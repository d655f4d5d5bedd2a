"""Length limits in many phrasings: does the length check read the limit and hold the output to it?

Prompts state one limit (words, sentences, paragraphs with a named separator, bullet points,
characters, lines) as a maximum ("at most", "no more than", "under", "N or fewer", "max N"), a
minimum ("at least", "N or more"), or a target ("a N-word essay", "N words on", "in N
sentences", "exactly N bullet points"), in phrasings written for this benchmark. Each prompt gets
one output that keeps the limit and one that clearly breaks it (for a maximum or target: well
over it; for a minimum or a target of 20+ words: well under it), built from neutral filler text
counted here with plain counters, not the check's own.

Figures: recall (broken limits flagged) and false-positive rate (kept limits flagged), overall
and per unit and per kind, for the phrasings the check was built against ("dev") and for
phrasings written after it was settled and only measured ("heldout"). Bar: recall >= 0.90 at
false-positive rate <= 0.05.

    python -m bench.checks_length_phrasing [--misses]
"""

from __future__ import annotations

import json
import random
import sys

from workbench.check.checks import Record

SEED = 4417
TOPICS = [
    "the history of tea",
    "how bridges stay up",
    "why cats purr",
    "the life of bees",
    "saving money on groceries",
    "learning to swim",
    "the first trains",
    "desert plants",
    "how rain forms",
    "the rules of chess",
    "keeping a garden",
    "city parks",
]
NOUNS = (
    "river garden window teacher market engine winter village letter harbour candle "
    "mountain kitchen bicycle library morning island forest station meadow"
).split()
VERBS = "keeps finds carries shows brings holds opens follows builds changes".split()
ADJS = "quiet bright old small warm careful simple busy gentle steady".split()
NUM_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve").split()

# (unit, kind, template); {n} is the number, {topic} the subject
TEMPLATES = [
    ("words", "max", "Describe {topic} in at most {n} words."),
    ("words", "max", "Tell me about {topic}. No more than {n} words, please."),
    ("words", "max", "Write about {topic} in under {n} words."),
    ("words", "max", "In {n} words or fewer, explain {topic}."),
    ("words", "max", "Explain {topic}; keep the reply below {n} words."),
    ("words", "max", "Say something about {topic} (max {n} words)."),
    ("words", "max", "Explain {topic}. Your answer must not go over {n} words."),
    ("words", "max", "Give an overview of {topic} using fewer than {n} words."),
    ("words", "max", "Word limit: {n}. Topic: {topic}."),
    ("words", "max", "Explain {topic} in {n} words max."),
    ("words", "max", "Describe {topic} in a maximum of {n} words."),
    ("words", "max", "Write up to {n} words about {topic}."),
    ("words", "min", "Write at least {n} words about {topic}."),
    ("words", "min", "Explain {topic} in no fewer than {n} words."),
    ("words", "min", "I need {n} words or more on {topic}."),
    ("words", "min", "Write a minimum of {n} words on {topic}."),
    ("words", "target", "Write a {n} word essay on {topic}."),
    ("words", "target", "Write a {n}-word essay about {topic}."),
    ("words", "target", "Need {n} words on {topic}."),
    ("words", "target", "Give me {n} words about {topic}."),
    ("words", "target", "Write {n} words on {topic}."),
    ("words", "target", "A {n}-word blog post on {topic}, please."),
    ("sentences", "max", "Explain {topic} in no more than {n} sentences."),
    ("sentences", "max", "Describe {topic} in {n} sentences or fewer."),
    ("sentences", "max", "Tell me about {topic}, at most {n} sentences."),
    ("sentences", "max", "Summarize {topic} in under {n} sentences."),
    ("sentences", "max", "Tell me about {topic}, keeping it to {n} sentences."),
    ("sentences", "min", "Write at least {n} sentences about {topic}."),
    ("sentences", "target", "Explain {topic} in {n} sentences."),
    ("sentences", "target", "Write a {n}-sentence summary of {topic}."),
    ("sentences", "target", "Use exactly {n} sentences to describe {topic}."),
    ("paragraphs", "max", "Write about {topic} in no more than {n} paragraphs."),
    ("paragraphs", "max", "Describe {topic}. At most {n} paragraphs, separated by ***."),
    ("paragraphs", "min", "Write at least {n} paragraphs about {topic}."),
    ("paragraphs", "target", "Write {n} paragraphs about {topic}, separated by ***."),
    ("paragraphs", "target", "Write {n} paragraphs on {topic}. Separate paragraphs with ---."),
    ("paragraphs", "target", "Give {n} paragraphs about {topic}; put a blank line between them."),
    ("bullets", "max", "List facts about {topic} in at most {n} bullet points."),
    ("bullets", "max", "Give no more than {n} bullet points on {topic}."),
    ("bullets", "min", "Give at least {n} bullet points about {topic}."),
    ("bullets", "min", "List at least {n} points about {topic}."),
    ("bullets", "target", "Give me exactly {n} bullet points on {topic}."),
    ("bullets", "target", "Summarize {topic} in {n} bullet points."),
    ("bullets", "target", "Give me {n} bullet points about {topic}."),
    ("characters", "max", "Explain {topic} in under {n} characters."),
    ("characters", "max", "Write a note on {topic} of no more than {n} characters."),
    ("characters", "max", "Describe {topic} (max {n} characters)."),
    ("characters", "max", "Keep it below {n} characters: what is {topic}?"),
    ("lines", "max", "Write a poem about {topic} of at most {n} lines."),
    ("lines", "target", "Write a {n}-line poem about {topic}."),
    ("lines", "min", "Write a poem about {topic} in at least {n} lines."),
]
# Written after the check's rules were settled and measured only ("heldout" figures): new
# phrasings of the same limits.
HELDOUT_TEMPLATES = [
    ("words", "max", "Please keep it short, {n} words at most, on {topic}."),
    ("words", "max", "Don't go past {n} words when you describe {topic}."),
    ("words", "max", "{topic}: explain in less than {n} words."),
    ("words", "min", "Your essay on {topic} must be at least {n} words long."),
    ("words", "target", "Could you write me a {n}-word piece on {topic}?"),
    ("words", "target", "I'd like about {n} words on {topic}."),
    ("sentences", "max", "Answer in {n} sentences or less: what is {topic}?"),
    ("sentences", "max", "Describe {topic}. Don't use more than {n} sentences."),
    ("sentences", "min", "Give me at least {n} sentences on {topic}."),
    ("paragraphs", "max", "Explain {topic} in at most {n} paragraphs."),
    ("paragraphs", "target", "Write exactly {n} paragraphs on {topic}, using *** between them."),
    ("bullets", "max", "Summarize {topic} in no more than {n} bullets."),
    ("bullets", "target", "List {n} bullet points on {topic}."),
    ("characters", "max", "Describe {topic} in fewer than {n} characters."),
    ("lines", "max", "A poem on {topic}, no more than {n} lines."),
]
SEPARATORS = {"***": "\n\n***\n\n", "---": "\n\n---\n\n"}


def _sentence(rng: random.Random, words: int | None = None) -> str:
    k = words or rng.randint(7, 12)
    base = [
        rng.choice(["The", "A", "Every", "This"]),
        rng.choice(ADJS),
        rng.choice(NOUNS),
        rng.choice(VERBS),
    ]
    while len(base) < k:
        base.append(rng.choice(NOUNS + ADJS + ["the", "and", "of", "in", "with"]))
    return " ".join(base[:k]) + "."


def _words(n: int, rng: random.Random) -> str:
    out: list[str] = []
    total = 0
    while total < n:
        k = min(n - total, rng.randint(7, 12))
        if k < 4 and out:  # fold a short tail into the last sentence
            last = out.pop()[:-1].split()
            out.append(" ".join(last + [rng.choice(NOUNS) for _ in range(k)]) + ".")
        else:
            out.append(
                _sentence(rng, max(k, 1))
                if k >= 4
                else " ".join(rng.choice(NOUNS) for _ in range(k)).capitalize() + "."
            )
        total += k
    return " ".join(out)


def _sentences(n: int, rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(n))


def _paragraphs(n: int, rng: random.Random, sep: str) -> str:
    return sep.join(_sentences(rng.randint(2, 3), rng) for _ in range(n))


def _bullets(n: int, rng: random.Random) -> str:
    style = rng.choice(["- ", "* ", "• ", "num"])
    intro = "Here are the points:\n\n" if rng.random() < 0.5 else ""
    lines = [
        (f"{i + 1}. " if style == "num" else style) + _sentence(rng)[:-1] + "." for i in range(n)
    ]
    return intro + "\n".join(lines)


def _characters(n: int, rng: random.Random) -> str:
    text = ""
    while True:
        s = _sentence(rng)
        if len(text) + len(s) + 1 > n:
            return text or s[: max(1, n - 1)] + "."
        text = f"{text} {s}".strip()


def _lines(n: int, rng: random.Random) -> str:
    return "\n".join(
        " ".join(rng.choice(NOUNS + ADJS) for _ in range(rng.randint(4, 7))).capitalize()
        for _ in range(n)
    )


def _values(unit: str, rng: random.Random) -> int:
    return {
        "words": rng.choice([20, 30, 50, 80, 100, 150, 200, 300]),
        "sentences": rng.randint(2, 6),
        "paragraphs": rng.randint(2, 4),
        "bullets": rng.randint(3, 7),
        "characters": rng.choice([100, 150, 200, 280, 300]),
        "lines": rng.randint(4, 8),
    }[unit]


def _make(unit: str, count: int, rng: random.Random, sep: str) -> str:
    if unit == "words":
        return _words(count, rng)
    if unit == "sentences":
        return _sentences(count, rng)
    if unit == "paragraphs":
        return _paragraphs(count, rng, sep)
    if unit == "bullets":
        return _bullets(count, rng)
    if unit == "characters":
        return _characters(count, rng)
    return _lines(count, rng)


def _counts(unit: str, kind: str, n: int, rng: random.Random) -> tuple[int, int]:
    """(a count that keeps the limit, one that clearly breaks it)."""
    cont = unit in ("words", "characters")
    if kind == "max":
        keep = rng.randint(max(1, int(n * 0.6)), n) if cont else rng.randint(max(1, n - 2), n)
        bad = int(n * rng.uniform(1.5, 2.5)) if cont else n + rng.randint(2, 4)
    elif kind == "min":
        keep = int(n * rng.uniform(1.0, 1.4)) if cont else n + rng.randint(0, 2)
        bad = int(n * rng.uniform(0.2, 0.5)) if cont else max(1, n // 2 - 1)
    else:
        keep = int(n * rng.uniform(0.9, 1.1)) if cont else n
        if cont and rng.random() < 0.5 and n >= 20:
            bad = int(n * rng.uniform(0.1, 0.4))
        else:
            bad = int(n * rng.uniform(1.6, 2.5)) if cont else n + rng.randint(2, 4)
    return max(1, keep), max(1, bad)


def build(seed: int = SEED, templates=TEMPLATES) -> list[tuple[str, str, Record, int]]:
    """(unit, kind, record, broken?) for every template, several numbers and topics each."""
    rng = random.Random(seed)
    out = []
    for t_i, (unit, kind, template) in enumerate(templates):
        for k in range(6):
            n = _values(unit, rng)
            num = NUM_WORDS[n] if n < len(NUM_WORDS) and rng.random() < 0.4 else str(n)
            prompt = template.format(n=num, topic=rng.choice(TOPICS))
            sep = next((v for s, v in SEPARATORS.items() if s in template), "\n\n")
            keep, bad = _counts(unit, kind, n, rng)
            for broken, count in ((0, keep), (1, bad)):
                rid = f"{t_i}-{k}-{broken}"
                out.append(
                    (
                        unit,
                        kind,
                        Record(rid, prompt, _make(unit, count, rng, sep), finish_reason="stop"),
                        broken,
                    )
                )
    return out


def measure(data, check) -> dict:
    flags = {f.record_id: f for f in check.run([d[2] for d in data])}

    def rate(rows):
        return round(sum(flags[d[2].id].flagged for d in rows) / max(1, len(rows)), 4)

    pos = [d for d in data if d[3]]
    neg = [d for d in data if not d[3]]
    return {
        "prompts": len(pos),
        "recall": rate(pos),
        "fpr": rate(neg),
        "recall_by_unit": {
            u: rate([d for d in pos if d[0] == u]) for u in sorted({d[0] for d in pos})
        },
        "fpr_by_unit": {
            u: rate([d for d in neg if d[0] == u]) for u in sorted({d[0] for d in neg})
        },
        "recall_by_kind": {
            k: rate([d for d in pos if d[1] == k]) for k in ("max", "min", "target")
        },
        "fpr_by_kind": {k: rate([d for d in neg if d[1] == k]) for k in ("max", "min", "target")},
    }


def run() -> dict:
    from workbench_checks.length import LengthCheck

    figures = {
        "dev": measure(build(), LengthCheck()),
        "heldout": measure(build(SEED + 1, HELDOUT_TEMPLATES), LengthCheck()),
    }
    figures["bar"] = "recall >= 0.90 at fpr <= 0.05"
    return figures


def misses(limit: int = 40) -> None:
    from workbench_checks.length import LengthCheck

    data = build()
    f = {x.record_id: x for x in LengthCheck().run([d[2] for d in data])}
    for d in data:
        if bool(d[3]) != f[d[2].id].flagged and limit > 0:
            limit -= 1
            print(
                "MISS" if d[3] else "FP",
                d[0],
                d[1],
                repr(d[2].prompt),
                f[d[2].id].message,
                repr(d[2].output[:80]),
            )


if __name__ == "__main__":
    if "--misses" in sys.argv:
        misses(10_000)
    else:
        print(json.dumps(run(), indent=2))
