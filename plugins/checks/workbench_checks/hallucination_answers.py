"""Answers that the question asks for, checked against what the context says of it.

The question says what kind of answer it wants; the context often says which of its names is
that answer. These rules compare the output's answer with it, and each finding carries the
output's span and the context's words (see ``hallucination_relations.Conflict``):

- ``count_conflicts``: a "how many X" question answered with a number the context does not give
  for X, when the context gives one ("294,000 passengers");
- ``year_order_conflicts``: "Which came first, A or B?" answered with the option the context
  dates later (works, bands, magazines: the year of the sentence that introduces each option);
- ``choice_conflicts``: "Who was inducted ..., A or B?" answered with the option the context
  hardly says the question's other words of;
- ``role_conflicts``: a short answer to "What X ...?" that the context does not call an X while
  it calls another name one;
- ``both_conflicts``: "Are both A and B P?" answered yes when the context does not say P of one
  of them, or no when it says P of both.
"""

from __future__ import annotations

import re

from .hallucination_relations import (
    _CAP_RE,
    _PRONOUN_START,
    _SENT_RE,
    _WORD_RE,
    Conflict,
    _norm,
    _runs,
    _stem,
)

_YEAR_RE = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")

# ---------------------------------------------------------------------------------------------
# "how many X"

_HOW_MANY_RE = re.compile(r"\bhow (?:many|much)\s+(?P<head>[A-Za-z-]+(?:\s+[A-Za-z-]+){0,2})", re.I)
_NUMBER_RE = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)*%?|zero|two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve)(?![\w])",
    re.I,
)
_HEAD_SKIP = frozenset(
    "the a an of did does do was were is are has have had in on at by for to from with".split()
)


def count_conflicts(question: str, output: str, evidence: str) -> list[Conflict]:
    """"How many X?" answered with numbers of which none is one the evidence gives for X
    ("294,000 passengers"), when the evidence gives one: the output's new numbers are spans."""
    m = _HOW_MANY_RE.search(question)
    if not m:
        return []
    head = []
    for w in m.group("head").split():
        if w.lower() in _HEAD_SKIP:
            break  # "how many passengers in 2012": the head is "passengers"
        head.append(_stem(w.lower()))
    if not head:
        return []
    key = head[0]
    theirs: dict[str, str] = {}
    for n in _NUMBER_RE.finditer(evidence):
        # the counted noun follows in the same clause: "56,551 gross register tons"
        tail = re.split(r"[.;:()\n]", evidence[n.end() : n.end() + 40], maxsplit=1)[0]
        after = re.findall(r"[A-Za-z]+", tail)[:2]
        stems = [_stem(w.lower()) for w in after]
        if key in stems:
            shown = re.findall(r"[A-Za-z]+", tail)[: stems.index(key) + len(head)]
            theirs[_norm(n.group())] = " ".join([n.group(), *shown])
    if not theirs:
        return []
    asked = {_norm(x.group()) for x in _NUMBER_RE.finditer(question)}
    mine = [
        x for x in _NUMBER_RE.finditer(output) if _norm(x.group()) not in asked
    ]
    if not mine or any(_norm(x.group()) in theirs for x in mine):
        return []
    shown = next(iter(theirs.values())).strip()
    return [Conflict(x.span(), x.group(), shown) for x in mine]


# ---------------------------------------------------------------------------------------------
# "Which came first, A or B?"

_ASKS_EARLY = re.compile(r"\b(first|earlier|earliest|older|oldest)\b", re.I)
_ASKS_LATE = re.compile(r"\b(last|later|latest|more recent|most recent|newer|younger)\b", re.I)
_SAYS_ORDER = re.compile(
    r"\b(first|earlier|earliest|older|oldest|before|later|latest|last|younger|newer|after)\b",
    re.I,
)
_ANSWER_FRAME = re.compile(r"^\W*(?:the\s+)?answer(?:\s+\w+){0,4}\s*(?:is|:)", re.I)
_OR_RE = re.compile(r"\s+or\s+(?P<b>[^?,]+?)\s*\??\s*$")
_OPTIONS_START = re.compile(r",|:|\b(?:first|earlier|later|last|older|younger)\b", re.I)


def _options(question: str) -> tuple[str, str, int] | None:
    """The two options of "..., A or B?" (A, B, where the options start): A runs from the last
    order word ("first", "older") or colon ("...suicide: A or B?") before " or ", else from the
    last comma, to its first comma ("Hole, the rock band that Courtney Love fronted, or The
    Wolfhounds": "Hole")."""
    m = _OR_RE.search(question)
    if not m:
        return None
    head = question[: m.start()]
    starts = list(_OPTIONS_START.finditer(head))
    words = [x for x in starts if x.group() != ","]  # an order word or a colon
    start = (words or starts or [None])[-1]
    if start is None:
        return None
    a = head[start.end() :].lstrip(" ,").split(",")[0].strip()
    return (a, m.group("b"), start.start()) if a else None

