"""Text similarity for matching failures to pool rows, and the contamination guard."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import ConfigError

DEFAULT_THRESHOLD = 90.0  # fuzzy ratio (0..100) of a near-duplicate prompt
DEFAULT_MIN_OVERLAP = 0.8  # and its idf-weighted word cosine (bench/compare_suggest.py)
SIMILARITIES = ("hybrid", "tfidf", "fuzz")
_WORD = re.compile(r"\w+")


def _tfidf(texts: Sequence[str], vocab: dict[str, int] | None, idf=None,  # noqa: ANN001, ANN202
           bigrams: bool = False):
    """Rows of L2-normalised tf-idf over words (and word bigrams), a scipy sparse matrix.

    With ``vocab=None`` the vocabulary and idf are fitted on ``texts``; pass both back to embed
    other texts in the same space (unknown terms are ignored).
    """
    import numpy as np
    from scipy.sparse import csr_matrix

    build = vocab is None
    vocab = {} if vocab is None else vocab
    indptr, indices, data = [0], [], []
    for t in texts:
        toks = _WORD.findall(t.lower())
        terms = toks + [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)] if bigrams \
            else toks
        counts: dict[int, int] = {}
        for term in terms:
            j = vocab.setdefault(term, len(vocab)) if build else vocab.get(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        indices.extend(counts)
        data.extend(1.0 + math.log(c) for c in counts.values())  # sublinear tf
        indptr.append(len(indices))
    m = csr_matrix((data, indices, indptr), shape=(len(texts), len(vocab)), dtype=float)
    if idf is None:
        df = np.bincount(m.indices, minlength=len(vocab))
        idf = np.log((1 + len(texts)) / (1 + df)) + 1.0
    m = m.multiply(idf).tocsr()
    norms = np.sqrt(m.multiply(m).sum(axis=1)).A.ravel()
    norms[norms == 0] = 1.0
    return m.multiply(1.0 / norms[:, None]).tocsr(), vocab, idf


def similarity_matrix(queries: Sequence[str], docs: Sequence[str], method: str = "hybrid"):  # noqa: ANN201
    """queries x docs similarity in 0..1 (a numpy array).

    ``tfidf``: cosine over word tf-idf fitted on the docs, so rare shared words (a name, a topic)
    count more than shared template words. ``fuzz``: rapidfuzz token-set ratio over the words.
    ``hybrid`` (default): the mean of the two, which picked rows of the failing item's kind more
    often than either alone (bench/compare_suggest.py and the demo suite).
    """
    import numpy as np

    blocks = [b for _, b in similarity_blocks(queries, docs, method)]
    return np.vstack(blocks) if blocks else np.zeros((len(queries), len(docs)))


def similarity_blocks(queries: Sequence[str], docs: Sequence[str], method: str = "hybrid",
                      block: int = 128) -> Iterator[tuple[int, Any]]:
    """(first query index, block of rows of the similarity matrix), ``block`` queries at a time:
    the docs are embedded once, and memory stays at ``block`` x len(docs) for any pool size."""
    import numpy as np

    if method not in SIMILARITIES:
        raise ConfigError(f"unknown similarity {method!r} (one of: {', '.join(SIMILARITIES)})")
    if not len(queries):
        return
    if not len(docs):
        yield 0, np.zeros((len(queries), 0))
        return
    if method in ("tfidf", "hybrid"):
        # words only: bigrams of template phrases ("in terms of") pulled in rows of other topics
        d, vocab, idf = _tfidf(docs, None)
        d_t = d.T.tocsc()
    for lo in range(0, len(queries), block):
        part = queries[lo:lo + block]
        out = np.zeros((len(part), len(docs)), dtype=np.float32)
        if method in ("tfidf", "hybrid"):
            qm, _, _ = _tfidf(part, vocab, idf)
            out += np.asarray((qm @ d_t).todense(), dtype=np.float32)
        if method in ("fuzz", "hybrid"):
            from rapidfuzz import fuzz, process, utils

            out += process.cdist(part, docs, scorer=fuzz.token_set_ratio,
                                 processor=utils.default_process, dtype=np.float32,
                                 workers=-1) / 100.0
        yield lo, (out / 2.0 if method == "hybrid" else out)


def near_duplicates(texts: Sequence[str], eval_texts: Sequence[str],
                    threshold: float = DEFAULT_THRESHOLD,
                    min_overlap: float = DEFAULT_MIN_OVERLAP) -> list[tuple[int, str, float]]:
    """(index, eval text, ratio) for each text that is a near-duplicate of an eval text.

    A near-duplicate has a fuzzy ratio of at least ``threshold`` (0..100; the plain or the
    word-order-insensitive ratio, on lowercased text without punctuation) to an eval text AND
    shares its distinctive words: idf-weighted word cosine of at least ``min_overlap``. The second
    test keeps templated prompts apart ("What is the X river known for?" about two different
    rivers can reach a ratio of 90 but are different questions), while case, punctuation, word
    order and a changed common word keep both scores high.
    """
    from rapidfuzz import fuzz, utils

    hits: list[tuple[int, str, float]] = []
    if not len(texts) or not len(eval_texts):
        return hits
    # idf over both sides: a word frequent in the suite carries little weight
    words, _, _ = _tfidf(list(eval_texts) + list(texts), None)
    ev_words, tx_words = words[:len(eval_texts)], words[len(eval_texts):]
    ev_clean = [utils.default_process(t) for t in eval_texts]
    step = 1000  # a block of rows x every eval text at a time: bounded memory
    for lo in range(0, len(texts), step):
        # the word overlap is a sparse product, cheap: only its candidates get fuzzy ratios
        overlap = (tx_words[lo:lo + step] @ ev_words.T).tocoo()
        keep = overlap.data >= min_overlap - 1e-9
        found: dict[int, tuple[int, float]] = {}
        for i, j in zip(overlap.row[keep], overlap.col[keep], strict=True):
            a, b = utils.default_process(texts[lo + i]), ev_clean[j]
            r = max(fuzz.ratio(a, b, score_cutoff=threshold),
                    fuzz.token_sort_ratio(a, b, score_cutoff=threshold))
            if r >= threshold and (i not in found or r > found[i][1]):
                found[int(i)] = (int(j), float(r))
        hits += [(lo + i, eval_texts[j], r) for i, (j, r) in sorted(found.items())]
    return hits
