"""What a comparison of two runs holds: one Row per error category and per-sample metric (rates,
intervals, fixed / regressed counts, the paired test), every item's transition, the output
length in both runs, and the overall verdict read from them."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

from . import confounders
from .confounders import OutputLength, Overall, overall

if TYPE_CHECKING:
    import pandas as pd


Transition = Literal["fixed", "regressed", "still_failing", "still_passing", "unchanged"]


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
        """The paired test alone: 'better' or 'worse' only when significant (p < alpha), the way
        the larger discordant count says. Whether a 'better' category is confounded depends on
        the other rows: see :meth:`Comparison.status`."""
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


_CHANGE_COLUMNS = ["item_id", "kind", "name", "a", "b", "transition", "output_id_a",
                   "output_id_b"]


class Transitions(Sequence[ItemChange]):
    """The per-item changes of a comparison, kept as one DataFrame per category or metric.

    A sequence of :class:`ItemChange` (categories first, then metrics; items in id order), but
    the objects are only built for what is read: two runs of 500,000 items hold millions of
    changes, and a reader usually wants one category's fixed or regressed items
    (:meth:`select`).
    """

    def __init__(self) -> None:
        self._frames: list[pd.DataFrame] = []
        self._built: list[ItemChange] | None = None

    def add(self, frame: pd.DataFrame) -> None:
        """Append the changes of one category or metric (columns as ItemChange's fields)."""
        self._frames.append(frame[_CHANGE_COLUMNS].reset_index(drop=True))
        self._built = None

    def select(self, name: str | None = None, transition: str | None = None) -> list[ItemChange]:
        """The changes of one category or metric (all when None), optionally of one transition."""
        out: list[ItemChange] = []
        for f in self._frames:
            if len(f) == 0 or (name is not None and f["name"].iat[0] != name):
                continue
            if transition is not None:
                f = f[f.transition == transition]
            out += _changes(f)
        return out

    def item_ids(self, transition: str, kind: str | None = "category") -> set[str]:
        """The distinct items with this transition in at least one category (``kind``
        'category'), metric ('metric') or either (None): an item fixed in two categories is one
        item."""
        out: set[str] = set()
        for f in self._frames:
            if len(f) == 0 or (kind is not None and f["kind"].iat[0] != kind):
                continue
            out.update(f.loc[f.transition == transition, "item_id"].tolist())
        return out

    def records(self) -> list[dict[str, Any]]:
        """Every change as a plain dict (ItemChange's fields), as ``to_dict`` writes them."""
        return [r for f in self._frames for r in _records(f)]

    def _all(self) -> list[ItemChange]:
        if self._built is None:
            self._built = self.select()
        return self._built

    def __len__(self) -> int:
        return sum(len(f) for f in self._frames)

    @overload
    def __getitem__(self, i: int) -> ItemChange: ...
    @overload
    def __getitem__(self, i: slice) -> list[ItemChange]: ...
    def __getitem__(self, i):  # noqa: ANN001, ANN204
        return self._all()[i]

    def __iter__(self) -> Iterator[ItemChange]:
        for f in self._frames:  # frame by frame: iterating never holds every object at once
            yield from _changes(f)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Transitions | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Transitions({len(self)} changes)"


def _records(f: pd.DataFrame) -> list[dict[str, Any]]:
    # tolist() gives Python bool/float/str, as the per-item loop used to
    cols = [f[c].tolist() for c in _CHANGE_COLUMNS]
    return [dict(zip(_CHANGE_COLUMNS, row, strict=True)) for row in zip(*cols, strict=True)]


def _changes(f: pd.DataFrame) -> list[ItemChange]:
    cols = [f[c].tolist() for c in _CHANGE_COLUMNS]
    return [ItemChange(*row) for row in zip(*cols, strict=True)]


@dataclass
class Comparison:
    """The result of :func:`compare_runs`: per category/metric rows and per-item transitions."""

    run_a: dict[str, Any]
    run_b: dict[str, Any]
    n_shared: int
    only_a: int
    only_b: int
    rows: list[Row] = field(default_factory=list)
    transitions: Transitions = field(default_factory=Transitions)
    notes: list[str] = field(default_factory=list)
    confidence: float = 0.95
    length: OutputLength | None = None

    def row(self, name: str, kind: str | None = None) -> Row:
        for r in self.rows:
            if r.name == name and (kind is None or r.kind == kind):
                return r
        raise KeyError(name)

    def task_metrics(self) -> list[Row]:
        """The rows of per-output metrics against the reference (exact_match, acc...)."""
        return [r for r in self.rows if r.kind == "metric"]

    def regressions(self, alpha: float = 0.05) -> list[Row]:
        """Rows significantly worse in run B (p < alpha, in the bad direction); task metrics
        count, and a confounded row is never one (only improvements are confounded)."""
        return [r for r in self.rows if r.verdict(alpha) == "worse"]

    def confounded(self, alpha: float = 0.05) -> dict[str, str]:
        """Category -> one-line reason, for categories significantly better in B whose flags
        fell while the outputs shrank sharply or a task metric got worse."""
        return confounders.confounded(self.rows, self.length, alpha)

    def improvements(self, alpha: float = 0.05) -> list[Row]:
        """Rows significantly better in run B, less the confounded ones."""
        bad = self.confounded(alpha)
        return [r for r in self.rows if r.verdict(alpha) == "better"
                and not (r.kind == "category" and r.name in bad)]

    def status(self, row: Row, alpha: float = 0.05) -> str:
        """The row's verdict, or 'confounded' for a category whose improvement is confounded."""
        if row.kind == "category" and row.name in self.confounded(alpha):
            return "confounded"
        return row.verdict(alpha)

    def verdict(self, alpha: float = 0.05) -> Overall:
        """Overall: 'worse' when any task metric or category is significantly worse, 'better'
        when nothing is and some row improved without being confounded, 'inconclusive' when
        every improvement is confounded, else 'same'."""
        return overall(self.rows, self.confounded(alpha), alpha)[0]

    def verdict_reason(self, alpha: float = 0.05) -> str:
        """The overall verdict's reason in one line."""
        return overall(self.rows, self.confounded(alpha), alpha)[1]

    def items(self, name: str, transition: str | None = None) -> list[ItemChange]:
        """Per-item changes of one category or metric, optionally of one transition."""
        return self.transitions.select(name, transition)

    def to_dict(self, alpha: float = 0.05, transitions: bool = True) -> dict[str, Any]:
        bad = self.confounded(alpha)
        rows = []
        for r in self.rows:
            row = r.to_dict(alpha)
            row["status"] = self.status(r, alpha)
            row["confounded_reason"] = bad.get(r.name) if r.kind == "category" else None
            rows.append(row)
        verdict, reason = overall(self.rows, bad, alpha)
        d: dict[str, Any] = {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "n_shared": self.n_shared,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "confidence": self.confidence,
            "alpha": alpha,
            "verdict": verdict,
            "verdict_reason": reason,
            "rows": rows,
            "regressions": [r.name for r in self.regressions(alpha)],
            "improvements": [r.name for r in self.improvements(alpha)],
            "confounded": bad,
            "length": self.length.to_dict() if self.length else None,
            "notes": list(self.notes),
        }
        d = _finite(d)  # strict JSON: no NaN or Infinity anywhere
        if transitions:  # values are finite by construction (flags, finite metric values)
            d["transitions"] = self.transitions.records()
        return d


def _finite(obj: Any) -> Any:
    """obj with every non-finite float (NaN, inf) replaced by None, through dicts and lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
