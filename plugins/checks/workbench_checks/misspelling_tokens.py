"""Which words of an output a spelling check should look at, with their offsets.

Code, URLs, e-mail addresses, numbers and identifiers are masked out; names (capitalised words
inside a sentence), acronyms and camelCase are skipped; hyphenated words are split into parts.
What is left is prose words, each marked when it starts a sentence (a capital there says nothing).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import NamedTuple

# Regions that are not prose, each searched only when its marker character is in the text.
_FENCE_RE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.S)
_URL_RE = re.compile(r"\b(?:https?://|ftp://|www\.)\S+")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TAG_RE = re.compile(r"</?[A-Za-z][^<>\n]*>")
# A tag left open (an output cut inside it, or an attribute running over lines): its name.
_OPEN_TAG_RE = re.compile(r"</?[A-Za-z][\w:-]*(?=\s+[\w:-]+=|\s*/?>|\s*$)")
# Lines that read as code even without backticks: statements, assignments, calls, braces.
_CODE_START_RE = re.compile(
    r"[ \t]*(?:def|class|import|from|return|elif|else:|var|let|const|function|public|private|"
    r"#include|print\(|console\.)\b"
)
_ASSIGN_RE = re.compile(r"[ \t]*[A-Za-z_][\w.\[\]]*[ \t]*[+\-*/]?=[ \t]*\S")
_CALL_END_RE = re.compile(r"\w\([^()\n]*\)[ \t]*[:;{]?$")
_LINE_RE = re.compile(
    r"^[ \t]*(?:def|class|import|from|return|elif|else:|var|let|const|function|public|private|"
    r"#include|print\(|console\.)\b"
    r"|[{};][ \t]*$"
    r"|^[ \t]*[A-Za-z_][\w.\[\]]*[ \t]*[+\-*/]?=[ \t]*\S"
    r"|\w\([^()\n]*\)[ \t]*[:;{]?[ \t]*$",
    re.M,
)
_LINE_RE = re.compile(r"[^\n]+")
# A whitespace-separated chunk; the characters that make it code or data rather than a word.
_CHUNK_RE = re.compile(r"\S+")
_EDGE_PUNCT = "\"'“”‘’()[]{}<>*_.,;:!?…–—-"
_CODEY = re.compile(r"[\d_/\\@#=<>{}\[\]|~^$%&+*()]|[A-Za-z][.!?][A-Za-z]")
# Words joined by a slash are alternatives in prose (and/or, Lunche/Soup), not a path.
_ALTERNATIVES_RE = re.compile(r"[A-Za-z]{2,}(?:/[A-Za-z]{2,}){1,2}")
# A chunk starting with a dot and a letter: a file extension or domain (.org, .py).
_DOTTED = re.compile(r"[\"'“‘(\[]*\.[A-Za-z]")
# Letters only (ASCII: words with other letters are foreign words or names, not checked).
_WORD_RE = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_SENTENCE_END = frozenset(".!?:\n")
# Bullets and numbered-list markers that start a line: what follows starts a sentence.
_LINE_PREFIX_RE = re.compile(r"[ \t]*(?:[-*•+>#|]+|\d{1,3}[.)]|[A-Za-z][.)])?[ \t\"'“‘(*\[]*")


class Word(NamedTuple):
    """A prose word: ``text[start:end]``, lowercased in ``norm``."""

    text: str
    norm: str
    start: int
    end: int
    sentence_start: bool
    # capitalised inside a sentence (usually a name; returned only when asked for)
    mid_capital: bool = False
    # a sentence start that labels what follows ("Edutopia: a blog", "2. Oceans - ..."): often
    # a name (returned only when asked for)
    label: bool = False


def _blank(m: re.Match[str]) -> str:
    """Spaces for the match, newlines kept (so line and sentence starts stay where they were)."""
    return re.sub(r"[^\n]", " ", m.group())


def _is_code_line(line: str) -> bool:
    end = line.rstrip()
    if not end:
        return False
    if end[-1] in "{};" or _CODE_START_RE.match(line):
        return True
    if "=" in line and (_ASSIGN_RE.match(line) or " = " in line):
        return True  # assignments and formulas
    return end[-1] in "):;{" and _CALL_END_RE.search(end) is not None


def _blank_code_line(m: re.Match[str]) -> str:
    line = m.group()
    return " " * len(line) if _is_code_line(line) else line


def mask(text: str) -> str:
    """``text`` with code, URLs, e-mails and tags blanked out (same length, offsets kept)."""
    if "`" in text:
        text = _FENCE_RE.sub(_blank, text)
    if "://" in text or "www." in text:
        text = _URL_RE.sub(_blank, text)
    if "@" in text:
        text = _EMAIL_RE.sub(_blank, text)
    if "<" in text:
        text = _TAG_RE.sub(_blank, text)
        text = _OPEN_TAG_RE.sub(_blank, text)
    if "\n" in text:
        text = _LINE_RE.sub(_blank_code_line, text)
    elif _is_code_line(text):
        text = " " * len(text)
    return text


def _starts_sentence(masked: str, pos: int) -> bool:
    """Is the word at ``pos`` the first of a sentence, line or list item?"""
    i = pos - 1
    while i >= 0 and masked[i] in " \t\"'“‘(*[":
        i -= 1
    if i < 0 or masked[i] in _SENTENCE_END:
        return True
    line_start = masked.rfind("\n", 0, pos) + 1
    return _LINE_PREFIX_RE.fullmatch(masked, line_start, pos) is not None


def _chunk(masked: str, start: int, end: int) -> tuple[int, int]:
    """The whitespace-delimited chunk of ``masked`` around [start, end)."""
    while start > 0 and not masked[start - 1].isspace():
        start -= 1
    n = len(masked)
    while end < n and not masked[end].isspace():
        end += 1
    return start, end


def lowercase_words(masked: str) -> set[str]:
    """Every distinct letter-run of ``masked``, lowercased: a cheap first pass over a text."""
    return set(_WORD_RE.findall(masked.lower()))


def lowercase_words_list(text: str) -> list[str]:
    """The letter-runs of ``text``, lowercased, in order."""
    return _WORD_RE.findall(text.lower())


class _Match(NamedTuple):
    text: str
    begin: int
    finish: int

    def group(self) -> str:
        return self.text

    def start(self) -> int:
        return self.begin

    def end(self) -> int:
        return self.finish


def _matches(masked: str, only: set[str] | None) -> list:
    """Word matches of ``masked``; with ``only``, just the occurrences of those words, found
    with str.find (a text holds few unknown words, so this skips a Python step per word)."""
    lower = masked.lower()
    if only is None or len(lower) != len(masked):  # a few letters change length when lowered
        return [m for m in _WORD_RE.finditer(masked) if only is None or m.group().lower() in only]
    found = []
    for tok in only:
        i = lower.find(tok)
        while i >= 0:
            j = i + len(tok)
            before = lower[i - 1] if i else " "
            after = lower[j] if j < len(lower) else " "
            apostrophe_word = after in "'’" and lower[j + 1 : j + 2].isalpha()
            if not (before.isalpha() or before in "'’" or after.isalpha() or apostrophe_word):
                found.append(_Match(masked[i:j], i, j))
            i = lower.find(tok, j)
    found.sort(key=lambda m: m.begin)
    return found


def _titled(masked: str, end: int) -> bool:
    """Is the word ending at ``end`` a label: followed by ":" or " - " ("Edutopia: a blog")?"""
    after = masked[end : end + 3]
    return after[:1] == ":" or after[:2] in (" -", " –", " —")


def hyphenated(masked: str, start: int, end: int) -> str | None:
    """The whole hyphenated word (sci-fi) that the word at [start, end) is a part of, or None."""
    i, j = start, end
    while i >= 2 and masked[i - 1] == "-" and masked[i - 2].isalpha():
        i -= 2
        while i > 0 and masked[i - 1].isalpha():
            i -= 1
    while j + 1 < len(masked) and masked[j] == "-" and masked[j + 1].isalpha():
        j += 2
        while j < len(masked) and masked[j].isalpha():
            j += 1
    return masked[i:j] if (i, j) != (start, end) else None


def prose_words(
    text: str,
    masked: str | None = None,
    only: set[str] | None = None,
    mid_capitals: bool = False,
    labels: bool = False,
) -> list[Word]:
    """The words of ``text`` worth spell-checking, in order.

    ``only`` (lowercase forms) restricts the work to those words: the check passes the few a
    dictionary does not know, so clean text costs one regex pass and a set lookup per word.
    A capitalised word that starts a sentence is skipped when it is a title or label, or when
    the text also writes it capitalised inside a sentence (then it is a name).
    """
    if masked is None:
        masked = mask(text)
    out: list[Word] = []
    names: set[str] = set()
    for m in _matches(masked, only):
        w = m.group()
        c0, c1 = _chunk(masked, m.start(), m.end())
        raw = masked[c0:c1]
        core = raw.strip(_EDGE_PUNCT)
        if not core or not core.isascii() or _DOTTED.match(raw):
            continue
        if _CODEY.search(core) and not _ALTERNATIVES_RE.fullmatch(core):
            continue  # numbers, identifiers, paths, formulas, .extensions, foreign words
        if any(c.isupper() for c in w[1:]):
            continue  # acronyms, camelCase, McName
        core_end = c0 + raw.index(core) + len(core)
        if len(w) <= 3 and masked[m.end() : m.end() + 1] == "-" and m.end() < core_end:
            continue  # a prefix before a hyphen (pre-, non-, co-)
        start = m.start()
        sentence_start = w[0].isupper() and _starts_sentence(masked, start)
        if w[0].isupper() and not sentence_start:
            names.add(w)
            if mid_capitals:
                out.append(Word(w, w.lower(), start, m.end(), False, True))
            continue  # capitalised inside a sentence: a name
        label = sentence_start and _titled(masked, m.end())
        if label and not labels:
            continue
        norm = w.lower().replace("’", "'")
        if norm.endswith("'s"):
            norm = norm[:-2]
        out.append(Word(w, norm, start, m.end(), sentence_start, label=label))
    if names:
        out = [x for x in out if not (x.sentence_start and x.text in names)]
        if mid_capitals:  # a capitalised form written twice is a name, not a slip
            seen = Counter(x.text for x in out if x.mid_capital)
            out = [x for x in out if not (x.mid_capital and seen[x.text] > 1)]
    return out
