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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import Field

from workbench.check.checks import Check, Finding, Record
from workbench.suggest.repairs import Repair

from ._text import WORD_RE, code_spans, in_spans, sentence_spans
from .repairs import loop_to_the_end, remove_spans

# between two copies of a stuttered word: spaces, maybe an opening bracket or quote ("the the",
# "(due (due"); never a line break, a sentence end ("it. It") or a comma ("toilet paper, paper
# towels" is fine English; three copies with commas are caught as a loop)
_STUTTER_GAP = re.compile(r"[ \t]+[(\[\"'“‘]?")
# Songs and chants repeat a chorus by design; a poem that repeats a stanza has no such excuse.
_REFRAIN_PROMPT = re.compile(
    r"\b(?:write|compose|create|generate|make|come up with|produce|give)\b[^.?!\n]{0,40}?\b"
    r"(?:songs?|lyrics?|chants?|anthems?|jingles?|hymns?|choruse?s?|refrains?|nursery rhymes?)\b",
    re.I,
)
_REFRAIN_LABEL = re.compile(r"^[^\w\n]*(chorus|refrain|hook)\b", re.I | re.M)  # one line only
# Words that legitimately double ("had had", "that that") and interjections that stutter by design.
_OK_DOUBLES = frozenset(
    """had that bye ha ho hee yo la na knock tick tock ding dong ping pong hip boo hush tut tsk
    chop choo blah yada bora walla mahi pom dum cha tom""".split()
)


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

    def repair(self, finding: Finding, record: Record) -> Repair:
        """The output with the repeated copies (the finding's spans) cut out. A cut-off output
        whose loop ran to its end used up the token budget looping: the partial copy at the end
        goes too, and what is left is a complete answer; one whose loop stops earlier stays
        cut off."""
        text, spans = record.output, finding.spans
        if not spans:
            return Repair(text)
        if record.finish_reason == "length":
            if not loop_to_the_end(text, spans):
                return Repair(text)
            text = text[:max(int(b) for _, b in spans)]  # the budget ran out inside a copy
            return Repair(remove_spans(text, spans), note="loop removed", cut_off=False)
        return Repair(remove_spans(text, spans), note="loop removed")

    def run(self, records: Sequence[Record]) -> Iterable[Finding]:
        for record in records:
            yield self._check(record)

    # ---------------------------------------------------------------------------------------
    def _check(self, record: Record) -> Finding:
        text = record.output
        toks = _Words(text)
        ctx = _Context(text, record.prompt or "")
        runs = _char_runs(text, toks.norm) + _token_runs(text, ctx)
        if len(toks.norm) < 2 and not runs:
            return self.finding(record, flagged=False, score=0.0, message="too short to repeat")
        stutters = self._stutters(text, toks, ctx) + self._pair_doubles(text, toks, ctx) + runs
        stuttered = {h.start for h in stutters}
        hits = stutters + self._runs(text, toks, ctx, stuttered) + _line_loops(text, ctx)
        flagged = [h for h in hits if h.score >= 0.5]
        if not flagged:
            best = max((h.score for h in hits), default=0.0)
            return self.finding(record, flagged=False, score=best, message="no repetition")
        flagged.sort(key=lambda h: -h.score)
        top = flagged[0]
        repeated_words = sum(h.words for h in flagged)
        share = min(1.0, repeated_words / max(1, len(toks.norm)))
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

    def _stutters(self, text: str, toks: _Words, ctx: _Context) -> list[_Hit]:
        opts = self.options
        norm = toks.norm
        hits: list[_Hit] = []
        n = len(norm)
        doubles = [k for k, (x, y) in enumerate(zip(norm, norm[1:], strict=False)) if x == y]
        if not doubles:
            return hits
        last_end = 0
        for i in doubles:
            if i < last_end:
                continue
            j = i + 1
            # a stutter stays on one line: "E E F#" across lines of a melody is not one
            while (
                j < n
                and norm[j] == norm[i]
                and _STUTTER_GAP.fullmatch(text, toks.end(j - 1), toks.start(j)) is not None
            ):
                j += 1
            reps = j - i
            word = norm[i]
            # three in a row is never code style; a plain double may be ("Scanner scanner")
            # a doubled number ("in 2021 2021") counts too, but not digits ("1 1" in a matrix)
            wordy = _alpha(word) or (word.isdigit() and len(word) >= 2)
            if reps >= 2 and wordy and (reps >= 3 or not ctx.in_code(toks.start(i))):
                if reps >= opts.min_stutter and not (len(word) == 1 and word not in "ai"):
                    score = min(1.0, 0.75 + 0.05 * reps)
                elif (
                    reps == 2
                    and opts.flag_doubled_words
                    and word not in _OK_DOUBLES
                    and (len(word) > 1 or word in "ai")
                ):
                    score = 0.6
                else:
                    score = 0.3
                hits.append(
                    _Hit("stutter", toks.start(i + 1), toks.end(j - 1), reps - 1, word, reps, score)
                )
            last_end = j
        return hits + self._raw_doubles(text, [(h.start, h.end) for h in hits], ctx)

    def _pair_doubles(self, text: str, toks: _Words, ctx: _Context) -> list[_Hit]:
        """A two-word phrase said twice with only spaces between ("House of House of", "Yeon
        Sang-ho Yeon Sang-ho"): a stutter one word wide."""
        norm = toks.norm
        hits: list[_Hit] = []
        if not self.options.flag_doubled_words:
            return hits
        for k in range(len(norm) - 3):
            if (
                norm[k] != norm[k + 2]
                or norm[k + 1] != norm[k + 3]
                or norm[k] == norm[k + 1]
                or not (_alpha(norm[k]) and _alpha(norm[k + 1]))
                or norm[k] in _OK_DOUBLES
            ):
                continue
            gaps = [(toks.end(j), toks.start(j + 1)) for j in range(k, k + 3)]
            if any(_SPACES.fullmatch(text, a, b) is None for a, b in gaps):
                continue  # "in 2001, in 2002", "yes. Yes" : punctuation between the copies
            if ctx.in_code(toks.start(k)):
                continue
            a, b = toks.start(k + 2), toks.end(k + 3)
            hits.append(_Hit("stutter", a, b, 2, text[toks.start(k) : toks.end(k + 1)], 2, 0.6))
        return hits

    def _raw_doubles(self, text: str, seen: list[tuple[int, int]], ctx: _Context) -> list[_Hit]:
        """The same token twice, punctuation and all ("morning. morning.", "(due (due"): a
        stutter whose copies the word-level pass keeps apart."""
        if not self.options.flag_doubled_words:
            return []
        parts = text.lower().split(" ")
        pairs = [k for k, (x, y) in enumerate(zip(parts, parts[1:], strict=False)) if x == y]
        hits: list[_Hit] = []
        if not pairs:
            return hits
        starts = [0]
        for part in parts[:-1]:
            starts.append(starts[-1] + len(part) + 1)
        for k in pairs:
            tok = parts[k]
            word = tok.strip("()[]{}\"'“”‘’.,;:!?*_")
            a, b = starts[k + 1], starts[k + 1] + len(tok)
            if (
                len(word) < 2
                or tok.endswith((",", ";"))  # "South Sudan, Sudan," lists names
                or not word.isalpha()
                or word in _OK_DOUBLES
                or "\n" in tok
                or any(s - len(tok) - 1 <= a <= e for s, e in seen)
                or ctx.in_code(a)
            ):
                continue
            hits.append(_Hit("stutter", a, b, 1, word, 2, 0.6))
        return hits

    def _runs(self, text: str, toks: _Words, ctx: _Context, stuttered: set[int]) -> list[_Hit]:
        opts = self.options
        ids = toks.norm  # words compare as fast as integer ids would
        n = len(ids)
        if len(set(ids)) == n:
            return []  # no word twice: nothing can repeat
        pairs = list(zip(ids, ids[1:], strict=False))
        counts = Counter(pairs)
        if len(counts) == len(pairs):
            return []  # no word pair twice
        # for each position whose word pair occurred before, the nearest earlier occurrence
        last: dict[tuple[str, str], int] = {}
        prev: dict[int, int] = {}
        for k in [k for k, g in enumerate(pairs) if counts[g] > 1]:
            g = pairs[k]
            if g in last:
                prev[k] = last[g]
            last[g] = k
        sents = None
        hits: list[_Hit] = []
        done = 0
        for i, j in prev.items():  # positions in increasing order
            if i < done:
                continue
            d = i - j
            e = i
            while e < n and ids[e] == ids[e - d]:
                e += 1
            if e - i < (2 if d == 1 else 3):  # two-word echoes are noise; "no, no, no" is not
                continue
            # the nearest earlier bigram may have missed the copy's first words: walk back
            start = i
            while start - d > 0 and start > done and ids[start - 1] == ids[start - 1 - d]:
                start -= 1
            i, j = start, start - d
            length = e - i
            if d == 1 and (
                not toks.norm[i].isalpha()
                or toks.start(i) in stuttered
                or "\n" in text[toks.start(i - 1) : toks.end(e - 1)]
                or ctx.in_code(toks.start(i))
            ):
                # numbers ("0, 0, 0, 0"), stutters already reported, a word ending one line
                # and starting the next, code ("x = x + x")
                done = e
                continue
            copies = 1 + length / d
            if (length < d and length < opts.min_block_words) or (
                length >= d and copies < opts.min_loop_copies and d < opts.min_block_words
            ):
                # too short to be flagged whatever its context: keep only its weak score
                weak = min(0.45, 0.03 * length) if length < d else min(0.45, 0.1 * copies)
                hits.append(_Hit("weak", 0, 0, length, "", copies, weak))
                done = e
                continue
            if d > 1 and e - i < 2 * d and not any(len(w) >= 3 and w.isalpha() for w in ids[i:e]):
                done = e  # notes, initials, numbers: "E E F# G#", "A B C"
                continue
            a, b = toks.start(i), toks.end(e - 1)
            unit = text[toks.start(j) : toks.end(min(j + d, n) - 1)]
            # code repeats statement shapes by design ("case '+': ... case '-': ..."): words
            # alone cannot tell, so there the copies must also match symbol for symbol
            code = ctx.in_code(a) or ctx.in_code(toks.start(j)) or ctx.code_share(a, b) >= 0.5
            if code and _SYMBOLS.findall(text, toks.start(i - d), toks.end(e - 1 - d)) != (
                _SYMBOLS.findall(text, a, toks.end(e - 1))
            ):
                done = e
                continue
            refrain = ctx.refrain()
            if sents is None:
                sents = sentence_spans(text)
            whole = _covers_sentence(sents, a, b, toks, opts.min_block_words) or (
                length >= opts.min_block_words and _sentence_bounded(text, a, b)
            )
            if length >= d:
                # a phrase doubled inside one sentence, or whole sentences said again
                joined = whole or not _SENTENCE_BREAK.search(text, toks.end(i - 1), toks.start(i))
                hit = self._loop_hit(a, b, length, d, copies, unit, code, refrain, joined)
                if hit.score < 0.5 and not code and not refrain and text.count("\n", a, b) >= 3:
                    hit.score = 0.7  # four or more lines copied right after themselves
            else:
                # parallel list items ("1. Highlight the text ..." under two headings) share words
                listy = _starts_list_item(text, toks.start(j)) and _starts_list_item(text, a)
                if listy and not code and text.count("\n", a, b) >= 3:
                    # four or more list items copied line for line is a copied block, not
                    # parallel wording
                    hit = _Hit("duplicate", a, b, length, _short(unit), 2, 0.7)
                else:
                    hit = self._dup_hit(a, b, length, whole, unit, code, refrain or listy)
            if hit is not None:
                hits.append(hit)
            done = e
        return hits

    def _loop_hit(self, a, b, length, d, copies, unit, code, refrain, joined) -> _Hit | None:
        opts = self.options
        # a statement written three times is ordinary code; songs repeat lines
        need = opts.min_loop_copies + (1 if code or refrain else 0)
        if copies >= need:
            score = min(1.0, 0.8 + 0.04 * (copies - need) + 0.005 * length)
        elif copies >= 2 and d >= opts.min_block_words and joined and not code and not refrain:
            # a phrase or sentence said twice back to back ("... night. The ... night")
            score = 0.55 + min(0.35, 0.02 * (d - opts.min_block_words))
        elif copies >= 2 and not refrain and length >= opts.long_block_words * (2 if code else 1):
            # a long block (a list, a paragraph) copied right after itself; a song may sing its
            # chorus twice over
            score = 0.7
        else:
            score = min(0.45, 0.1 * copies + 0.01 * length)
        return _Hit("loop", a, b, length, _short(unit), copies, score)

    def _dup_hit(self, a, b, length, whole, unit, code, refrain) -> _Hit | None:
        opts = self.options
        if code or refrain:
            # code repeats statements, songs their chorus, READMEs their example blocks: a block
            # said twice there is by design (a loop, said three times and more, is not)
            return _Hit("duplicate", a, b, length, _short(unit), 2, min(0.45, 0.03 * length))
        # a stretch copied once inside other sentences is a quote ("... the phrase 'X' means
        # ... so 'X' ..."); a whole sentence or paragraph said again is a repeated block
        long_words = opts.long_block_words * (1 if whole else 3)
        if length >= long_words:
            score = 0.7 + min(0.25, 0.01 * (length - long_words))
        elif whole:
            score = 0.6 + min(0.3, 0.02 * (length - opts.min_block_words))
        else:
            score = min(0.45, 0.03 * length)
        return _Hit("duplicate", a, b, length, _short(unit), 2, score)


