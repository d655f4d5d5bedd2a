"""Support of an answer by its evidence: which tokens of the output the context backs.

The hallucination check's scoring lives here, apart from the Check class, so the benchmark and the
tests can call it directly. Everything is lexical (no model): each content token of the output is
looked up in the evidence (context and reference) exactly, then by morphological variant (shared
stem, rapidfuzz ratio), and what is left unsupported raises the score, more for numbers and names
than for ordinary words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from .hallucination_answers import (
    both_conflicts,
    choice_conflicts,
    count_conflicts,
    role_conflicts,
    year_order_conflicts,
)
from .hallucination_dates import (
    DATE_RE,
    Date,
    LifeDate,
    asks_life_year,
    contradicted,
    contradicted_life_dates,
    find_dates,
    life_dates,
    wrong_order,
    year_of_no_one,
)
from .hallucination_relations import (
    alias_conflicts,
    composite_names,
    definition_conflicts,
    relation_conflicts,
    rename_conflicts,
)

# Words, hyphen/apostrophe joined; numbers with separators; ordinals and decades (1990s, 3rd).
# (Words first: the commoner kind, so the regex tries fewer alternatives; the two never overlap.)
TOKEN_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,:/]\d+)*(?:st|nd|rd|th|s)?")
# The same for ASCII-only text (most text), where the ASCII classes match exactly what the
# Unicode ones do and the regex runs a third faster.
_ASCII_TOKEN_RE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|[0-9]+(?:[.,:/][0-9]+)*(?:st|nd|rd|th|s)?")
_NUM_RE = re.compile(r"\d")
_SENT_END_RE = re.compile(r"[.!?:;\n]\s*$")
_ORDINAL_END_RE = re.compile(r"(st|nd|rd|th)$")
_FUZZY_CELLS = 4_000_000

# English function words: they carry no claim of their own, so their support is not checked.
FUNCTION_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each either few for
    from further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom whose why will with would you your yours yourself yourselves s t d ll m re ve
    mr mrs ms dr st one called known named yes however also well first""".split()
)

# Words that frame an answer rather than make a claim ("The answer is: 1969", "According to the
# context, ..."), and light verbs of place ("X is located in Y" says what "X is in Y" says: the
# claim is the place): never counted as unsupported.
FRAME_WORDS = frozenset(
    """answer answers question questions context passage text information provided given
    mentioned according based states stated says said correct response therefore thus
    located situated""".split()
)

# A negation the evidence lacks turns a supported sentence into a claim the evidence does not make.
NEGATIONS = frozenset("not no never none neither nor cannot without nothing nobody n't".split())

# Numbers written as words count as numbers ("eight weeks" against "nine weeks").
NUMBER_WORDS = frozenset(
    """zero two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    hundred thousand million billion trillion second third fourth fifth sixth seventh eighth
    ninth tenth twice dozen""".split()
)

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
_UNITS += "fifteen sixteen seventeen eighteen nineteen twenty"
_ORDINALS = "zeroth first second third fourth fifth sixth seventh eighth ninth tenth"
# "one" and "first" stay words: they are pronouns and ordinary adjectives far more often.
_NUMBER_VALUES = {w: str(i) for i, w in enumerate(_UNITS.split()) if w != "one"}
_NUMBER_VALUES.update(
    {w: f"{i}th" for i, w in enumerate(_ORDINALS.split()) if w not in ("zeroth", "first")}
)
_NUMBER_VALUES.update({"2nd": "2th", "3rd": "3th"})
_NUMBER_VALUES.update(
    {
        w: str(10 * i)
        for i, w in enumerate("_ _ _ thirty forty fifty sixty seventy eighty ninety".split())
        if i >= 3
    }
)

# Pronouns that refer back to a name in the previous sentence.
_PRONOUNS = frozenset("it its he his him she her they their them this these".split())

MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)


# Questions that ask for a yes/no answer: a leading "no" answers them and denies nothing.
_POLAR_RE = re.compile(
    r"^\s*(are|is|was|were|do|does|did|can|could|has|have|had|will|would|should)\b", re.I
)
_YESNO_RE = re.compile(r"^\s*(yes|no)\b", re.I)
# Questions whose answer must hold a number or a date.
_WANTS_NUMBER_RE = re.compile(
    r"\b(what|which) year\b|\bwhen\b|\bhow (many|much|long|old|far|tall|big)\b", re.I
)
# Evidence sentences: paragraphs are often glued ("...century.First for Women is ...").
# Not after an abbreviation or an initial ("St. Olaf College", "Lincoln J. Beachey").
_SENT_SPLIT_RE = re.compile(
    r"(?<=[.!?])(?<!\bSt\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bJr\.)(?<!\bSr\.)(?<!\bMt\.)"
    r"(?<!\bMrs\.)(?<!\bInc\.)(?<!\bNo\.)(?<!\bvs\.)(?<!\b[A-Z]\.)\s*(?=[A-Z\"“(])|\n+"
)


