"""Per-output metrics against a reference, and their aggregation over a run.

A suite names its metrics (``metrics: [exact_match]``, the default). A metric compares one
output with its reference and returns a score in 0..1; outputs without a reference get none.

``answer`` reads the item's ``answer`` field instead (a string, or a list of accepted strings):
1.0 when any of them appears in the output as whole words. It lets a suite keep a complete,
well-formed sentence as its reference (what `suggest` trains on, what the length check reads)
while the task metric asks only whether the answer is there, so a correct one-sentence answer
is not scored wrong for not being the reference word for word.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

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


def answer(output: str, answers: str | Sequence[str]) -> float:
    """1.0 when any accepted answer appears in the output as whole words (normalised)."""
    if isinstance(answers, str):
        answers = [answers]
    return float(any(contains(output, a) for a in answers))


METRICS: dict[str, Callable[[str, str], float]] = {
    "exact_match": exact_match,
    "contains": contains,
}
# metrics scored against an item field rather than the reference: name -> (field, function)
ITEM_METRICS: dict[str, tuple[str, Callable[[str, Any], float]]] = {
    "answer": ("answer", answer),
}


def available() -> list[str]:
    """Every metric name a suite may ask for."""
    return sorted([*METRICS, *ITEM_METRICS])


def check_metric_names(names: Iterable[str]) -> list[str]:
    """The metric names, or SuiteError naming the unknown ones."""
    names = list(names)
    unknown = [n for n in names if n not in METRICS and n not in ITEM_METRICS]
    if unknown:
        raise SuiteError(
            f"unknown metric(s): {', '.join(unknown)} (available: {', '.join(available())})"
        )
    return names


def score(output: str, reference: str | None, names: Iterable[str],
          fields: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Every named metric for one output. A reference metric is left out when there is no
    reference; an item-field metric (``answer``) when the item has no such field."""
    out: dict[str, float] = {}
    for n in names:
        if n in ITEM_METRICS:
            key, fn = ITEM_METRICS[n]
            value = (fields or {}).get(key)
            if value not in (None, "", []):
                out[n] = fn(output, value)
        elif reference is not None:
            out[n] = METRICS[n](output, reference)
    return out


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