_SYMBOLS = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"[ \t]+")
_BEFORE_SENTENCE = re.compile(r"(?:^|[.!?:]|\n[ \t]*(?:[-*•]|\(?\w{1,3}[.)])?)[\"'”’)\]]*[ \t]*$")
_AFTER_SENTENCE = re.compile(r"[ \t]*(?:[.!?]|\n|$)")


def _sentence_bounded(text: str, a: int, b: int) -> bool:
    """Does [a, b) start where a sentence starts and end where one ends (a copied sentence, not a
    stretch quoted inside other sentences)?"""
    return bool(_BEFORE_SENTENCE.search(text, max(0, a - 16), a) and _AFTER_SENTENCE.match(text, b))


_SENTENCE_BREAK = re.compile(r"[.!?:]|\n")
_AFTER_MARKER = re.compile(r"(?:^|\n)[ \t]*(?:[-*•]|\(?\w{1,3}[.)])[ \t]*$")
_AT_LINE_START = re.compile(r"(?:^|\n)[ \t]*$")
_MARKER = re.compile(r"\(?\w{1,3}[.)][ \t]")


def _alpha(word: str) -> bool:
    """A word of letters, hyphens and apostrophes allowed ("blu-ray", "don't")."""
    return word.replace("-", "").replace("'", "").replace("’", "").isalpha()


