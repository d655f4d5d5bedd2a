"""Text similarity for matching failures to pool rows, and the contamination guard."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from .errors import ConfigError

DEFAULT_THRESHOLD = 90.0
SIMILARITIES = ("tfidf", "fuzz")
_WORD = re.compile(r"\w+")


def _tfidf(texts: Sequence[str], vocab: dict[str, int] | None, idf=None):  # noqa: ANN001, ANN202
    """Rows of L2-normalised tf-idf over words and word bigrams (a scipy sparse matrix)."""
    import numpy as np
    from scipy.sparse import csr_matrix

    build = vocab is None
    vocab = {} if vocab is None else vocab
    indptr, indices, data = [0], [], []
    for t in texts:
        toks = _WORD.findall(t.lower())
        counts: dict[int, int] = {}
        for term in toks + [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]:
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


def similarity_matrix(queries: Sequence[str], docs: Sequence[str], method: str = "tfidf"):  # noqa: ANN201
    """queries x docs similarity in 0..1 (a numpy array).

    ``tfidf``: cosine over word and bigram tf-idf fitted on the docs, so rare shared words (a name,
    a topic) count more than shared template words. ``fuzz``: rapidfuzz token-set ratio.
    """
    import numpy as np

    if not len(queries) or not len(docs):
        return np.zeros((len(queries), len(docs)))
    if method == "tfidf":
        d, vocab, idf = _tfidf(docs, None)
        qm, _, _ = _tfidf(queries, vocab, idf)
        return np.asarray((qm @ d.T).todense())
    if method == "fuzz":
        from rapidfuzz import fuzz, process, utils

        return process.cdist(queries, docs, scorer=fuzz.token_set_ratio,
                             processor=utils.default_process, dtype=np.float32) / 100.0
    raise ConfigError(f"unknown similarity {method!r} (one of: {', '.join(SIMILARITIES)})")


def near_duplicates(texts: Sequence[str], eval_texts: Sequence[str],
                    threshold: float = DEFAULT_THRESHOLD) -> list[tuple[int, str, float]]:
    """(index, closest eval text, score) for each text whose fuzzy ratio to an eval text reaches
    ``threshold`` (0..100). Both plain and word-order-insensitive ratios count, on lowercased
    text without punctuation."""
    import numpy as np
    from rapidfuzz import fuzz, process, utils

    hits: list[tuple[int, str, float]] = []
    if not len(texts) or not len(eval_texts):
        return hits
    step = 2000  # bounded memory: a block of rows x every eval text at a time
    for lo in range(0, len(texts), step):
        block = texts[lo:lo + step]
        best = None
        for scorer in (fuzz.ratio, fuzz.token_sort_ratio):
            m = process.cdist(block, eval_texts, scorer=scorer, processor=utils.default_process,
                              score_cutoff=threshold, dtype=np.float32)
            best = m if best is None else np.maximum(best, m)
        for i in np.nonzero(best.max(axis=1) >= threshold)[0]:
            j = int(best[i].argmax())
            hits.append((lo + int(i), eval_texts[j], float(best[i, j])))
    return hits


