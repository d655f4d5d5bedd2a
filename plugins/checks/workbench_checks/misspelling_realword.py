"""Real-word errors: a correctly spelled word of a confusion set written for its partner
("their" for "there", "then" for "than"), found with word-pair counts on both sides; and a
contraction confused with the word spelled like it ("its a" for "it's a", "you're car" for
"your car"), found with rules on the words around it (the word-pair list has no apostrophes,
and web text writes "its a" too often for its counts to tell)."""

from __future__ import annotations

import re
from typing import NamedTuple

from .misspelling_bigrams import Bigrams

# Pairs people confuse; every member is checked against the others of its set.
CONFUSION_SETS: tuple[tuple[str, ...], ...] = (
    ("their", "there"),
    ("then", "than"),
    ("affect", "effect"),
    ("affects", "effects"),
    ("lose", "loose"),
    ("to", "too"),
    ("were", "where"),
    ("accept", "except"),
    ("quite", "quiet"),
    ("weather", "whether"),
    ("advice", "advise"),
    ("piece", "peace"),
    ("know", "now"),
    ("passed", "past"),
    ("principal", "principle"),
    ("breath", "breathe"),
    ("chose", "choose"),
)
PARTNERS: dict[str, tuple[str, ...]] = {}
for _set in CONFUSION_SETS:
    for _w in _set:
        PARTNERS[_w] = PARTNERS.get(_w, ()) + tuple(x for x in _set if x != _w)

# Contraction confusions, decided by the next word (and, for some, the one before).
# Words that never follow a possessive (its, your, their, whose) but follow "it is", "you are",
# "they are", "who is": articles and determiners, "not", auxiliaries' participles, degree and
# time adverbs (not those that are adjectives too: its very core, a just cause, still water).
_AFTER_BE = frozenset(
    "a an the not been being going gonna getting so too also really always never already "
    "actually probably definitely certainly".split()
)
# Adjectives that follow "it is" before "to" or "that" but are not nouns (its ability to ...
# is a possessive): "its important to" is "it's important to".
_BE_ADJECTIVES = frozenset(
    "important possible impossible necessary difficult easy hard clear likely unlikely "
    "essential crucial true".split()
)
# Prepositions: what follows one is a noun phrase, never a clause ("of it's" is "of its").
_PREPOSITIONS = frozenset(
    "of in into on onto with from by through within throughout about for to at under over "
    "without".split()
)
# (written, meant, the next words that say the contraction was meant)
_TO_CONTRACTION = {"its": "it's", "your": "you're", "whose": "who's"}
_FROM_CONTRACTION = {"it's": "its", "you're": "your", "who's": "whose"}
CONTRACTION_SETS = (("its", "it's"), ("your", "you're"), ("whose", "who's"), ("their", "they're"))
_CONTRACTABLE = frozenset(w for ws in CONTRACTION_SETS for w in ws)
CONFUSABLE = frozenset(PARTNERS) | _CONTRACTABLE | {w.replace("'", "’") for w in _CONTRACTABLE}

# The partner must be at least SIDE_RATIO times likelier than the written word with the word
# before AND with the word after, RATIO times on the two sides together, and each of its pairs
# must be common in its own right.
SIDE_RATIO = 3.0
RATIO = 200.0
MIN_PAIR = 1e6

_BEFORE_RE = re.compile(r"(?<![A-Za-z'’])([A-Za-z]+) +$")
_AFTER_RE = re.compile(r" +([A-Za-z]+)(?![A-Za-z'’])")


class RealWordError(NamedTuple):
    start: int
    end: int
    word: str
    correction: str


def _occurrences(lower: str, words: set[str]) -> list[tuple[int, int]]:
    """Where the lowercase ``words`` occur in the lowercased text as whole words, in order."""
    found = []
    for tok in words:
        i = lower.find(tok)
        while i >= 0:
            j = i + len(tok)
            if not (lower[i - 1 : i].isalpha() or lower[j : j + 1].isalpha()):
                found.append((i, j))
            i = lower.find(tok, j)
    return sorted(found)


def real_word_errors(masked: str, bigrams: Bigrams, words: set[str]) -> list[RealWordError]:
    """Confusion-set words (of ``words``, lowercase) whose partner the neighbours strongly
    prefer, on both sides. Neighbours must be in the same clause: only spaces between."""
    out: list[RealWordError] = []
    lower = masked.lower()
    if len(lower) != len(masked):
        return out  # a few letters change length when lowered: offsets would drift
    for start, end in _occurrences(lower, words):
        w = masked[start:end]
        low = w.lower().replace("’", "'")
        if w[0].isupper() and w != w.capitalize():
            continue
        p = _BEFORE_RE.search(masked, max(0, start - 30), start)
        n = _AFTER_RE.match(masked, end, end + 30)
        if low in _CONTRACTABLE:
            if n is not None:
                n2 = _AFTER_RE.match(masked, n.end(), n.end() + 30)
                alt = contraction_error(
                    p.group(1).lower() if p is not None else None,
                    low,
                    n.group(1).lower(),
                    n2.group(1).lower() if n2 is not None else None,
                )
                if alt is not None:
                    out.append(RealWordError(start, end, w, alt))
                    continue
            if low not in PARTNERS:
                continue
        if p is None or n is None:
            continue
        prev, nxt = p.group(1).lower(), n.group(1).lower()
        if low == "too" and bigrams.count("very", nxt):
            # "were too sensitive": a degree adverb before a word "very" goes before (an
            # adjective or adverb); the pair list is cut off at millions, so "too sensitive"
            # may be missing from it while "to sensitive (data)" is not
            continue
        left_w, right_w = bigrams.count(prev, low), bigrams.count(low, nxt)
        best, best_gain = None, 0.0
        for alt in PARTNERS[low]:
            left_a, right_a = bigrams.count(prev, alt), bigrams.count(alt, nxt)
            if min(left_a, right_a) < MIN_PAIR:
                continue
            left, right = (left_a + 1) / (left_w + 1), (right_a + 1) / (right_w + 1)
            gain = left * right
            if min(left, right) >= SIDE_RATIO and gain >= RATIO and gain > best_gain:
                best, best_gain = alt, gain
        if best is not None:
            out.append(RealWordError(start, end, w, best))
    return out


def contraction_error(prev: str | None, word: str, nxt: str, after: str | None) -> str | None:
    """The word meant for a contraction or a word spelled like one, from its neighbours
    (lowercase; ``after`` is the word after ``nxt``), or None.

    - its, your, whose, their before a word that never follows a possessive ("its a",
      "your not", "whose going", "their going"), or before an adjective of ``_BE_ADJECTIVES``
      followed by "to" or "that" ("its important to"): the contraction;
    - it's, you're, who's before "own", or after a preposition ("of it's", "for you're"):
      the possessive, unless what follows reads as a clause (an article, "not", a participle).
    """
    if word in _TO_CONTRACTION or word == "their":
        meant = "they're" if word == "their" else _TO_CONTRACTION[word]
        if word == "their":
            return meant if nxt in ("going", "gonna", "not") else None
        if nxt in _AFTER_BE or (nxt in _BE_ADJECTIVES and after in ("to", "that")):
            return meant
        return None
    meant = _FROM_CONTRACTION.get(word)
    if meant is None:
        return None
    if nxt == "own":
        return meant
    if prev in _PREPOSITIONS and nxt not in _AFTER_BE and not nxt.endswith(("ing", "ed")):
        return meant
    return None