def _starts_list_item(text: str, pos: int) -> bool:
    """Is ``pos`` the first word of a bullet or numbered line, or its number marker?"""
    if _AFTER_MARKER.search(text, max(0, pos - 12), pos):
        return True
    return bool(_AT_LINE_START.search(text, max(0, pos - 12), pos) and _MARKER.match(text, pos))


_CHAR_RUN = re.compile(r"([^\W\d_])\1{9,}|([!?])\2{5,}")
# one token over and over, whatever the token is: a symbol or emoji (spaces, variation selectors,
# joiners and skin tones between copies allowed), a digit, punctuation. Thresholds sit above what
# writing does on purpose: "⭐⭐⭐⭐⭐" ratings, "🎉🎉🎉", "...", "1000000000" (a billion), and
# divider lines ("-----", "=====", "*****") up to a screen wide.
_GLUE = "[\\s\ufe0f\u200d\U0001f3fb-\U0001f3ff]*"
_SYMBOL_RUN = re.compile(rf"([^\w\s\-=_*#~.!?|+<>/\\])(?:{_GLUE}\1){{7,}}")
_DIVIDER_RUN = re.compile(r"([\-=_*#~|+<>/\\])(?:\s*\1){119,}")
_DOT_RUN = re.compile(r"\.(?:\s*\.){11,}")
_DIGIT_RUN = re.compile(r"(\d)\1{15,}")
# a short pattern over and over inside one token: "1100001100001100001...", "ababababab..."
_PERIODIC = re.compile(r"(\S{1,12}?)\1{5,}")
_LONG_TOKEN = re.compile(r"\S{24,}")
# what every run below needs (a cheap superset): a symbol three times close together, eight of one
# digit, two bare list markers, one number four times (a long token is tested apart: a pattern
# for it would scan every position)
_ANY_RUN = re.compile(
    r"([^\w\s])(?:[\s\ufe0f\u200d\U0001f3fb-\U0001f3ff]{0,3}\1){2,}|(\d)\2{7,}|"
    r"(?<!\S)\(?\d{1,3}[.)]\s+\(?\d{1,3}[.)](?=\s|$)|(?<![\w.])(\d+)(?:[ \t,;]+\3(?![\w.])){3,}"
)
_ALNUM = re.compile(r"[^\W_]")
# one number ten times in a row ("0 0 0 0 ...", "1, 1, 1, ..."), outside code
_NUMBER_RUN = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?:[ \t,;]+\1(?![\w.])){9,}")
# list markers with nothing after them: "1. 1. 1. 2. 2."
_MARKER_RUN = re.compile(r"(?:(?<!\S)\(?\d{1,3}[.)](?=\s|$)\s*){4,}")
_MARKER_TOKEN = re.compile(r"(?<!\S)(\(?\d{1,3}[.)])(?:\s+\1){2,}(?=\s|$)")


