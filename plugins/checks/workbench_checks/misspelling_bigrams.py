"""Word-pair counts for the misspelling check: run-together words and real-word errors.

symspellpy ships a maintained English bigram list (about 243k word pairs with corpus counts) and
a unigram list (about 83k words); both load once per process, on first use, and only when a
text holds a word that needs them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

# A pair written this often as two words is a phrase ("a lot", "in fact", "each other"): its
# letters run together are a slip unless the unigram list also knows the joined form.
PHRASE_COUNT = 2e8


class Bigrams:
    """Counts of word pairs ("there is") and of single words, from symspellpy's lists."""

    def __init__(self) -> None:
        import symspellpy

        root = Path(symspellpy.__file__).parent
        self.pairs: dict[str, int] = {}
        with open(root / "frequency_bigramdictionary_en_243_342.txt", encoding="utf-8") as f:
            for line in f:
                a, b, n = line.split()
                self.pairs[f"{a} {b}"] = int(n)
        self.unigrams: dict[str, int] = unigrams()
        self.run_together = lru_cache(maxsize=50_000)(self.run_together)

    def count(self, a: str, b: str) -> int:
        return self.pairs.get(f"{a} {b}", 0)

    def run_together(self, word: str) -> str | None:
        """"a lot" for "alot": the phrase whose two words ``word`` writes as one, when that
        phrase is very common and the joined form is not itself a listed word; else None."""
        if word in self.unigrams:
            return None
        best, best_n = None, 0
        for i in range(1, len(word)):
            n = self.count(word[:i], word[i:])
            if n > best_n:
                best, best_n = f"{word[:i]} {word[i:]}", n
        return best if best_n >= PHRASE_COUNT else None


@lru_cache(maxsize=1)
def unigrams() -> dict[str, int]:
    """symspellpy's English word list with corpus counts (about 83k words, no typos: the words
    of a spelling dictionary that a large corpus attests, technical ones included: modulo,
    workflow)."""
    import symspellpy

    root = Path(symspellpy.__file__).parent
    counts: dict[str, int] = {}
    with open(root / "frequency_dictionary_en_82_765.txt", encoding="utf-8") as f:
        for line in f:
            w, n = line.split()
            counts[w] = int(n)
    return counts


@lru_cache(maxsize=1)
def get_bigrams() -> Bigrams:
    return Bigrams()
