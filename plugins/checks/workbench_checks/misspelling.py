"""Misspelling: non-words in the output, each with its span and likely correction."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Literal

from pydantic import Field

from workbench.check.checks import Check, Finding, Record
from workbench.suggest.repairs import Repair

from .misspelling_bigrams import get_bigrams
from .misspelling_lexicon import Lexicon, Verdict, get_lexicon, slip_cost
from .misspelling_realword import CONFUSABLE, real_word_errors
from .misspelling_tokens import (
    Word,
    hyphenated,
    lowercase_words,
    lowercase_words_list,
    mask,
    prose_words,
)
from .repairs import apply_corrections, corrections_from

_SOURCE_WORD_RE = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_VOWEL_RE = re.compile(r"[aeiouy]")
_UNIT_BEFORE_RE = re.compile(r"\d[ \t]?$")
_NEXT_CAPITAL_RE = re.compile(r" [A-Z][a-z]")
# Poetic elisions: of -> o' (o'er, o'eve), -ed -> 'd (belov'd).
_ELIDED_OF_RE = re.compile(r"o['’]([a-z]+)")
# A line that starts with a list marker (1., -, *, a)).
_ITEM_RE = re.compile(r"[ \t]*(?:[-*•+>]+|\d{1,3}[.)]|[A-Za-z][.)])[ \t]")
# Particles inside names of several words (Salmaes de Tortas, Ludwig van Beethoven).
_NAME_PARTICLES = frozenset("de da di del della der den van von la le du dos das do y".split())
# Latin endings of a genus and a species (Malus domestica, Homo sapiens).
_GENUS_RE = re.compile(r"[A-Z][a-z]+(?:us|a|um|is|es|ia|ium|on|ops|ax|ix|ex)")
_SPECIES_RE = re.compile(r"[a-z]+(?:is|us|a|um|ae|i|ii|ensis|oides|ata|ica|ana|ens|or)")
# Algebra in the text: an operator between terms, or a lone letter used as a variable.
_ALGEBRA_RE = re.compile(
    r"\b[A-Za-z]\s*[=×÷^*/+]\s*[\w(]|[\w)]\s*[=×÷^*/+]\s*[A-Za-z]\b"
    r"|(?<![\w'’.-])[nxyz](?![\w'’.-])"
)
_VARIABLE_LETTERS = frozenset("abcmnpqrstuvwxyz")
# How much a suggestion gains (in Zipf units) when the text, prompt or context uses that word.
DOCUMENT_BONUS = 3.0


def _source_words(*texts: str | None) -> set[str]:
    """Lowercased words of the prompt, context and reference: whatever they spell is allowed."""
    words: set[str] = set()
    raw: set[str] = set()
    for t in texts:
        if not t:
            continue
        if t.isascii():
            # ASCII text lowercases to the same letters, so the lowercased text gives the
            # lowercased words at once
            words.update(_SOURCE_WORD_RE.findall(t.lower()))
        else:
            raw.update(_SOURCE_WORD_RE.findall(t))
    # the rest lowercased once per distinct spelling, not once per occurrence
    words.update(w.lower().replace("’", "'") for w in raw)
    return words


class MisspellingCheck(Check):
    """Flags non-words: tokens neither dictionary knows, or rare forms of a far commoner word.

    Never flags names (capitalised inside a sentence), acronyms, camelCase or snake_case
    identifiers, code, URLs, e-mail addresses, numbers, words written in the prompt, context or
    reference, or regular British/American spelling variants (unless ``variants`` says which).
    Real-word errors (coat -> cot) are words, so a dictionary check cannot see them.
    """

    name = "misspelling"
    category = "misspelling"
    version = "3"  # 3: names after titles and kinds of place; "too" before an adjective
    description = "non-word misspellings, with spans and likely corrections"

    class Options(Check.Options):
        threshold: float = Field(0.5, ge=0, le=1, description="flag words scoring at least this")
        variants: Literal["any", "en-us"] = Field(
            "any",
            description="'any' accepts British and American spellings; 'en-us' flags British ones",
        )
        allowed_words: list[str] = Field(
            default_factory=list, description="extra words never flagged (case-insensitive)"
        )
        min_length: int = Field(2, ge=1, description="shorter words are not checked")
        common_zipf: float = Field(
            3.0,
            description="forms at least this common (wordfreq Zipf) count as words unless they "
            "are one edit from a far commoner word (teh -> the)",
        )
        attested_zipf: float = Field(
            1.5,
            description="rarer forms are flagged even with no correction; commoner ones need one",
        )
        rare_word_typos: bool = Field(
            True,
            description="also flag rare dictionary words one edit from a far commoner word "
            "(ane -> and, smal -> small)",
        )
        rare_word_score: float = Field(
            0.6, ge=0, le=1, description="score of such a rare-word flag (below threshold: off)"
        )
        check_sentence_start: bool = Field(
            True, description="also check capitalised words that start a sentence"
        )
        mid_sentence_capitals: bool = Field(
            True,
            description="also flag capitalised words inside a sentence that are clear typos of "
            "a common word (Goverments), never ones that look like names",
        )
        real_word_errors: bool = Field(
            True,
            description="also flag confusion-set words (their/there, then/than) that word-pair "
            "counts on both sides say were meant as their partner",
        )
        real_word_score: float = Field(
            0.55, ge=0, le=1, description="score of a real-word flag (low severity)"
        )

    def __init__(self, options=None):
        super().__init__(options)
        self._allowed = frozenset(w.lower() for w in self.options.allowed_words)

    def word_score(self, word: str, v: Verdict, lex: Lexicon, sentence_start: bool) -> float:
        """0..1: how likely ``word`` (lowercase, not a dictionary word) is a misspelling.

        wordfreq attests most forms ever written, typos included, so frequency alone cannot
        decide: a typo is a form much rarer than a dictionary word one or two edits away.
        """
        o = self.options
        gap = v.correction_zipf - v.zipf if v.correction else 0.0
        # One edit from a far commoner word: a typo even when it parses as a derivation
        # (interresting is not inter+resting, outhers not out+hers).
        near_common = v.distance == 1 and gap >= 2.0
        if not _VOWEL_RE.search(word):
            # Mostly abbreviations (tsp, hr); a slip only when one edit from one of the very
            # commonest words (gf -> of, thw -> the).
            clear = v.zipf < 4.0 and v.distance == 1 and v.correction_zipf >= 6.0
            # or a form wordfreq hardly knows, next to a very common word (thng -> thing)
            clear = clear or (v.zipf < 1.5 and v.distance == 1 and v.correction_zipf >= 5.5)
            return 0.85 if clear else 0.0
        if not near_common and lex.derived(word):
            return 0.0  # regular derivations and compounds
        if sentence_start and v.zipf >= o.attested_zipf and not (v.distance == 1 and gap >= 2.5):
            return 0.0  # capitalised first words are often names: only flag clear typos
        if sentence_start and not v.correction:
            return 0.0
        if v.zipf >= o.common_zipf:
            # A common form: a typo only when one edit from a far commoner word (teh -> the).
            return 0.9 if v.correction and v.distance == 1 and gap >= 2.5 else 0.0
        if v.zipf >= o.attested_zipf:
            if not v.correction or gap < 1.0 or (v.distance > 1 and gap < 2.0):
                return 0.0
            return 0.85 if v.distance == 1 else 0.7
        return 0.95 if v.correction else 0.75

    def repair(self, finding: Finding, record: Record) -> Repair:
        """The output with the corrections this finding names applied (a finding that names
        none, or whose words are gone, leaves it as it is)."""
        text, fixed = apply_corrections(record.output, _corrections(finding, record))
        return Repair(text, note=f"spelling: {', '.join(fixed)}" if fixed else None)

    def target_repair(self, failures: Sequence[tuple[Finding, Record]]):
        """Every correction the run's misspelling findings name, applied to any training
        target: a misspelling the model learned from its training data is not taught again."""
        spelling: dict[str, str] = {}
        for finding, record in failures:
            spelling.update(_corrections(finding, record))
        if not spelling:
            return None

        def fix(text: str) -> Repair | None:
            text, fixed = apply_corrections(text, spelling)
            return Repair(text, provenance={"spelling_fixed": fixed}) if fixed else None

        return fix

    def run(self, records: Sequence[Record]) -> Iterable[Finding]:
        lex = get_lexicon()
        for rec in records:
            yield self._finding(rec, self._flags(rec, lex))

    def _flags(self, rec: Record, lex: Lexicon) -> list[tuple[Word, Verdict, float]]:
        o = self.options
        masked = mask(rec.output)
        tokens = lowercase_words(masked)
        flags, known = self._nonword_flags(rec, lex, masked, tokens)
        confusable = tokens & CONFUSABLE
        if o.real_word_errors and o.real_word_score >= o.threshold and confusable:
            errors = real_word_errors(masked, get_bigrams(), confusable)
            if errors and known is None:
                known = _source_words(rec.prompt, rec.context, rec.reference)
            for e in errors:
                if e.correction in known and e.word.lower() not in known:
                    continue  # the prompt uses the partner: it may well be a quotation
                w = Word(e.word, e.word.lower(), e.start, e.end, False)
                v = Verdict(True, lex.zipf(w.norm), e.correction, 1, lex.zipf(e.correction))
                flags.append((w, v, o.real_word_score))
            flags.sort(key=lambda f: f[0].start)
        return flags

    def _nonword_flags(
        self, rec: Record, lex: Lexicon, masked: str, tokens: set[str]
    ) -> tuple[list[tuple[Word, Verdict, float]], set[str] | None]:
        """The non-word flags, and the prompt's, context's and reference's words when read."""
        o = self.options
        # Fast path: most texts hold only dictionary words.
        words = lex.words
        unknown = tokens.difference(words)  # a set minus a dict's keys, in C
        if unknown:
            unknown = {t for t in unknown if _strip_s(t) not in words}
        if o.rare_word_typos:
            unknown |= tokens & lex.rare
        unknown |= tokens & lex.unapostrophed  # cant, wont: words, but maybe contractions
        if not unknown:
            return [], None
        known = _source_words(rec.prompt, rec.context, rec.reference) | self._allowed
        # a slip of a common word stays a slip where the prompt made it first (exampe)
        known -= {t for t in unknown & known if t not in self._allowed and _copied_typo(t, lex)}
        unknown = {t for t in unknown if t not in known and _strip_s(t) not in known}
        flags = []
        coining = _asks_for_coinages(rec.prompt)
        words = prose_words(rec.output, masked, unknown, o.mid_sentence_capitals, labels=True)
        named = _named_starts(words)
        for w in words:
            if len(w.norm) < o.min_length or w.norm in known:
                continue
            if w.norm.endswith("'d") and (
                w.norm[:-2] in lex.words or w.norm[:-2] + "ed" in lex.words
            ):
                continue  # a poetic elision of -ed (belov'd, cutter'd)
            elided = _ELIDED_OF_RE.fullmatch(w.norm)
            if elided and elided.group(1) in lex.words:
                continue  # o' for "of" or "over" before a word (o'eve, o'clock)
            whole = hyphenated(masked, w.start, w.end)
            if whole is not None and _plausible_compound(whole.lower(), lex):
                continue  # part of a hyphenated word that is a word as a whole (sci-fi, x-ray)
            if w.mid_capital:
                # cheap tests first: most are names, and a name's 2-edit search is slow (only
                # long forms wordfreq does not know get one)
                z = lex.zipf(w.norm)
                if len(w.norm) >= 5 and z < 2.5 and (lex.near1(w.norm) or _far(w.norm, z)):
                    v = lex.verdict(w.norm)
                    if _capital_typo(w, v, lex, masked):
                        flags.append((w, v, 0.7))
                continue
            fix = _written_wrong(w.norm, lex)
            if fix is not None:
                v = Verdict(False, lex.zipf(w.norm), fix, 1, lex.zipf(fix.split()[0]))
                flags.append((w, v, 0.9))
                continue
            if w.sentence_start and not o.check_sentence_start:
                continue
            if not _VOWEL_RE.search(w.norm) and _UNIT_BEFORE_RE.search(
                masked, max(0, w.start - 2), w.start
            ):
                continue  # an abbreviation right after a number: a unit (250 ml, 5 km, 3 tsp)
            if w.label and (w.norm in lex.words or lex.american(w.norm)):
                continue  # a label that is a word: no slip to find
            if _binomial(masked, w) or _variable(rec.output, w):
                continue
            if w.norm in lex.words:
                # A dictionary word: only a rare one next to a far commoner word is suspect.
                typo = lex.likely_typo(w.norm) if o.rare_word_typos else None
                if typo is None:
                    continue
                ranked = lex.suggestions(w.norm)
                best = ranked[0][0] if ranked else typo[0]
                v = Verdict(True, lex.zipf(w.norm), best, 1, typo[1], ranked)
                score = o.rare_word_score
                if score >= o.threshold:
                    flags.append((w, v, score))
                continue
            us = lex.american(w.norm)
            if us is not None:
                if o.variants == "any":
                    continue
                v, score = Verdict(known=False, zipf=lex.zipf(w.norm), correction=us), 0.8
            else:
                v = lex.verdict(w.norm)
                score = self.word_score(w.norm, v, lex, w.sentence_start)
                if score and w.sentence_start and masked[w.end : w.end + 1] == "!":
                    if v.zipf >= o.attested_zipf:
                        continue  # a word that is an exclamation of its own: Ack!, Argh!
                place = _name_place(masked, w, named) if score and w.sentence_start else None
                if place == "item" and v.distance != 1:
                    continue  # an invented name in a list (Oxtrabs e-Nom, Dwolla with 300)
                if place == "name":
                    # a name: a label (Edutopia: a blog), the first word of a name or title
                    # (Breyton Patel, Custardy Essentials), one with a possessive (Spaniack's),
                    # one the text starts sentences with and never writes in lowercase (a
                    # creature a story keeps
                    # naming: Amedea); a clear typo of a common word all the same
                    if not _clear_typo(w.norm, v):
                        continue
            if score >= o.threshold:
                flags.append((w, v, score))
        if flags and coining:
            # the prompt asks for new words or names: only a slip of a common word is a typo
            flags = [f for f in flags if f[1].distance == 1 and f[1].correction_zipf >= 5.0]
        if flags:
            flags = [
                f
                for f in flags
                if not _foreign(masked, f[0].start, unknown, lex)
                and not _foreign_phrase(masked, f[0], lex)
                and not _cut_off(rec, f[0])
            ]
            # A suggestion the text itself uses elsewhere is most likely the one meant
            # ("prodect" in an answer about a product is "product", not "project").
            here = tokens | known
            flags = [(w, _in_context(v, here), score) for w, v, score in flags]
        return flags, known

    def _finding(self, rec: Record, flags: list) -> Finding:
        if not flags:
            return self.finding(rec, flagged=False, score=0.0, message="no misspellings")
        shown = [
            f"{w.text!r} -> {_cased(v.correction, w.text)!r}" if v.correction else f"{w.text!r}"
            for w, v, _ in flags
        ]
        more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
        noun = "misspelling" if len(flags) == 1 else "misspellings"
        words = [
            {
                "word": w.text,
                "span": [w.start, w.end],
                "correction": _cased(v.correction, w.text) if v.correction else None,
                "score": round(s, 3),
                "zipf": round(v.zipf, 2),
            }
            for w, v, s in flags
        ]
        return self.finding(
            rec,
            flagged=True,
            score=max(s for _, _, s in flags),
            spans=[(w.start, w.end) for w, _, _ in flags],
            message=f"{len(flags)} {noun}: {', '.join(shown[:8])}{more}",
            evidence={"words": words},
        )


