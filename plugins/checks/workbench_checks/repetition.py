"""Repetition: degenerate looping in a generation.

What it catches (spans cover the repeated copies, not the first occurrence):

- word stutters: the same word three or more times in a row ("the the the"), or twice with only
  spaces between ("the the") outside code;
- phrase and sentence loops: a run of words repeated back to back ("and so on and so on and so
  on", a sentence looping to the end of the generation);
- duplicated blocks: a sentence or paragraph copied again further on.

What it leaves alone: lists and tables whose items share a few words, code (repeated statements,
``x = x + 1``), numbers ("1 1"), and refrains when the prompt asks for a song or poem or the output
labels a chorus.

How: words become integer ids; for each position the nearest earlier occurrence of the same word
bigram gives a lag ``d``; a stretch of positions that match the word ``d`` back is one repetition
(a tandem loop when it is at least ``d`` long, a copied block otherwise). One pass, dictionary
lookups only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import Field

from workbench.checks import Check, Finding, Record

from ._text import code_spans, in_spans, sentence_spans, words

_SPACES_ONLY = re.compile(r"[ \t]+")
# Songs and chants repeat a chorus by design; a poem that repeats a stanza has no such excuse.
_REFRAIN_PROMPT = re.compile(
    r"\b(?:write|compose|create|generate|make|come up with|produce|give)\b[^.?!\n]{0,40}?\b"
    r"(?:songs?|lyrics?|chants?|anthems?|jingles?|hymns?|choruse?s?|refrains?|nursery rhymes?)\b",
    re.I,
)
_REFRAIN_LABEL = re.compile(r"^\W*(chorus|refrain|hook)\b", re.I | re.M)
# Words that legitimately double ("had had", "that that") and interjections that stutter by design.
_OK_DOUBLES = frozenset("had that is do bye ha ho no yo la na so very".split())


@dataclass(slots=True)
class _Hit:
    kind: str  # stutter | loop | duplicate
    start: int  # char offsets of the repeated copies
    end: int
    words: int  # words in the repeated copies
    unit: str  # the repeated text (first copy), shortened
    copies: float
    score: float


class RepetitionCheck(Check):
    """Flags outputs that loop: word stutters, repeated phrases or sentences, duplicated blocks."""

    name = "repetition"
    category = "repetition"
    version = "1"
    description = "Word stutters, looping phrases or sentences, duplicated sentences or paragraphs."

    class Options(Check.Options):
        min_loop_copies: float = Field(
            3.0, ge=2.0, description="Back-to-back copies of a short phrase that count as a loop."
        )
        min_block_words: int = Field(
            5,
            ge=3,
            description="Shortest repeated block (words) flagged when repeated twice "
            "back to back or copied as a whole sentence.",
        )
        long_block_words: int = Field(
            15, ge=5, description="A copied stretch this long is flagged even mid-sentence."
        )
        min_stutter: int = Field(
            3, ge=2, description="Consecutive copies of one word that count as a stutter."
        )
        flag_doubled_words: bool = Field(
            True, description="Also flag a word written twice with only spaces between."
        )

    def run(self, records: Sequence[Record]) -> Iterable[Finding]:
        for record in records:
            yield self._check(record)

    # ---------------------------------------------------------------------------------------
    def _check(self, record: Record) -> Finding:
        text = record.output
        toks = words(text)
        if len(toks) < 2:
            return self.finding(record, flagged=False, score=0.0, message="too short to repeat")
        code = code_spans(text)
        refrain = bool(_REFRAIN_PROMPT.search(record.prompt or "")) or bool(
            _REFRAIN_LABEL.search(text)
        )
        stutters = self._stutters(text, toks, code)
        stuttered = {h.start for h in stutters}
        hits = stutters + self._runs(text, toks, code, refrain, stuttered)
        flagged = [h for h in hits if h.score >= 0.5]
        if not flagged:
            best = max((h.score for h in hits), default=0.0)
            return self.finding(record, flagged=False, score=best, message="no repetition")
        flagged.sort(key=lambda h: -h.score)
        top = flagged[0]
        repeated_words = sum(h.words for h in flagged)
        share = min(1.0, repeated_words / len(toks))
        score = min(1.0, top.score + 0.1 * share)
        msg = _describe(top)
        if len(flagged) > 1:
            msg += f" (+{len(flagged) - 1} more)"
        return self.finding(
            record,
            flagged=True,
            score=score,
            spans=[(h.start, h.end) for h in flagged],
            message=msg,
            evidence={
                "kinds": sorted({h.kind for h in flagged}),
                "repeated_words": repeated_words,
                "share": round(share, 3),
            },
        )

    def _stutters(self, text: str, toks: list, code: list) -> list[_Hit]:
        opts = self.options
        hits: list[_Hit] = []
        i, n = 0, len(toks)
        while i < n:
            j = i + 1
            # a stutter stays on one line: "E E F#" across lines of a melody is not one
            while (
                j < n
                and toks[j].norm == toks[i].norm
                and _SPACES_ONLY.fullmatch(text, toks[j - 1].end, toks[j].start) is not None
            ):
                j += 1
            reps = j - i
            word = toks[i].norm
            # three in a row is never code style; a plain double may be ("Scanner scanner")
            if reps >= 2 and word.isalpha() and (reps >= 3 or not in_spans(code, toks[i].start)):
                if reps >= opts.min_stutter and not (len(word) == 1 and word not in "ai"):
                    score = min(1.0, 0.75 + 0.05 * reps)
                elif (
                    reps == 2
                    and opts.flag_doubled_words
                    and word not in _OK_DOUBLES
                    and len(word) > 1
                ):
                    score = 0.6
                else:
                    score = 0.3
                hits.append(
                    _Hit("stutter", toks[i + 1].start, toks[j - 1].end, reps - 1, word, reps, score)
                )
            i = j
        return hits

    def _runs(
        self, text: str, toks: list, code_at: list, refrain: bool, stuttered: set[int]
    ) -> list[_Hit]:
        opts = self.options
        ids = _ids(toks)
        n = len(ids)
        last: dict[tuple[int, int], int] = {}
        prev = [-1] * n
        for k in range(n - 1):
            key = (ids[k], ids[k + 1])
            prev[k] = last.get(key, -1)
            last[key] = k
        sents = None
        hits: list[_Hit] = []
        i = done = 0
        while i < n - 1:
            j = prev[i]
            if j < 0:
                i += 1
                continue
            d = i - j
            e = i
            while e < n and ids[e] == ids[e - d]:
                e += 1
            if e - i < 3:  # two-word echoes are noise
                i += 1
                continue
            # the nearest earlier bigram may have missed the copy's first words: walk back
            start = i
            while start - d > 0 and start > done and ids[start - 1] == ids[start - 1 - d]:
                start -= 1
            i, j = start, start - d
            length = e - i
            if d == 1 and (not toks[i].norm.isalpha() or toks[i].start in stuttered):
                i = e  # numbers ("0, 0, 0, 0") and stutters already reported
                continue
            a, b = toks[i].start, toks[e - 1].end
            unit = text[toks[j].start : toks[min(j + d, n) - 1].end]
            # code repeats statement shapes by design ("case '+': ... case '-': ..."): words
            # alone cannot tell, so there the copies must also match symbol for symbol
            code = in_spans(code_at, a) or in_spans(code_at, toks[j].start)
            if code and _SYMBOLS.findall(text, toks[i - d].start, toks[e - 1 - d].end) != (
                _SYMBOLS.findall(text, a, toks[e - 1].end)
            ):
                i = done = e
                continue
            if sents is None:
                sents = sentence_spans(text)
            whole = _covers_sentence(sents, a, b, toks, opts.min_block_words)
            if length >= d:
                copies = 1 + length / d
                # a phrase doubled inside one sentence, or whole sentences said again
                joined = whole or not _SENTENCE_BREAK.search(text, toks[i - 1].end, toks[i].start)
                hit = self._loop_hit(a, b, length, d, copies, unit, code, refrain, joined)
            else:
                # parallel list items ("1. Highlight the text ..." under two headings) share words
                listy = _starts_list_item(text, toks[j].start) and _starts_list_item(text, a)
                hit = self._dup_hit(a, b, length, whole, unit, code, refrain or listy)
            if hit is not None:
                hits.append(hit)
            i = done = e
        return hits

    def _loop_hit(self, a, b, length, d, copies, unit, code, refrain, joined) -> _Hit | None:
        opts = self.options
        need = opts.min_loop_copies + (1 if code or refrain else 0)
        if copies >= need:
            score = min(1.0, 0.8 + 0.04 * (copies - need) + 0.005 * length)
        elif copies >= 2 and d >= opts.min_block_words and joined and not code and not refrain:
            # a phrase or sentence said twice back to back ("... night. The ... night")
            score = 0.55 + min(0.35, 0.02 * (d - opts.min_block_words))
        else:
            score = min(0.45, 0.1 * copies + 0.01 * length)
        return _Hit("loop", a, b, length, _short(unit), copies, score)

    def _dup_hit(self, a, b, length, whole, unit, code, refrain) -> _Hit | None:
        opts = self.options
        long_words = opts.long_block_words * (2 if code or refrain else 1)
        if length >= long_words:
            score = 0.7 + min(0.25, 0.01 * (length - long_words))
        elif whole and not code and not refrain:
            score = 0.6 + min(0.3, 0.02 * (length - opts.min_block_words))
        else:
            score = min(0.45, 0.03 * length)
        return _Hit("duplicate", a, b, length, _short(unit), 2, score)


_SYMBOLS = re.compile(r"[^\w\s]")
_SENTENCE_BREAK = re.compile(r"[.!?:]|\n")
_AFTER_MARKER = re.compile(r"(?:^|\n)[ \t]*(?:[-*•]|\(?\w{1,3}[.)])[ \t]*$")
_AT_LINE_START = re.compile(r"(?:^|\n)[ \t]*$")
_MARKER = re.compile(r"\(?\w{1,3}[.)][ \t]")


def _starts_list_item(text: str, pos: int) -> bool:
    """Is ``pos`` the first word of a bullet or numbered line, or its number marker?"""
    if _AFTER_MARKER.search(text, max(0, pos - 12), pos):
        return True
    return bool(_AT_LINE_START.search(text, max(0, pos - 12), pos) and _MARKER.match(text, pos))


def _ids(toks: list) -> list[int]:
    table: dict[str, int] = {}
    return [table.setdefault(t.norm, len(table)) for t in toks]


def _covers_sentence(
    sents: list[tuple[int, int]], a: int, b: int, toks: list, min_words: int
) -> bool:
    """Does [a, b) contain a whole sentence of at least ``min_words`` words?"""
    for s, e in sents:
        if s >= a - 1 and e <= b + 2 and e - s > 0:
            n = sum(1 for t in toks if s <= t.start < e)
            if n >= min_words:
                return True
        if s > b:
            break
    return False


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(h: _Hit) -> str:
    if h.kind == "stutter":
        return f"word stutter: {h.unit!r} x{int(h.copies)}"
    if h.kind == "loop":
        return f"looping: {h.unit!r} repeated back to back ({h.copies:.1f} copies, {h.words} words)"
    return f"duplicated block of {h.words} words: {h.unit!r}"
