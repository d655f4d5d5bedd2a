"""The fast paths of the built-in checks give what the plain versions give.

Each speed-up (batched fuzzy lookups, an ASCII tokeniser, token positions found by search,
source words lowercased once) is checked here against the straightforward computation it
replaces, on text chosen to hit its edge cases.
"""

from __future__ import annotations

import random
import re

import pytest
from rapidfuzz import fuzz, process
from workbench_checks import hallucination_support as hs
from workbench_checks.misspelling import _SOURCE_WORD_RE, _source_words

TRICKY = (
    "The 1990s and the 3rd of May, 2,000.5 km/h; don't DON'T it’s Zoë's café naïve. "
    "x1a 12abc 5thx 1990sx ²³ O'Neil’s “quoted” (paren) end.First line\n\nNext: 4/5 10:30 "
    "foo_bar __init__ e-mail self-evident Ångström K-9 İstanbul straße"
)


def _random_ascii(rng: random.Random, n: int = 400) -> str:
    alphabet = "abcdeXYZ019 .,:/'-\n!?()\"s"
    return "".join(rng.choice(alphabet) for _ in range(n))


def test_ascii_tokeniser_matches_the_unicode_one_on_ascii_text():
    rng = random.Random(7)
    texts = [TRICKY.encode("ascii", "ignore").decode()] + [_random_ascii(rng) for _ in range(300)]
    for text in texts:
        assert text.isascii()
        assert hs._ASCII_TOKEN_RE.findall(text) == hs.TOKEN_RE.findall(text)
    # non-ASCII text keeps the Unicode tokeniser
    assert hs._findall(TRICKY) == hs.TOKEN_RE.findall


def test_match_many_equals_one_extractone_per_token(monkeypatch):
    ev = hs.Evidence(
        "The founders founded the foundation in Marseille in 1844. Its archives hold "
        "photographs, photographers' letters and a catalogue of 3,000 manuscripts."
    )
    toks = [
        "foundations",
        "photograhps",
        "catalog",
        "manuscript",
        "marseilles",
        "zebra",
        "1840s",
        "3000",
        "archive",
        "lettres",
        "the",
        "x",
    ]
    # a block of one row at a time: the blocked path must give the same as one block
    monkeypatch.setattr(hs, "_FUZZY_CELLS", 1)
    small = ev.match_many(toks, 85.0)
    monkeypatch.undo()
    assert ev.match_many(toks, 85.0) == small
    for tok in toks:
        expected = ev.match(tok, 85.0)
        assert small[tok] == expected
        if tok not in ev.vocab and not hs._has_digit(tok) and hs._stem(tok) not in ev.stems:
            hit = (
                process.extractOne(tok, ev.words, scorer=fuzz.ratio, score_cutoff=85.0)
                if len(tok) >= 5
                else None
            )
            assert expected == (hit[0] if hit else None)
    assert small["photograhps"] == "photographs"
    assert small["zebra"] is None


@pytest.mark.parametrize("cutoff", [0.0, 60.0, 100.0])
def test_match_many_cutoffs(cutoff):
    ev = hs.Evidence("Bridges span rivers near harbours and lighthouses.")
    got = ev.match_many(["bridgez", "lighthoose", "qqqqqqq"], cutoff)
    for tok, hit in got.items():
        ref = process.extractOne(tok, ev.words, scorer=fuzz.ratio, score_cutoff=cutoff)
        assert hit == (ref[0] if ref else None)


def test_spans_point_at_their_tokens():
    context = "A short note about rivers."
    for output in (TRICKY, TRICKY.upper(), "Zoë's 1990s café isn't here. " * 3):
        s = hs.assess(output, context, "What is it?")
        assert s.unsupported
        # every span is a whole token (as the regex finds it) and spells what it reports
        assert sorted(output[a:b] for a, b in s.spans) == sorted(s.unsupported + s.negations)
        tokens = {(m.start(), m.end()) for m in hs.TOKEN_RE.finditer(output)}
        assert set(s.spans) <= tokens


def test_source_words_equal_the_word_by_word_version():
    def plain(*texts):
        words = set()
        for t in texts:
            if t:
                words.update(w.lower().replace("’", "'") for w in _SOURCE_WORD_RE.findall(t))
        return words

    rng = random.Random(3)
    texts = [TRICKY, TRICKY.encode("ascii", "ignore").decode(), None, ""]
    texts += [_random_ascii(rng) for _ in range(50)]
    for i in range(len(texts) - 2):
        assert _source_words(*texts[i : i + 3]) == plain(*texts[i : i + 3])


def test_negations_and_claims_keep_their_spans():
    context = "The bridge was built in 1821 and it carries the coast road."
    out = "The bridge wasn't built in 1843. It did not carry the road."
    s = hs.assess(out, context, "When was the bridge built?")
    assert "1843" in s.unsupported
    got = {out[a:b] for a, b in s.spans}
    assert {"wasn't", "not", "1843"} <= got
    assert all(re.fullmatch(r"[\w'’]+", out[a:b]) for a, b in s.spans)