@dataclass
class Support:
    """How well one output is supported by its evidence, with the reasons."""

    score: float = 0.0
    spans: list[tuple[int, int]] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    echoed: list[str] = field(default_factory=list)
    negations: list[str] = field(default_factory=list)
    content_tokens: int = 0
    extractive: bool = False
    scattered: float = 0.0
    type_mismatch: bool = False
    # Dates and counts of the output that the evidence gives otherwise: (output, evidence).
    contradictions: list[tuple[str, str]] = field(default_factory=list)
    # the text of their spans (also in ``unsupported``)
    contradicted_parts: list[str] = field(default_factory=list)
    # Non-words one or two letters from a word of the evidence or question: misspellings,
    # which the misspelling check reports; here they are neither support nor a claim.
    misspelled: list[str] = field(default_factory=list)
    # Words of one claim that come from different evidence sentences (see ``_stitched_hits``).
    stitched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Weights:
    """How much each kind of unsupported content raises the score (combined as a noisy OR)."""

    number: float = 0.75
    name: float = 0.6
    word: float = 0.6
    negation: float = 0.55
    fraction: float = 0.6
    # Signals with no span of their own (a claim stitched from several evidence sentences, a
    # "when" question answered without a date) only strengthen unsupported spans: multi-hop
    # answers combine sentences by design, and a flag must point at what it doubts.
    scattered: float = 0.3
    stitched: float = 0.3
    echo: float = 0.5
    unspanned_cap: float = 0.45
    type_mismatch: float = 0.3
    extractive_factor: float = 0.35
    # A link the context makes otherwise ("composed by X" where it names Y as the composer).
    relation: float = 0.6
    short_answer_tokens: int = 12


def _findall(text: str) -> Callable[[str], list[str]]:
    """The token finder for ``text`` and its parts: TOKEN_RE's, or its ASCII twin's."""
    return _ASCII_TOKEN_RE.findall if text.isascii() else TOKEN_RE.findall


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(token, start, end) for every word or number in ``text``."""
    return [(m.group(), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


@lru_cache(maxsize=131072)
def _norm(tok: str) -> str:
    """Lowercase, possessive dropped, digits without separators, small number words as digits
    (so "five" in the output is backed by "5" in the context and the other way round)."""
    t = tok.lower().replace("’", "'")
    if t.endswith("'s"):
        t = t[:-2]
    if _NUM_RE.search(t):
        t = t.replace(",", "")
    return _NUMBER_VALUES.get(t, t)


@lru_cache(maxsize=131072)
def _has_digit(tok: str) -> bool:
    return _NUM_RE.search(tok) is not None


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A crude suffix strip, enough to match founded/founder/founding or city/cities."""
    for suf in ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s"):
        if word.endswith(suf) and len(word) - len(suf) >= 4:
            return word[: -len(suf)]
    return word


_SUBJECT_END = frozenset("is was are were has had have will would can could , ; : (".split())


def _antecedents(raw: list[str]) -> set[str]:
    """What a pronoun in the next sentence may stand for: the sentence's subject (its words
    before the first verb like is/was/has, at most six) and every capitalised name in it."""
    lead: list[str] = []
    for t in raw[:6]:
        if t.lower() in _SUBJECT_END:
            break
        lead.append(t)
    names = [t for t in raw if t[:1].isupper()]
    return {_norm(t) for t in lead + names} - FUNCTION_WORDS