def _written_wrong(word: str, lex: Lexicon) -> str | None:
    """The right form of a word written against a rule: a derivation that breaks its suffix's
    spelling rule (useing), a contraction without its apostrophe (dont), or a common phrase run
    together (alot); None otherwise."""
    if word in lex.words and word not in lex.rare:
        return lex.contraction(word)  # only cant-like forms: common words are words
    fix = lex.misderived(word) or lex.contraction(word)
    if fix is None and len(word) >= 4 and lex.zipf(word) < 4.5:
        fix = get_bigrams().run_together(word)
    return fix


def _plausible_compound(whole: str, lex: Lexicon) -> bool:
    """Is a hyphenated word a word as a whole: attested with or without its hyphens?"""
    joined = whole.replace("-", "")
    return joined in lex.words or lex.zipf(joined) >= 1.5 or lex.zipf(whole) >= 1.5


def _capital_typo(w: Word, v: Verdict, lex: Lexicon, masked: str) -> bool:
    """Is a capitalised word inside a sentence a typo rather than a name? Only when the form is
    rare, a far commoner word is one edit away (two, for a long form wordfreq does not know),
    it is no word of another language, and no capitalised word stands next to it (New Yrok,
    Dr Smith)."""
    if len(w.norm) < 5 or v.known or not v.correction or v.zipf >= 2.5:
        return False
    if v.distance != 1 and not (_far(w.norm, v.zipf) and v.correction_zipf >= _far_bar(w.norm)):
        return False
    # a slip people make (swapped, doubled or dropped double letter, a vowel for a vowel) of a
    # word corpora know: names and titles misspelled (Fibbonacci, Parachutas)
    cheap = _cheap_slip(w.norm, v)
    if v.correction_zipf < 3.5 or v.correction_zipf - v.zipf < 2.5:
        if not (cheap and v.zipf == 0.0 and len(w.norm) >= 6 and v.correction_zipf >= 2.5):
            return False
    before = masked[max(0, w.start - 30) : w.start].split()
    after = masked[w.end : w.end + 30].split()
    if _after_name_head(before) or (
        after and after[0].strip(_EDGE_PUNCT).lower() in _NAME_TAILS
    ):
        return False  # Mount Thias, the province of Siand, the Breston river: a name's place
    # capitalised neighbours make a name (New York, Dr Smith), unless the line is written in
    # title case (How to Mitters It: a function word capitalised inside it), they are common
    # words, and the slip is a cheap one of a common word
    titled = cheap and v.correction_zipf >= 4.0 and _title_case(masked, w)
    if after and after[0][:1].isupper() and not (titled and _common_capital(after[0], lex)):
        return False
    if after[:1] and after[0] in _NAME_PARTICLES and after[1:2] and after[1][:1].isupper():
        return False  # Salmaes de Tortas
    if before and before[-1][:1].isupper() and before[-1][-1:].isalpha():
        # its neighbour is a name's unless it starts a sentence (not a list item: 1. Laemphyl)
        prose_start = len(before) > 1 and before[-2][-1:] in ".!?:" and not _MARKER_RE.fullmatch(
            before[-2]
        )
        if len(before) > 1 and not prose_start and not (
            titled and _common_capital(before[-1], lex)
        ):
            return False
    return not lex.other_language(w.norm)


