"""Text utilities shared by the built-in checks: words, sentences, lines, with character offsets.

Everything here is plain regex over the output string, precompiled, so a check can afford to call
it on every record (the checks together must run at thousands of records per second).
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A word: letters/digits with inner apostrophes or hyphens ("don't", "well-known", "3.14" -> 3, 14).
WORD_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
# A whitespace token; it counts as a word when it holds a letter or digit. Tokens are found first
# and tested after: a single pattern such as \S*[^\W_]\S* backtracks over every start of a long
# run of punctuation or emoji (time quadratic in the run).
_TOKEN_RE = re.compile(r"\S+")
_ALNUM_RE = re.compile(r"[^\W_]")

# Common abbreviations whose period does not end a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st vs etc e.g i.e eg ie al fig no nos vol approx dept est inc ltd
    co corp jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k a.m p.m ph.d cf ca resp""".split()
)
# Sentence end: terminal punctuation (with closing quotes/brackets) followed by whitespace. A run of
# punctuation is only entered at its first character and taken whole (possessive): tried from every
# character of a long "!!!!..." run, it would cost time quadratic in the run.
_SENT_END_RE = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+(?=\s)|\n\s*+")


class Token(NamedTuple):
    """A word and where it is in the text: ``text[start:end]``; ``norm`` is lowercased."""

    norm: str
    start: int
    end: int


def words(text: str) -> list[Token]:
    """The words of ``text`` (lowercased) with their character offsets."""
    return [Token(m.group().lower(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


_PUNCT_TOKEN_RE = re.compile(r"(?<!\S)[^\w\s]+(?!\S)")


def count_words(text: str) -> int:
    """Words as a person counts them: whitespace-separated tokens holding a letter or digit."""
    return len(text.split()) - len(_PUNCT_TOKEN_RE.findall(text))


def counted_word_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the tokens ``count_words`` counts, in order."""
    alnum = _ALNUM_RE.search
    return [m.span() for m in _TOKEN_RE.finditer(text) if alnum(m.group())]


def _is_abbreviation(text: str, end: int) -> bool:
    """Does the period ending at ``end`` (exclusive) close an abbreviation, initial or list
    marker ("Dr.", "e.g.", "J.", a "1." at a line start)?"""
    # the token before the period: found with rfind, not an end-anchored regex (quadratic)
    a = max(text.rfind(" ", 0, end), text.rfind("\n", 0, end), text.rfind("\t", 0, end)) + 1
    raw = text[a:end]
    tok = raw.rstrip(".").lstrip("(\"'“‘").lower()
    if tok in _ABBREVIATIONS:
        return True
    if len(tok) == 1 and tok.isalpha() and raw.lstrip("(\"'“‘")[:1].isupper():
        return True
    if len(tok) <= 3 and (tok.isdigit() or len(tok) == 1):
        line_start = text.rfind("\n", 0, a) + 1
        return not text[line_start:a].strip()
    return False


_NEXT_LOWER = re.compile(r"[ \t]+[a-z]")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) offsets of the sentences of ``text``. Line breaks also end a sentence.

    Conservative: an abbreviation, an initial, a period with no space after it ("3.14",
    "example.com") or punctuation followed by a lowercase word ('"Hi!" and left') does not
    split.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    n = len(text)
    for m in _SENT_END_RE.finditer(text):
        end = m.end()
        first = m.group()[0]
        if first == "." and _is_abbreviation(text, m.start() + 1):
            continue
        if first != "\n" and _NEXT_LOWER.match(text, end):
            continue  # 'He said "Hi!" and left.': a sentence goes on in lowercase
        seg_start, seg_end = _trim(text, start, end)
        if seg_end > seg_start:
            spans.append((seg_start, seg_end))
        start = end
    seg_start, seg_end = _trim(text, start, n)
    if seg_end > seg_start:
        spans.append((seg_start, seg_end))
    return spans


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see ``sentence_spans``)."""
    return [text[a:b] for a, b in sentence_spans(text)]


_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*•‣◦▪+]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)])\s+")
_PARAGRAPH_SPLIT_RE = re.compile(r"\n[ \t]*\n")


def is_list_item(line: str) -> bool:
    """Does this line start with a bullet or a number marker ("- ", "* ", "1. ", "a) ")?"""
    return _LIST_MARKER_RE.match(line) is not None


def list_items(text: str) -> int:
    """How many lines of ``text`` are bullet or numbered list items."""
    return sum(1 for line in text.splitlines() if is_list_item(line))


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks holding some text."""
    return [p for p in _PARAGRAPH_SPLIT_RE.split(text) if p.strip()]


_CODE_LINE_RE = re.compile(r"[{};=<>]|^\s{2,}\S|^\s*(?:def|return|if|for|while|class|import)\b")


def looks_like_code(text: str) -> bool:
    """A fenced block, or most lines carrying code punctuation or indentation."""
    if "```" in text:
        return True
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 3:
        return False
    codeish = sum(1 for ln in lines if _CODE_LINE_RE.search(ln))
    return codeish >= 0.5 * len(lines)


_FENCE_RE = re.compile(r"```.*?(?:```|\Z)", re.S)
_LINE_RE = re.compile(r"[^\n]+")
_CODE_START_RE = re.compile(
    r"^\s*(?:def|return|if|elif|else|for|while|class|import|from|case|break|switch|public|private|"
    r"static|var|let|const|function|print|#include|//|/\*|<\w+|</|\}|\{)\b|^\s*[{}\]);]"
)
# ends like a statement or a call ("f(x)"); prose ending in "(RL)" or "(optional)" does not
_CODE_END_RE = re.compile(r"(?:[;{}\]]|\w\([^()]*\))\s*$")
_SYMBOL_RE = re.compile(r"[=+*/<>{}\[\]();|\\^$_-]")


def _is_code_line(line: str) -> bool:
    if _CODE_START_RE.search(line) or _CODE_END_RE.search(line):
        return True
    # formulas and pseudo-code: many symbols for the words they carry
    symbols = len(_SYMBOL_RE.findall(line))
    return symbols >= 3 and symbols >= 0.5 * len(WORD_RE.findall(line))


def code_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges that hold code: fenced blocks, and lines that read as code or formulas."""
    spans = [m.span() for m in _FENCE_RE.finditer(text)] if "```" in text else []
    for m in _LINE_RE.finditer(text):
        if _is_code_line(m.group()):
            spans.append(m.span())
    spans.sort()
    return spans


def in_spans(spans: list[tuple[int, int]], pos: int) -> bool:
    """Is ``pos`` inside one of the sorted ``spans``?"""
    for a, b in spans:
        if a <= pos < b:
            return True
        if a > pos:
            return False
    return False