_LEAD = re.compile(r"^(?:the|a|an)\s+", re.I)


def _option_words(option: str) -> set[str]:
    words = [w for w in _WORD_RE.findall(_LEAD.sub("", option.strip(" \"'“”")))]
    if not words or not words[0][:1].isupper():
        return set()
    return {_norm(w) for w in words if w[:1].isupper() or w[:1].isdigit()}


def _year_of(words: set[str], evidence: str) -> tuple[int, str] | None:
    """The first year after the first mention of the option in the evidence sentence that
    introduces it (all its capitalised words, in order of the text)."""
    for s in _SENT_RE.finditer(evidence):
        sent = s.group()
        toks = [(m.start(), _norm(m.group())) for m in _WORD_RE.finditer(sent)]
        if not words <= {t for _, t in toks}:
            continue
        at = max(a for a, t in toks if t in words and a == min(b for b, u in toks if u == t))
        y = _YEAR_RE.search(sent, at)
        if y:
            return int(y.group()), sent.strip()
        return None
    return None


def _distinct_options(question: str) -> tuple[str, str, int, list[set[str]]] | None:
    """``_options`` of the question with each option's words, when both options are names
    that share no word; else None."""
    got = _options(question)
    if got is None:
        return None
    opt_a, opt_b, at = got
    opts = [_option_words(opt_a), _option_words(opt_b)]
    if not all(opts) or opts[0] & opts[1]:
        return None
    return opt_a, opt_b, at, opts


def year_order_conflicts(question: str, output: str, evidence: str) -> list[Conflict]:
    """"Which was released first, A or B?" answered A when the evidence dates A after B.

    The answer is the option the output's first sentence names first; each option's year is
    the first year after its name in the evidence sentence that names it."""
    early = bool(_ASKS_EARLY.search(question))
    if not early and not _ASKS_LATE.search(question):
        return []
    got = _distinct_options(question)
    if got is None:
        return []
    opt_a, opt_b, _, opts = got
    years = [_year_of(o, evidence) for o in opts]
    if None in years or years[0][0] == years[1][0]:  # type: ignore[index]
        return []
    first = re.split(r"(?<=[.!?])\s", output.strip(), maxsplit=1)[0]
    if not _SAYS_ORDER.search(first) and len(first.split()) > 8 and not _ANSWER_FRAME.match(first):
        return []  # no answer given: "A was born in 1971, while B ..."
    named = []
    for k, o in enumerate(opts):
        hits = [x for x in _WORD_RE.finditer(first) if _norm(x.group()) in o]
        if hits:
            named.append((hits[0].start(), k, hits))
    if not named:
        return []
    _, k, hits = min(named)
    mine_year = years[k][0]  # type: ignore[index]
    other_year = years[1 - k][0]  # type: ignore[index]
    if (mine_year < other_year) == early:
        return []
    lead = len(output) - len(output.lstrip())
    a, b = hits[0].start() + lead, hits[-1].end() + lead
    names = [_LEAD.sub("", x.strip(" \"'“”")) for x in (opt_a, opt_b)]
    theirs = f"{names[k]} {mine_year}, {names[1 - k]} {other_year}"
    return [Conflict((a, b), output[a:b], theirs)]


# ---------------------------------------------------------------------------------------------
# "Who was inducted into the Hall of Fame, A or B?"

_POLAR_RE = re.compile(r"^\s*(are|is|was|were|do|does|did|can|could|has|have|had)\b", re.I)
_CHOICE_STOP = frozenset(
    """which what who whom whose where when that this with from into have were was does
    more most less than both also either their there other these those the and for""".split()
)


