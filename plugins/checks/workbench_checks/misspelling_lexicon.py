"""The English lexicon behind the misspelling check: which words exist, and what a non-word meant.

Three maintained word lists, all shipped inside pip packages (no download at run time):

- pyspellchecker's English dictionary (about 160k words, American spelling) decides what is a
  word and supplies correction candidates;
- symspellpy's English word list (about 83k words a large corpus attests) adds the words of
  five letters or more the first list lacks, technical vocabulary among them (modulo,
  workflow); its shorter extras are mostly abbreviations that are also common typos (tel, los);
- wordfreq's large English list (about 320k forms with Zipf frequencies, from many corpora)
  says how common a form is, so an attested word the first list lacks (smartphone, colour) is
  told apart from a typo (recieve), which is rare and has a far more common neighbour.

British spellings are accepted by mapping them to the American form with the regular spelling
correspondences (colour/color, organise/organize, centre/center, travelled/traveled, ...): a
variant counts as a word when its American form is in the dictionary and wordfreq attests it.
Both lists load once per process, on first use.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

from .misspelling_bigrams import unigrams

# British -> American spelling correspondences, as (pattern, replacement) on whole words.
_VARIANT_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"our(s|ed|ing|ite|ites|ful|fully|less|able|hood|hoods|er|ers)?$", r"or\1"),  # colour
        (r"our(?=[a-z])", "or"),  # neighbourhood, behavioural
        (r"is(e|es|ed|ing|er|ers|ation|ations|able)$", r"iz\1"),  # organise
        (r"ys(e|es|ed|ing|er|ers)$", r"yz\1"),  # analyse
        (r"([bt])re(s|d)?$", r"\1er\2"),  # centre, fibre, theatres
        (r"ogue(s)?$", r"og\1"),  # catalogue
        (r"ence(s)?$", r"ense\1"),  # defence, licence
        (r"ae", "e"),  # paediatric, encyclopaedia
        (r"oeuvre", "euver"),  # manoeuvre
        (r"oe", "e"),  # oestrogen
        (r"ll(ed|ing|er|ers|ery|en|ent)$", r"l\1"),  # travelled, woollen
        (r"([^l])l(ment|ments|s)?$", r"\1ll\2"),  # fulfil, enrolment, instals
        (r"lful(ly)?$", r"llful\1"),  # skilful
        (r"mme(s)?$", r"m\1"),  # programme
        (r"que(s)?$", r"ck\1"),  # cheque
        (r"^mou", "mo"),  # mould, moult
        (r"ough$", "ow"),  # plough
        (r"gement$", "gment"),  # judgement
        (r"eing$", "ing"),  # ageing
        (r"^grey", "gray"),
        (r"^tyre", "tire"),
        (r"^kerb", "curb"),
        (r"^pyjama", "pajama"),
        (r"^sceptic", "skeptic"),
        (r"^storey", "story"),
        (r"^jewellery$", "jewelry"),
        (r"^aluminium$", "aluminum"),
    )
)


# Productive English prefixes and suffixes: an unlisted word built from a dictionary word with
# one of them (reimagine, influencer, upskilling) is a word, not a typo.
_PREFIXES = (
    "anti counter cross cyber de dis eco hyper inter mega micro mini mis multi non out over post "
    "pre re self semi sub super un under up"
).split()
_SUFFIXES = (
    "ers",
    "er",
    "ed",
    "ing",
    "able",
    "ly",
    "ness",
    "ment",
    "ments",
    "ful",
    "less",
    "ist",
    "ists",
    "ism",
    "isms",
    "ization",
    "ize",
    "ized",
    "izing",
    "al",
    "s",
    "es",
)


# A dictionary word rarer than RARE_ZIPF with a neighbour RARE_GAP more common is suspect: on
# natural answers this flags about one word in 10,000, on human misspellings many real-word ones.
# A gap of 3.5, not 3: rare real words of stories (creaked -> created, mussed -> missed: 3.0
# apart) are words; the slips the list absorbed (ane -> and, sone -> one) are 3.9 or more.
RARE_ZIPF = 3.0
# Languages whose words, written in an English answer, mean a foreign passage (not typos).
OTHER_LANGUAGES = ("de", "es", "fr", "it", "pt", "nl")
RARE_GAP = 3.5
# symspellpy's words this long or longer count as words (shorter ones: abbreviations, typos).
LISTED_MIN_LENGTH = 5


@dataclass(frozen=True)
class Verdict:
    """What the lexicon says about one lowercase word."""

    known: bool
    zipf: float = 0.0
    correction: str | None = None
    distance: int = 0
    correction_zipf: float = 0.0
    # Likely intended words, best first, each with a plausibility (see ``Lexicon.suggestions``).
    suggestions: tuple[tuple[str, float], ...] = ()


class Lexicon:
    """Word lists with cached lookups. Build one with ``get_lexicon()``."""

    def __init__(self) -> None:
        from spellchecker import SpellChecker
        from wordfreq import get_frequency_dict

        self.words: dict[str, int] = dict(SpellChecker(language="en").word_frequency.dictionary)
        self.freq: dict[str, float] = get_frequency_dict("en", "large")
        extra = {
            w: n
            for w, n in unigrams().items()
            if len(w) >= LISTED_MIN_LENGTH and w.isalpha() and w not in self.words
        }
        # British spellings stay variants (the "en-us" option flags them)
        self.words.update((w, n) for w, n in extra.items() if self.american(w) is None)
        # Candidate corrections come from the dictionary, grouped by length for a fast search.
        self._by_len: dict[int, list[str]] = {}
        for w in self.words:
            if w.isalpha():
                self._by_len.setdefault(len(w), []).append(w)
        self._letters: _LetterCounts | None = None  # built on the first 2-edit search
        # Rare dictionary entries: some are old or technical words (yore, frond), many are
        # typos the list absorbed from its corpus (smal, makeing): see ``likely_typo``.
        self.rare: frozenset[str] = frozenset(
            w for w in self.words if w.isalpha() and self.zipf(w) < RARE_ZIPF
        )
        self.verdict = lru_cache(maxsize=200_000)(self._verdict)
        self.likely_typo = lru_cache(maxsize=200_000)(self.likely_typo)
        self.other_language = lru_cache(maxsize=50_000)(self.other_language)
        self.languages_of = lru_cache(maxsize=50_000)(self.languages_of)
        self.more_common_in = lru_cache(maxsize=50_000)(self.more_common_in)
        self.american = lru_cache(maxsize=200_000)(self.american)
        self.derived = lru_cache(maxsize=200_000)(self.derived)
        self.misderived = lru_cache(maxsize=200_000)(self.misderived)
        self.contraction = lru_cache(maxsize=50_000)(self.contraction)
        self.near1 = lru_cache(maxsize=50_000)(self.near1)
        # Dictionary words a writer may have meant as a contraction (cant -> can't; not ill).
        self.unapostrophed: frozenset[str] = frozenset(
            w
            for w in {c.replace("'", "") for c in self.words if "'" in c} & self.words.keys()
            if self.contraction(w)
        )

    def zipf(self, word: str) -> float:
        """Zipf frequency (log10 per billion words); 0 for a form wordfreq never saw."""
        f = self.freq.get(word)
        return math.log10(f) + 9 if f else 0.0

    def american(self, word: str) -> str | None:
        """The dictionary (American) form of a British spelling such as colour, or None."""
        if self.zipf(word) < 1.5:
            return None  # a variant must be attested in the frequency list
        for pat, rep in _VARIANT_RULES:
            alt = pat.sub(rep, word)
            if alt != word and alt in self.words:
                return alt
        return None

    def common(self, word: str) -> bool:
        """A dictionary word at least moderately common (Zipf >= 3, about 1 in a million words)."""
        return word in self.words and self.zipf(word) >= 3.0

    def derived(self, word: str) -> bool:
        """Is ``word`` a regular derivation or compound of dictionary words?

        Spelling rules are respected, so typos that look like inflections stay typos:
        "acess" is not aces+s, "liveing" not live+ing, "followes" not follow+es.
        """

        # Parts must be common words: the dictionary also lists rare scraps (poss, grom) that
        # would make almost any typo look like a derivation.
        common = self.common
        if self.misderived(word):
            return False  # stem + suffix written against the suffix's spelling rule

        # A prefixed form no corpus attests is a slip as often as a coinage (delaid is delayed,
        # not de+laid): it needs a long enough stem.
        attested = self.zipf(word) > 0
        for pre in _PREFIXES:
            rest = word[len(pre) :]
            if not word.startswith(pre) or len(rest) < (4 if attested else 5):
                continue
            if common(rest) or self.derived(rest):
                return True
        for suf in _SUFFIXES:
            stem = word[: -len(suf)]
            if not word.endswith(suf) or len(stem) < 4:
                continue
            if suf == "s":
                if stem[-1] not in "sxz" and not stem.endswith(("ch", "sh")) and common(stem):
                    return True
            elif suf == "es":
                if stem.endswith(("s", "x", "z", "ch", "sh", "o")) and common(stem):
                    return True
            elif suf[0] in "aei":
                # a vowel suffix drops a final silent e (live -> living, never liveing)
                if stem[-1] == "e" and stem[-2] not in "eoy":
                    continue
                if common(stem) or common(stem + "e"):
                    return True
            elif common(stem):
                return True
        # Closed compounds of two common words (checkboxes, soundbars), attested in use.
        if self.zipf(word) > 0:
            for i in range(4, len(word) - 3):
                a, b = word[:i], word[i:]
                if common(a) and (common(b) or (b.endswith("s") and common(b[:-1]))):
                    return True
        return False

    def misderived(self, word: str) -> str | None:
        """The correct form of a derivation written against its suffix's spelling rule, or None.

        Rules: a vowel suffix drops a final silent e (use -> using, never useing); -ly after
        -ic is -ically (drastic -> drastically; publicly is the exception); -ly after -le
        replaces the e (simple -> simply); a stressed consonant-vowel-consonant stem doubles
        its last consonant (stop -> stopping). The correct form must be a common word, far
        commoner than ``word``.
        """
        alts = []
        if word.endswith("eing"):
            stem = word[:-4]
            # keep the e after ee/oe/ye (seeing, hoeing, dyeing) and where dropping it makes
            # another word's -ing form (singeing, not singing)
            if stem[-1:] not in ("", "e", "o", "y") and not (stem.endswith("ng") and self.common(stem)):
                if self.common(stem + "e"):
                    alts.append(stem + "ing")
        if word.endswith("icly") and word != "publicly":
            alts.append(word[:-2] + "ally")
        if word.endswith("lely") and self.common(word[:-2]):
            alts.append(word[:-3] + "y")
        for suf in ("ing", "ed", "er"):
            stem = word[: -len(suf)]
            if (
                word.endswith(suf)
                and len(stem) >= 3
                and stem[-1] not in "aeiouwxy"
                and stem[-2] in "aeiou"
                and stem[-3] not in "aeiou"
            ):
                alts.append(stem + stem[-1] + suf)
        z = self.zipf(word)
        for alt in alts:
            if self.common(alt) and self.zipf(alt) - z >= 1.5:
                return alt
        return None

    def contraction(self, word: str) -> str | None:
        """The contraction ``word`` writes without its apostrophe (dont -> don't), or None.

        A form that is itself a word (cant, wont, lets, ill, were) counts only when it is
        uncommon and the contraction far commoner (cant -> can't, but not lets or were).
        """
        if len(word) < 2:
            return None
        cands = [word[:-i] + "'" + word[-i:] for i in (1, 2) if len(word) > i]
        cands = [c for c in cands if c in self.words and self.zipf(c) >= 4.5]
        if not cands:
            return None
        best = max(cands, key=self.zipf)
        z, zb = self.zipf(word), self.zipf(best)
        if word in self.words:
            return best if z < 4.5 and zb - z >= 1.4 else None
        return best if zb > z else None

    def other_language(self, word: str) -> bool:
        """Is ``word`` common (Zipf >= 3) in a major European language other than English?"""
        from wordfreq import zipf_frequency

        return any(zipf_frequency(word, lang, "small") >= 3.0 for lang in OTHER_LANGUAGES)

    def languages_of(self, word: str) -> tuple[str, ...]:
        """The languages (of ``OTHER_LANGUAGES``) in which ``word`` is common (Zipf >= 3) and
        clearly commoner than in English (by 1: und, von, c'est; not bo, era)."""
        from wordfreq import zipf_frequency

        en = zipf_frequency(word, "en", "small")
        return tuple(
            lang
            for lang in OTHER_LANGUAGES
            if (z := zipf_frequency(word, lang, "small")) >= 3.0 and z > en + 1.0
        )

    def more_common_in(self, word: str, lang: str) -> bool:
        """Is ``word`` a word of ``lang`` (Zipf >= 3 there) far commoner there than in English
        (by 1.5)? "la", "und", "vie" are; "a", "in", "era", "finesse" are not."""
        from wordfreq import zipf_frequency

        z = zipf_frequency(word, lang, "small")
        return z >= 3.0 and z > zipf_frequency(word, "en", "small") + 1.5

    def likely_typo(self, word: str) -> tuple[str, float] | None:
        """For a rare dictionary word one edit from a far commoner word (ane -> and, smal ->
        small), that word and its Zipf frequency; else None."""
        if word not in self.rare:
            return None
        near = [w for w in _edits1(word) if w in self.words and w.isalpha()]
        if not near:
            return None
        best = max(near, key=lambda w: (self.zipf(w), w))
        if word in (best + "s", best + "es", best + "d", best + "ed"):
            return None  # a regular inflection of that word (imagings), not a slip of it
        zb = self.zipf(best)
        return (best, zb) if zb - self.zipf(word) >= RARE_GAP else None

    def near1(self, word: str) -> list[str]:
        """Dictionary words one edit from ``word``."""
        if len(word) > MAX_CORRECTABLE:
            return []
        return [w for w in _edits1(word) if w in self.words and w.isalpha()]

    def candidates(self, word: str, max_distance: int = 2) -> tuple[str | None, int]:
        """The most frequent dictionary word at the smallest edit distance (OSA), or None."""
        if len(word) > MAX_CORRECTABLE:
            # the edits of an n-letter word take O(n^2) memory (a 5,000-letter run: 1.3 GB), and
            # no dictionary word is near one this long
            return None, 0
        # One edit away: generate the edits (fast); only search further when none is a word.
        near = [w for w in _edits1(word) if w in self.words and w.isalpha()]
        if near:
            return max(near, key=lambda w: (self.zipf(w), w)), 1
        best: tuple[int, float, str] | None = None
        for cand in self._near_by_letters(word, max_distance):
            dist = OSA.distance(word, cand, score_cutoff=max_distance)
            if dist > max_distance:
                continue
            key = (int(dist), -self.zipf(cand), cand)
            if best is None or key < (best[0], -best[1], best[2]):
                best = (int(dist), self.zipf(cand), cand)
        if best is None:
            return None, 0
        return best[2], best[0]

    def _near_by_letters(self, word: str, max_distance: int) -> list[str]:
        """Dictionary words of a length within ``max_distance`` of the word's whose letter
        counts differ from its by at most 2 * ``max_distance`` (an insertion or a deletion
        changes the counts by 1, a substitution by 2, a transposition by 0): a superset of the
        words within that edit distance, found in one vectorised pass over the dictionary
        instead of an edit distance per word (a 2-edit search took ~9 ms a word, this ~1 ms)."""
        import numpy as np

        if self._letters is None:
            self._letters = _LetterCounts(self._by_len)
        t = self._letters
        n = len(word)
        lo = int(np.searchsorted(t.lengths, n - max_distance, side="left"))
        hi = int(np.searchsorted(t.lengths, n + max_distance, side="right"))
        q = _letter_counts(word)
        diff = np.abs(t.counts[:, lo:hi] - q[:, None]).sum(axis=0)
        return [t.words[lo + i] for i in np.flatnonzero(diff <= 2 * max_distance).tolist()]

    def suggestions(self, word: str, limit: int = 5) -> tuple[tuple[str, float], ...]:
        """Words one edit away, ranked by how likely a writer meant them: frequency, less a
        cost per edit that makes the slips people really make cheap (swapped letters, a vowel
        for a vowel, a doubled or dropped double letter) and others dear. Falls back to the
        nearest word two edits away."""
        if len(word) > MAX_CORRECTABLE:
            return ()
        near = [w for w in _edits1(word) if w in self.words and w.isalpha()]
        ranked = sorted(
            ((w, self.zipf(w) - 3.0 * _edit_cost(word, w)) for w in near),
            key=lambda x: (-x[1], x[0]),
        )
        if not ranked:
            cand, dist = self.candidates(word)
            if cand:
                ranked = [(cand, self.zipf(cand) - 3.0 * dist)]
        return tuple(ranked[:limit])

    def _verdict(self, word: str) -> Verdict:
        if word in self.words:
            return Verdict(known=True, zipf=self.zipf(word))
        z = self.zipf(word)
        cand, dist = self.candidates(word)
        ranked = self.suggestions(word) if cand else ()
        return Verdict(
            known=False,
            zipf=z,
            correction=ranked[0][0] if ranked else cand,
            distance=dist,
            correction_zipf=self.zipf(cand) if cand else 0.0,
            suggestions=ranked,
        )


MAX_CORRECTABLE = 40  # longer words get no correction search


def slip_cost(typo: str, word: str) -> float:
    """How dear the one edit from ``word`` to ``typo`` is (0.5: swapped letters or a doubled or
    dropped double letter; 0.6: a vowel for a vowel; up to 1.0 otherwise); 2.0 when they are
    not one edit apart."""
    if OSA.distance(typo, word) != 1:
        return 2.0
    return _edit_cost(typo, word)


def _letter_counts(word: str):  # noqa: ANN202 - a numpy row
    """How often each of a-z occurs in ``word`` (any other letter counts in a 27th column)."""
    import numpy as np

    codes = np.frombuffer(word.encode("utf-32-le"), dtype=np.uint32) - ord("a")
    return np.bincount(np.minimum(codes, 26), minlength=27).astype(np.int16)


class _LetterCounts:
    """Every candidate word's letter counts, one int16 column each, the words sorted by length
    (``lengths``, ascending, column by column)."""

    def __init__(self, by_len: dict[int, list[str]]):
        import numpy as np

        self.words = [w for n in sorted(by_len) for w in by_len[n]]
        self.lengths = np.array([len(w) for w in self.words])
        joined = "".join(self.words)
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32) - ord("a")
        rows = np.repeat(np.arange(len(self.words)), [len(w) for w in self.words])
        # letter-major (27 x words): the per-word sum over letters adds 27 contiguous rows
        self.counts = np.zeros((27, len(self.words)), dtype=np.int16)
        np.add.at(self.counts, (np.minimum(codes, 26), rows), 1)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


_VOWELS = frozenset("aeiouy")


def _edit_cost(typo: str, word: str) -> float:
    """Cost of the one edit that turns ``word`` into ``typo`` (cheap = a common slip)."""
    if len(typo) == len(word):
        diff = [i for i in range(len(word)) if typo[i] != word[i]]
        if len(diff) == 2:
            return 0.5  # adjacent letters swapped
        i = diff[0]
        return 0.6 if typo[i] in _VOWELS and word[i] in _VOWELS else 1.0
    if len(typo) < len(word):  # a letter left out
        i = next((k for k in range(len(typo)) if typo[k] != word[k]), len(typo))
        doubled = (i > 0 and word[i - 1] == word[i]) or (
            i + 1 < len(word) and word[i + 1] == word[i]
        )
        return 0.5 if doubled else 0.8
    i = next((k for k in range(len(word)) if typo[k] != word[k]), len(word))  # a letter added
    doubled = (i > 0 and typo[i - 1] == typo[i]) or (i + 1 < len(typo) and typo[i + 1] == typo[i])
    return 0.5 if doubled else 1.0


def _edits1(word: str) -> set[str]:
    """Every string one deletion, adjacent transposition, substitution or insertion away."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    out.update(a + c + b[1:] for a, b in splits if b for c in _LETTERS)
    out.update(a + c + b for a, b in splits for c in _LETTERS)
    out.discard(word)
    return out


@lru_cache(maxsize=1)
def get_lexicon() -> Lexicon:
    """The process-wide lexicon (loads both word lists on first call, about half a second)."""
    return Lexicon()