def _token_runs(text: str, ctx: _Context) -> list[_Hit]:
    """Runs of one token: a symbol or emoji, a digit, dots, a divider character held far past a
    line, a short pattern repeated inside one long token, bare list markers."""
    hits: list[_Hit] = []
    if not _ANY_RUN.search(text) and not any(len(t) >= 24 for t in text.split()):
        return hits  # one pass rules out every kind below (most outputs)
    for rx in (_SYMBOL_RUN, _DIVIDER_RUN):
        hits += [
            _Hit("run", m.start(), m.end(), 1, m.group()[:12], m.group().count(m.group(1)), 0.8)
            for m in rx.finditer(text)
        ]
    if "......" in text or ". . . ." in text:
        hits += [
            _Hit("run", m.start(), m.end(), 1, m.group()[:12], m.group().count("."), 0.75)
            for m in _DOT_RUN.finditer(text)
        ]
    for m in _LONG_TOKEN.finditer(text):
        tok = m.group()
        d = _DIGIT_RUN.search(tok)
        if d:
            hits.append(
                _Hit("run", m.start() + d.start(), m.end(), 1, d.group()[:12], len(d.group()), 0.8)
            )
            continue
        p = max(
            (x for x in _PERIODIC.finditer(tok) if _ALNUM.search(x.group(1))),
            key=lambda x: x.end() - x.start(),
            default=None,
        )
        if p and p.end() - p.start() >= 24:
            copies = (p.end() - p.start()) / len(p.group(1))
            hits.append(_Hit("loop", m.start() + p.start(), m.end(), 1, p.group(1), copies, 0.8))
    for m in _NUMBER_RUN.finditer(text):
        if not ctx.in_code(m.start()):
            hits.append(_Hit("run", m.start(), m.end(), 1, m.group()[:12], 10, 0.75))
    for rx in (_MARKER_RUN, _MARKER_TOKEN):
        for m in rx.finditer(text):
            hits.append(_Hit("run", m.start(), m.end(), 1, m.group()[:12], 3, 0.75))
    return hits


