"""Inconsistency: answers to one question that disagree with each other.

A group check (``scope = "group"``): it sees every answer to one item (its samples) or to one
paraphrase group (items sharing a ``group``), and flags when they do not agree. Sampled
disagreement needs no reference and no judge: a model that knows an answer tends to give it
every time (SelfCheckGPT's observation), one that does not gives a different one each time.

Each answer is reduced to its claim: the content words of its first sentence, less the words its
question already holds ("The capital of Peru is Lima." to a question about Peru's capital ->
{lima}), and a leading yes/no. Another answer *supports* a claim by the share of the claim's words
it contains anywhere in its text (numbers and names count as words; a yes never supports a no).
The score is one minus the mean support over every ordered pair of answers: 0.0 when every answer
repeats every other's claim, near 1.0 when no two share anything. Answers whose claims support
each other both ways (>= ``agree_at``) form clusters, listed in the message with their counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import Field

from workbench.check.checks import Check, Finding, Record

from ._text import WORD_RE, sentence_spans
from .hallucination_support import FUNCTION_WORDS

_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_YES_NO = {"yes": "yes", "no": "no", "yeah": "yes", "nope": "no", "correct": "yes",
           "true": "yes", "false": "no", "incorrect": "no"}
# Openers that frame an answer without being part of it.
_FRAMES = frozenset("""answer answers sure certainly course based according context question
    information text passage provided given mentioned states stated says""".split())
_MAX_CLAIM_CHARS = 400  # a claim is read from the start of the answer only


@dataclass(frozen=True, slots=True)
class Claim:
    """What an answer asserts, as compared: the content words of its first sentence (less the
    question's), every word of the answer (to support other claims), a leading yes/no; ``span``
    is where the claim sits in the answer."""

    words: frozenset[str]
    vocabulary: frozenset[str]
    polarity: str | None
    span: tuple[int, int]
    shown: str


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def claim_of(answer: str, restated: frozenset[str]) -> Claim:
    """The claim of one answer: its first sentence (or line), less restated words."""
    head = answer[:_MAX_CLAIM_CHARS]
    spans = [s for s in sentence_spans(head) if WORD_RE.search(head[s[0]:s[1]])]
    start, end = spans[0] if spans else (0, len(head.rstrip()))
    sentence = head[start:end]
    toks = [(m.group().lower(), m.start() + start, m.end() + start)
            for m in WORD_RE.finditer(sentence)]
    polarity = _YES_NO.get(toks[0][0]) if toks else None
    kept = [(w, a, b) for w, a, b in toks
            if w not in FUNCTION_WORDS and w not in _FRAMES and _stem(w) not in restated
            and w not in _YES_NO]
    # names and numbers carry an answer ("Amy Jo Johnson", "1844"); the words around them vary
    # from sample to sample, so when a claim has names or numbers they alone are compared
    named = [(w, a, b) for w, a, b in kept if head[a].isupper() or head[a].isdigit()]
    kept = named or kept
    span = (kept[0][1], kept[-1][2]) if kept else (start, end)
    shown = " ".join(sentence.split())
    if len(shown) > 60:
        shown = shown[:57].rstrip() + "..."
    vocabulary = frozenset(_stem(m.group().lower()) for m in WORD_RE.finditer(answer))
    return Claim(frozenset(_stem(w) for w, _, _ in kept), vocabulary, polarity, span, shown)


def support(a: Claim, b: Claim) -> float:
    """How much answer ``b`` says what claim ``a`` says: the same yes/no when both give one,
    else the share of a's claim words in b."""
    if a.polarity and b.polarity:
        return float(a.polarity == b.polarity)
    if not a.words:  # a bare yes/no, or only the question's words
        return 1.0 if a.polarity is None or a.polarity == b.polarity else 0.0
    return len(a.words & b.vocabulary) / len(a.words)


def clusters(claims: Sequence[Claim], agree_at: float) -> list[list[int]]:
    """Answers grouped by agreement: each joins the first cluster whose first answer and it
    support each other at ``agree_at`` or more (in order, so only the answers decide)."""
    out: list[list[int]] = []
    for i, c in enumerate(claims):
        for group in out:
            head = claims[group[0]]
            if min(support(c, head), support(head, c)) >= agree_at:
                group.append(i)
                break
        else:
            out.append([i])
    return sorted(out, key=lambda g: (-len(g), g[0]))


def disagreement(claims: Sequence[Claim]) -> float:
    """1 - the mean support over every ordered pair of answers (0.0 with one answer)."""
    n = len(claims)
    if n < 2:
        return 0.0
    total = sum(support(claims[i], claims[j]) for i in range(n) for j in range(n) if i != j)
    return 1.0 - total / (n * (n - 1))


def _restated(record: Record) -> frozenset[str]:
    """The words of the question (the prompt less its context): an answer that repeats them
    asserts nothing by it."""
    prompt = record.prompt
    if record.context:
        prompt = prompt.replace(record.context, " ")
    return frozenset(_stem(m.group().lower()) for m in WORD_RE.finditer(prompt))


class InconsistencyCheck(Check):
    """Flags items (or paraphrase groups) whose sampled answers disagree."""

    name = "inconsistency"
    category = "inconsistency"
    version = "2"
    scope = "group"
    description = (
        "answers to one question that disagree: several samples of an item, or the items of a "
        "paraphrase group (needs generation.samples > 1 or items sharing a 'group')"
    )

    class Options(Check.Options):
        threshold: float = Field(0.5, ge=0.0, le=1.0, description=(
            "flag when the disagreement (1 - mean support between answers) reaches this"))
        agree_at: float = Field(0.5, ge=0.0, le=1.0, description=(
            "two answers are counted as one answer when each supports the other this much"))

    def run(self, records: Sequence[Record]) -> Iterable[Finding]:
        opts = self.options
        owners: list[int] = []
        claims: list[Claim] = []
        for n, r in enumerate(records):
            restated = _restated(r)
            for answer in r.answers:
                owners.append(n)
                claims.append(claim_of(answer, restated))
        groups = clusters(claims, opts.agree_at)
        total = len(claims)
        score = disagreement(claims)
        flagged = total >= 2 and score >= opts.threshold - 1e-9
        counts = ", ".join(f"{claims[g[0]].shown!r} x{len(g)}" for g in groups[:6])
        more = f", and {len(groups) - 6} more" if len(groups) > 6 else ""
        message = (f"{len(groups)} different answers in {total}: {counts}{more}" if flagged
                   else f"{len(groups[0])} of {total} answers agree")
        majority = set(groups[0])
        cluster_of = {i: k for k, g in enumerate(groups) for i in g}
        for n, r in enumerate(records):
            first = owners.index(n)  # this record's own output is its first answer
            span = claims[first].span
            outside = first not in majority
            own = [i for i, o in enumerate(owners) if o == n]
            yield self.finding(
                r, flagged=flagged, score=score, message=message,
                spans=[span] if flagged else [],
                severity=None if not flagged else ("high" if outside and score >= 0.6
                                                   else "medium" if outside else "low"),
                evidence={"answers": total, "clusters": [len(g) for g in groups],
                          "in_majority": not outside,
                          # per answer of this record (its samples, in order): the claim's place
                          # in that answer and its cluster (0: the largest)
                          "claims": [{"span": list(claims[i].span), "cluster": cluster_of[i]}
                                     for i in own]},
            )
