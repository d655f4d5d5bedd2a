"""Relations between words the context holds: right words, wrong links.

An output can use only words of its context and still contradict it: "recorded in New York
County" when the context puts the village in Ulster County, "composed by Bill Withers" when the
context names Donna Weiss as the composer, "handled 94% of the traffic" answering "how many
passengers?" when the context gives 294,000 passengers. Each word is supported on its own; the
link between them is not. The rules here compare such links with the links the context makes,
and each finding carries the output's span and the context's conflicting words:

- ``relation_conflicts``: "VERB PREP OBJECT" (written by, born in, set in, owned by) whose object
  differs from every object the context gives for the same verb and preposition;
- ``count_conflicts``: a "how many X" question answered with a number the context does not give
  for X, when the context gives one;
- ``year_order_conflicts``: "Which came first, A or B?" answered with the option the context
  dates later (works, bands, magazines: the year of the sentence that introduces each option);
- ``composite_names``: a name of several words, each in the context, that the context never
  puts together ("New York County" from "New York" and "Ulster County").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*%?")
_YEAR_RE = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")

_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
}


@dataclass(frozen=True)
class Conflict:
    """One output span the context links otherwise: the span, its text, the context's words."""

    span: tuple[int, int]
    mine: str
    theirs: str


def _norm(tok: str) -> str:
    t = tok.lower().replace("’", "'")
    if t.endswith("'s"):
        t = t[:-2]
    if t[:1].isdigit():
        t = t.replace(",", "").rstrip("%")
    return _NUMBER_WORDS.get(t, t)


def _stem(word: str) -> str:
    for suf in ("ing", "ed", "en", "es", "s"):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            return word[: -len(suf)]
    return word


# ---------------------------------------------------------------------------------------------
# VERB PREP OBJECT

_PREPS = ("by", "in", "at", "from", "on", "to", "into", "as")
# Participles that do not end in -ed.
_IRREGULAR = frozenset(
    """born set written built made run won led sold shot found held known drawn shown grown
    given taken begun done seen sung""".split()
)
# Verbs whose object is rarely a fact of its own ("known for", "based in" are fine; "known as"
# is handled as a name) and objects that are not names.
_SKIP_VERBS = frozenset("used need".split())
_CAPS_OR_NUM = re.compile(r"[A-Z0-9]")
_END = r"(?<!\bJr)(?<!\bSr)(?<!\bSt)(?<!\bDr)(?<!\bMr)(?<!\b[A-Z])\.[\"”’']?(?:\s|$)"
_FINITE = r"\b(?:is|was|are|were|has|had|have)\b"
# the evidence's object runs to the end of its clause ("written by A, B and C"), the output's
# to the end of its first phrase ("born in Kerry, New South Wales" says "born in Kerry")
_STOP_CLAUSE = re.compile(_END + r"|;|\n|,\s+(?:which|who|where)\b|" + _FINITE)
_STOP_OBJECT = re.compile(
    r",(?!\d)|;|" + _END + r"|\band\b|\bwhich\b|\bwho\b|\bwhile\b|\(|\)|\n|" + _FINITE
)
# "as" links only after a naming verb ("known as X"; not "bands such as X")
_NAMING = frozenset("known called named titled renamed billed credited".split())


def _is_relation_verb(word: str) -> bool:
    w = word.lower()
    if w in _SKIP_VERBS:
        return False
    return w in _IRREGULAR or (w.endswith("ed") and len(w) >= 5)


@dataclass(frozen=True)
class _Link:
    verbs: tuple[str, ...]  # stems of the verbs before the preposition ("written and composed")
    words: tuple[str, ...]  # the verbs as written
    prep: str
    obj_start: int
    obj_end: int
    names: tuple[str, ...]  # normalised capitalised words and numbers of the object


_PREP_RE = re.compile(r"\s(" + "|".join(_PREPS) + r")\s+")
_CUT_RE = re.compile(r"\s(?:" + "|".join(p for p in _PREPS if p != "as") + r")\s+")


