"""Length: truncated outputs, outputs that break a length limit in the prompt, and outputs far
longer or shorter than the reference.

- Truncation: ``finish_reason == "length"`` is truncation; ``eos``/``stop`` never is. With no
  finish reason the text itself is read: a prose line that stops without closing punctuation, a
  dangling "the"/"and"/comma, an unclosed code fence or bracket, or a list whose other items end
  with a period while the last does not.
- Prompt limits: "in at most 50 words", "under 100 words", "no more than 3 sentences", "in one
  sentence", "a one-word answer", "2-3 paragraphs", "a 100-word story", "at least 200 words",
  "briefly"... (see ``prompt_limits``). Hard limits ("under", "at most", "or less") are strict;
  targets ("in 100 words", "a 100-word story") get ``target_tolerance``; vague ones ("briefly",
  "in a few words") only catch gross excess.
- Reference: more than ``max_ratio_to_reference`` times its words (plus ``ratio_slack_words``), or
  less than ``min_ratio_to_reference`` times.
- Empty: an output that is empty or only whitespace answers nothing, whatever was asked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pydantic import Field

from workbench.check.checks import Check, Finding, Record
from workbench.suggest.repairs import Repair

from ._text import (
    code_spans,
    count_words,
    counted_word_spans,
    is_list_item,
    paragraphs,
    sentence_spans,
)

# -- prompt limits --------------------------------------------------------------------------
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORDS.update({"a": 1, "an": 1, "single": 1, "a single": 1, "couple": 2, "a couple of": 2})
_TENS = {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "twenty": 20,
}
_NUM = (
    r"(?:\d{1,3}(?:,\d{3})+|\d+|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
    r"(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?|(?:one|two|three|four|five|six|"
    r"seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"
    r"nineteen)(?: hundred)?|a hundred|a thousand|a dozen|a single|single)"
)
_UNIT = (
    r"(?P<unit>words?|characters?|chars?|letters?|sentences?|paragraphs?|paras?|"
    r"bullet[- ]?points?|bullets?|points?|list items|items|lines?)"
)
_NOUN_AFTER = r"(?!\s*(?:each|per|apiece|long each)\b)"  # "240 characters max each": per item
_HARD_MAX = (
    r"at\s+most|no\s+more\s+than|not\s+more\s+than|"
    r"(?:not|never|\w+n't)\s+(?:\w+\s+){0,3}?(?:more|longer)\s+than|no\s+longer\s+than|"
    r"not\s+longer\s+than|(?:not|never|\w+n't)\s+(?:\w+\s+){0,2}?(?:exceed|go\s+(?:past|over|beyond)|"
    r"run\s+(?:past|over|beyond)|pass)|"
    r"up\s+to|a\s+maximum\s+of|maximum\s+of|max(?:imum)?\.?|"
    r"(?<!\bno\s)(?<!\bnot\s)(?:fewer|less)\s+than|"
    r"(?:in\s+)?under|below|within|no\s+greater\s+than|shorter\s+than|"
    r"(?:do|does|should|must|may|can|will)?\s*not\s+(?:to\s+)?(?:exceed|go\s+over|be\s+longer\s+than)|"
    r"not\s+exceeding|without\s+exceeding|exceeding\s+no|limit(?:ed)?\s+(?:\w+\s+){0,3}?to|"
    r"keep(?:s|ing)?\s+(?:\w+\s+){0,3}?(?:under|below|to|within)|cap(?:ped)?\s+(?:\w+\s+){0,3}?at"
)
_MIN = (
    r"at\s+least|no\s+fewer\s+than|no\s+less\s+than|not\s+less\s+than|a\s+minimum\s+of|"
    r"minimum(?:\s+of)?|min\.?|(?<!no )(?<!not )(?<!n't )more\s+than"
)

_RE_RANGE = re.compile(
    rf"\b(?:between\s+)?(?P<lo>{_NUM})\s*(?:-|–|to|and|or)\s*(?P<hi>{_NUM})[\s-]+{_UNIT}\b{_NOUN_AFTER}",
    re.I,
)
# "at most 2 short paragraphs": a describing word may sit between the number and the unit
_ADJ = r"(?:(?:short|brief|concise|simple|complete|full|separate|distinct|clear|single)\s+)?"
_RE_HARD = re.compile(
    rf"(?:\b(?:{_HARD_MAX})|≤|<=?)\s*(?:of\s+)?(?P<n>{_NUM})[\s-]+{_ADJ}{_UNIT}\b{_NOUN_AFTER}",
    re.I,
)
_RE_OR_LESS = re.compile(
    rf"\b(?P<n>{_NUM})[\s-]+{_ADJ}{_UNIT}\s*(?:or\s+(?:less|fewer|under|shorter|below)|max(?:imum)?\b|"
    rf"at\s+(?:most|max(?:imum)?)|tops\b|limit\b|only\b){_NOUN_AFTER}",
    re.I,
)
_RE_LIMIT_OF = re.compile(
    rf"\b(?:word|character|sentence|paragraph)\s+(?:limit|count|maximum|cap)\s*(?:of|:|is|=)?\s*(?P<n>{_NUM})\b",
    re.I,
)
# "Maximum length: 50 words", "Limit: 40 words", "Length - max 3 sentences"
_RE_LABELLED = re.compile(
    rf"\b(?:max(?:imum)?\s+)?(?:length|limit|size)\s*[:=\-–]\s*(?:max(?:imum)?\.?\s*|up\s+to\s+)?"
    rf"(?P<n>{_NUM})[\s-]+{_UNIT}\b{_NOUN_AFTER}",
    re.I,
)
# "around 50 words", "approximately 100 words", "roughly two paragraphs"
_RE_ABOUT = re.compile(
    rf"\b(?:around|approximately|approx\.?|about|roughly|circa|~)\s*(?P<n>{_NUM})[\s-]+{_ADJ}{_UNIT}\b"
    rf"{_NOUN_AFTER}",
    re.I,
)
_RE_MIN = re.compile(rf"\b(?:{_MIN})\s+(?P<n>{_NUM})[\s-]+{_UNIT}\b{_NOUN_AFTER}", re.I)
_RE_OR_MORE = re.compile(rf"\b(?P<n>{_NUM})[\s-]+{_UNIT}\s+or\s+(?:more|longer)\b", re.I)
_RE_OR_MORE_BEFORE = re.compile(rf"\b(?P<n>{_NUM})\s+or\s+more\s+{_ADJ}{_UNIT}\b", re.I)
_RE_PLUS = re.compile(rf"\b(?P<n>\d+)\+\s*{_UNIT}\b", re.I)  # "500+ words"
# "no longer than a paragraph", "no more than a sentence", "keep it to a sentence"
_RE_MAX_ONE = re.compile(
    rf"(?:\b(?:{_HARD_MAX})|\bkeep\s+(?:\w+\s+){{0,3}}?to)\s+(?:a|one)\s+(?P<unit>sentence|paragraph|"
    rf"line|word)\b{_NOUN_AFTER}",
    re.I,
)
# "Describe X (50 words)", "(about 100 words)", "(3 sentences)"
_RE_PAREN = re.compile(
    rf"\((?:about\s+|around\s+|approx\.?\s+|approximately\s+|~\s*)?(?P<n>{_NUM})[\s-]+{_UNIT}\)",
    re.I,
)
_RE_ONE_LINE = re.compile(r"\b(?:a\s+)?(?:one|single)[- ]line(?:r)?\b(?!s)", re.I)
# targets: "in 50 words", "in one sentence", "using three sentences", "a 100-word story",
# "write two sentences", "100 words long", "a story of 100 words"
_RE_TARGET = re.compile(
    rf"\b(?:in|use|using|with|into|of|as|(?:write|give|generate|create|compose|provide|need|want|"
    rf"list|send)(?:\s+(?:me|us))?|answer\s+in|"
    rf"respond\s+in|reply\s+in|summari[sz]e\s+(?:\w+\s+){{0,4}}?in)\s+(?:exactly\s+|just\s+|only\s+)?"
    rf"(?P<n>{_NUM})[\s-]+(?:short\s+|brief\s+|simple\s+|concise\s+|complete\s+)?{_UNIT}\b{_NOUN_AFTER}",
    re.I,
)
_RE_COMPOUND = re.compile(
    rf"\b(?P<n>{_NUM})[- ](?P<unit>word|sentence|paragraph|line|character|bullet)(?:s)?[- ]?"
    rf"(?:long\s+)?(?:[a-z]+\s+)?(?:answer|response|reply|summary|description|story|essay|poem|paragraph|"
    rf"explanation|overview|bio|biography|post|review|article|piece|tweet|message|statement|"
    rf"slogan|tagline|pitch|definition|abstract|intro|introduction|dialogue|speech|letter|note|"
    rf"caption|headline|title|fable|tale|scenario|narrative|recap|synopsis|version|text|blurb|"
    rf"advert|ad|list|outline|report|update|email|memo|reply)\b{_NOUN_AFTER}",
    re.I,
)
# how a target that bounds the form of an answer starts ("in 3 sentences", "using 2 paragraphs")
_FORM_WORD = re.compile(
    r"(?:in|use|using|with|into|of|as|answer|respond|reply|summari[sz]e)\b", re.I
)
# "300 words on the causes of ...", "5 bullet points about ...": the amount asked for
_RE_AMOUNT_ON = re.compile(
    rf"\b(?:exactly\s+)?(?P<n>{_NUM})[\s-]+{_ADJ}{_UNIT}\s+(?:on|about|describing|explaining|"
    rf"summari[sz]ing|covering|for)\b",
    re.I,
)
_RE_LONG = re.compile(rf"\b(?P<n>{_NUM})[\s-]+{_UNIT}\s+(?:long|in\s+length)\b", re.I)
_RE_ONE_WORD = re.compile(
    r"\b(?:in\s+(?:a\s+|one\s+|a\s+single\s+)word|(?:a\s+)?(?:one|single)[- ]word\b|"
    r"with\s+(?:just\s+|only\s+)?(?:a\s+|one\s+|a\s+single\s+)word|"
    r"(?:answer|respond|reply)\s+(?:\w+\s+){0,2}?(?:a\s+|one\s+|a\s+single\s+)word\b|"
    r"(?:one|single)\s+word\s+(?:only|answer|response))",
    re.I,
)
# "in a sentence" is a limit, unless the prompt talks about words in a sentence ("the frequency
# of a word in a sentence", "when to use a comma in a sentence?")
_RE_ONE_SENTENCE = re.compile(
    r"(?<!word )(?<!words )(?<!comma )(?<!letter )(?<!clause )(?<!phrase )"
    r"\b(?:in\s+(?:a\s+|one\s+|a\s+single\s+|just\s+one\s+|only\s+one\s+)sentence\b(?!\s*\?)|"
    r"(?:one|single)[- ]sentence\b|"
    r"(?:answer|respond|reply)\s+(?:\w+\s+){0,3}?(?:in|with)\s+(?:a|one|a\s+single)\s+sentence\b)",
    re.I,
)
_RE_SENTENCE_OR_TWO = re.compile(
    r"\b(?:a\s+sentence\s+or\s+two|one\s+or\s+two\s+sentences)\b", re.I
)
_RE_ONE_PARAGRAPH = re.compile(
    r"\b(?:(?:in|as|with|into)\s+(?:a\s+single|one|a\s+single|just\s+one)\s+paragraph|"
    r"(?:one|single)[- ]paragraph)\b",
    re.I,
)
_RE_FEW_WORDS = re.compile(r"\bin\s+(?:just\s+)?a\s+few\s+words\b", re.I)
_RE_FEW_SENTENCES = re.compile(r"\b(?:in\s+)?(?:a\s+few|few)\s+(?:short\s+)?sentences\b", re.I)
_RE_COUPLE_SENTENCES = re.compile(
    r"\b(?:in\s+)?a\s+couple(?:\s+of)?\s+(?:short\s+)?sentences\b", re.I
)
_RE_VAGUE = re.compile(
    r"\b(?:briefly|brief|concise(?:ly)?|succinct(?:ly)?|short\s+(?:answer|response|reply)|"
    r"in\s+short|keep\s+it\s+short|tl;?dr|in\s+a\s+nutshell)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Limit:
    """A length limit read from a prompt: ``unit`` is words, characters, sentences, paragraphs,
    bullets or lines; ``kind`` is ``max`` (hard), ``target`` (approximate), ``min`` or ``vague``.
    ``amount``: a target that asks for so many units ("write two paragraphs", "give me 5 bullet
    points", "a 3-sentence story"), not a bound on the answer's form ("answer in 3 sentences")."""

    unit: str
    kind: str
    value: int
    phrase: str
    amount: bool = False


def _number(text: str) -> int | None:
    t = text.lower().strip().replace(",", "")
    if t.isdigit():
        return int(t)
    t = re.sub(r"\s+", " ", t)
    if t in _NUMBER_WORDS:
        return _NUMBER_WORDS[t]
    if t in ("a hundred", "one hundred"):
        return 100
    if t == "a thousand":
        return 1000
    if t == "a dozen":
        return 12
    if t.endswith(" hundred") and t[:-8] in _NUMBER_WORDS:
        return _NUMBER_WORDS[t[:-8]] * 100
    parts = re.split(r"[- ]", t)
    if parts[0] in _TENS:
        return _TENS[parts[0]] + (_NUMBER_WORDS.get(parts[1], 0) if len(parts) > 1 else 0)
    return None


def _unit(word: str) -> str:
    w = word.lower().replace("-", " ")
    if w.startswith(("word",)):
        return "words"
    if w.startswith(("char", "letter")):
        return "characters"
    if w.startswith("sentence"):
        return "sentences"
    if w.startswith("para"):
        return "paragraphs"
    if w.startswith("line"):
        return "lines"
    return "bullets"


_UNIT_HINT = re.compile(r"word|char|letter|sentence|paragraph|para|bullet|point|item|line", re.I)


def prompt_limits(prompt: str) -> list[Limit]:
    """Every length limit stated in ``prompt`` (cached: suites repeat prompts across models)."""
    if not _UNIT_HINT.search(prompt):
        return []
    return list(_prompt_limits(prompt))


@lru_cache(maxsize=4096)
def _prompt_limits(prompt: str) -> tuple[Limit, ...]:
    found: list[Limit] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match, unit: str, kind: str, value: int | None, amount: bool = False) -> None:
        if value is None or value <= 0:
            return
        if any(a < m.end() and m.start() < b for a, b in taken):
            return  # a more specific pattern already read this phrase
        taken.append(m.span())
        found.append(Limit(unit, kind, value, m.group().strip(), amount))

    for m in _RE_RANGE.finditer(prompt):
        lo, hi = _number(m["lo"]), _number(m["hi"])
        if lo is not None and hi is not None and lo < hi:
            u = _unit(m["unit"])
            add(m, u, "max", hi)
            found.append(Limit(u, "min", lo, m.group().strip()))
    for m in _RE_SENTENCE_OR_TWO.finditer(prompt):
        add(m, "sentences", "max", 2)
    for m in _RE_HARD.finditer(prompt):
        add(m, _unit(m["unit"]), "max", _number(m["n"]))
    for m in _RE_OR_LESS.finditer(prompt):
        add(m, _unit(m["unit"]), "max", _number(m["n"]))
    for m in _RE_LIMIT_OF.finditer(prompt):
        add(m, _unit(m.group().split()[0]), "max", _number(m["n"]))
    for m in _RE_LABELLED.finditer(prompt):
        add(m, _unit(m["unit"]), "max", _number(m["n"]))
    for m in _RE_ABOUT.finditer(prompt):
        add(m, _unit(m["unit"]), "target", _number(m["n"]))
    for m in _RE_MIN.finditer(prompt):
        add(m, _unit(m["unit"]), "min", _number(m["n"]))
    for m in _RE_OR_MORE.finditer(prompt):
        add(m, _unit(m["unit"]), "min", _number(m["n"]))
    for m in _RE_OR_MORE_BEFORE.finditer(prompt):
        add(m, _unit(m["unit"]), "min", _number(m["n"]))
    for m in _RE_PLUS.finditer(prompt):
        add(m, _unit(m["unit"]), "min", _number(m["n"]))
    for m in _RE_ONE_WORD.finditer(prompt):
        add(m, "words", "max", 1)
    for m in _RE_ONE_SENTENCE.finditer(prompt):
        add(m, "sentences", "max", 1)
    for m in _RE_ONE_PARAGRAPH.finditer(prompt):
        add(m, "paragraphs", "max", 1)
    for m in _RE_MAX_ONE.finditer(prompt):
        add(m, _unit(m["unit"]), "max", 1)
    for m in _RE_ONE_LINE.finditer(prompt):
        add(m, "lines", "max", 1)
    for m in _RE_COMPOUND.finditer(prompt):
        add(m, _unit(m["unit"]), "target", _number(m["n"]), amount=True)
    for m in _RE_LONG.finditer(prompt):
        add(m, _unit(m["unit"]), "target", _number(m["n"]))
    for m in _RE_PAREN.finditer(prompt):
        add(m, _unit(m["unit"]), "target", _number(m["n"]))
    for m in _RE_TARGET.finditer(prompt):
        amount = _FORM_WORD.match(m.group()) is None
        add(m, _unit(m["unit"]), "target", _number(m["n"]), amount=amount)
    for m in _RE_AMOUNT_ON.finditer(prompt):
        add(m, _unit(m["unit"]), "target", _number(m["n"]), amount=True)
    for m in _RE_FEW_WORDS.finditer(prompt):
        add(m, "words", "vague", 40)
    for m in _RE_FEW_SENTENCES.finditer(prompt):
        add(m, "sentences", "vague", 8)
    for m in _RE_COUPLE_SENTENCES.finditer(prompt):
        add(m, "sentences", "vague", 4)
    return tuple(found)