_MARKER_RE = re.compile(r"\d{1,3}[.)]|[A-Za-z][.)]")
# Words that put a name right after them, capitalised (Mount Thias, Lake Houtiam, Dr Smith),
# or after "of" (the province of Siand, the Kingdom of Taell, the University of Arlen).
_NAME_HEADS = frozenset(
    "mount mt lake river cape fort port saint st san santa sir lady lord king queen prince "
    "princess duke duchess earl count baron emperor empress mr mrs ms dr doctor professor prof "
    "president general captain colonel sergeant island isle loch glen bay gulf sea ocean "
    "desert valley forest planet star".split()
)
_OF_NAME_HEADS = frozenset(
    "province city town village kingdom empire republic state county region district island "
    "islands isle duchy land lands realm people tribe house clan university college bay gulf "
    "sea lake river mount mountains valley forest desert planet isles".split()
)

# Kinds of place and of group that follow a name (the Breston river, the Bymour range).
_NAME_TAILS = frozenset(
    "river rivers lake mountain mountains range valley forest desert island islands sea ocean "
    "bay city town village county province region kingdom empire street avenue road family "
    "clan tribe dynasty".split()
)


def _after_name_head(before: list[str]) -> bool:
    """Does a word that puts a name after it (a title, a kind of place) stand just before?"""
    if not before:
        return False
    last = before[-1].rstrip(".").lower()
    if last in _NAME_HEADS and before[-1][:1].isupper():
        return True
    return last == "of" and len(before) > 1 and before[-2].lower() in _OF_NAME_HEADS