_ITEM = re.compile(r"^\s*(?:[-*•‣◦▪+]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)])\s+(.*)$")
_INLINE_ITEMS = re.compile(r"(?:^|\s)\(?\d{1,3}[.)]\s+([^\d\n]*?)(?=\s+\(?\d{1,3}[.)]\s|\s*$)")
_TABLE = re.compile(r"^\s*\|")
_KEY = str.maketrans("", "", "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~’“”•")
_PLACEHOLDER = re.compile(r"^\s*\[[^\[\]]*\]\s*$")  # "[Your Name]": a template slot, not code


def _content(line: str) -> str:
    return " ".join(WORD_RE.findall(line.lower()))


def _line_loops(text: str, ctx: _Context) -> list[_Hit]:
    """List items or lines that say the same thing again and again: "1. be 2. be 3. be", the
    same line three times in a row, an item repeated three times in one list. Lists of distinct
    items, tables, code and a labelled chorus are left alone."""
    if text.count("\n") < 2 and text.count(". ") < 3:
        return []
    # every rule below needs two lines (or items on one line) with the same words: a cheap
    # superset first (lines without digits, punctuation, case or spacing), as most outputs have
    # none
    keys = [
        " ".join(ln.translate(_KEY).lower().split()) or "\0" + ln.strip()
        for ln in text.split("\n")
        if ln.strip()
    ]
    if len(set(keys)) == len(keys) and not any(
        ln.count(". ") + ln.count(") ") >= 3 for ln in text.split("\n")
    ):
        return []
    hits: list[_Hit] = []
    items: list[tuple[str, int, int]] = []  # (content, start, end) of list items, in order
    lines: list[tuple[str, int, int]] = []  # every prose line and table row
    bare: list[tuple[str, int, int]] = []  # lines without a letter or digit
    code: list[tuple[str, int, int]] = []  # lines of code
    pos = 0
    block = 0  # list block: items separated by nothing but blank lines share one
    for n, raw in enumerate(text.split("\n")):
        a, b = pos, pos + len(raw)
        pos = b + 1
        if not raw.strip():
            continue
        if not _ALNUM.search(raw):
            # a line of symbols only ("|", "* * *"): many of one in a row is a run
            bare.append((raw.strip(), a, b, n))
            continue
        if _TABLE.match(raw):  # table rows: a row again and again, or rows a table repeats
            lines.append(("|" + _content(raw), a, b))
            items.append(("|" + _content(raw), a, b, block))
            continue
        if ctx.in_code(a + len(raw) - len(raw.lstrip())) and not _PLACEHOLDER.match(raw):
            code.append((raw.strip(), a, b, n))
            continue
        inline = _INLINE_ITEMS.findall(raw) if raw.count(". ") + raw.count(") ") >= 3 else []
        if len(inline) >= 3:  # "1. be 2. be 3. be" on one line
            block += 1
            items += [(_content(x), a, b, block) for x in inline]
            continue
        m = _ITEM.match(raw)
        if m:
            items.append((_content(m.group(1)), a, b, block))
        else:
            block += 1
        lines.append((_content(raw), a, b))
    refrain = ctx.refrain()
    # a line (or item) said on three lines in a row
    need_run = 4 if refrain else 3
    run_start = 0
    for k in range(1, len(lines) + 1):
        if (
            k < len(lines)
            and lines[k][0]
            and lines[k][0] == lines[run_start][0]
            and _adjacent(text, lines[k - 1][2], lines[k][1])
        ):
            continue
        if k - run_start >= need_run and lines[run_start][0]:
            a, b = lines[run_start + 1][1], lines[k - 1][2]
            words = len(lines[run_start][0].split()) * (k - run_start - 1)
            hits.append(_Hit("loop", a, b, words, _short(lines[run_start][0]), k - run_start, 0.8))
        run_start = k
    # many copies of one line in a row: a line of symbols (8), a line of code (6: code repeats a
    # statement a few times by design, a screenful of one line is a loop)
    for group, need in ((bare, 8), (code, 6)):
        k = 0
        while k < len(group):
            j = k
            while (
                j + 1 < len(group)
                and group[j + 1][0] == group[k][0]
                and _adjacent(text, group[j][2], group[j + 1][1])
            ):
                j += 1
            if j - k + 1 >= need:
                hits.append(
                    _Hit("run", group[k + 1][1], group[j][2], 0, group[k][0], j - k + 1, 0.8)
                )
            k = j + 1
    # list items that repeat the same content: three copies of one item, a good share of the
    # list; parallel lists under different headings ("In Word: 1. Highlight the text ... In
    # Docs: 1. Highlight the text ...") are separate lists
    lists: dict[int, list[tuple[str, int, int, int]]] = {}
    for it in items:
        lists.setdefault(it[3], []).append(it)
    for part in lists.values():
        hits += _item_loops(part, refrain)
    # lines of one stanza or block ("[Your Position] [Your Company] [Your Job Title]" round and
    # round): three copies of one line, a good share of the block
    stanza: list[tuple[str, int, int, int]] = []
    for content, a, b in [*lines, ("", len(text), len(text))]:
        if stanza and (not content or not _adjacent_lines(text, stanza[-1][2], a)):
            if len(stanza) >= 3 and not hits:
                hits += _item_loops(stanza, refrain, pairs=False)
            stanza = []
        if content:
            stanza.append((content, a, b, 0))
    return hits


