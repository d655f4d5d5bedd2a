"""Repairs: how a check mends what it flagged, so that `suggest` can train on it.

The core knows no category and no evidence format: a check supplies its own repairs through two
optional methods of :class:`workbench.check.checks.Check`, and this module asks them.

- ``Check.repair(finding, record) -> Repair | None`` mends the output one of the check's flagged
  findings was made on (a train-split output with no reference, a candidate training target).
  None, the default, means it cannot be mended: such an output never becomes a target.
- ``Check.target_repair(failures) -> Callable[[str], Repair | None] | None`` is what the run's
  flagged findings of the check teach about *any* training target, a reference included (the
  misspelling check's corrections: a misspelling the model learned is not taught again).

A model output becomes a target only when every check that flagged it returned a Repair, at least
one of them did something (``note``), and it is not left cut off.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..check.checks import Check, Finding, Record

TargetFix = Callable[[str], "Repair | None"]


@dataclass(frozen=True)
class Repair:
    """A mended text and what was done to it.

    ``note`` says what was done ("loop removed"); it is listed under the suggestion's
    ``provenance["repair"]``, and a repair without one mended nothing. ``cut_off`` says whether
    the text is now a cut-off answer: True for a check whose flag means the output is incomplete
    (it cannot be a target unless a later repair completes it), False for a repair that leaves a
    complete answer (a loop that ran out the token budget, cut back to one copy), None when the
    repair does not change that. ``provenance`` is merged into the suggestion's provenance.
    """

    text: str
    note: str | None = None
    cut_off: bool | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Mended:
    """What the checks' repairs made of one output."""

    text: str | None  # the training target, or None when the output cannot be one
    notes: list[str]
    cut_off: bool  # the output was cut off (its finish_reason, or a check said so)
    why: str = ""  # why it is no target


class Repairers:
    """The registered checks, asked for repairs by name; a check that is not installed, or whose
    repair raises, mends nothing (the raise is reported once on stderr)."""

    def __init__(self, classes: Mapping[str, type[Check]] | None = None):
        if classes is None:
            from ..plugins import get_plugins

            classes = get_plugins().checks.classes
        self.classes = classes
        self._made: dict[str, Check | None] = {}
        self._warned: set[str] = set()

    def _check(self, name: str, method: str) -> Check | None:
        from ..check.checks import Check

        cls = self.classes.get(name)
        if cls is None or getattr(cls, method, None) is getattr(Check, method):
            return None  # not installed, or it supplies no such repair
        if name not in self._made:
            try:
                self._made[name] = cls()
            except Exception as exc:  # noqa: BLE001 - one broken check must not stop suggest
                self._warn(name, exc)
                self._made[name] = None
        return self._made[name]

    def _warn(self, name: str, exc: BaseException) -> None:
        if name not in self._warned:
            self._warned.add(name)
            print(f"Warning: check {name!r} could not repair: {type(exc).__name__}: {exc}",
                  file=sys.stderr)

    def repair(self, finding: Finding, record: Record) -> Repair | None:
        check = self._check(finding.check, "repair")
        if check is None:
            return None
        try:
            got = check.repair(finding, record)
        except Exception as exc:  # noqa: BLE001
            self._warn(finding.check, exc)
            return None
        return got if isinstance(got, Repair) and isinstance(got.text, str) else None

    def target_fixes(self, failures: Iterable[tuple[Finding, Record]]) -> list[TargetFix]:
        """One fix per check (by name) that supplies one for its flagged findings."""
        by_check: dict[str, list[tuple[Finding, Record]]] = {}
        for f, r in failures:
            by_check.setdefault(f.check, []).append((f, r))
        fixes = []
        for name in sorted(by_check):
            check = self._check(name, "target_repair")
            if check is None:
                continue
            try:
                fix = check.target_repair(by_check[name])
            except Exception as exc:  # noqa: BLE001
                self._warn(name, exc)
                continue
            if fix is not None:
                fixes.append(self._guarded(name, fix))
        return fixes

    def _guarded(self, name: str, fix: TargetFix) -> TargetFix:
        def run(text: str) -> Repair | None:
            try:
                got = fix(text)
            except Exception as exc:  # noqa: BLE001
                self._warn(name, exc)
                return None
            return got if isinstance(got, Repair) and isinstance(got.text, str) else None

        return run


def mend_output(record: Record, findings: Sequence[Finding], repairers: Repairers) -> Mended:
    """Ask the check of each flagged finding, in order, to mend ``record.output``.

    Each repair sees the text as the repairs before it left it, and ``finish_reason`` "length"
    while the text is cut off. Every finding is asked, even after one that cannot be mended, so
    that ``cut_off`` says whether any check found the output cut off.
    """
    cut = record.finish_reason == "length"
    was_cut, text = cut, record.output
    notes: list[str] = []
    stuck: list[str] = []
    for f in findings:
        finish = "length" if cut else ("stop" if record.finish_reason == "length"
                                       else record.finish_reason)
        got = repairers.repair(f, dataclasses.replace(record, output=text, finish_reason=finish))
        if got is None:
            stuck.append(f.category)
            continue
        text = got.text
        if got.note:
            notes.append(got.note)
        if got.cut_off is not None:
            cut = got.cut_off
            was_cut = was_cut or got.cut_off
    flagged = sorted({f.category for f in findings})
    if stuck:
        why = f"output flagged {flagged}, not repaired by {sorted(set(stuck))}"
    elif cut:
        why = f"output flagged {flagged}, cut off"
    elif not notes:
        why = f"output flagged {flagged}, not repaired"
    else:
        return Mended(text, notes, was_cut)
    return Mended(None, notes, was_cut, why)


def fix_target(text: str, fixes: Sequence[TargetFix]) -> tuple[str, dict[str, Any], bool]:
    """Apply the run's target fixes to one training target: the text, the provenance they add
    (their notes under "repair"), and whether any of them changed something."""
    how: dict[str, Any] = {}
    changed = False
    for fix in fixes:
        got = fix(text)
        if got is None:
            continue
        changed = True
        text = got.text
        how.update(got.provenance)
        if got.note:
            how["repair"] = [*how.get("repair", []), got.note]
    return text, how, changed