def _title_case(masked: str, w: Word) -> bool:
    """Is the line around ``w`` written in title case: a function word capitalised inside a
    sentence (How to Mitters It, The Art Of War)?"""
    start = masked.rfind("\n", 0, w.start) + 1
    end = masked.find("\n", w.end)
    line = masked[start : end if end >= 0 else len(masked)]
    return any(m.group(1) in _FUNCTION_WORDS for m in _TITLE_WORD_RE.finditer(line))


# A capitalised word after one that ends no sentence.
_TITLE_WORD_RE = re.compile(r"(?<=[^\s.!?:])\s+([A-Z][a-z]*)\b")
_FUNCTION_WORDS = frozenset(
    "A An And As At But By For From In Into Is It Its Of On Or Our The To With Your".split()
)


def _common_capital(token: str, lex: Lexicon) -> bool:
    """Is a capitalised neighbour a common word (title case: Luxury, It), not a name?"""
    word = token.strip(_EDGE_PUNCT).lower()
    return word in lex.words and lex.zipf(word) >= 4.0


_EDGE_PUNCT = "\"'“”‘’()[]{}<>*_.,;:!?…–—-"


def _name_place(masked: str, w: Word, named: set[str]) -> str | None:
    """Where a capitalised first word stands. "name": where names stand (a label, before
    another capitalised word or a possessive, one the text starts sentences with and never
    writes in lowercase); "item": first in a list item or on a short line without a full stop
    (Oxtrabs e-Nom, Dwolla with 300), where names are common but plain words too; None."""
    if w.label or w.text in named or _NEXT_CAPITAL_RE.match(masked, w.end):
        return "name"
    if w.text.endswith(("'s", "’s")):
        return "name"
    line_start = masked.rfind("\n", 0, w.start) + 1
    if _ITEM_RE.match(masked, line_start):
        lead = masked[line_start : w.start].strip(" \t-*•+>.)0123456789(\"'“‘[")
        return None if lead.strip() else "item"
    line_end = masked.find("\n", w.end)
    line = masked[line_start : line_end if line_end >= 0 else len(masked)]
    first = not masked[line_start : w.start].strip(" \t\"'“‘(*[#")
    short = first and len(line.split()) <= 4 and not any(c in line for c in ".!?")
    return "item" if short else None


