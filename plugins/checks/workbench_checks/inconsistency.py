"""Inconsistency: answers to one question that disagree with each other.

A group check (``scope = "group"``): it sees every answer to one item (its samples) or to one
paraphrase group (items sharing a ``group``), and flags when they do not agree. Sampled
disagreement needs no reference and no judge: a model that knows an answer tends to give it
every time (SelfCheckGPT's observation), one that does not gives a different one each time.

Each answer is reduced to its claim: the first sentence, less the words the question already
holds ("The capital of Peru is Lima." to a question about Peru's capital -> "lima"). Claims that
carry numbers, dates or yes/no agree only when those agree; other claims agree when their words
nearly match (rapidfuzz's token-set ratio). Equal claims form clusters; the score is one minus
the share of the largest cluster (five samples, all alike: 0.0; 3+2: 0.4; all different: 0.8).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import Field
from rapidfuzz import fuzz

from workbench.checks import Check, Finding, Record

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
    """What an answer asserts, as compared: its words (less the question's), its numbers and its
    yes/no; ``span`` is where the claim sits in the answer."""

    text: str
    words: tuple[str, ...]
    numbers: tuple[str, ...]
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
    numbers = tuple(sorted({n.replace(",", "") for n in _NUMBER_RE.findall(sentence)}))
    words = tuple(_stem(w) for w, _, _ in kept)
    span = (kept[0][1], kept[-1][2]) if kept else (start, end)
    shown = sentence.strip()
    if len(shown) > 60:
        shown = shown[:57].rstrip() + "..."
    return Claim(" ".join(words), words, numbers, polarity, span, shown)


def agree(a: Claim, b: Claim, min_ratio: float) -> bool:
    """Do two claims say the same thing?"""
    if a.polarity and b.polarity and a.polarity != b.polarity:
        return False
    if (a.numbers or b.numbers) and a.numbers != b.numbers:
        return False
    if not a.words or not b.words:
        # nothing beyond the question's words: agree when both are empty (or share yes/no)
        return not a.words and not b.words and (a.polarity == b.polarity or a.numbers != ())
    return fuzz.token_set_ratio(a.text, b.text) >= min_ratio


def clusters(claims: Sequence[Claim], min_ratio: float) -> list[list[int]]:
    """Claims grouped by agreement: each joins the first cluster whose first claim it agrees
    with (in order, so the result does not depend on anything but the answers' order)."""
    out: list[list[int]] = []
    for i, c in enumerate(claims):
        for group in out:
            if agree(claims[group[0]], c, min_ratio):
                group.append(i)
                break
        else:
            out.append([i])
    return sorted(out, key=lambda g: (-len(g), g[0]))


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
    version = "1"
    scope = "group"
    description = (
        "answers to one question that disagree: several samples of an item, or the items of a "
        "paraphrase group (needs generation.samples > 1 or items sharing a 'group')"
    )

    class Options(Check.Options):
        threshold: float = Field(0.4, ge=0.0, le=1.0, description=(
            "flag when 1 - (share of the largest cluster of agreeing answers) reaches this"))
        min_ratio: float = Field(80.0, ge=0.0, le=100.0, description=(
            "rapidfuzz token-set ratio at which two claims without numbers agree"))

    def run(self, records: Sequence[Record]) -> Iterable[Finding]:
        opts = self.options
        owners: list[int] = []
        claims: list[Claim] = []
        for n, r in enumerate(records):
            restated = _restated(r)
            for answer in r.answers:
                owners.append(n)
                claims.append(claim_of(answer, restated))
        groups = clusters(claims, opts.min_ratio)
        total = len(claims)
        score = 1.0 - len(groups[0]) / total if total else 0.0
        flagged = total >= 2 and score >= opts.threshold - 1e-9
        counts = ", ".join(f"{claims[g[0]].shown!r} x{len(g)}" for g in groups[:6])
        more = f", and {len(groups) - 6} more" if len(groups) > 6 else ""
        message = (f"{len(groups)} different answers in {total}: {counts}{more}" if flagged
                   else f"{len(groups[0])} of {total} answers agree")
        majority = set(groups[0])
        for n, r in enumerate(records):
            first = owners.index(n)  # this record's own output is its first answer
            span = claims[first].span
            outside = first not in majority
            yield self.finding(
                r, flagged=flagged, score=score, message=message,
                spans=[span] if flagged else [],
                severity=None if not flagged else ("high" if outside and score >= 0.6
                                                   else "medium" if outside else "low"),
                evidence={"answers": total, "clusters": [len(g) for g in groups],
                          "in_majority": not outside},
            )