def _adjacent_lines(text: str, end: int, start: int) -> bool:
    """Is ``start`` on the line right after the one ending at ``end``?"""
    return text.count("\n", end, start) == 1


def _adjacent(text: str, end: int, start: int) -> bool:
    """Only blank lines between the end of one line and the start of the next?"""
    return not text[end:start].strip()


def _item_loops(
    items: list[tuple[str, int, int, int]], refrain: bool, pairs: bool = True
) -> list[_Hit]:
    hits: list[_Hit] = []
    if len(items) >= 2:
        counts = Counter(c for c, _, _, _ in items)
        content, top = counts.most_common(1)[0]
        dups = len(items) - len(counts)
        long_twice = [
            c for c, k in counts.items() if k >= 2 and len(c.split()) >= 5 and c[:1] != "|"
        ]
        if long_twice and pairs and not refrain:
            # two items word for word the same over a sentence: a list that went round again
            copies = [(a, b) for c, a, b, _ in items if c == long_twice[0]]
            words = len(long_twice[0].split())
            hits.append(
                _Hit("duplicate", copies[1][0], copies[1][1], words, _short(long_twice[0]), 2, 0.7)
            )
        if top >= (5 if refrain else 3) and dups >= max(2, 0.25 * len(items)):
            copies = [(a, b) for c, a, b, _ in items if c == content]
            words = len(content.split()) * (top - 1)
            hits.append(
                _Hit(
                    "loop",
                    copies[1][0],
                    copies[-1][1],
                    words,
                    _short(content or "(empty)"),
                    top,
                    0.8,
                )
            )
    return hits