def _copied_typo(word: str, lex: Lexicon) -> bool:
    """Is a word the prompt also writes a plain slip all the same: no corpus attests it, and a
    common word is one edit away (exampe), or a word corpora know one common slip away
    (Apocalypic)? Names and terms of the prompt are not."""
    if word in lex.words or lex.zipf(word) >= 1.0 or len(word) < 4:
        return False
    near = lex.near1(word)
    if any(lex.zipf(n) >= 4.5 for n in near):
        return True
    return len(word) >= 6 and any(
        lex.zipf(n) >= 2.5 and slip_cost(word, n) <= 0.8 for n in near
    )


def _binomial(masked: str, w: Word) -> bool:
    """Is ``w`` the species of a scientific name after its genus (Malus domesticis)?"""
    if not w.text.islower() or not _SPECIES_RE.fullmatch(w.text):
        return False
    before = masked[max(0, w.start - 40) : w.start]
    if not before.endswith(" "):
        return False
    prev = before.split()[-1:] or [""]
    return _GENUS_RE.fullmatch(prev[0]) is not None


def _variable(text: str, w: Word) -> bool:
    """Is a word of two or three letters a product of variables (xy, ab) in a text doing
    algebra?"""
    if not 2 <= len(w.norm) <= 3 or not w.text.islower() or not set(w.norm) <= _VARIABLE_LETTERS:
        return False
    return _ALGEBRA_RE.search(text) is not None