def _links(text: str, *, whole_clause: bool) -> list[_Link]:
    """Every "VERB [and VERB] PREP OBJECT" of ``text`` whose object holds a name or a number.

    The object of the output is its first phrase (up to a comma, "and", "which"): "born in
    Kerry, New South Wales" says "born in Kerry". The context's is its whole clause, so every
    name it lists counts ("written by Bill Withers, William Salter and Ralph MacDonald").
    """
    out = []
    for m in _PREP_RE.finditer(text):
        before = text[max(0, m.start() - 40) : m.start()]
        # the word right before the preposition: the candidate verb
        verb = before[before.rfind(" ") + 1 :]
        if not _is_relation_verb(verb) or (m.group(1) == "as" and verb.lower() not in _NAMING):
            continue
        words = re.findall(r"[A-Za-z]+", before)[-4:]
        verbs: list[str] = []
        written: list[str] = []
        # the verb right before the preposition, and verbs joined to it by "and"/commas
        for k in range(len(words) - 1, -1, -1):
            w = words[k]
            if _is_relation_verb(w):
                verbs.append(_stem(w.lower()))
                written.insert(0, w)
                continue
            if w.lower() in ("and", "or") and verbs:
                continue
            break
        start = m.end()
        rest = text[start : start + 160]
        stop = (_STOP_CLAUSE if whole_clause else _STOP_OBJECT).search(rest)
        obj = rest[: stop.start()] if stop else rest
        # the object ends where the next link starts ("Set in Chicago, the series is filmed
        # in Los Angeles": Los Angeles is where it is filmed)
        for nxt in _CUT_RE.finditer(obj):
            head = obj[: nxt.start()]
            if _is_relation_verb(head[head.rfind(" ") + 1 :]):
                obj = head[: head.rfind(" ") + 1]
                break
        if not whole_clause:
            obj = obj[:80]
            # the output's object phrase ends at the next preposition
            nxt = _CUT_RE.search(obj)
            if nxt:
                obj = obj[: nxt.start()]
        obj = obj.rstrip(" \"'”’")
        names = tuple(
            _norm(t)
            for t in _WORD_RE.findall(obj)
            if _CAPS_OR_NUM.match(t) and t not in ("The", "A", "An")
        )
        if names:
            link = _Link(tuple(verbs), tuple(written), m.group(1), start, start + len(obj), names)
            out.append(link)
    return out


@lru_cache(maxsize=256)
def _evidence_links(evidence: str) -> list[_Link]:
    return _links(evidence, whole_clause=True)


@lru_cache(maxsize=256)
def _evidence_verbs(evidence: str) -> frozenset[str]:
    return frozenset(v for e in _evidence_links(evidence) for v in e.verbs)


_VERB_LIKE_RE = re.compile(r"\b[A-Za-z]+(?:ed|en|wn|n|t|d|e|g)\b")
_OUT_SENT_RE = re.compile(r"\S(?:[^.!?\n]|[.!?](?!\s))*[.!?]?")


def relation_conflicts(output: str, evidence: str) -> list[Conflict]:
    """Output links "VERB PREP OBJECT" whose object shares no name with any object the
    evidence gives for the same verb and preposition (when the evidence gives one)."""
    mine: list[_Link] = []
    verbs: frozenset[str] | None = None
    for sm in _OUT_SENT_RE.finditer(output):
        sent = sm.group()
        if sent in evidence or _PREP_RE.search(sent) is None:
            continue  # a sentence of the evidence, or no link at all
        if verbs is None:
            verbs = _evidence_verbs(evidence)
        if not any(_stem(w.lower()) in verbs for w in _VERB_LIKE_RE.findall(sent)):
            continue  # no verb the evidence links to a name
        a = sm.start()
        for k in _links(sent, whole_clause=False):
            mine.append(
                _Link(k.verbs, k.words, k.prep, k.obj_start + a, k.obj_end + a, k.names)
            )
    if not mine:
        return []
    ev_links = _evidence_links(evidence)
    found = []
    for link in mine:
        # each verb is a claim of its own: "recorded and composed by X"
        for verb in link.verbs:
            theirs = [e for e in ev_links if e.prep == link.prep and verb in e.verbs]
            # every name of the output's object must be among those of the evidence's objects
            if not theirs or set(link.names) <= {n for e in theirs for n in e.names}:
                continue
            e = theirs[0]
            obj = evidence[e.obj_start : e.obj_end].strip(" ,\"'“”")
            obj = obj if len(obj) <= 60 else obj[:57].rsplit(" ", 1)[0] + " ..."
            word = e.words[[_stem(w.lower()) for w in e.words].index(verb)]
            shown = f"{word} {e.prep} {obj}"
            span = (link.obj_start, link.obj_end)
            found.append(Conflict(span, output[span[0] : span[1]], shown))
            break
    return found


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
_OPTIONS_RE = re.compile(r"(?:,|\bfirst|\bearlier|\blater|\blast)\s*(?P<a>[^,?]+?)\s+or\s+(?P<b>[^?]+?)\s*\??\s*$")
_SENT_RE = re.compile(r"[^.!?\n]+(?:[.!?](?=\s|$|[A-Z\"“])|$)")
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


