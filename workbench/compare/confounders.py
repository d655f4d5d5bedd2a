"""What can make a comparison look better than it is, and the overall verdict that allows for it.

A model that learns to answer in two words stops being flagged for hallucination, for length and
for misspelling, without answering better. So a category whose flag rate fell significantly is
*confounded*, not better, when in the same comparison:

- the outputs shrank sharply: the median output length (tokens out; words where the runs carry no
  token counts) fell by at least ``MEDIAN_FALL`` (30%), or the share of outputs under
  ``SHORT_WORDS`` (5) words rose by at least ``SHORT_RISE`` (20 percentage points); or
- a task metric (a per-output metric against the reference: exact_match, contains, lm-eval acc...)
  got worse *at all*: its mean moved the wrong way, significantly or not. A shortcut need not
  cost enough correct answers to be significant on an eval set of a few dozen or hundred items
  (6 correct answers lost of 80, with some gained back, is not), and a real improvement in a
  category does not make answers less correct, so any drop is reason enough to distrust it.

The overall verdict (:func:`overall`):

- ``worse``: any task metric or category is significantly worse (confounding never hides this);
- ``better``: nothing is significantly worse and at least one row improved significantly without
  being confounded (a task metric that improved significantly is never confounded: it is measured
  against the reference);
- ``inconclusive``: nothing is significantly worse, something improved significantly, but every
  improvement is confounded;
- ``same``: nothing changed significantly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .comparison import Row

MEDIAN_FALL = 0.30  # the median output length fell by at least this share of run A's
SHORT_RISE = 0.20  # the share of outputs under SHORT_WORDS words rose by at least this much
SHORT_WORDS = 5

Overall = Literal["better", "worse", "same", "inconclusive"]


@dataclass
class OutputLength:
    """Output length in run A and run B over the items both answered.

    ``median_tokens_*`` is None when a run stored no token counts for those outputs; ``short_*``
    is the share of outputs under ``SHORT_WORDS`` words.
    """

    n: int
    median_tokens_a: float | None
    median_tokens_b: float | None
    median_words_a: float
    median_words_b: float
    short_a: float
    short_b: float

    @property
    def unit(self) -> Literal["tokens", "words"]:
        """What the median length is counted in: tokens when both runs have token counts."""
        has_tokens = self.median_tokens_a is not None and self.median_tokens_b is not None
        return "tokens" if has_tokens else "words"

    def medians(self) -> tuple[float, float]:
        if self.unit == "tokens":
            return float(self.median_tokens_a), float(self.median_tokens_b)  # type: ignore[arg-type]
        return self.median_words_a, self.median_words_b

    def shrank(self) -> str | None:
        """Why the outputs count as sharply shorter in B, or None when they do not."""
        a, b = self.medians()
        why = []
        if a > 0 and b <= (1.0 - MEDIAN_FALL) * a:
            why.append(f"median output length fell {a:g} -> {b:g} {self.unit}")
        if self.short_b - self.short_a >= SHORT_RISE - 1e-9:
            why.append(f"outputs under {SHORT_WORDS} words rose {100 * self.short_a:.0f}% -> "
                       f"{100 * self.short_b:.0f}%")
        return " and ".join(why) or None

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), unit=self.unit, shrank=self.shrank())


def mean_fell(row: Row) -> bool:
    """Whether a metric's mean moved the wrong way (by any amount) from run A to run B."""
    return (row.b < row.a) if row.better == "higher" else (row.b > row.a)


def _pair(a: float, b: float) -> str:
    """'a -> b' with 3 significant digits, or as many more as it takes to tell them apart."""
    for digits in range(3, 10):
        sa, sb = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if sa != sb:
            break
    return f"{sa} -> {sb}"


def metric_fell_reason(rows: list[Row]) -> str | None:
    """'exact_match fell 0.6 -> 0.525' for every task metric whose mean got worse, or None."""
    fell = [f"{r.name} {'fell' if r.better == 'higher' else 'rose'} {_pair(r.a, r.b)}"
            for r in rows if r.kind == "metric" and mean_fell(r)]
    return ", ".join(fell) or None


def confounded(rows: list[Row], length: OutputLength | None,
               alpha: float = 0.05) -> dict[str, str]:
    """Category name -> one-line reason, for every category that is significantly better in B
    but is confounded by shorter outputs or a worse task metric."""
    causes = [c for c in (length.shrank() if length else None, metric_fell_reason(rows)) if c]
    if not causes:
        return {}
    reason = "flags fell while " + "; ".join(causes)
    return {r.name: reason for r in rows
            if r.kind == "category" and r.verdict(alpha) == "better"}


def overall(rows: list[Row], confounded_rows: dict[str, str],
            alpha: float = 0.05) -> tuple[Overall, str]:
    """The overall verdict and its reason in one line (see the module docstring)."""
    worse = [r for r in rows if r.verdict(alpha) == "worse"]
    if worse:
        return "worse", "significantly worse: " + ", ".join(
            f"{r.name} ({'metric' if r.kind == 'metric' else 'category'})" for r in worse)
    better = [r for r in rows if r.verdict(alpha) == "better"]
    real = [r for r in better if not (r.kind == "category" and r.name in confounded_rows)]
    if real:
        return "better", "significantly better: " + ", ".join(r.name for r in real)
    if better:
        return "inconclusive", "every improvement is confounded: " + ", ".join(confounded_rows)
    return "same", "nothing changed significantly"