def _named_starts(words: list[Word]) -> set[str]:
    """Capitalised forms that start two sentences or more and are never written in lowercase."""
    starts = Counter(w.text for w in words if w.sentence_start and w.text[:1].isupper())
    if all(n == 1 for n in starts.values()):
        return set()
    lower = {w.norm for w in words if w.text[:1].islower()}
    return {t for t, n in starts.items() if n > 1 and t.lower() not in lower}


def _cheap_slip(word: str, v: Verdict) -> bool:
    """Is ``word`` one slip people often make (swapped letters, a doubled or dropped letter, a
    vowel for a vowel) from its correction?"""
    return v.distance == 1 and bool(v.correction) and slip_cost(word, v.correction) <= 0.8


def _clear_typo(word: str, v: Verdict) -> bool:
    """A typo even where a name could stand: one edit from a common word (Zipf >= 4: Lerning,
    Gren, Posion), one common slip no corpus attests, six letters or more, from a word corpora
    know (Zipf >= 2.5: Parachutas, Fibbonacci), or a long form no corpus attests two edits from
    a commoner one (Merores)."""
    if v.distance == 1:
        if v.zipf == 0.0 and len(word) >= 6 and v.correction_zipf >= 2.5 and _cheap_slip(word, v):
            return True
        return v.correction_zipf >= 4.0
    return _far(word, v.zipf) and len(word) >= 7 and v.correction_zipf >= 4.5


