"""Real-word errors: a correctly spelled word of a confusion set written for its partner
("their" for "there", "then" for "than"), found with word-pair counts on both sides."""

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
CONFUSABLE = frozenset(PARTNERS)

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
        low = w.lower()
        if w[0].isupper() and w != w.capitalize():
            continue
        p = _BEFORE_RE.search(masked, max(0, start - 30), start)
        n = _AFTER_RE.match(masked, end, end + 30)
        if p is None or n is None:
            continue
        prev, nxt = p.group(1).lower(), n.group(1).lower()
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
