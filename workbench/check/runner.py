"""Running checks on records: each check on its own (a check that raises, hangs past its time
limit or returns something invalid gives an error finding, never stops the others), in a worker
process for a plugin's check (``check_worker``), group checks on all answers of an item."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import PluginError
from .checks import SEVERITIES, Check, Finding, Record


@dataclass
class CheckReport:
    """Findings from a run of several checks, with per-check errors and timings."""

    findings: list[Finding] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


DEFAULT_TIMEOUT_S = 300.0
TIMEOUT_ENV = "WORKBENCH_CHECK_TIMEOUT"


class CheckTimeout(Exception):
    """A check ran past its time limit on a batch."""


def check_timeout(check: Check) -> float | None:
    """Seconds one check may spend on one batch: $WORKBENCH_CHECK_TIMEOUT (0 = no limit), else
    the check's own ``timeout_s``, else DEFAULT_TIMEOUT_S."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = DEFAULT_TIMEOUT_S
        return value if value > 0 else None
    own = getattr(check, "timeout_s", None)
    return float(own) if own else DEFAULT_TIMEOUT_S


def _error_finding(check: Check, record: Record, exc: BaseException | str) -> Finding:
    from .check_worker import PluginRaised, WorkerGone

    last = (
        str(exc)
        if isinstance(exc, str | PluginRaised | WorkerGone)
        else (traceback.format_exception_only(type(exc), exc)[-1].strip())
    )
    return Finding(
        record_id=record.id,
        check=check.name,
        category=check.category,
        flagged=False,
        score=0.0,
        message=f"check raised: {last}",
        check_version=check.version,
        error=last,
    )


def _valid(check: Check, record: Record, f: Any) -> bool:
    """One finding for this record from this check, with a score in 0..1, a known severity and
    spans inside the output (a finding built by hand can break any of these)."""
    if not (isinstance(f, Finding) and f.record_id == record.id and f.check == check.name):
        return False
    try:
        n = len(record.output)
        return (
            0.0 <= float(f.score) <= 1.0  # NaN fails too
            and f.severity in SEVERITIES
            and isinstance(f.message, str)
            and (f.evidence is None or isinstance(f.evidence, dict))
            and isinstance(f.category, str)
            and bool(f.category)
            and all(
                isinstance(a, int) and isinstance(b, int) and 0 <= a <= b <= n for a, b in f.spans
            )
        )
    except (TypeError, ValueError):
        return False


def _call(check: Check, records: Sequence[Record], timeout: float | None) -> list[Any]:
    """``list(check.run(records))``: in the check's own process when it is isolated (see
    ``workbench.check.check_worker``), else in a worker thread when there is a time limit.

    A thread cannot be killed: one that runs past the limit is left behind (a daemon, so it never
    keeps the process alive) and the check is not called again in this process. Either way the
    check's prints go to stderr, never into a command's output.
    """
    from .check_worker import isolated, worker_for

    if isolated(check):
        return worker_for(check).call(records, timeout)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["out"] = list(check.run(records))
        except BaseException as exc:  # noqa: BLE001 - even SystemExit stays inside the check
            box["exc"] = exc

    with contextlib.redirect_stdout(sys.stderr):
        if timeout is None:
            work()
        else:
            worker = threading.Thread(target=work, name=f"check-{check.name}", daemon=True)
            worker.start()
            worker.join(max(timeout, 0.0))
            if worker.is_alive():
                raise CheckTimeout(f"timed out after {timeout:g}s on a batch of {len(records)}")
    if "exc" in box:
        exc = box["exc"]
        if not isinstance(exc, Exception):  # SystemExit and the like: recorded, not obeyed
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
        raise exc
    return box["out"]


def _hung(check: Check) -> str | None:
    return getattr(check, "_workbench_hung", None)


def _mark_hung(check: Check, why: str) -> None:
    try:
        check._workbench_hung = why  # type: ignore[attr-defined]
    except AttributeError:  # a check with __slots__: it will be given its time again
        pass


MAX_WORKER_DEATHS = 3  # an isolated check whose process dies this often in a batch is skipped


def run_check(
    check: Check,
    records: Sequence[Record],
    timeout_s: float | None | Literal["default"] = "default",
) -> list[Finding]:
    """Run one check on a batch, isolating failures: one finding per record, errors recorded.

    A check that raises on the batch is retried record by record so only the faulty records get
    an error finding; one that returns malformed findings gets error findings for them; one that
    runs past ``timeout_s`` (see ``check_timeout``) gets error findings for the whole batch and
    is skipped, with an error finding per record, for the rest of the process.
    """
    from .check_worker import WorkerGone

    if not records:
        return []
    hung = _hung(check)
    if hung:
        return [_error_finding(check, r, f"skipped: {hung} earlier") for r in records]
    timeout = check_timeout(check) if timeout_s == "default" else timeout_s
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        out = _call(check, records, timeout)
        by_id = {f.record_id: f for f in out if isinstance(f, Finding)}
        if all(_valid(check, r, by_id.get(r.id)) for r in records):
            return [by_id[r.id] for r in records]
    except CheckTimeout as exc:
        _mark_hung(check, str(exc))
        return [_error_finding(check, r, str(exc)) for r in records]
    except Exception:  # noqa: BLE001 - isolate the faulty records below
        pass
    results = []
    deaths = 0
    for r in records:
        hung = _hung(check)
        if hung:
            results.append(_error_finding(check, r, hung))
            continue
        try:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            got = _call(check, [r], left)
            f = got[0] if got else None
            if not _valid(check, r, f):
                raise PluginError(f"check {check.name!r} returned a malformed finding: {f!r:.200}")
            results.append(f)
        except CheckTimeout as exc:
            _mark_hung(check, str(exc))
            results.append(_error_finding(check, r, str(exc)))
        except WorkerGone as exc:
            deaths += 1
            if deaths >= MAX_WORKER_DEATHS:
                _mark_hung(check, f"{exc}, {deaths} times")
            results.append(_error_finding(check, r, exc))
        except Exception as exc:  # noqa: BLE001 - a check that raises never stops the run
            results.append(_error_finding(check, r, exc))
    return results


def answer_groups(records: Sequence[Record]) -> list[list[Record]]:
    """The groups a ``scope = "group"`` check compares: records sharing a ``group``, each other
    record alone; only groups holding two answers or more (several records, or samples)."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        key = ("group", r.group) if r.group is not None else ("item", r.id)
        groups.setdefault(key, []).append(r)
    return [g for g in groups.values() if sum(len(r.answers) for r in g) >= 2]


def run_checks(records: Sequence[Record], checks: Sequence[Check]) -> CheckReport:
    """Run every check on every record; a check that raises is recorded as an error finding.
    A group check runs once per group of answers (see ``answer_groups``); records with no other
    answer to compare get no finding from it."""
    report = CheckReport()
    for check in checks:
        t0 = time.perf_counter()
        if getattr(check, "scope", "output") == "group":
            found = [f for g in answer_groups(records) for f in run_check(check, g)]
        else:
            found = run_check(check, records)
        report.seconds[check.name] = time.perf_counter() - t0
        report.errors[check.name] = sum(1 for f in found if f.error)
        report.findings.extend(found)
    return report