def _far(word: str, zipf: float) -> bool:
    """May a capitalised form be two edits from the word meant: five letters or more, unknown
    to wordfreq (Definitally, Owudl)?"""
    return len(word) >= 5 and zipf == 0.0


def _far_bar(word: str) -> float:
    """How common the word two edits away must be: a short unknown name is often two edits from
    some word, so under seven letters only the commonest words (Zipf >= 6: would, there) count."""
    return 4.5 if len(word) >= 7 else 6.0


def _in_context(v: Verdict, here: set[str]) -> Verdict:
    if len(v.suggestions) < 2:
        return v
    best = max(v.suggestions, key=lambda s: s[1] + (DOCUMENT_BONUS if s[0] in here else 0.0))
    return v if best[0] == v.correction else replace(v, correction=best[0])


def _strip_s(token: str) -> str:
    return token[:-2] if token.endswith(("'s", "’s")) else token


# How far around a word its sentence is looked for: bounded, so each flag costs the same on
# any length of output (a search to the text's ends made long outputs quadratic).
SENTENCE_REACH = 400


def _clause(masked: str, start: int, end: int, stops: str) -> tuple[int, int]:
    """The span of the sentence (up to ``stops``) around [start, end), at most
    ``SENTENCE_REACH`` characters each side."""
    lo = max(0, start - SENTENCE_REACH)
    hi = min(len(masked), end + SENTENCE_REACH)
    begin = max(masked.rfind(c, lo, start) for c in stops) + 1 or lo
    ends = [e for e in (masked.find(c, end, hi) for c in stops) if e >= 0]
    return max(begin, lo), min(ends) if ends else hi