@lru_cache(maxsize=4096)
def vague_brevity(prompt: str) -> str | None:
    """The "briefly"/"concise" wording of a prompt, if any."""
    m = _RE_VAGUE.search(prompt)
    return m.group() if m else None


# -- counting -------------------------------------------------------------------------------
def _bullet_starts(text: str) -> list[int]:
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        if is_list_item(line):
            out.append(pos)
        pos += len(line)
    return out


def _line_starts(text: str) -> list[int]:
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            out.append(pos)
        pos += len(line)
    return out


# a divider line between paragraphs: "***", "---", "* * *", "___", "~~~", "###"
_DIVIDER_LINE = re.compile(r"^[ \t]*([-*_=~#•·+])(?:[ \t]*\1){2,}[ \t]*$", re.M)  # not ``` fences
# the separator a prompt names: "separated by ***", "Separate paragraphs with the markdown
# divider ---", "use | between paragraphs"
_RE_SEPARATOR = re.compile(
    r"\bseparat(?:ed|e|ing)\s+(?:(?:the\s+|your\s+|each\s+)?(?:paragraphs?|sections?|parts?)\s+)?"
    r"(?:with|by|using)\s+(?:the\s+|a\s+)?(?:markdown\s+)?(?:divider\s+|separator\s+)?"
    r"[\"'`]?(?P<sep>[^\w\s\"'`]{1,6})",
    re.I,
)


