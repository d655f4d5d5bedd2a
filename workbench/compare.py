"""Compare two runs item by item: what got fixed, what regressed, and whether it is significant.

For every error category, an item *fails* in a run when any finding of that category flagged its
output. For every per-sample metric (``outputs.metrics`` JSON: exact_match, lm-eval ``acc``...)
an item fails when its value is 0 (binary metrics) or moves the wrong way (other metrics).
Significance is paired: exact McNemar on the discordant items (a sign test for non-binary
metrics), since both runs answered the same items.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .errors import WorkbenchError
from .stats import bootstrap_mean_ci, mcnemar_exact, paired_bootstrap_ci, wilson_ci
from .store import Store
from .store import compare as q

# per-sample metrics where a smaller value is the better one; every other metric: higher is better
LOWER_IS_BETTER = frozenset(
    {"perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte", "ter", "wer", "cer"}
)

Transition = Literal["fixed", "regressed", "still_failing", "still_passing", "unchanged"]


class CompareError(WorkbenchError):
    """Two runs cannot be compared (no item in common)."""


@dataclass
class Row:
    """One category or metric compared over the items both runs answered.

    For a category, ``a`` and ``b`` are error rates (lower is better); for a metric they are
    means (``better`` says which way is good). ``fixed``/``regressed`` count the discordant items
    (for a non-binary metric: items whose value got better/worse), ``p_value`` is the paired test
    on them, ``delta`` is ``b - a`` with a paired bootstrap interval.
    """

    kind: Literal["category", "metric"]
    name: str
    n: int
    better: Literal["lower", "higher"]
    binary: bool
    a: float
    b: float
    ci_a: tuple[float, float]
    ci_b: tuple[float, float]
    delta: float
    delta_ci: tuple[float, float]
    fixed: int
    regressed: int
    still_failing: int | None
    still_passing: int | None
    unchanged: int
    p_value: float

    def verdict(self, alpha: float = 0.05) -> Literal["better", "worse", "same"]:
        """'worse' only when significant (p < alpha) and more items regressed than got fixed."""
        if self.p_value >= alpha or self.fixed == self.regressed:
            return "same"
        return "better" if self.fixed > self.regressed else "worse"

    def to_dict(self, alpha: float = 0.05) -> dict[str, Any]:
        d = asdict(self)
        d["ci_a"], d["ci_b"], d["delta_ci"] = list(self.ci_a), list(self.ci_b), list(self.delta_ci)
        d["verdict"] = self.verdict(alpha)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


@dataclass
class ItemChange:
    """What happened to one item for one category or metric between run A and run B."""

    item_id: str
    kind: Literal["category", "metric"]
    name: str
    a: float | bool
    b: float | bool
    transition: Transition
    output_id_a: str
    output_id_b: str


@dataclass
class Comparison:
    """The result of :func:`compare_runs`: per category/metric rows and per-item transitions."""

    run_a: dict[str, Any]
    run_b: dict[str, Any]
    n_shared: int
    only_a: int
    only_b: int
    rows: list[Row] = field(default_factory=list)
    transitions: list[ItemChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    confidence: float = 0.95

    def row(self, name: str, kind: str | None = None) -> Row:
        for r in self.rows:
            if r.name == name and (kind is None or r.kind == kind):
                return r
        raise KeyError(name)

    def regressions(self, alpha: float = 0.05) -> list[Row]:
        """Rows significantly worse in run B (p < alpha, in the bad direction)."""
        return [r for r in self.rows if r.verdict(alpha) == "worse"]

    def improvements(self, alpha: float = 0.05) -> list[Row]:
        """Rows significantly better in run B."""
        return [r for r in self.rows if r.verdict(alpha) == "better"]

    def items(self, name: str, transition: str | None = None) -> list[ItemChange]:
        """Per-item changes of one category or metric, optionally of one transition."""
        return [t for t in self.transitions
                if t.name == name and (transition is None or t.transition == transition)]

    def to_dict(self, alpha: float = 0.05, transitions: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "n_shared": self.n_shared,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "confidence": self.confidence,
            "alpha": alpha,
            "rows": [r.to_dict(alpha) for r in self.rows],
            "regressions": [r.name for r in self.regressions(alpha)],
            "improvements": [r.name for r in self.improvements(alpha)],
            "notes": list(self.notes),
        }
        if transitions:
            d["transitions"] = [asdict(t) for t in self.transitions]
        return d


def compare_runs(store: Store, run_a: str, run_b: str, confidence: float = 0.95) -> Comparison:
    """Compare run B against run A (A is the baseline) on the items both answered."""
    id_a, id_b = store.resolve_run(run_a), store.resolve_run(run_b)
    info_a, info_b = q.run_summary(store, id_a), q.run_summary(store, id_b)
    out_a, out_b = q.run_items(store, id_a), q.run_items(store, id_b)
    shared = sorted(set(out_a.item_id) & set(out_b.item_id))
    if not shared:
        raise CompareError(
            f"runs {id_a} ({info_a['suite_id']}) and {id_b} ({info_b['suite_id']}) share no item"
            " ids: compare runs of the same suite"
        )
    cmp = Comparison(run_a=info_a, run_b=info_b, n_shared=len(shared),
                     only_a=len(set(out_a.item_id) - set(shared)),
                     only_b=len(set(out_b.item_id) - set(shared)), confidence=confidence)
    if info_a["suite_id"] != info_b["suite_id"]:
        cmp.notes.append(
            f"different suites ({info_a['suite_id']} vs {info_b['suite_id']}): compared on the "
            f"{len(shared)} item ids they share"
        )
    for label, info in (("A", info_a), ("B", info_b)):
        if info["status"] != "finished":
            cmp.notes.append(f"run {label} ({info['run_id']}) is {info['status']}: partial results")
    if cmp.only_a or cmp.only_b:
        cmp.notes.append(f"items answered by one run only are left out (A: {cmp.only_a}, "
                         f"B: {cmp.only_b})")
    _compare_categories(store, id_a, id_b, set(shared), cmp)
    _compare_metrics(out_a, out_b, set(shared), cmp)
    return cmp


def _compare_categories(store: Store, id_a: str, id_b: str, shared: set[str],
                        cmp: Comparison) -> None:
    st_a, st_b = q.category_status(store, id_a), q.category_status(store, id_b)
    st_a, st_b = st_a[st_a.item_id.isin(shared)], st_b[st_b.item_id.isin(shared)]
    both = st_a.merge(st_b, on=["category", "item_id"], suffixes=("_a", "_b"))
    for category in sorted(set(st_a.category) | set(st_b.category)):
        g = both[both.category == category]
        if g.empty:
            which = "A" if (st_a.category == category).any() else "B"
            cmp.notes.append(f"category {category!r} was only checked in run {which}: not compared")
            continue
        pairs = list(zip(g.failed_a.astype(bool), g.failed_b.astype(bool), strict=True))
        cmp.rows.append(_binary_row("category", category, pairs, fail_value=True,
                                    confidence=cmp.confidence))
        cmp.transitions += [
            ItemChange(i, "category", category, fa, fb, _transition(fa, fb, fail_value=True),
                       oa, ob)
            for i, (fa, fb), oa, ob in zip(g.item_id, pairs, g.output_id_a, g.output_id_b,
                                           strict=True)
        ]


def _metric_values(df) -> dict[str, dict[str, float]]:  # noqa: ANN001 - a DataFrame
    """metric name -> {item_id: value} for the numeric per-sample metrics of a run."""
    out: dict[str, dict[str, float]] = {}
    for item_id, raw in zip(df.item_id, df.metrics, strict=True):
        if not isinstance(raw, str) or not raw:
            continue
        try:
            metrics = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if not isinstance(metrics, dict):
            continue
        for name, v in metrics.items():
            if isinstance(v, bool):
                v = float(v)
            if isinstance(v, int | float) and math.isfinite(v):
                out.setdefault(name, {})[item_id] = float(v)
    return out


def _compare_metrics(out_a, out_b, shared: set[str], cmp: Comparison) -> None:  # noqa: ANN001
    va, vb = _metric_values(out_a), _metric_values(out_b)
    ids_a = dict(zip(out_a.item_id, out_a.output_id, strict=True))
    ids_b = dict(zip(out_b.item_id, out_b.output_id, strict=True))
    for name in sorted(set(va) | set(vb)):
        both = sorted(set(va.get(name, {})) & set(vb.get(name, {})) & shared)
        if not both:
            cmp.notes.append(f"metric {name!r} is not in both runs: not compared")
            continue
        xa = [va[name][i] for i in both]
        xb = [vb[name][i] for i in both]
        # lm-eval names a metric under a non-default filter "metric,filter"
        better = "lower" if name.split(",")[0] in LOWER_IS_BETTER else "higher"
        binary = all(v in (0.0, 1.0) for v in xa + xb) and better == "higher"
        if binary:
            pairs = [(x == 1.0, y == 1.0) for x, y in zip(xa, xb, strict=True)]
            row = _binary_row("metric", name, pairs, fail_value=False, confidence=cmp.confidence)
            trans = [_transition(x, y, fail_value=False) for x, y in pairs]
        else:
            row, trans = _continuous_row(name, xa, xb, better, cmp.confidence)
        cmp.rows.append(row)
        for i, x, y, t in zip(both, xa, xb, trans, strict=True):
            cmp.transitions.append(ItemChange(i, "metric", name, x, y, t, ids_a[i], ids_b[i]))


def _transition(a: bool, b: bool, fail_value: bool) -> Transition:
    fa, fb = a == fail_value, b == fail_value
    if fa and not fb:
        return "fixed"
    if fb and not fa:
        return "regressed"
    return "still_failing" if fa else "still_passing"


def _binary_row(kind: Literal["category", "metric"], name: str, pairs: list[tuple[bool, bool]],
                fail_value: bool, confidence: float) -> Row:
    """A row for a pass/fail outcome. Categories report error rates, metrics success rates."""
    n = len(pairs)
    counts = {"fixed": 0, "regressed": 0, "still_failing": 0, "still_passing": 0}
    for a, b in pairs:
        counts[_transition(a, b, fail_value)] += 1
    ka = sum(1 for a, _ in pairs if a)  # the reported rate counts True: failures or successes
    kb = sum(1 for _, b in pairs if b)
    xa = [float(a) for a, _ in pairs]
    xb = [float(b) for _, b in pairs]
    return Row(
        kind=kind, name=name, n=n, better="lower" if kind == "category" else "higher",
        binary=True, a=ka / n, b=kb / n,
        ci_a=wilson_ci(ka, n, confidence), ci_b=wilson_ci(kb, n, confidence),
        delta=(kb - ka) / n, delta_ci=paired_bootstrap_ci(xa, xb, confidence),
        fixed=counts["fixed"], regressed=counts["regressed"],
        still_failing=counts["still_failing"], still_passing=counts["still_passing"],
        unchanged=counts["still_failing"] + counts["still_passing"],
        p_value=mcnemar_exact(counts["fixed"], counts["regressed"]),
    )


def _continuous_row(name: str, xa: list[float], xb: list[float], better: str,
                    confidence: float) -> tuple[Row, list[Transition]]:
    sign = 1.0 if better == "higher" else -1.0
    trans: list[Transition] = []
    for x, y in zip(xa, xb, strict=True):
        d = sign * (y - x)
        trans.append("fixed" if d > 0 else "regressed" if d < 0 else "unchanged")
    fixed, regressed = trans.count("fixed"), trans.count("regressed")
    n = len(xa)
    row = Row(
        kind="metric", name=name, n=n, better=better, binary=False,  # type: ignore[arg-type]
        a=sum(xa) / n, b=sum(xb) / n,
        ci_a=bootstrap_mean_ci(xa, confidence), ci_b=bootstrap_mean_ci(xb, confidence),
        delta=(sum(xb) - sum(xa)) / n, delta_ci=paired_bootstrap_ci(xa, xb, confidence),
        fixed=fixed, regressed=regressed, still_failing=None, still_passing=None,
        unchanged=n - fixed - regressed, p_value=mcnemar_exact(fixed, regressed),
    )
    return row, trans