def _char_runs(text: str, words: list[str]) -> list[_Hit]:
    """A character held down: "soooooooooo", "!!!!!!!!"."""
    # the regex is slow on every text; only a word with few distinct letters for its length
    # (a run of 10 leaves at most len - 9 distinct) or a "!!!!!!" can hold such a run
    held = any(len(set(w)) <= len(w) - 9 for w in words if len(w) >= 10)
    if not held and "!!!!!!" not in text and "??????" not in text:
        return []
    return [
        _Hit("stutter", m.start() + 1, m.end(), 1, m.group()[:12], len(m.group()), 0.75)
        for m in _CHAR_RUN.finditer(text)
    ]


class _Context:
    """What a hit's verdict may depend on, worked out only when a candidate needs it."""

    __slots__ = ("text", "prompt", "_code", "_refrain")

    def __init__(self, text: str, prompt: str):
        self.text, self.prompt = text, prompt
        self._code: list[tuple[int, int]] | None = None
        self._refrain: bool | None = None

    def in_code(self, pos: int) -> bool:
        if self._code is None:
            self._code = code_spans(self.text)
        return in_spans(self._code, pos)

    def code_share(self, a: int, b: int) -> float:
        """The share of [a, b) that lies in code."""
        if self._code is None:
            self._code = code_spans(self.text)
        inside = sum(max(0, min(b, e) - max(a, s)) for s, e in self._code)
        return inside / max(1, b - a)

    def refrain(self) -> bool:
        """Does the prompt ask for a song or the output label a chorus?"""
        if self._refrain is None:
            self._refrain = bool(
                _REFRAIN_PROMPT.search(self.prompt) or _REFRAIN_LABEL.search(self.text)
            )
        return self._refrain


class _Words:
    """The lowercased words of a text; their offsets are found only when a hit needs them."""

    __slots__ = ("text", "norm", "_spans")

    def __init__(self, text: str):
        self.text = text
        self._spans: list[tuple[int, int]] | None = None
        if text.isascii():  # lowercasing ASCII keeps every word and offset as it was
            self.norm = WORD_RE.findall(text.lower())
        else:  # "İ".lower() is two characters: lowercase word by word
            self.norm = [w.lower() for w in WORD_RE.findall(text)]

    def _all(self) -> list[tuple[int, int]]:
        if self._spans is None:
            self._spans = [m.span() for m in WORD_RE.finditer(self.text)]
        return self._spans

    def start(self, k: int) -> int:
        return self._all()[k][0]

    def end(self, k: int) -> int:
        return self._all()[k][1]


def _covers_sentence(
    sents: list[tuple[int, int]], a: int, b: int, toks: _Words, min_words: int
) -> bool:
    """Does [a, b) contain a whole sentence of at least ``min_words`` words?"""
    for s, e in sents:
        if s >= a - 1 and e <= b + 2 and e - s > 0:
            if len(WORD_RE.findall(toks.text, s, e)) >= min_words:
                return True
        if s > b:
            break
    return False


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(h: _Hit) -> str:
    if h.kind == "stutter" and h.words == 1 and len(h.unit) > 1 and len(set(h.unit)) == 1:
        return f"character held down: {h.unit!r}…"
    if h.kind == "stutter":
        return f"word stutter: {h.unit!r} x{int(h.copies)}"
    if h.kind == "run":
        return f"one token over and over: {h.unit!r}… (x{int(h.copies)})"
    if h.kind == "loop":
        return f"looping: {h.unit!r} repeated back to back ({h.copies:.1f} copies, {h.words} words)"
    return f"duplicated block of {h.words} words: {h.unit!r}"
