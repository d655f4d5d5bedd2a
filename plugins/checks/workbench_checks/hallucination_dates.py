"""Dates as whole claims: "August 4, 1913" is one fact, not three supported tokens.

Every token of a wrong date is often in the context ("January 29, 1913 – August 4, 1999" backs
"August", "4" and "1913" one by one), so the hallucination check also compares dates whole: a
date of the output with a month and a day or year must agree with a date of the evidence on
every part the evidence gives. When none does, the parts that differ from the closest evidence
date are the unsupported spans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTH_NAMES = (
    "january february march april may june july august september october november december"
).split()
_MONTH_OF = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_MONTH_OF.update({m[:3]: i + 1 for i, m in enumerate(_MONTH_NAMES) if m != "may"})
_MONTH_OF["sept"] = 9
_M = r"(?P<{}>(?:January|February|March|April|May|June|July|August|September|October|November|December|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?))"
_D = r"(?P<{}>[0-3]?\d)(?:st|nd|rd|th)?"
_Y = r"(?P<{}>[12]\d{{3}})"
# Month Day[, Year] | Day [of] Month[, Year] | Month[,] Year
_FORMS = (
    f"{_M.format('m1')}\\s+{_D.format('d1')}\\b(?:,?\\s+{_Y.format('y1')})?",
    f"{_D.format('d2')}\\s+(?:of\\s+)?{_M.format('m2')}(?:,?\\s+{_Y.format('y2')})?",
    f"{_M.format('m3')},?\\s+{_Y.format('y3')}",
)
DATE_RE = re.compile(r"\b(?:" + "|".join(_FORMS) + r")\b")


@dataclass(frozen=True)
class Date:
    """One date expression: its parts (None when not given) and the span of each part."""

    text: str
    month: int
    day: int | None
    year: int | None
    spans: dict[str, tuple[int, int]]

    def parts(self) -> dict[str, int]:
        got = {"month": self.month, "day": self.day, "year": self.year}
        return {k: v for k, v in got.items() if v is not None}


def find_dates(text: str) -> list[Date]:
    """Every date expression of ``text`` with a month and a day or a year."""
    out = []
    for m in DATE_RE.finditer(text):
        g = {k: v for k, v in m.groupdict().items() if v is not None}
        month = next(g[k] for k in ("m1", "m2", "m3") if k in g)
        mkey = next(k for k in ("m1", "m2", "m3") if k in g)
        dkey = next((k for k in ("d1", "d2") if k in g), None)
        ykey = next((k for k in ("y1", "y2", "y3") if k in g), None)
        day = int(g[dkey]) if dkey else None
        if day is not None and not 1 <= day <= 31:
            continue
        spans = {"month": m.span(mkey)}
        if dkey:
            spans["day"] = m.span(dkey)
        if ykey:
            spans["year"] = m.span(ykey)
        out.append(
            Date(
                text=m.group(),
                month=_MONTH_OF[month.lower().rstrip(".")],
                day=day,
                year=int(g[ykey]) if ykey else None,
                spans=spans,
            )
        )
    return out


def _agrees(out: Date, ev: Date) -> bool:
    """Does the evidence date back the output date? Every part both give must be equal, and
    the evidence must give the output's day (a bare "March 1913" does not back "March 2, 1913")."""
    if out.day is not None and ev.day is None:
        return False
    theirs = ev.parts()
    return all(theirs.get(k, v) == v for k, v in out.parts().items())


def contradicted(output: str, evidence_dates: list[Date]) -> list[tuple[Date, Date, list[str]]]:
    """(output date, closest evidence date, parts that differ) for every date of ``output``
    that no evidence date backs. Nothing when the evidence has no dates (its tokens are then
    checked one by one as usual)."""
    if not evidence_dates:
        return []
    found = []
    for d in find_dates(output):
        if any(_agrees(d, e) for e in evidence_dates):
            continue
        mine = d.parts()

        def shared(e: Date, mine: dict[str, int] = mine) -> int:
            return sum(e.parts().get(k) == v for k, v in mine.items())

        best = max(evidence_dates, key=shared)
        theirs = best.parts()
        differ = [k for k, v in mine.items() if theirs.get(k) != v]
        found.append((d, best, differ))
    return found