def year_order_conflicts(question: str, output: str, evidence: str) -> list[Conflict]:
    """"Which was released first, A or B?" answered A when the evidence dates A after B.

    The answer is the option the output's first sentence names first; each option's year is
    the first year after its name in the evidence sentence that names it."""
    early = bool(_ASKS_EARLY.search(question))
    if not early and not _ASKS_LATE.search(question):
        return []
    m = _OPTIONS_RE.search(question)
    if not m:
        return []
    opts = [_option_words(m.group("a")), _option_words(m.group("b"))]
    if not all(opts) or opts[0] & opts[1]:
        return []
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
    names = [_LEAD.sub("", m.group(x).strip(" \"'“”")) for x in ("a", "b")]
    theirs = f"{names[k]} {mine_year}, {names[1 - k]} {other_year}"
    return [Conflict((a, b), output[a:b], theirs)]


# ---------------------------------------------------------------------------------------------
# Names put together from several names

_RUN_SKIP = frozenset("The A An In On At By He She It They His Her This That These".split())
_CAP_RE = re.compile(r"[A-ZÀ-ÖØ-Þ]\.|[A-ZÀ-ÖØ-Þ][\w'’-]*")


def _runs(text: str) -> list[tuple[int, int, list[str]]]:
    """(start, end, normalised words) of each run of two or more capitalised words, without
    a leading article or pronoun."""
    out = []
    group: list[re.Match] = []
    for m in [*_CAP_RE.finditer(text), None]:
        if m is not None and group and text[group[-1].end() : m.start()].isspace():
            group.append(m)
            continue
        while group and group[0].group() in _RUN_SKIP:
            group.pop(0)
        if len(group) >= 2:
            words = [_norm(g.group().strip("'’")) for g in group]
            out.append((group[0].start(), group[-1].end(), words))
        group = [m] if m is not None else []
    return out


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    it = iter(long)
    return all(w in it for w in short)


@lru_cache(maxsize=256)
def _evidence_runs(evidence: str) -> list[tuple[int, int, list[str]]]:
    return _runs(evidence)


def composite_names(
    output: str,
    evidence: str,
    question: str = "",
    vocab: set[str] | None = None,
    text: str | None = None,
) -> list[Conflict]:
    """Names of the output (runs of capitalised words) whose every word is in the evidence but
    that neither the evidence nor the question writes together (in order, allowing left-out
    middle names): "New York County" against "New York" and "Ulster County"."""
    mine = _runs(output)
    if not mine:
        return []
    # Written together in the evidence (in any case) counts; in the question only as a name
    # ("which New York county" does not name a "New York County").
    if vocab is None or text is None:
        words = [_norm(t) for t in _WORD_RE.findall(evidence)]
        vocab, text = set(words), " ".join(words)
    text = f" {text} "
    ev_runs = _evidence_runs(evidence)
    known = [w for _, _, w in ev_runs + _runs(question)]
    found = []
    for a, b, words in mine:
        if not set(words) <= vocab:
            continue  # an unknown word is reported as unsupported already
        if f" {' '.join(words)} " in text:
            continue
        if any(_is_subsequence(words, k) for k in known):
            continue
        # two names of one thing joined ("Senator David Lyle Boren" of "Senator David Boren"
        # and "David Lyle Boren"): every word is in a name that ends the same way
        if set(words) <= {w for k in known if k[-1] == words[-1] for w in k}:
            continue
        parts = sorted(
            ((len(set(k) & set(words)), evidence[x:y]) for x, y, k in ev_runs),
            key=lambda p: -p[0],
        )
        shown = ", ".join(list(dict.fromkeys(t for n, t in parts if n))[:3])
        found.append(Conflict((a, b), output[a:b], shown))
    return found


