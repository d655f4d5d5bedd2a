"""Relations between words the context holds: right words, wrong links.

An output can use only words of its context and still contradict it: "recorded in New York
County" when the context puts the village in Ulster County, "composed by Bill Withers" when the
context names Donna Weiss as the composer. Each word is supported on its own; the link between
them is not. The rules here compare such links with the links the context makes,
and each finding carries the output's span and the context's conflicting words:

- ``relation_conflicts``: "VERB PREP OBJECT" (written by, born in, set in, owned by) whose object
  differs from every object the context gives for the same verb and preposition;
- ``composite_names``: a name of several words, each in the context, that the context never
  puts together ("New York County" from "New York" and "Ulster County");
- ``alias_conflicts``: "X, also known as Y" for two people the context names apart;
- ``definition_conflicts``: a description one context sentence holds said to be a name that
  sentence lacks ("The band that Courtney Love fronted was The Wolfhounds");
- ``rename_conflicts``: a former name given as the current one.

Rules that read the question (the answer to "how many", "which first", "A or B", "what X") are
in ``hallucination_answers``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*%?")
# Sentences of a text; a sentence that refers back to the one before ("In 2007, he was ...").
_SENT_RE = re.compile(r"[^.!?\n]+(?:[.!?](?=\s|$|[A-Z\"“])|$)")
_PRONOUN_START = re.compile(r"^\W*(?:(?:in|on|at|by)\s+\d{4},?\s+)?(he|she|it|they|his|her|its)\b", re.I)

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