# Life dates: "X (born 4 October 1971)", "X (1587–1659)", "X was born in 1980", "died on ...".
_YEAR_RE = re.compile(r"\b[12]\d{3}\b")
_EVENT_RE = re.compile(r"\b(born|died)\b", re.I)
_RANGE_RE = re.compile(
    r"\((?P<a>[^()]*?\b[12]\d{3})[^()–—]*?(?:\s*[–—]\s*|\s+-+\s+|(?<=\d)-(?=\d))"
    r"(?P<b>[^()]*?\b[12]\d{3})[^()]*\)"
)
_NAME_RUN_RE = re.compile(
    r"[A-Z][\w'’.-]*(?:\s+(?:(?:de|van|von|da|la|del|der)\s+)?[A-Z][\w'’.-]*)*"
)
_CLAUSE_END_RE = re.compile(r"[.!?]\s|\)")
_NOT_NAME = frozenset("The A An He She It They His Her In On At By Born Died While And But".split())


@dataclass(frozen=True)
class LifeDate:
    """A birth or death date said of a person: their name's words, the event, the when."""

    names: frozenset[str]
    event: str  # "born" or "died"
    parts: dict[str, int]
    spans: dict[str, tuple[int, int]]
    text: str
    who: str = ""  # the name as written


def _owner(text: str, end: int) -> tuple[frozenset[str], str]:
    """The words of the last name (a run of capitalised words) before ``end`` in its sentence."""
    start = max(text.rfind(".", 0, end), 0)
    runs = list(_NAME_RUN_RE.finditer(text, start, end))
    for m in reversed(runs):
        words = [w for w in re.split(r"\s+", m.group()) if w not in _NOT_NAME]
        if words:
            return frozenset(w.lower().strip(".'’") for w in words), " ".join(words)
    return frozenset(), ""


def _when(text: str, start: int, end: int) -> tuple[dict[str, int], dict, str] | None:
    """The first date (or bare year) in ``text[start:end]``: its parts, their spans, its text."""
    window = text[start:end]
    dates = find_dates(window)
    year = _YEAR_RE.search(window)
    if dates and (year is None or dates[0].spans["month"][0] <= year.start() + 16):
        d = dates[0]
        spans = {k: (a + start, b + start) for k, (a, b) in d.spans.items()}
        return d.parts(), spans, d.text
    if year is not None:
        return (
            {"year": int(year.group())},
            {"year": (year.start() + start, year.end() + start)},
            year.group(),
        )
    return None


def life_dates(text: str) -> list[LifeDate]:
    """Every birth or death date of ``text`` with the name it is said of."""
    out: list[LifeDate] = []
    seen: set[tuple[int, int]] = set()
    for m in _RANGE_RE.finditer(text):
        names, who = _owner(text, m.start())
        for event, key in (("born", "a"), ("died", "b")):
            got = _when(text, m.start(key), m.end(key))
            if names and got:
                parts, spans, when = got
                out.append(LifeDate(names, event, parts, spans, when, who))
                seen.update(spans.values())
    for m in _EVENT_RE.finditer(text):
        stop = _CLAUSE_END_RE.search(text, m.end())
        got = _when(text, m.end(), min(stop.start() if stop else len(text), m.end() + 80))
        if not got or set(got[1].values()) & seen:
            continue
        names, who = _owner(text, m.start())
        if names:
            parts, spans, when = got
            out.append(LifeDate(names, m.group(1).lower(), parts, spans, when, who))
    return out