# ---------------------------------------------------------------------------------------------
# "Who was inducted into the Hall of Fame, A or B?"

_POLAR_RE = re.compile(r"^\s*(are|is|was|were|do|does|did|can|could|has|have|had)\b", re.I)
_CHOICE_STOP = frozenset(
    """which what who whom whose where when that this with from into have were was does
    more most less than both also either their there other these those the and for""".split()
)
_PRONOUN_START = re.compile(r"^\W*(?:(?:in|on|at|by)\s+\d{4},?\s+)?(he|she|it|they|his|her|its)\b", re.I)


def choice_conflicts(question: str, output: str, evidence: str) -> list[Conflict]:
    """"Who was inducted into the Hall of Fame, A or B?" answered A when the evidence says
    what the question asks (its other words) of B and hardly of A.

    Each option's sentences are the evidence sentences that name it, with a next sentence
    that refers back to it ("In 2007, he was inducted ..."). The answer is the option the
    output's first sentence names first. A flag needs three of the question's words said of
    the other option for each one said of the answer."""
    if _POLAR_RE.match(question) or _ASKS_EARLY.search(question) or _ASKS_LATE.search(question):
        return []
    m = _OPTIONS_RE.search(question)
    if not m:
        return []
    opts = [_option_words(m.group("a")), _option_words(m.group("b"))]
    if not all(opts) or opts[0] & opts[1]:
        return []
    asked = question[: m.start()]
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
    name = _LEAD.sub("", m.group("ab"[1 - k]).strip(" \"'“”"))
    theirs = f"{name}: {', '.join(sorted(said[1 - k]))}"
    return [Conflict((a, b), output[a:b], theirs)]


# ---------------------------------------------------------------------------------------------
# "X, also known as Y"

_ALIAS_RE = re.compile(
    r"(?P<x>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)+),\s+(?:also\s+|better\s+|now\s+|"
    r"formerly\s+)?(?:known as|called|aka|a\.k\.a\.|the late|née|born)\s+"
    r"(?P<y>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)+)"
)


def alias_conflicts(output: str, evidence: str) -> list[Conflict]:
    """"Dennis Marks, the late John Entwistle": two names of the evidence given as one, when
    the evidence never names them in one sentence (an alias is given beside its name)."""
    found = []
    sents = None
    for m in _ALIAS_RE.finditer(output):
        x = {_norm(w.strip(".")) for w in m.group("x").split()}
        y = {_norm(w.strip(".")) for w in m.group("y").split()}
        if sents is None:
            sents = [{_norm(w) for w in _WORD_RE.findall(s.group())} for s in _SENT_RE.finditer(evidence)]
        vocab = set().union(*sents) if sents else set()
        if not (x <= vocab and y <= vocab) or x & y:
            continue
        if any(x <= ws and y <= ws for ws in sents):
            continue
        y_text = m.group("y").rstrip(".")
        found.append(
            Conflict(
                (m.start("y"), m.start("y") + len(y_text)),
                y_text,
                f"{m.group('x')} and {y_text} in separate sentences",
            )
        )
    return found


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
# "The band that X fronted was Y"

_DEFINES_RE = re.compile(
    r"^\W*(?:[Tt]he\s+)?(?P<desc>[^,;:()]+)\s+(?:is|was|are|were)\s+(?:[Tt]he\s+|an?\s+)?"
    r"(?P<name>[\"“]?[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*)"
)
_COPULA_NAME_RE = re.compile(r"\s(?:is|was|are|were)\s+(?:[Tt]he\s+|an?\s+)?[\"“]?[A-Z]")
_DESC_STOP = frozenset(
    """the a an of that which who whom whose was were is are has had have been be with for
    from and or but this these those its his her their by to in on at as also one first
    answer question context""".split()
)