class Evidence:
    """The normalised vocabulary of a context/reference, with fast lookups for support.

    Built once per evidence text (see ``evidence_for``); what only unsupported-looking tokens
    need (stems, numbers, the fuzzy-match list) is computed on first use.
    """

    def __init__(self, text: str):
        sents = [s for s in _SENT_SPLIT_RE.split(text) if s.strip()]
        self.sents = sents
        # Windows of one sentence: one claim is usually backed by one place. A sentence that
        # refers back with a pronoun ("It is known for ...") also holds the names of the
        # sentence before, which is what the pronoun most likely stands for.
        self.windows: list[set[str]] = []
        runs: list[str] = []
        prev: list[str] = []
        findall = _findall(text)
        for sent in sents:
            raw = findall(sent)
            toks = list(map(_norm, raw))
            window = set(toks)
            if prev and not _PRONOUNS.isdisjoint(window):
                window.update(_antecedents(prev))
            self.windows.append(window)
            runs.append(" ".join(toks))
            prev = raw
        self.text_lower = " ".join(runs)
        self.vocab: set[str] = set().union(*self.windows) if self.windows else set()
        self.negated = bool(self.vocab & NEGATIONS) or "n't" in self.text_lower
        self.text = text
        self._stems: dict[str, str] | None = None
        self._numbers: set[str] | None = None
        self._words: list[str] | None = None
        self._dates: list[Date] | None = None
        self._life_dates: list[LifeDate] | None = None
        self._number_keys: dict[tuple[str, ...], set[str]] | None = None
        self.name_typos: dict[str, bool] = {}  # see ``_misspelled_name``

    @property
    def number_keys(self) -> dict[tuple[str, ...], set[str]]:
        """What each number of the evidence counts: its next two content words ("17% of the
        global population" -> ("global", "population")) -> the numbers said of them."""
        if self._number_keys is None:
            keys: dict[tuple[str, ...], set[str]] = {}
            for sent in self.sents:
                if _NUM_RE.search(sent):
                    for num, key, _ in _numbers_with_keys(sent):
                        keys.setdefault(key, set()).add(num)
            self._number_keys = keys
        return self._number_keys

    @property
    def life_dates(self) -> list[LifeDate]:
        """Birth and death dates of the evidence with the names they are said of."""
        if self._life_dates is None:
            self._life_dates = life_dates(self.text)
        return self._life_dates

    @property
    def dates(self) -> list[Date]:
        """The date expressions of the evidence (see ``hallucination_dates``)."""
        if self._dates is None:
            self._dates = find_dates(self.text)
        return self._dates

    @property
    def stems(self) -> dict[str, str]:
        """Stem -> an evidence token with that stem."""
        if self._stems is None:
            vocab = self.vocab
            self._stems = dict(zip(map(_stem, vocab), vocab, strict=True))
        return self._stems

    @property
    def numbers(self) -> set[str]:
        if self._numbers is None:
            nums = {t for t in self.vocab if _has_digit(t)}
            # Years also as decades, so "the 1840s" is backed by "1844".
            for n in list(nums):
                digits = re.sub(r"\D", "", n)
                if len(digits) == 4:
                    nums.add(digits[:3] + "0s")
            self._numbers = nums
        return self._numbers

    @property
    def words(self) -> list[str]:
        if self._words is None:
            self._words = [t for t in self.vocab if len(t) >= 4 and not _has_digit(t)]
        return self._words

    def match(self, tok: str, fuzzy_cutoff: float) -> str | None:
        """The evidence token that supports ``tok`` (itself, a variant), or None."""
        return self.match_many((tok,), fuzzy_cutoff)[tok]

    def match_many(self, toks: Iterable[str], fuzzy_cutoff: float) -> dict[str, str | None]:
        """``match`` for many tokens at once: the fuzzy comparisons of all the tokens no exact,
        number or stem lookup settles run in one rapidfuzz call (a Python loop of extractOne
        calls cost ten times as much on outputs the evidence does not cover)."""
        out: dict[str, str | None] = {}
        fuzzy: list[str] = []
        vocab = self.vocab
        stems = self.stems
        has_words = bool(self.words)
        for tok in toks:
            if tok in vocab:
                out[tok] = tok
            elif _has_digit(tok):
                out[tok] = self._match_number(tok)
            else:
                hit = stems.get(_stem(tok))
                if hit is not None:
                    out[tok] = hit
                elif len(tok) < 4 or not has_words:
                    out[tok] = None
                else:
                    fuzzy.append(tok)
        if fuzzy:
            words = self.words
            # in blocks of rows, so a huge output against a huge context never holds the whole
            # score matrix (at most ~_FUZZY_CELLS float32 cells, 16 MB, at a time)
            step = max(1, _FUZZY_CELLS // len(words))
            for i in range(0, len(fuzzy), step):
                block = fuzzy[i : i + step]
                scores = process.cdist(
                    block, words, scorer=fuzz.ratio, score_cutoff=fuzzy_cutoff, workers=1
                )
                # argmax picks the first of equal scores, as extractOne does; below the cutoff
                # cdist scores 0, so a 0 is no match (unless the cutoff itself is 0)
                best = scores.argmax(axis=1).tolist()
                top = scores.max(axis=1).tolist()
                for tok, j, sc in zip(block, best, top, strict=True):
                    out[tok] = words[j] if sc > 0 or fuzzy_cutoff <= 0 else None
        return out

    def _match_number(self, tok: str) -> str | None:
        digits = _ORDINAL_END_RE.sub("", tok)
        for d in (digits, digits.rstrip("s")):
            if d in self.numbers:
                return d
        return None

    def best_window_share(self, toks: list[str]) -> float:
        """The largest share of the distinct ``toks`` found together in one evidence sentence."""
        want = set(toks)
        if len(want) < 2 or not self.windows:
            return 1.0
        return max(map(len, map(want.intersection, self.windows))) / len(want)


# A number written in digits that starts a token (not the 2 of "C2H5OH").
_DIGITS_RE = re.compile(r"(?<![^\W\d_])\d+(?:[.,:/]\d+)*(?:st|nd|rd|th|s)?\b")


def _numbers_with_keys(sent: str) -> list[tuple[str, tuple[str, ...], tuple[int, int]]]:
    """(number, its next two content words, span) for each number written in digits in
    ``sent`` that two content words follow (years alone, "in 1932.", have none)."""
    out = []
    for m in _DIGITS_RE.finditer(sent):
        key: list[str] = []
        for t in _ASCII_TOKEN_RE.findall(sent, m.end(), m.end() + 60)[:5]:
            n = _norm(t)
            if _has_digit(n):
                break
            if _is_content(n):
                key.append(n)
                if len(key) == 2:
                    out.append((_norm(m.group()), tuple(key), m.span()))
                    break
    return out


def _misspelled_name(name: str, ev: Evidence) -> bool:
    """Is ``name`` a misspelling of a longer word of the evidence: same first letter, at least
    five letters, within one edit (two from seven letters on)? A misspelt name still names
    the same thing; an invented one is rarely that close to a name of the context."""
    if len(name) < 5 or not name.isalpha():
        return False
    known = ev.name_typos.get(name)
    if known is None:
        known = ev.name_typos[name] = _near_word(name, ev)
    return known


def _near_word(name: str, ev: Evidence) -> bool:
    limit = 1 if len(name) < 7 else 2
    near = [wd for wd in ev.words if wd[0] == name[0] and abs(len(wd) - len(name)) <= limit]
    return process.extractOne(name, near, scorer=OSA.distance, score_cutoff=limit) is not None


def _is_dictionary_word(word: str) -> bool:
    from .misspelling_lexicon import get_lexicon

    return word in get_lexicon().words


@lru_cache(maxsize=65536)
def _is_non_word(word: str) -> bool:
    """A lowercase word of three letters or more that the misspelling check's lexicon does not
    know (nor as a British form or a regular derivation)."""
    from .misspelling_lexicon import get_lexicon

    if len(word) < 3 or not word.isalpha():
        return False
    lex = get_lexicon()
    return not (word in lex.words or lex.american(word) or lex.derived(word))


def misspelling_of(word: str, known: Callable[[], Iterable[str]]) -> str | None:
    """The word of ``known()`` that ``word`` misspells, or None (``known`` is called only for
    a non-word).

    A misspelling is a non-word (in neither the misspelling check's dictionary nor its list of
    British forms and regular derivations) within one edit of a word of ``known`` (two for
    words of six letters or more). The misspelling check reports such a token; the
    hallucination check should not report it a second time as a claim.
    """
    if not _is_non_word(word):
        return None
    limit = 1 if len(word) < 6 else 2
    near = [k for k in known() if abs(len(k) - len(word)) <= limit and k.isalpha()]
    hit = process.extractOne(word, near, scorer=OSA.distance, score_cutoff=limit)
    return hit[0] if hit else None


@lru_cache(maxsize=256)
def evidence_for(text: str) -> Evidence:
    """Evidence objects are reused: one context is checked against many outputs (models, runs)."""
    return Evidence(text)


def _known_words(ev: Evidence, q_vocab: set[str]) -> list[str]:
    """What a misspelled output word may stand for: the evidence's words, the question's and
    the function words."""
    return [*ev.vocab, *q_vocab, *FUNCTION_WORDS]


# What a date or a life date in the output needs: a month, born/died, a parenthesised year.
_MAY_DATE_RE = re.compile(r"\b(?:born|died)\b|\(\s*[^()]{0,40}\d{4}|" + DATE_RE.pattern)
_ASKS_ORDER_RE = re.compile(r"\b(?:first|earlier|older|oldest|elder|last|later|younger|youngest)\b")


def _date_hits(output: str, ev: Evidence, res: Support, w: Weights) -> list[float]:
    """Weights and spans for the output's dates that no date of the evidence backs (their
    tokens one by one may all be in the evidence: "August 4, 1913" against "January 29, 1913 -
    August 4, 1999"). The differing parts are the spans; parts already unsupported are not
    counted twice."""
    hits: list[float] = []
    have = set(res.spans)
    found = [
        (m.text, t.text, m.spans, d) for m, t, d in contradicted_life_dates(output, ev.life_dates)
    ]
    found += [(m.text, t.text, m.spans, d) for m, t, d in contradicted(output, ev.dates)]
    for mine_text, theirs_text, mine_spans, differ in found:
        if any(mine_spans[k] in have for k in differ):
            continue  # the same date, already reported
        res.contradictions.append((mine_text, theirs_text))
        new = [mine_spans[k] for k in differ if mine_spans[k] not in have]
        for a, b in new:
            res.unsupported.append(output[a:b])
            res.contradicted_parts.append(output[a:b])
            res.spans.append((a, b))
            have.add((a, b))
        if new:
            hits.append(w.number)
    return hits


# Clauses of one output sentence that make claims of their own ("X is A, while Y is B").
_CLAUSE_SPLIT_RE = re.compile(r",\s+(?=(?:while|whereas|but|and)\s)|;\s*")


def _starts_name(raw: list[str]) -> bool:
    """Does the sentence open with a name of several words ("Saul and Delilah", "Golf
    Magazine")? The first word's capital then marks a name, not the sentence start."""
    if len(raw) > 1 and raw[1][:1].isupper():
        return True
    return len(raw) > 2 and raw[1] in ("and", "of", "de") and raw[2][:1].isupper()


def _stitched_hits(
    sentences: list[tuple[int, str, list[str]]],
    ev: Evidence,
    q_vocab: set[str],
    res: Support,
    w: Weights,
) -> list[float]:
    """A clause whose new words (supported, but not the question's) no single evidence
    sentence holds together: the words outside the evidence sentence that holds most of them
    that are names or numbers are the spans ("Cia Berg, also known as David Lee Roth": two
    people of two sentences).
    Restating the question and adding an answer from one sentence is not stitching. Ties go to
    the evidence sentence that also holds the clause's words of the question (its subject).

    A stitched word whose every evidence sentence shares no other name with the clause is said
    of something else ("Robert Fleischman is a Scottish-born musician", where "Scottish" is only
    in the sentence on Jimmy Barnes): that weighs as a contradiction. When the clause also
    names something of that sentence, it may join two facts (a multi-hop answer): weak."""
    hits: list[float] = []
    have = set(res.spans)
    for start, sent, supported in sentences:
        new = set(supported) - q_vocab
        if len(new) < 2 or any(new <= win for win in ev.windows):
            continue  # one evidence sentence holds the whole sentence's new words
        pos = 0
        for clause in _CLAUSE_SPLIT_RE.split(sent):
            at = sent.find(clause, pos)
            pos = at + len(clause)
            hits += _stitched_clause(start + at, clause, ev, q_vocab, res, w, have)
    return hits


def _subject_names(raw: list[str], normed: list[str]) -> set[str]:
    """The clause's leading name: its first run of capitalised words, when it comes before the
    clause's first verb-like word (is, was, has ...)."""
    out: set[str] = set()
    for t, n in zip(raw, normed, strict=True):
        if t.lower() in _SUBJECT_END or (out and not t[:1].isupper()):
            break
        if t[:1].isupper() and n not in FUNCTION_WORDS:
            out.add(n)
    return out


def _tied(n: str, subject: set[str], names: set[str], about: list[set[str]],
          windows: list[set[str]]) -> bool:
    """Does the evidence tie ``n`` to the subject: a sentence about the subject holds it, or a
    sentence holds it with another name of the clause that a sentence about the subject
    holds (the bridge of a multi-hop answer)?"""
    if n in subject or any(n in win for win in about):
        return True
    bridges = {m for m in names - {n} - subject if any(m in win for win in about)}
    return any(n in win and not bridges.isdisjoint(win) for win in windows)


def _stitched_clause(
    start: int,
    clause: str,
    ev: Evidence,
    q_vocab: set[str],
    res: Support,
    w: Weights,
    have: set[tuple[int, int]],
) -> list[float]:
    raw = _findall(clause)(clause)
    normed = [_norm(t) for t in raw]
    supported = {n for n in normed if _is_content(n) and n in ev.vocab}
    new = supported - q_vocab
    if len(new) < 2:
        return []
    echoed = supported & q_vocab
    sizes = [(len(new & win), len(echoed & win)) for win in ev.windows]
    best = ev.windows[sizes.index(max(sizes))]
    outside = new - best
    subject = _subject_names(raw, normed) & ev.vocab
    if subject and subject.isdisjoint(best):
        # the sentence that holds most of the clause's words is about something else: a name
        # no sentence about the clause's subject holds, nor a sentence the clause's other names
        # tie to it (a multi-hop answer's bridge), is said of that other thing ("The Breston
        # river is in the province of Griatas": Griatas only with Lotrei)
        about = [win for win in ev.windows if not subject.isdisjoint(win)]
        names = {n for t, n in zip(raw, normed, strict=True)
                 if t[:1].isupper() and n in ev.vocab and n not in FUNCTION_WORDS}
        if about:
            outside = {n for n in new if not _tied(n, subject, names, about, ev.windows)}
    if not outside:
        return []
    share = len(outside) / len(new)
    # names of the clause that only the other sentences hold: the clause links to them
    linked = {
        n for t, n in zip(raw, normed, strict=True) if t[:1].isupper() and n in ev.vocab
    } - best
    weight = 0.0
    for m in TOKEN_RE.finditer(clause):
        # only names and numbers: an ordinary word ("former") is often the paraphrase
        tok = m.group()
        n = _norm(tok)
        if n not in outside or not (tok[:1].isupper() or tok[:1].isdigit()):
            continue
        span = (start + m.start(), start + m.end())
        if span in have:
            continue
        res.stitched.append(tok)
        res.spans.append(span)
        have.add(span)
        weight = max(weight, min(1.0, w.stitched * 2 * share))
        tied = subject | (linked - {n})
        if subject and n not in subject and all(tied.isdisjoint(w_) for w_ in ev.windows if n in w_):
            weight = max(weight, w.relation)  # said of something else
    return [weight] if weight else []


def _relation_hits(
    question: str, output: str, ev: Evidence, res: Support, w: Weights
) -> list[float]:
    """Links between words of the evidence that the evidence makes otherwise (see
    ``hallucination_relations``): each conflict's output words are the span, the evidence's
    words the reason."""
    # The answer to the question is read in the whole output ...
    found = count_conflicts(question, output, ev.text)
    found += year_order_conflicts(question, output, ev.text)
    found += choice_conflicts(question, output, ev.text)
    found += both_conflicts(question, output, ev.text)
    found += role_conflicts(question, output, ev.text)
    # ... the claims only in its sentences that are not copied from the evidence (a copied
    # sentence links what the evidence links); blanked, so offsets stay those of the output
    own = _OUT_SENT_RE.sub(lambda m: m.group() if m.group().strip() not in ev.text else
                           " " * len(m.group()), output)
    if own.strip(" .!?:;\n"):
        found += relation_conflicts(own, ev.text)
        found += alias_conflicts(own, ev.text)
        found += definition_conflicts(own, ev.text)
        found += rename_conflicts(own, ev.text)
        found += composite_names(own, ev.text, question, ev.vocab, ev.text_lower)
    hits: list[float] = []
    have = set(res.spans)
    for c in found:
        if any(a < c.span[1] and c.span[0] < b for a, b in have):
            continue  # already reported (unsupported, a date)
        res.contradictions.append((c.mine, c.theirs))
        res.unsupported.append(c.mine)
        res.contradicted_parts.append(c.mine)
        res.spans.append(c.span)
        have.add(c.span)
        hits.append(w.relation)
    return hits


def _order_hits(question: str, output: str, ev: Evidence, res: Support, w: Weights) -> list[float]:
    """ "Who was born first, X or Y?" answered with the one the evidence says was born later:
    the name is the span (see ``hallucination_dates.wrong_order``); "In which year was X
    born?" answered with a year in which no one the evidence dates was born: the year is the
    span (``year_of_no_one``)."""
    found = wrong_order(question, output, ev.life_dates) or year_of_no_one(
        question, output, ev.life_dates
    )
    if found is None:
        return []
    span, name, theirs = found
    if span in res.spans:
        return []
    res.contradictions.append((name, theirs))
    res.unsupported.append(name)
    res.contradicted_parts.append(name)
    res.spans.append(span)
    return [w.number]


def _number_hits(output: str, ev: Evidence, res: Support, w: Weights) -> list[float]:
    """A number the evidence has, said of what the evidence counts with another number:
    "92% of the global population" against "17% of the global population" (92 is there too,
    of China's population). The number is the span."""
    hits: list[float] = []
    have = set(res.spans)
    keys: dict[tuple[str, ...], set[str]] | None = None
    for sm in _OUT_SENT_RE.finditer(output):
        if not _NUM_RE.search(sm.group()):
            continue
        for num, key, (a, b) in _numbers_with_keys(sm.group()):
            if keys is None:
                keys = ev.number_keys
            theirs = keys.get(key)
            span = (sm.start() + a, sm.start() + b)
            if not theirs or num in theirs or span in have:
                continue
            other = sorted(theirs)[0]
            res.contradictions.append(
                (output[span[0] : span[1]] + " " + " ".join(key), f"{other} {' '.join(key)}")
            )
            res.unsupported.append(output[span[0] : span[1]])
            res.contradicted_parts.append(output[span[0] : span[1]])
            res.spans.append(span)
            have.add(span)
            hits.append(w.number)
    return hits


# Output sentences: runs of text up to terminal punctuation followed by a space, or a line end.
_OUT_SENT_RE = re.compile(r"(?:[^\n.!?:;]|[.!?:;](?=\S))+")


def _noisy_or(weights: list[float]) -> float:
    keep = 1.0
    for w in weights:
        keep *= 1 - w
    return 1 - keep


@lru_cache(maxsize=131072)
def _is_content(n: str) -> bool:
    """A normalised token that makes a claim: no function word, negation or lone letter."""
    return (
        n not in FUNCTION_WORDS
        and n not in NEGATIONS
        and n not in FRAME_WORDS
        and (len(n) > 1 or n.isdigit())
    )


@lru_cache(maxsize=131072)
def _is_number(n: str) -> bool:
    return n in MONTHS or n in NUMBER_WORDS or _NUM_RE.search(n) is not None


@lru_cache(maxsize=65536)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


@lru_cache(maxsize=65536)
def specificity(word: str) -> float:
    """0.3..1: how much claim an unsupported ordinary word carries. Very common words
    (home, make, good) are often a paraphrase; rarer ones (carbonation, grandson) a new claim."""
    from wordfreq import zipf_frequency

    return min(1.0, max(0.3, (7.0 - zipf_frequency(word, "en")) / 2))


def assess(
    output: str,
    evidence: str,
    question: str = "",
    *,
    weights: Weights | None = None,
    fuzzy_cutoff: float = 85.0,
    allowed: frozenset[str] = frozenset(),
    question_is_evidence: bool = False,
) -> Support:
    """Score how much of ``output`` its ``evidence`` does not support (0 = all supported).

    Words of the question support a restatement of it ("The answer to ... is 1821"): they are
    neither evidence for a new claim nor a claim themselves, and cost nothing
    (with ``question_is_evidence``, checking against a bare reference answer, leaning on the
    question's words raises no doubt at all).

    Each output sentence is one claim: its content tokens are looked up in the evidence (most
    hit the vocabulary at once; only the rest pay for variant and fuzzy matching). Dates are
    also compared whole against the evidence's dates. A misspelled word of the evidence is
    left to the misspelling check. The score comes from what has a span (unsupported tokens,
    negations, contradicted dates); signals without one (a claim stitched from several
    evidence sentences, a "when" question answered without a date) only strengthen it, so an
    output with nothing unsupported scores 0 and is never flagged.
    """
    w = weights or Weights()
    ev = evidence_for(evidence)
    vocab = ev.vocab
    q_vocab = set(map(_norm, _findall(question)(question)))
    q_stems = {_stem(t) for t in q_vocab}
    if not q_vocab.isdisjoint(("both", "or")):
        q_vocab.add("2")  # "the two bands" answering "Are both X and Y ...?" / "X or Y?"
    polar = bool(_POLAR_RE.match(question) and _YESNO_RE.match(output))
    res = Support()
    hits: list[float] = []  # one weight per unsupported thing; -1 marks an ordinary word
    normed_all: list[str] = []
    supported_by_sentence: list[list[str]] = []
    sentences: list[tuple[int, str, list[str]]] = []
    has_number = False
    ev_negated = ev.negated
    # Pass 1, per sentence: its content tokens and those the vocabulary holds. The rest
    # (usually few) are looked up together once all sentences are read.
    slow: list[tuple[int, str, list[str], list[str], list[str], set[str], bool, bool]] = []
    pending: set[str] = set()
    findall = _findall(output)
    for sm in _OUT_SENT_RE.finditer(output):
        sent = sm.group()
        raw = findall(sent)
        normed = list(map(_norm, raw))
        if not normed:
            continue
        first_sentence = not normed_all
        normed_all.extend(normed)
        has_number = has_number or bool(_NUM_RE.search(sent)) or not MONTHS.isdisjoint(normed)
        content = [n for n in normed if _is_content(n)]
        if allowed:
            content = [n for n in content if n not in allowed]
        res.content_tokens += len(content)
        supported = [n for n in content if n in vocab]
        supported_by_sentence.append(supported)
        sentences.append((sm.start(), sent, supported))
        negated = not ev_negated and (
            not NEGATIONS.isdisjoint(normed) or "n't" in sent or "n’t" in sent
        )
        if len(supported) == len(content) and not negated:
            continue  # every content token is in the evidence vocabulary: nothing more to do
        leftover = set(content) - vocab
        pending |= leftover
        slow.append((sm.start(), sent, raw, normed, supported, leftover, negated, first_sentence))
    found_by = ev.match_many(pending, fuzzy_cutoff) if pending else {}
    # Pass 2, for the sentences with tokens left: positions, variants, names, negations.
    for start, sent, raw, normed, supported, leftover, negated, first_sentence in slow:
        # Token positions by searching each token from the end of the one before: the text
        # between two tokens holds no letter or digit, so the search lands on the token itself
        # (cheaper than a second regex pass with match objects).
        pos = 0
        for k, tok in enumerate(raw):
            a = sent.find(tok, pos)
            pos = a + len(tok)
            n = normed[k]
            # (a negation is never a content token, except a contraction such as "didn't")
            if n not in leftover or n.endswith("n't"):
                if negated and (n in NEGATIONS or n.endswith("n't")):
                    # "No, X is not Y" answering "Is X Y?" says no twice; it denies nothing new
                    if not (polar and first_sentence):
                        res.negations.append(tok)
                        res.spans.append((start + a, start + pos))
                        hits.append(w.negation)
                continue
            hit = found_by[n]
            if hit:
                supported.append(hit)
                continue
            if n in q_vocab or _stem(n) in q_stems:
                # Restating the question is not evidence, but it is not a new claim either.
                res.echoed.append(tok)
                continue
            name = tok[:1].isupper() and (k > 0 or any(c.isupper() for c in tok[1:]))
            if name and k > 0 and raw[k - 1][:1].isupper() and _norm(raw[k - 1]) in vocab:
                # the common-noun head of a longer name ("the Roman Catholic Church"): a word
                name = _zipf(n) < 4.5
            elif (
                not name
                and k == 0
                and _starts_name(raw)
                and not misspelling_of(n, lambda: _known_words(ev, q_vocab))
            ):
                name = True  # "Saul and Delilah is ...": a name's first word
            elif not name and k == 0 and tok[:1].isupper() and _zipf(n) < 3.0:
                # a sentence's first word that is no common English word: a name ("Saul and
                # Delilah is ..."), which a capital at the start would otherwise hide
                name = not _is_dictionary_word(n)
            if _is_number(n):
                weight = w.number
            elif name and _misspelled_name(n, ev):
                res.misspelled.append(tok)  # "Mirabel" for the context's "Mirabeau"
                continue
            elif name:
                weight = w.name  # capitalised mid-sentence, or mixed case anywhere: a name
            elif misspelling_of(n, lambda: _known_words(ev, q_vocab)):
                res.misspelled.append(tok)  # the misspelling check's finding, not a claim
                continue
            else:
                weight = -specificity(n)  # an ordinary word: weighed once the length is known
            res.unsupported.append(tok)
            res.spans.append((start + a, start + pos))
            hits.append(weight)
    # In a long answer an unsupported ordinary word is more often a paraphrase than a claim;
    # numbers, names and negations weigh the same at any length.
    damp = min(1.0, w.short_answer_tokens / max(1, res.content_tokens))
    hits = [-h * w.word * damp if h < 0 else h for h in hits]
    # (each evidence structure is built only when the output could contradict it)
    dated = has_number and _MAY_DATE_RE.search(output) is not None
    if dated and (ev.life_dates or ev.dates):
        hits += _date_hits(output, ev, res, w)
    if has_number:
        hits += _number_hits(output, ev, res, w)
    if (_ASKS_ORDER_RE.search(question) or asks_life_year(question)) and ev.life_dates:
        hits += _order_hits(question, output, ev, res, w)
    links = _relation_hits(question, output, ev, res, w) if w.relation else []
    hits += links
    if w.stitched and len(ev.windows) > 1:
        hits += _stitched_hits(sentences, ev, q_vocab, res, w)
    fraction = len(res.unsupported) / max(1, res.content_tokens)
    res.scattered = max(
        (1 - ev.best_window_share(toks) for toks in supported_by_sentence), default=0.0
    )
    res.type_mismatch = bool(_WANTS_NUMBER_RE.search(question)) and not has_number
    spanned = _noisy_or([_noisy_or(hits), w.fraction * fraction])
    # Signals without a span raise the doubt about the spans there are, never create one.
    boost = _noisy_or([w.scattered * res.scattered, w.type_mismatch * res.type_mismatch])
    score = spanned + (1 - spanned) * spanned * boost
    if not res.spans:
        # Nothing to point at: never flagged, but the doubt still ranks the output (a claim
        # stitched from several sentences, answers leaning on the question's words, a missing
        # date) below every threshold from ``unspanned_cap`` up.
        doubt = _noisy_or(
            [
                min(1.0, 1.6 * res.scattered) * damp,
                0.0 if question_is_evidence else w.echo * damp * bool(res.echoed),
                0.5 * res.type_mismatch,
            ]
        )
        score = w.unspanned_cap * doubt
    content_run = [n for n in normed_all if n not in FUNCTION_WORDS]
    padded = f" {ev.text_lower} "
    if normed_all and (
        f" {' '.join(normed_all)} " in padded
        or (content_run and f" {' '.join(content_run)} " in padded)
    ):
        # The answer is a span of the evidence: the usual shape of a grounded short answer.
        res.extractive = True
        score *= w.extractive_factor
        # ... unless it is the wrong span: a link the evidence makes otherwise ("The American
        # Mafia" for the psychiatrist the evidence names) keeps its weight
        score = max(score, _noisy_or(links))
    res.score = score
    res.spans.sort()
    return res
