"""Compare two runs item by item: what got fixed, what regressed, and whether it is significant.

For every error category, an item *fails* in a run when any finding of that category flagged its
output. For every per-sample metric (``outputs.metrics`` JSON: exact_match, lm-eval ``acc``...)
an item fails when its value is 0 (binary metrics) or moves the wrong way (other metrics).
Significance is paired: exact McNemar on the discordant items (a sign test for non-binary
metrics), since both runs answered the same items.

Beside the rows, the comparison measures output length in both runs; a category whose flags fell
while the outputs shrank sharply or a task metric got worse is *confounded*, and the overall
verdict counts only improvements that are not (the rules are in
:mod:`workbench.compare.confounders`).

What the result holds (``Comparison``, ``Row``, ``ItemChange``) is in ``comparison.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from ..check.metrics import direction
from ..errors import WorkbenchError
from ..store import Store
from ..store import compare as q
from .comparison import Comparison, Row
from .confounders import SHORT_WORDS, OutputLength
from .stats import bootstrap_mean_ci, mcnemar_exact, paired_bootstrap_ci, wilson_ci

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class CompareError(WorkbenchError):
    """Two runs cannot be compared (no item in common)."""


def compare_runs(store: Store, run_a: str, run_b: str, confidence: float = 0.95) -> Comparison:
    """Compare run B against run A (A is the baseline) on the items both answered."""
    id_a, id_b = store.resolve_run(run_a), store.resolve_run(run_b)
    info_a, info_b = q.run_summary(store, id_a), q.run_summary(store, id_b)
    # counted in DuckDB: only per-category and per-metric pairs ever reach pandas
    n_shared, only_a, only_b = q.item_counts(store, id_a, id_b)
    if not n_shared:
        raise CompareError(
            f"runs {id_a} ({info_a['suite_id']}) and {id_b} ({info_b['suite_id']}) share no item"
            " ids: compare runs of the same suite"
        )
    cmp = Comparison(run_a=info_a, run_b=info_b, n_shared=n_shared, only_a=only_a,
                     only_b=only_b, confidence=confidence)
    if info_a["suite_id"] != info_b["suite_id"]:
        cmp.notes.append(
            f"different suites ({info_a['suite_id']} vs {info_b['suite_id']}): compared on the "
            f"{n_shared} item ids they share"
        )
    if info_a["backend"] != info_b["backend"]:
        cmp.notes.append(
            f"different backends (A: {info_a['backend']}, B: {info_b['backend']}): engines "
            "differ in numerics and batching, so some changes may come from the engine, not "
            "the weights")
    for label, info in (("A", info_a), ("B", info_b)):
        if info["status"] != "finished":
            cmp.notes.append(f"run {label} ({info['run_id']}) is {info['status']}: partial results")
    if cmp.only_a or cmp.only_b:
        cmp.notes.append(f"items answered by one run only are left out (A: {cmp.only_a}, "
                         f"B: {cmp.only_b})")
    _compare_categories(store, id_a, id_b, cmp)
    _compare_metrics(store, id_a, id_b, cmp)
    cmp.length = _output_length(store, id_a, id_b)
    if not cmp.task_metrics():
        cmp.notes.append("no reference-based task metric (exact_match, contains, acc...) in both"
                         " runs: the verdict rests on the checks alone")
    return cmp


def _output_length(store: Store, id_a: str, id_b: str) -> OutputLength:
    df = q.output_lengths(store, id_a, id_b, short_words=SHORT_WORDS).set_index("side")
    n = int(df.n["a"])

    def tokens(side: str) -> float | None:
        # a median only over outputs that all have a token count: a partial one would mislead
        ok = n and int(df.n_tokens[side]) == n
        return float(df.median_tokens[side]) if ok else None

    def words(side: str) -> float:
        return float(df.median_words[side]) if n else 0.0

    return OutputLength(
        n=n, median_tokens_a=tokens("a"), median_tokens_b=tokens("b"),
        median_words_a=words("a"), median_words_b=words("b"),
        short_a=int(df.short["a"]) / n if n else 0.0,
        short_b=int(df.short["b"]) / n if n else 0.0,
    )


def _compare_categories(store: Store, id_a: str, id_b: str, cmp: Comparison) -> None:
    # paired in DuckDB: one row per shared item, a judged/flagged column pair per category
    cats, table = q.category_table(store, id_a, id_b)
    for i, category in enumerate(cats):
        in_a, in_b = table[f"a{i}"].notna(), table[f"b{i}"].notna()
        g = table[in_a & in_b]
        if g.empty:
            if in_a.any() or in_b.any():  # else: only items one run answered had it
                which = "A" if in_a.any() else "B"
                cmp.notes.append(
                    f"category {category!r} was only checked in run {which}: not compared")
            continue
        fa = g[f"a{i}"].to_numpy(dtype=bool)
        fb = g[f"b{i}"].to_numpy(dtype=bool)
        cmp.rows.append(_binary_row("category", category, fa, fb, fail_value=True,
                                    confidence=cmp.confidence))
        cmp.transitions.add(g.assign(kind="category", name=category, a=fa, b=fb,
                                     transition=_transitions(fa, fb, fail_value=True)))


def _groups(df: pd.DataFrame, key: str, names: list[str]) -> Iterator[tuple[str, Any]]:
    """(name, rows of df with df[key] == name, or None when there are none) for each name."""
    groups = dict(iter(df.groupby(key, sort=False))) if len(df) else {}
    for name in names:
        yield name, groups.get(name)


def _compare_metrics(store: Store, id_a: str, id_b: str, cmp: Comparison) -> None:
    pairs = q.metric_pairs(store, id_a, id_b)
    names = sorted(set(pairs.metric))
    # the items both runs answered with a value of that metric
    both = pairs[pairs.value_a.notna() & pairs.value_b.notna()]
    for name, g in _groups(both, "metric", names):
        if g is None:
            cmp.notes.append(f"metric {name!r} is not in both runs: not compared")
            continue
        xa, xb = g.value_a.to_numpy(dtype=float), g.value_b.to_numpy(dtype=float)
        better = direction(name)
        if better is None:
            better = "higher"
            cmp.notes.append(f"metric {name!r} has no registered direction: read as higher is "
                             "better (workbench.check.metrics.register_metric)")
        binary = bool(((xa == 0.0) | (xa == 1.0)).all() and ((xb == 0.0) | (xb == 1.0)).all()
                      and better == "higher")
        if binary:
            pa, pb = xa == 1.0, xb == 1.0
            row = _binary_row("metric", name, pa, pb, fail_value=False, confidence=cmp.confidence)
            trans = _transitions(pa, pb, fail_value=False)
        else:
            row, trans = _continuous_row(name, xa, xb, better, cmp.confidence)
        cmp.rows.append(row)
        cmp.transitions.add(g.assign(kind="metric", name=name, a=xa, b=xb, transition=trans))


def _transitions(a: np.ndarray, b: np.ndarray, fail_value: bool) -> np.ndarray:
    """Per item: 'fixed' (failed in A, not in B), 'regressed', 'still_failing' or
    'still_passing'; an item fails when its outcome equals ``fail_value``."""
    import numpy as np

    fa, fb = a == fail_value, b == fail_value
    return np.select([fa & ~fb, fb & ~fa, fa], ["fixed", "regressed", "still_failing"],
                     default="still_passing").astype(object)


def _binary_row(kind: Literal["category", "metric"], name: str, a: np.ndarray, b: np.ndarray,
                fail_value: bool, confidence: float) -> Row:
    """A row for a pass/fail outcome. Categories report error rates, metrics success rates."""
    n = len(a)
    fa, fb = a == fail_value, b == fail_value
    counts = {"fixed": int((fa & ~fb).sum()), "regressed": int((fb & ~fa).sum()),
              "still_failing": int((fa & fb).sum()), "still_passing": int((~fa & ~fb).sum())}
    ka, kb = int(a.sum()), int(b.sum())  # the reported rate counts True: failures or successes
    return Row(
        kind=kind, name=name, n=n, better="lower" if kind == "category" else "higher",
        binary=True, a=ka / n, b=kb / n,
        ci_a=wilson_ci(ka, n, confidence), ci_b=wilson_ci(kb, n, confidence),
        delta=(kb - ka) / n,
        delta_ci=paired_bootstrap_ci(a.astype(float), b.astype(float), confidence),
        fixed=counts["fixed"], regressed=counts["regressed"],
        still_failing=counts["still_failing"], still_passing=counts["still_passing"],
        unchanged=counts["still_failing"] + counts["still_passing"],
        p_value=mcnemar_exact(counts["fixed"], counts["regressed"]),
    )


def _continuous_row(name: str, xa: np.ndarray, xb: np.ndarray, better: str,
                    confidence: float) -> tuple[Row, np.ndarray]:
    import numpy as np

    sign = 1.0 if better == "higher" else -1.0
    d = sign * (xb - xa)
    trans = np.select([d > 0, d < 0], ["fixed", "regressed"], default="unchanged").astype(object)
    fixed, regressed = int((d > 0).sum()), int((d < 0).sum())
    n = len(xa)
    # sums as Python floats in item order, as the per-item code summed them
    sum_a, sum_b = sum(xa.tolist()), sum(xb.tolist())
    row = Row(
        kind="metric", name=name, n=n, better=better, binary=False,  # type: ignore[arg-type]
        a=sum_a / n, b=sum_b / n,
        ci_a=bootstrap_mean_ci(xa, confidence), ci_b=bootstrap_mean_ci(xb, confidence),
        delta=(sum_b - sum_a) / n, delta_ci=paired_bootstrap_ci(xa, xb, confidence),
        fixed=fixed, regressed=regressed, still_failing=None, still_passing=None,
        unchanged=n - fixed - regressed, p_value=mcnemar_exact(fixed, regressed),
    )
    return row, trans