def choice_conflicts(question: str, output: str, evidence: str) -> list[Conflict]:
    """"Who was inducted into the Hall of Fame, A or B?" answered A when the evidence says
    what the question asks (its other words) of B and hardly of A.

    Each option's sentences are the evidence sentences that name it, with a next sentence
    that refers back to it ("In 2007, he was inducted ..."). The answer is the option the
    output's first sentence names first. A flag needs three of the question's words said of
    the other option for each one said of the answer."""
    if _POLAR_RE.match(question) or _ASKS_EARLY.search(question) or _ASKS_LATE.search(question):
        return []
    got = _distinct_options(question)
    if got is None:
        return []
    opt_a, opt_b, at, opts = got
    asked = question[:at]
    predicate = {
        _norm(w) for w in _WORD_RE.findall(asked) if len(w) > 3 and w.lower() not in _CHOICE_STOP
    } - opts[0] - opts[1]
    if len(predicate) < 2:
        return []
    sents = [s.group() for s in _SENT_RE.finditer(evidence)]
    words = [{_norm(w) for w in _WORD_RE.findall(s)} for s in sents]
    said = []
    for k, o in enumerate(opts):
        got: set[str] = set()
        for i, ws in enumerate(words):
            if ws & o:
                got |= ws & predicate
                nxt = i + 1
                if nxt < len(sents) and _PRONOUN_START.match(sents[nxt]) and not words[nxt] & opts[1 - k]:
                    got |= words[nxt] & predicate
        said.append(got)
    first = re.split(r"(?<=[.!?])\s", output.strip(), maxsplit=1)[0]
    named = []
    for k, o in enumerate(opts):
        hits = [x for x in _WORD_RE.finditer(first) if _norm(x.group()) in o]
        if hits:
            named.append((hits[0].start(), k, hits))
    if not named:
        return []
    _, k, hits = min(named)
    mine, other = len(said[k]), len(said[1 - k])
    if other < 3 or 3 * mine > other:
        return []
    lead = len(output) - len(output.lstrip())
    a, b = hits[0].start() + lead, hits[-1].end() + lead
    name = _LEAD.sub("", (opt_a, opt_b)[1 - k].strip(" \"'“”"))
    theirs = f"{name}: {', '.join(sorted(said[1 - k]))}"
    return [Conflict((a, b), output[a:b], theirs)]


# ---------------------------------------------------------------------------------------------
# "What forensic psychiatrist ...?" answered with something the context calls otherwise

_WH_RE = re.compile(r"^\W*(?:what|which)\s+(?P<phrase>(?:[A-Za-z-]+\s+){1,4})", re.I)
_WH_STOP = frozenset(
    """is was are were has had have did does do who that which in of on at by from for to
    with also whose whom when where the a an""".split()
)
_VAGUE_HEADS = frozenset("year years date time name number kind type one ones".split())
_COPULA = r"\s+(?:is|was|are|were)\s+(?:an?|the|one of the)\s+"
_ANSWER_LEAD = re.compile(
    r"^\W*(?:(?:the\s+)?answer(?:\s+\w+){0,4}\s*(?:is)?\s*:?\s*)?(?:the\s+)?", re.I
)


def _wh_head(question: str) -> list[str]:
    """The words naming what a "What/Which X ...?" question asks for: "forensic psychiatrist"
    of "What forensic psychiatrist consulted ...?" (up to the first verb-like word)."""
    m = _WH_RE.match(question)
    if not m:
        return []
    head: list[str] = []
    for w in m.group("phrase").split():
        lw = w.lower()
        if lw in _WH_STOP or (lw.endswith("ed") and head):
            break
        head.append(lw)
    if not head or head[-1] in _VAGUE_HEADS:
        return []
    return head


def _called(evidence: str, head: list[str]) -> list[tuple[set[str], str, set[str]]]:
    """(words of the name, the name, words of the sentence) of each "NAME ... is a ... HEAD"
    of the evidence: what the evidence calls a forensic psychiatrist."""
    out = []
    pattern = _COPULA + r"(?:[\w'’-]+,?\s+){0,5}?" + r"\s+".join(map(re.escape, head)) + r"\b"
    for s in _SENT_RE.finditer(evidence):
        sent = s.group()
        m = re.search(pattern, sent, re.I)
        if not m:
            continue
        before = re.sub(r"\([^()]*\)", " ", sent[: m.start()])
        runs = _runs(before) or [
            (x.start(), x.end(), [_norm(x.group())]) for x in _CAP_RE.finditer(before)
        ]
        if runs:
            a, b, words = runs[0]
            said = {_stem(_norm(w)) for w in _WORD_RE.findall(sent)}
            out.append(({_stem(w) for w in words}, before[a:b], said))
    return out


def role_conflicts(question: str, output: str, evidence: str) -> list[Conflict]:
    """A short answer to "What X ...?" naming something the evidence does not call an X,
    when it calls something else one ("What forensic psychiatrist ...?" answered "The
    American Mafia" where the evidence says "Park Dietz ... is a forensic psychiatrist")."""
    head = _wh_head(question)
    if not head:
        return []
    text = output.strip()
    lead = _ANSWER_LEAD.match(text)
    start = (len(output) - len(output.lstrip())) + (lead.end() if lead else 0)
    answer = re.split(r"(?<=[.!?])\s|\n", output[start:], maxsplit=1)[0]
    if len(answer.split()) > 6:
        return []  # a sentence, not a short answer
    first = _CAP_RE.search(answer)
    if first is None or len(first.group().rstrip(".")) < 2:
        return []  # no name, or an acronym written with dots ("F.E.A.R.")
    run = [r for r in _runs(answer) if r[0] == first.start()]
    a, b, words = run[0] if run else (first.start(), first.end(), [_norm(first.group())])
    mine = {_stem(w) for w in words}
    # what the question itself names is not its answer ("What American rapper's album ...?"
    # where the evidence calls the question's Trina an American rapper)
    asked = {_stem(_norm(w)) for w in _WORD_RE.findall(question)}
    called = [c for c in _called(evidence, head) if not c[0] <= asked]
    # named in a sentence that says what an X is ("Indogrammodes is a genus of the family
    # Crambidae"), or called one itself: not a conflict
    if not called or any(mine & said for _, _, said in called):
        return []
    theirs = f"{called[0][1]}: {' '.join(head)}"
    return [Conflict((start + a, start + b), answer[a:b], theirs)]