@lru_cache(maxsize=4096)
def paragraph_separator(prompt: str) -> str | None:
    """The symbol a prompt asks paragraphs to be separated with ("***"), if any."""
    m = _RE_SEPARATOR.search(prompt) if prompt else None
    return m["sep"].rstrip(".,;:!?)") or None if m else None


def _paragraph_starts(text: str, separator: str | None = None) -> list[int]:
    """Where each paragraph starts: blocks split by blank lines, divider lines ("***", "---")
    and the prompt's own separator; a block holding only a divider is no paragraph."""
    cuts = [(m.start(), m.end()) for m in _DIVIDER_LINE.finditer(text)]
    if separator and len(separator) >= 2:
        k = text.find(separator)
        while k >= 0:
            cuts.append((k, k + len(separator)))
            k = text.find(separator, k + len(separator))
    if not cuts:
        starts, pos = [], 0
        for p in paragraphs(text):
            k = text.find(p, pos)
            starts.append(k)
            pos = k + len(p)
        return starts
    cuts.sort()
    starts: list[int] = []
    pos = 0
    for a, b in [*cuts, (len(text), len(text))]:
        if a < pos:
            continue
        chunk = text[pos:a]
        off = pos
        for p in paragraphs(chunk):
            k = chunk.find(p, off - pos)
            if any(ch.isalnum() for ch in p):
                starts.append(pos + k)
            off = pos + k + len(p)
        pos = b
    return starts