def _foreign(masked: str, pos: int, unknown: set[str], lex: Lexicon) -> bool:
    """Is the sentence around ``pos`` another language or placeholder text (lorem ipsum)?

    Only asked of sentences where most words are unknown. Foreign when most of those are words
    of another language (wordfreq's German, Spanish, French, Italian, Portuguese or Dutch
    lists), or when the sentence has almost none of the commonest English words (the, of, is)
    and its unknown words do not look like typos of common English words. A sentence of heavy
    typos ("Teh rivver iz lnog") is neither.
    """
    start, end = _clause(masked, pos, pos, ".!?\n")
    words = lowercase_words_list(masked[start:end])
    strange = [w for w in words if w in unknown]
    if len(strange) < 3 or len(strange) <= 0.4 * len(words):
        return False
    if sum(map(lex.other_language, strange)) >= 0.5 * len(strange):
        return True
    glue = sum(1 for w in words if w in lex.words and lex.zipf(w) >= 6.0)
    if glue >= 0.15 * len(words):
        return False
    typo_like = 0
    for w in strange:
        v = lex.verdict(w)
        typo_like += bool(v.correction and v.distance == 1 and v.correction_zipf >= 4.0)
    return typo_like < 0.5 * len(strange)


def _foreign_phrase(masked: str, w: Word, lex: Lexicon) -> bool:
    """Is ``w`` a word of another language inside a phrase of that language ("C'est la vie en
    lumière") or a name particle ("Max von Sydow", "Sturm und Drang")?

    The word must be clearly commoner in that language than in English. A phrase: two of its
    lowercase neighbours in the clause (up to four words each side) are too, or are written
    with letters English does not use. A particle: capitalised words stand right before and
    after it. Capitalised neighbours other than the clause's first word are no evidence of a
    language (AI, Era)."""
    langs = lex.languages_of(w.norm)
    if not langs:
        return False
    start, end = _clause(masked, w.start, w.end, ".!?;:\n")
    before = _NEIGHBOUR_RE.findall(masked, start, w.start)[-4:]
    after = _NEIGHBOUR_RE.findall(masked, w.end, end)[:4]
    if before and after and before[-1][0].isupper() and after[0][0].isupper():
        left = masked[w.start - len(before[-1]) - 1 : w.start]
        right = masked[w.end : w.end + len(after[0]) + 1]
        if left == before[-1] + " " and right == " " + after[0]:
            return True
    votes: dict[str, int] = {}
    first = _NEIGHBOUR_RE.search(masked, start, end)
    for x in before + after:
        # lowercase words, and the clause's first word capitalised by position (La carta de)
        if not (x.islower() or (first and x == first.group() and x[1:].islower())):
            continue
        if not x.isascii():
            for lang in langs:
                votes[lang] = votes.get(lang, 0) + 1
            continue
        x = x.replace("’", "'")
        for lang in langs:
            if lex.more_common_in(x, lang):
                votes[lang] = votes.get(lang, 0) + 1
    return max(votes.values(), default=0) >= 2


_NEIGHBOUR_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


_COINAGE_RE = re.compile(
    r"\b(?:new|invented|made[- ]up|coined|nonsense|fictional|imaginary)\s+(?:\w+\s+){0,2}?"
    r"(?:words?|terms?)\b"
    r"|\b(?:invent|coin|make up)\s+(?:a|an|some|\d+|two|three|four|five|ten)?\s*(?:new\s+)?"
    r"(?:words?|terms?)\b",
    re.I,
)


def _asks_for_coinages(prompt: str | None) -> bool:
    """Does the prompt ask for new words ("Generate five new words", "invent a word")? Then an
    unknown word is what was asked for."""
    return bool(prompt) and _COINAGE_RE.search(prompt) is not None


def _cut_off(rec: Record, w: Word) -> bool:
    """Is ``w`` the last word of an output cut at its token limit, itself cut (juxtap)?"""
    if rec.output[w.end :].strip():
        return False
    return rec.finish_reason == "length"


def _cased(correction: str, original: str) -> str:
    """The correction in the original's case pattern (Recieve -> Receive)."""
    return correction[:1].upper() + correction[1:] if original[:1].isupper() else correction


def _corrections(finding: Finding, record: Record) -> dict[str, str]:
    """Misspelled word -> correction, as this finding names them (evidence or message)."""
    return corrections_from(finding.evidence, finding.message, record.output,
                            [list(s) for s in finding.spans])
