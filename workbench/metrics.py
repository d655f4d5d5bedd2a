"""Per-output metrics against a reference, and their aggregation over a run.

A suite names its metrics (``metrics: [exact_match]``, the default). A metric compares one
output with its reference and returns a score in 0..1; outputs without a reference get none.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Mapping

from .errors import SuiteError

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}\u2018\u2019\u201c\u201d\u2013\u2014\u2026]")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower-case, drop punctuation, collapse whitespace (Unicode NFKC first)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def exact_match(output: str, reference: str) -> float:
    """1.0 when output and reference are equal after normalisation."""
    return float(normalize(output) == normalize(reference))


def contains(output: str, reference: str) -> float:
    """1.0 when the normalised reference appears in the normalised output (as whole words)."""
    ref = normalize(reference)
    return float(bool(ref) and f" {ref} " in f" {normalize(output)} ")


METRICS: dict[str, Callable[[str, str], float]] = {
    "exact_match": exact_match,
    "contains": contains,
}


def check_metric_names(names: Iterable[str]) -> list[str]:
    """The metric names, or SuiteError naming the unknown ones."""
    names = list(names)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise SuiteError(
            f"unknown metric(s): {', '.join(unknown)} (available: {', '.join(sorted(METRICS))})"
        )
    return names


def score(output: str, reference: str | None, names: Iterable[str]) -> dict[str, float]:
    """Every named metric for one output; empty when there is no reference."""
    if reference is None:
        return {}
    return {n: METRICS[n](output, reference) for n in names}


def aggregate(per_output: Iterable[Mapping[str, float] | None]) -> dict[str, float | int]:
    """Mean of each metric over the outputs that have it, with ``n_scored``."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for m in per_output:
        for k, v in (m or {}).items():
            sums[k] = sums.get(k, 0.0) + float(v)
            counts[k] = counts.get(k, 0) + 1
    out: dict[str, float | int] = {k: round(sums[k] / counts[k], 6) for k in sums}
    out["n_scored"] = max(counts.values(), default=0)
    return out