_INLINE_NUMBER = re.compile(r"(?:^|\s)\(?\d{1,2}[.)]\s+(?=\S)")


_FENCED = re.compile(r"```.*?(?:```|\Z)", re.S)


def _prose_sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences for counting against a limit, counted as most sentence splitters do: closing
    punctuation ends one, a bare line break does not (a title, a wrapped line, a poem's stanza or
    a list of items without periods is not counted as extra sentences; list markers such as "1."
    are not sentence ends). Code blocks do not count. Conservative on purpose: a limit is only
    reported broken when any reasonable count breaks it."""
    if "```" in text:
        text = _FENCED.sub(lambda m: " " * len(m.group()), text)
    spans: list[tuple[int, int]] = []
    for a, b in sentence_spans(text):
        if spans and not _ENDS_SENTENCE.search(text, max(0, spans[-1][1] - 16), spans[-1][1]):
            spans[-1] = (spans[-1][0], b)
            continue
        spans.append((a, b))
    return spans


_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*$")


def measure(
    text: str, unit: str, separator: str | None = None, lenient: bool = False
) -> tuple[int, list[int]]:
    """How many ``unit``s ``text`` has, and where each starts (for spans past a limit).
    ``separator``: the paragraph separator the prompt asked for. ``lenient``: count as high as
    any fair reading does (for a minimum: points written as numbered runs on one line, as
    paragraphs or as sentences count as bullet points)."""
    if unit == "words":
        starts = [a for a, _ in counted_word_spans(text)]
    elif unit == "characters":
        s = text.strip()
        off = len(text) - len(text.lstrip())
        return len(s), [off + i for i in range(len(s))]
    elif unit == "sentences":
        spans = sentence_spans(text) if lenient else _prose_sentence_spans(text)
        starts = [a for a, _ in spans]
    elif unit == "paragraphs":
        starts = _paragraph_starts(text, separator)
        if lenient and len(starts) <= 1:  # paragraphs set apart by single line breaks
            starts = max(starts, _line_starts(text), key=len)
    elif unit == "lines":
        starts = _line_starts(text)
    else:
        starts = _bullet_starts(text)
        if lenient:
            alt = max(
                (
                    [m.start() for m in _INLINE_NUMBER.finditer(text)],
                    _paragraph_starts(text),
                    [a for a, _ in sentence_spans(text)],
                ),
                key=len,
            )
            starts = alt if len(alt) > len(starts) else starts
    return len(starts), starts


# -- truncation -----------------------------------------------------------------------------
_DANGLING = frozenset(
    """the a an and or but nor of to in on at by for with from into onto about as than that which
    who whom whose when where while if because since so such this these those their its our your
    my his her is are was were be been being has have had will would can could should may might
    must not very more most also such like including include includes e.g i.e between among
    through during without within upon via per whether both either neither each every some any
    they we she he""".split()
)


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    """English words (pyspellchecker's list), loaded on first use: tells a word cut in half
    ("expandi") from a whole one at the end of a verse line or list item."""
    try:
        from spellchecker import SpellChecker
    except ImportError:  # the check still works, without this one signal
        return frozenset()
    return frozenset(SpellChecker().word_frequency.dictionary)


def _cut_word(word: str) -> bool:
    """Is this lowercase tail a fragment of a word rather than a word?"""
    if not word.isalpha() or not word.islower() or len(word) < 2:
        return False
    words = _dictionary()
    return bool(words) and word not in words


def _short_tail(last: str, others: list[str]) -> bool:
    """Is the last line of verse much shorter than the lines before it (cut off)?"""
    if not _VERSE_LINE.match(last) or last.strip().lower() in _CLOSINGS:
        return False
    lengths = sorted(count_words(_strip_marker(ln)) for ln in others[-8:])
    median = lengths[len(lengths) // 2]
    return median >= 4 and count_words(last) <= max(1, median // 2)


_QUANTITY_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s*[\d/½¼¾⅓⅔.,\-–]+\s*$")
_NUMBERED = re.compile(r"^\s*(\d{1,3})[.)]\s", re.M)
_ANY_PUNCT_END = re.compile(r"[,.;:!?…]['\"”’)]*$")
_COUNT_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_ASKED = re.compile(
    r"\b(?:list|name|give|provide|generate|suggest|write|create|compose|come\s+up\s+with|identify|"
    r"find|outline|brainstorm|share|recommend|describe|make)\b(?:\s+(?:me|us|a\s+list\s+of|"
    r"the|some|at\s+least))*\s+(\d{1,2}|"
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty)\s+(?!words?\b|"
    r"sentences?\b|paragraphs?\b|lines?\b|characters?\b|times?\b|minutes?\b|hours?\b|days?\b)",
    re.I,
)


@lru_cache(maxsize=4096)
def _asked_count(prompt: str) -> int:
    """How many items the prompt asks for ("List 5 ...", "Give me ten ..."), or 0."""
    m = _ASKED.search(prompt) if prompt else None
    if not m:
        return 0
    n = m.group(1).lower()
    return int(n) if n.isdigit() else _COUNT_WORDS.get(n, 0)


_LABEL = re.compile(r"^\s*[\w ()/-]{1,30}:\s")
_VERSE_LINE = re.compile(r"^\s*[A-Za-z][A-Za-z' ,]*$")
_CLOSINGS = frozenset({"end", "stop", "done", "the end", "fin", "finish"})


def _strip_marker(line: str) -> str:
    return _MARKER_RE.sub("", line, count=1)


_MARKER_RE = re.compile(r"^\s*(?:[-*•]|\(?\w{1,3}[.)])\s+")
# what may trail a finished sentence: quotes, brackets, emphasis, emoji (with skin tones, ZWJ)
_TRAILERS = re.compile(
    "(?:[\"'”’)\\]*_\\s\u200d\ufe0f\u2640\u2642\u2600-\u27bf\U0001f000-\U0001faff]|:\\))+$"
)
_CLOSED_END = re.compile(r"(?:[.!?…。]|```)$")
_LAST_WORD = re.compile(r"([^\W_]+)\W*$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_HASHTAGS = re.compile(r"(?:#\w+\s*)+$")
_URL_END = re.compile(r"(?:https?://|www\.)\S+$")
# two-letter words; any other one- or two-letter tail is a word cut in half ("st", "th")
_SHORT_WORDS = frozenset(
    "a i an as at be by do go he if in is it me my no of on or so to up us we ok oh hi ai id "
    "tv uk us eu un pm am vs x y z".split()
)
_INNER_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*\s+[\"'“‘(]?[A-Z]")
_PAIRS = (("(", ")"), ("[", "]"), ("{", "}"), ("“", "”"))
_SIGNOFF = re.compile(
    r"^(?:best|regards|sincerely|cheers|thanks|thank you|yours|warm regards)\b", re.I
)
_TERMINAL = re.compile(r"[.!?…:;]$")


def _last_sentence_start(text: str) -> int:
    k = max(text.rfind(". "), text.rfind("! "), text.rfind("? "), text.rfind("\n"))
    return k + 2 if k >= 0 else 0


def _strip_trailers(text: str) -> str:
    """``text`` without what may trail a finished sentence. Only the tail is searched: an
    end-anchored regex over a whole output costs time quadratic in its length."""
    head, tail = text[:-64], text[-64:]
    return head + _TRAILERS.sub("", tail)


def _tail(text: str, n: int = 300) -> str:
    return text[-n:]


def _closed(line: str) -> bool:
    """Does the line end its sentence (ignoring closing quotes, brackets and emoji)?"""
    return _TERMINAL.search(_strip_trailers(line)[-2:]) is not None


@dataclass(frozen=True, slots=True)
class _Trunc:
    score: float
    start: int
    reason: str


def detect_truncation(text: str, prompt: str = "") -> _Trunc | None:
    """Does ``text`` stop mid-sentence? Judged from the text (and the prompt's requested count of
    items, if any) when no finish reason is known."""
    body = text.rstrip()
    if not body:
        return None
    if body.count("```") % 2 == 1:
        k = body.rfind("```")
        return _Trunc(0.85, k, "unclosed code block")
    head = body[:200].lower()
    if ("<html" in head or "<!doctype" in head) and "</html>" not in body[-300:].lower():
        return _Trunc(0.8, body.rfind("\n") + 1, "HTML document without its closing tag")
    core = _strip_trailers(body)
    if not core or _CLOSED_END.search(core[-4:]):
        return None
    lines = [ln for ln in body.splitlines() if ln.strip()]
    last = lines[-1].strip()
    if _HASHTAGS.search(_tail(core)) or _URL_END.search(_tail(core)):
        return None
    start = body.rfind(last)
    # where the unfinished sentence starts: after the last sentence end before the tail
    sent_start = max(start, _last_sentence_start(body))
    m = _LAST_WORD.search(last[-80:])
    raw_word = m.group(1) if m else ""
    last_word = raw_word.lower()
    others = lines[:-1]
    raw_lines = body.splitlines()
    if len(raw_lines) >= 2 and "|" in raw_lines[-2]:  # a table row right above the last line
        if last.count("|") < raw_lines[-2].count("|"):
            return _Trunc(0.8, start, "table row cut short")
        if last.startswith("|"):
            return None
    if (
        core[-1] in ",;-–—(/&+=#"
        or core.endswith(("->", "=>", "→"))
        or (last_word in _DANGLING and core == body)
        or (
            len(raw_word) <= 2
            and raw_word.isalpha()
            and raw_word.islower()
            and core == body
            and raw_word not in _SHORT_WORDS
        )
    ):
        return _Trunc(0.9, sent_start, f"stops mid-sentence after {body[-12:].strip()!r}")
    if any(last.count(a) > last.count(b) for a, b in _PAIRS) or last.count('"') % 2 == 1:
        return _Trunc(0.8, start, "stops inside brackets or quotes")
    n_words = count_words(last)
    if len(lines) == 1 and count_words(body) <= 3:
        if core == body and _cut_word(raw_word) and count_words(body) > 1:
            return _Trunc(0.7, start, f"ends in a cut word {raw_word!r}")
        return None  # "Paris", "Yes", a bare title
    if code_spans(last):
        if core[-1] in ":{[(\\":  # a block or call opened and never finished
            return _Trunc(0.8, start, "code stops inside an open block")
        return None
    if _TABLE_ROW.match(last) or _SIGNOFF.match(last):
        return None
    if n_words <= 4 and others and _SIGNOFF.match(others[-1].strip()):
        return None  # the name under "Best regards,"
    if is_list_item(last) and others and others[-1].rstrip().endswith(":"):
        return _Trunc(0.65, start, "a list that stops after its first item")
    paras = paragraphs(body)
    if (
        len(paras) >= 2
        and "\n" not in paras[-1].strip()
        and not _LABEL.match(last)
        and not _SIGNOFF.match(last)
        and last.strip().lower() not in _CLOSINGS
        and ("\n" in paras[-2].strip() or _closed(paras[-2].rstrip()))
        and not paras[-2].rstrip().endswith(":")
    ):
        # a new paragraph or stanza that is one unfinished line: the text stopped there
        return _Trunc(0.65, start, "stops after the first line of a new paragraph")
    if _QUANTITY_ITEM.match(last):
        return _Trunc(0.75, start, "last list item is only a quantity")
    asked = _asked_count(prompt)
    if asked and is_list_item(last):
        numbers = [int(m.group(1)) for m in _NUMBERED.finditer(body)]
        if numbers and numbers[-1] == max(numbers) and numbers[-1] < asked:
            return _Trunc(
                0.7, start, f"the list stops at item {numbers[-1]} of the {asked} asked for"
            )
    if is_list_item(last):
        items = [ln for ln in others if is_list_item(ln)]
        closed = sum(1 for ln in items if _closed(ln.rstrip()))
        if items and closed >= 0.6 * len(items) and n_words >= 3 and core == body:
            return _Trunc(0.7, start, "last list item stops without the period the others have")
        if core == body and _cut_word(raw_word):
            return _Trunc(0.7, start, f"last list item ends in a cut word {raw_word!r}")
        return None
    if len(others) >= 2 and not _INNER_SENTENCE_END.search(last) and n_words <= 14:
        unclosed = sum(1 for ln in others if not _closed(ln.rstrip()))
        if unclosed >= 0.5 * len(others):
            # a poem, a list of titles: lines without closing punctuation; only a last line
            # much shorter than its neighbours, a cut word, or verse whose lines all end in
            # punctuation but this one, reads as cut off
            if core == body and _cut_word(raw_word):
                return _Trunc(0.7, start, f"last line ends in a cut word {raw_word!r}")
            if _short_tail(last, others):
                return _Trunc(0.65, start, "last line stops short")
            recent = others[-6:]
            punctuated = sum(1 for ln in recent if _ANY_PUNCT_END.search(ln.rstrip()))
            if core == body and len(recent) >= 2 and punctuated == len(recent):
                return _Trunc(0.6, start, "the only line without end punctuation is the last")
            return None
    if n_words <= 3 and len(lines) > 1 and all(w[:1].isupper() for w in last.split()):
        return None  # a name under a letter, a closing title
    return _Trunc(0.75, sent_start, "ends mid-sentence")


def _fewest(lim: Limit) -> float:
    """The fewest units that still meet a target: half of a word or character target (of 20 or
    more; fewer is a limit, not an amount asked for); of an amount of sentences, paragraphs,
    bullet points or lines asked for, all of a small count, one fewer from four on. "Answer in 3
    sentences" bounds the answer's form: fewer meets it, down to half of four or more."""
    if lim.unit in ("words", "characters"):
        return 0.5 * lim.value if lim.value >= 20 else 0
    if not lim.amount:
        # "in 5 sentences" answered in one or two: well short of the form asked for
        return lim.value / 2 if lim.value >= 4 else 0
    return lim.value - lim.value // 4


# -- the check ------------------------------------------------------------------------------
@dataclass(slots=True)
class _Problem:
    kind: str
    score: float
    span: tuple[int, int]
    message: str


class LengthCheck(Check):
    """Flags truncated outputs, outputs that break a length limit in the prompt, and outputs far
    longer or shorter than the reference."""

    name = "length"
    category = "length"
    version = "2"  # 2: an empty or whitespace-only output is flagged
    description = "Truncation, prompt length limits (words, sentences, ...), length vs reference."

    class Options(Check.Options):
        flag_empty: bool = Field(True, description="Flag empty or whitespace-only outputs.")
        detect_truncation: bool = Field(True, description="Flag outputs cut off mid-sentence.")
        prompt_limits: bool = Field(True, description="Flag outputs that break a prompt's limit.")
        target_tolerance: float = Field(
            0.25,
            ge=0,
            description='Allowed excess over a target such as "in 100 words" (0.25 = 25%).',
        )
        hard_tolerance: float = Field(
            0.05,
            ge=0,
            description='Allowed excess over a hard word/character limit such as "under 100 '
            'words" (0.05 = 5%; people and models count words differently).',
        )
        vague_max_words: int = Field(
            250, ge=1, description='Words allowed when the prompt only says "briefly"/"concise".'
        )
        max_ratio_to_reference: float = Field(
            1.3, gt=1, description="Too long: more than this times the reference's words..."
        )
        ratio_slack_words: int = Field(
            5, ge=0, description="...plus this many words (so short references are fair)."
        )
        min_ratio_to_reference: float = Field(
            0.5, gt=0, lt=1, description="Too short: fewer than this times the reference's words."
        )
        min_reference_words: int = Field(
            10,
            ge=1,
            description="References shorter than this say nothing about an answer's length: "
            "they are not compared.",
        )

    def repair(self, finding: Finding, record: Record) -> Repair:
        """A flagged output is not a whole answer (cut off, or far off the length asked for):
        nothing here completes it, so it is marked cut off. It becomes a training target only
        when another check's repair leaves a complete answer (a loop that ran out the token
        budget, cut back to one copy); a reference replaces it otherwise."""
        return Repair(record.output, cut_off=True)

    def run(self, records: Sequence[Record]) -> Iterable[Finding]:
        for record in records:
            yield self._check(record)

    def _check(self, record: Record) -> Finding:
        text = record.output
        opts = self.options
        problems: list[_Problem] = []
        n = len(text)
        if opts.flag_empty and not text.strip():
            what = "empty output" if not text else "whitespace-only output"
            return self.finding(record, flagged=True, score=1.0, spans=[(0, n)],
                                message=f"{what}: nothing answered",
                                evidence={"kinds": ["empty"], "words": 0})
        if opts.detect_truncation:
            problems += self._truncation(record)
        if opts.prompt_limits and record.prompt:
            problems += self._limits(record.prompt, text)
        if record.reference:
            problems += self._reference(record.reference, text)
        flagged = [p for p in problems if p.score >= 0.5]
        if not flagged:
            best = max((p.score for p in problems), default=0.0)
            return self.finding(record, flagged=False, score=best, message="length ok")
        flagged.sort(key=lambda p: -p.score)
        words = count_words(text)
        return self.finding(
            record,
            flagged=True,
            score=flagged[0].score,
            spans=[p.span for p in flagged if p.span[1] > p.span[0]] or [(0, n)],
            message="; ".join(p.message for p in flagged),
            evidence={"kinds": [p.kind for p in flagged], "words": words},
        )

    def _truncation(self, record: Record) -> list[_Problem]:
        text = record.output
        end = len(text)
        if record.finish_reason == "length":
            sents = sentence_spans(text)
            start = sents[-1][0] if sents else 0
            limit = f" at max_new_tokens={record.max_new_tokens}" if record.max_new_tokens else ""
            return [
                _Problem("truncated", 0.95, (start, end), f"truncated: hit the token limit{limit}")
            ]
        if record.finish_reason in ("eos", "stop"):
            return []
        t = detect_truncation(text, record.prompt or "")
        if t is None:
            return []
        score = t.score
        if record.max_new_tokens and count_words(text) * 1.2 >= 0.9 * record.max_new_tokens:
            score = min(1.0, score + 0.1)  # about as long as the token budget: likely cut
        return [_Problem("truncated", score, (t.start, end), f"truncated: {t.reason}")]

    def _limits(self, prompt: str, text: str) -> list[_Problem]:
        opts = self.options
        out: list[_Problem] = []
        end = len(text)
        separator = paragraph_separator(prompt)
        for lim in prompt_limits(prompt):
            count, starts = measure(text, lim.unit, separator, lenient=lim.kind == "min")
            unit = lim.unit if count != 1 else lim.unit.rstrip("s")
            if lim.kind == "target" and count < _fewest(lim):
                most = measure(text, lim.unit, separator, lenient=True)[0]
            else:
                most = count
            if lim.kind == "target" and most < _fewest(lim):
                # "a 2000-word essay" answered in 150 words; "two paragraphs" in one (counted
                # as high as any fair reading does)
                count = most
                short = 1 - count / lim.value
                out.append(
                    _Problem(
                        "under_limit",
                        0.55 + 0.4 * min(1.0, short),
                        (0, end),
                        f"too short for the prompt ({lim.phrase!r}): {count} {unit}",
                    )
                )
                continue
            if lim.kind == "min":
                if count < lim.value:
                    short = 1 - count / lim.value
                    out.append(
                        _Problem(
                            "under_limit",
                            0.55 + 0.4 * min(1.0, 2 * short),
                            (0, end),
                            f"too short for the prompt ({lim.phrase!r}): {count} {unit}",
                        )
                    )
                continue
            allowed = lim.value
            if lim.kind == "max" and lim.unit in ("words", "characters"):
                allowed = math.floor(lim.value * (1 + opts.hard_tolerance))
            elif lim.kind == "target":
                allowed = (
                    math.floor(lim.value * (1 + opts.target_tolerance))
                    if lim.unit in ("words", "characters")
                    else lim.value + (1 if lim.value >= 3 else 0)
                )
            if count > allowed:
                excess = (count - lim.value) / lim.value
                base = 0.6 if lim.kind in ("max", "target") else 0.55
                at = starts[lim.value] if len(starts) > lim.value else 0
                out.append(
                    _Problem(
                        "over_limit",
                        base + 0.35 * min(1.0, excess),
                        (at, end),
                        f"over the prompt's limit ({lim.phrase!r}): {count} {unit}",
                    )
                )
            elif count > 0.9 * lim.value:
                out.append(_Problem("near_limit", 0.3, (0, 0), "near the prompt's limit"))
        if not any(lim.unit in ("words", "characters") for lim in prompt_limits(prompt)):
            # "keep it short, 300 words at most": the number is the limit, not "short"
            vague = vague_brevity(prompt)
            words = count_words(text)
            if vague and words > opts.vague_max_words:
                starts = counted_word_spans(text)
                out.append(
                    _Problem(
                        "over_limit",
                        0.55 + 0.3 * min(1.0, words / opts.vague_max_words - 1),
                        (starts[opts.vague_max_words][0], end),
                        f"long for a prompt asking {vague!r}: {words} words",
                    )
                )
        return out

    def _reference(self, reference: str, text: str) -> list[_Problem]:
        opts = self.options
        ref = count_words(reference)
        if ref < opts.min_reference_words:
            # a one-word or short-phrase reference (QA gold answers) says what the answer is,
            # not how long it should be: a full-sentence answer to it is fine
            return []
        words = count_words(text)
        end = len(text)
        allowed = math.floor(opts.max_ratio_to_reference * ref) + opts.ratio_slack_words
        if words > allowed:
            ratio = words / max(1, ref)
            starts = counted_word_spans(text)
            return [
                _Problem(
                    "too_long",
                    0.6 + 0.35 * min(1.0, (words - allowed) / max(allowed, 1)),
                    (starts[allowed][0], end),
                    f"{ratio:.1f}x the reference's length ({words} vs {ref} words)",
                )
            ]
        if ref >= opts.min_reference_words and words < opts.min_ratio_to_reference * ref:
            return [
                _Problem(
                    "too_short",
                    0.6 + 0.35 * (1 - words / (opts.min_ratio_to_reference * ref)),
                    (0, end),
                    f"much shorter than the reference ({words} vs {ref} words)",
                )
            ]
        return []