def _windows(evidence: str) -> list[tuple[str, set[str]]]:
    """Each evidence sentence with its stemmed words, and those of the sentence before when
    it opens with a pronoun ("She rose to prominence as ...")."""
    sents = [s.group() for s in _SENT_RE.finditer(evidence)]
    words = [{_stem(_norm(w)) for w in _WORD_RE.findall(s)} for s in sents]
    out = []
    for i, s in enumerate(sents):
        ws = set(words[i])
        if i and _PRONOUN_START.match(s):
            ws |= words[i - 1]
        out.append((s, ws))
    return out


def definition_conflicts(output: str, evidence: str) -> list[Conflict]:
    """"The rock band that Courtney Love fronted was The Wolfhounds": a description (three
    words or more) that one evidence sentence holds, said to be a name that sentence does not
    hold, when another sentence of the evidence does.

    Also a description said to be a name it holds itself ("The season finale of the third
    season of House is House"), when its evidence sentence names something else ("Human
    Error" is the ... season finale of the third season of "House")."""
    found = []
    wins = None
    for sm in _OUT_SENT_RE.finditer(output):
        if _COPULA_NAME_RE.search(sm.group()) is None:
            continue  # (most sentences: no "is/was NAME")
        m = _DEFINES_RE.match(sm.group())
        if not m:
            continue
        desc = {
            _stem(_norm(w))
            for w in _WORD_RE.findall(m.group("desc"))
            if w.lower() not in _DESC_STOP and len(w) > 2
        }
        name_text = re.sub(r"(?<=[a-z]{2})\.$", "", m.group("name").strip("\"“"))
        name = {_stem(_norm(w.strip("."))) for w in name_text.split()} - {"the"}
        if len(desc) < 3 or not name:
            continue
        inside = name <= desc  # the description's own name given as what it describes
        if wins is None:
            wins = _windows(evidence)
        vocab = set().union(*(w for _, w in wins)) if wins else set()
        if not name <= vocab:
            continue  # an unknown name is reported as unsupported already
        best = max(wins, key=lambda sw: len(desc & sw[1]))
        if 4 * len(desc & best[1]) < 3 * len(desc):
            continue
        if inside:
            others = {
                _stem(_norm(w))
                for w in _WORD_RE.findall(best[0])
                if w[:1].isupper() and w.lower() not in _DESC_STOP
            } - desc
            if not others:
                continue
        elif name & desc or name & best[1]:
            continue
        a = sm.start() + m.start("name") + (len(m.group("name")) - len(m.group("name").lstrip("\"“")))
        sent = best[0].strip()
        shown = sent if len(sent) <= 90 else sent[:87].rsplit(" ", 1)[0] + " ..."
        found.append(Conflict((a, a + len(name_text)), name_text, shown))
    return found


# ---------------------------------------------------------------------------------------------
# "Rainbow Terrace, now known as Lullwater Estate"

_NAME = r"[A-Z][\w'’.-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'’.-]*)*"
_RENAMED_RE = re.compile(
    r"(?P<old>" + _NAME + r")(?:\s+\([^()]*\))?,?\s+(?:now\s+(?:known\s+as|called|named)|"
    r"(?:later\s+|since\s+)?renamed(?:\s+as|\s+to)?)\s+(?:the\s+)?(?P<new>" + _NAME + r")"
)
_SAYS_NOW = re.compile(r"\b(current|currently|now|today|present|presently)\b", re.I)


def rename_conflicts(output: str, evidence: str) -> list[Conflict]:
    """A former name given as the current one: "The current name of the mansion is Rainbow
    Terrace" where the evidence says "Rainbow Terrace, now known as Lullwater Estate". Only in
    an output sentence that speaks of now and does not also give the new name."""
    if not _SAYS_NOW.search(output):
        return []
    renamed = [
        (m.group("old"), m.group("new"))
        for m in _RENAMED_RE.finditer(evidence)
        if not {_norm(w) for w in m.group("old").split()} & {_norm(w) for w in m.group("new").split()}
    ]
    found = []
    for old, new in renamed:
        for sm in _OUT_SENT_RE.finditer(output):
            sent = sm.group()
            if not _SAYS_NOW.search(sent) or new in sent:
                continue
            at = sent.find(old)
            if at >= 0:
                a = sm.start() + at
                found.append(Conflict((a, a + len(old)), old, f"{old}, now known as {new}"))
    return found