def contradicted_life_dates(
    output: str, evidence: list[LifeDate]
) -> list[tuple[LifeDate, LifeDate, list[str]]]:
    """(output's date, the evidence's date for the same person and event, parts that differ)
    for each birth or death date of the output that the evidence gives otherwise."""
    found = []
    for d in life_dates(output):
        same = [e for e in evidence if e.event == d.event and e.names & d.names]
        if not same:
            continue
        if any(
            all(e.parts.get(k, v) == v for k, v in d.parts.items())
            and ("day" not in d.parts or "day" in e.parts)
            for e in same
        ):
            continue
        best = same[0]
        differ = [k for k, v in d.parts.items() if best.parts.get(k) != v]
        found.append((d, best, differ))
    return found


_ASKS_EARLIEST = re.compile(r"\b(born first|born earlier|older|oldest|elder)\b", re.I)
_ASKS_LATEST = re.compile(r"\b(born last|born later|younger|youngest)\b", re.I)
_SAYS_ORDER = re.compile(r"\b(first|earlier|older|oldest|elder|later|last|younger|youngest)\b")


def _birth_key(d: LifeDate) -> tuple[int, int, int]:
    return (d.parts["year"], d.parts.get("month", 0), d.parts.get("day", 0))


def wrong_order(
    question: str, output: str, evidence: list[LifeDate]
) -> tuple[tuple[int, int], str, str] | None:
    """For "Who was born first / is older, X or Y?": when the output's answer is a person the
    evidence gives a later (or, for "younger", earlier) birth than another, the span of that
    person's name in the output, the name, and the date the evidence gives each.

    The answer is the first person of the evidence's birth dates that the output's first
    sentence names, when that sentence says an order ("X was born first") or is short ("The
    answer is: X.")."""
    earliest = bool(_ASKS_EARLIEST.search(question))
    if not earliest and not _ASKS_LATEST.search(question):
        return None
    births = [d for d in evidence if d.event == "born" and "year" in d.parts]
    if len({d.names for d in births}) < 2:
        return None
    first = re.split(r"(?<=[.!?])\s", output.strip(), maxsplit=1)[0]
    if not _SAYS_ORDER.search(first) and len(first.split()) > 8:
        return None
    named = []
    for m in _NAME_RUN_RE.finditer(first):
        name = m.group().rstrip(".")
        words = {w.lower().strip(".'’") for w in name.split()}
        for d in births:
            if d.names & words:
                named.append(((m.start(), m.start() + len(name)), name, d))
                break
    if not named:
        return None
    span, name, chosen = named[0]
    best = (min if earliest else max)(births, key=_birth_key)
    if _birth_key(chosen) == _birth_key(best) or chosen.names & best.names:
        return None
    return span, name, f"born {chosen.text}, {best.who} born {best.text}"


_ASKS_LIFE_YEAR = re.compile(
    r"\b(?P<e1>born|died)\b.*\b(?:which|what) year\b|\b(?:which|what) year\b.*\b(?P<e2>born|died)\b"
    r"|\bwhen (?:was|were|did)\b.*\b(?P<e3>born|died|die)\b",
    re.I,
)


def asks_life_year(question: str) -> bool:
    """Does ``question`` ask in which year (or when) someone was born or died?"""
    return _ASKS_LIFE_YEAR.search(question) is not None


def year_of_no_one(
    question: str, output: str, evidence: list[LifeDate]
) -> tuple[tuple[int, int], str, str] | None:
    """For "In which year was X born?": the output's birth year (or death year) when it is the
    birth (death) year of no one in the evidence, which gives such years: the year's span, the
    year, and the years the evidence gives. "The plaintiff ... was born in 2004" against
    "Peter Franklin Paul (born September 2, 1948)", 2004 being the year of the suit."""
    m = _ASKS_LIFE_YEAR.search(question)
    if m is None:
        return None
    event = (m.group("e1") or m.group("e2") or m.group("e3")).lower()
    event = "died" if event == "die" else event
    known = {d.parts["year"] for d in evidence if d.event == event and "year" in d.parts}
    if not known:
        return None
    for d in life_dates(output):
        year = d.parts.get("year")
        if d.event == event and year is not None and year not in known:
            a, b = d.spans["year"]
            return (a, b), output[a:b], f"{event} " + ", ".join(str(y) for y in sorted(known))
    return None
