"""Per-output metrics against a reference, and their aggregation over a run.

A suite names its metrics (``metrics: [exact_match]``, the default). A metric compares one
output with its reference and returns a score in 0..1; outputs without a reference get none.

``answer`` reads the item's ``answer`` field instead (a string, or a list of accepted strings):
1.0 when any of them appears in the output as whole words. It lets a suite keep a complete,
well-formed sentence as its reference (what `suggest` trains on, what the length check reads)
while the task metric asks only whether the answer is there, so a correct one-sentence answer
is not scored wrong for not being the reference word for word.

Every metric is registered with its direction (higher is better, or lower): `compare` reads it
from here (:func:`direction`). Metrics that another engine scores (lm-eval's ``acc``,
``perplexity``...) are registered with their direction only. A metric with no registered
direction is compared as higher-is-better, and the comparison says so in a note; register it
with :func:`register_metric`.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import SuiteError

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


Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Metric:
    """A registered metric: its direction and, for one workbench scores, how.

    ``score(output, reference)`` returns 0..1; with ``field`` it reads that item field instead
    of the reference (``answer``). ``score`` None: another engine scores it (lm-eval).
    """

    name: str
    better: Better = "higher"
    score: Callable[[str, Any], float] | None = None
    field: str | None = None


REGISTRY: dict[str, Metric] = {}


def register_metric(name: str, score: Callable[[str, Any], float] | None = None, *,
                    better: Better = "higher", field: str | None = None) -> Metric:
    """Register a metric with its direction (replacing one of the same name)."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")
    REGISTRY[name] = metric = Metric(name, better, score, field)
    return metric


register_metric("exact_match", exact_match)
register_metric("contains", contains)
register_metric("answer", answer, field="answer")
# scored by lm-eval, with the direction its own metric registry gives them
for _name in ("acc", "acc_norm", "acc_mutual_info", "acc_bytes", "acc_all", "likelihood", "mcc",
              "f1", "bleu", "chrf", "chrf++"):
    register_metric(_name)
for _name in ("perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte", "ter",
              "brier_score", "wer", "cer"):
    register_metric(_name, better="lower")


def direction(name: str) -> Better | None:
    """'higher' or 'lower' (which value is the better one), None for an unregistered metric.
    lm-eval names a metric under a non-default filter "metric,filter": the metric decides."""
    metric = REGISTRY.get(name) or REGISTRY.get(name.split(",")[0])
    return metric.better if metric is not None else None


def available() -> list[str]:
    """Every metric name a suite may ask for (those workbench scores)."""
    return sorted(n for n, m in REGISTRY.items() if m.score is not None)


def check_metric_names(names: Iterable[str]) -> list[str]:
    """The metric names, or SuiteError naming the unknown ones."""
    names = list(names)
    scored = set(available())
    unknown = [n for n in names if n not in scored]
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
        metric = REGISTRY[n]
        assert metric.score is not None, f"{n} is not scored by workbench"
        if metric.field is not None:
            value = (fields or {}).get(metric.field)
            if value not in (None, "", []):
                out[n] = metric.score(output, value)
        elif reference is not None:
            out[n] = metric.score(output, reference)
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