# ---------------------------------------------------------------------------------------------
# "Are both A and B American rock bands?"

_BOTH_RE = re.compile(
    r"^\s*(?:are|were|is|was)\s+(?:both\s+(?P<x>[^?]+?)|(?P<y>[^?]+?)\s+both\s+(?P<p>[^?]+?))"
    r"\s*\?*\s*$",
    re.I,
)
_YES_NO_RE = re.compile(r"^\W*(?:the\s+answer\s+is\s*:?\s*)?(?P<yn>yes|no)\b", re.I)
_BOTH_STOP = frozenset("the a an and of both same type kind".split())


def _split_pair(text: str, evidence_lower: str, *, whole: bool) -> tuple[str, str, str] | None:
    """"The New Pornographers and Kings of Leon American rock bands" -> (A, B, rest): A ends at
    an " and ", B is the longest run of words after it that the evidence writes (any case), or
    all of them (``whole``: "Are A and B both P?"). A name counts as written when its last word
    is ("Pam Veasey" for "Pamela Renea Veasey")."""

    def known(name: str) -> bool:
        words = name.lower().strip("\"'“”").split()
        return bool(words) and re.search(rf"\b{re.escape(words[-1])}\b", evidence_lower) is not None

    for m in re.finditer(r"\s+and\s+", text):
        a, rest = text[: m.start()].strip(), text[m.end() :].split()
        if not known(a):
            continue
        for n in ([len(rest)] if whole else range(len(rest) - 1, 0, -1)):
            b = " ".join(rest[:n])
            if known(b) and (whole or b.lower().strip("\"'“”") in evidence_lower):
                return a, b, " ".join(rest[n:])
    return None


def _key(word: str) -> str:
    """A word for comparing descriptions: normalised, without a plural s ("magazines")."""
    n = _norm(word)
    return n[:-1] if len(n) > 3 and n.endswith("s") and not n.endswith("ss") else n


def both_conflicts(question: str, output: str, evidence: str) -> list[Conflict]:
    """"Are both A and B American rock bands?" answered "Yes" when the evidence does not say
    all of it of one of them (none of its capitalised words, or under half of the rest), or
    "No" when it says all of it of both. The yes or no is the span."""
    q = _BOTH_RE.match(question)
    yn = _YES_NO_RE.match(output)
    if not q or not yn:
        return []
    x = q.group("x")
    if x is None:  # "Are A and B both P?": P follows "both"
        pair = _split_pair(q.group("y"), evidence.lower(), whole=True)
        if pair is None:
            return []
        a, b, prop = pair[0], pair[1], q.group("p")
    else:
        pair = _split_pair(x, evidence.lower(), whole=False)
        if pair is None:
            return []
        a, b, prop = pair
    want = [w for w in _WORD_RE.findall(prop) if w.lower() not in _BOTH_STOP and len(w) > 2]
    if not want:
        return []
    sents = [s.group() for s in _SENT_RE.finditer(evidence)]
    words = [{_key(w) for w in _WORD_RE.findall(s)} for s in sents]
    lacking = []
    for name in (a, b):
        caps = [_key(w) for w in _WORD_RE.findall(_LEAD.sub("", name)) if w[:1].isupper()]
        if not caps:
            return []
        said: set[str] = set()
        for i, ws in enumerate(words):
            if caps[-1] in ws:  # the last word of a name: "Veasey" of "Pamela Renea Veasey"
                said |= ws
                if i + 1 < len(sents) and _PRONOUN_START.match(sents[i + 1]):
                    said |= words[i + 1]
        if not said:
            return []  # the evidence does not describe it: nothing to compare
        missing = [w for w in want if _key(w) not in said]
        caps = [w for w in missing if w[:1].isupper()]
        if caps or 2 * len(missing) > len(want):
            lacking.append((name, missing))
        elif missing:
            return []  # partly said: too close to call
    ans = yn.group("yn").lower()
    span = yn.span("yn")
    if ans == "yes" and lacking:
        name, missing = lacking[0]
        theirs = f"nothing of {name} is said to be {' '.join(missing)}"
        return [Conflict(span, output[span[0] : span[1]], theirs)]
    if ans == "no" and not lacking:
        theirs = f"{a} and {b} both: {prop}"
        return [Conflict(span, output[span[0] : span[1]], theirs)]
    return []
