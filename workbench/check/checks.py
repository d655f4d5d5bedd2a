"""The check API: Record in, Finding out. Check logic itself lives in plugins."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import PluginError
from ..suggest.repairs import Repair

FinishReason = Literal["eos", "stop", "length"]
Severity = Literal["info", "low", "medium", "high"]
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high")


@dataclass(frozen=True, slots=True)
class Record:
    """One model output and what it answered: what a check sees."""

    id: str
    prompt: str
    output: str
    reference: str | None = None
    context: str | None = None
    finish_reason: FinishReason | None = None
    max_new_tokens: int | None = None
    tags: tuple[str, ...] = ()
    # every answer sampled for this item when there are several (``samples[0]`` is ``output``)
    samples: tuple[str, ...] = ()
    # the paraphrase group of the item: items sharing it ask one question in other words
    group: str | None = None

    @property
    def answers(self) -> tuple[str, ...]:
        """Every answer to this record's prompt: its samples, or its one output."""
        return self.samples or (self.output,)


@dataclass(frozen=True, slots=True)
class Finding:
    """What one check concluded about one record.

    ``score`` is in 0..1, higher meaning more likely an error. ``spans`` are [start, end) character
    offsets into the record's output. ``error`` is set (and ``flagged`` False) when the check raised.
    """

    record_id: str
    check: str
    category: str
    flagged: bool
    score: float
    severity: Severity = "info"
    spans: tuple[tuple[int, int], ...] = ()
    message: str = ""
    evidence: dict[str, Any] | None = None
    check_version: str = "1"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.record_id,
            "check": self.check,
            "category": self.category,
            "flagged": self.flagged,
            "score": round(float(self.score), 4),
            "severity": self.severity,
            "spans": [list(s) for s in self.spans],
            "message": self.message,
            **({"error": self.error} if self.error else {}),
        }


_FINISH = {"eos", "stop", "length"}


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def record_from_dict(obj: Any) -> Record:
    """A Record from one parsed JSON object (a line of `workbench check` input); ValueError
    says what is wrong with it. ``id`` may be an integer; unknown keys are ignored."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in ("id", "prompt", "output") if k not in obj]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    rid = obj["id"]
    if isinstance(rid, bool) or not isinstance(rid, str | int) or rid == "":
        raise ValueError("'id' must be a non-empty string or an integer")
    for key in ("prompt", "output"):
        if not isinstance(obj[key], str):
            raise ValueError(f"{key!r} must be a string")
    for key in ("reference", "context"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise ValueError(f"{key!r} must be a string or null")
    finish = obj.get("finish_reason")
    if finish is not None and finish not in _FINISH:
        raise ValueError(f"'finish_reason' must be one of eos, stop, length (got {finish!r})")
    mnt = obj.get("max_new_tokens")
    if mnt is not None and (isinstance(mnt, bool) or not isinstance(mnt, int) or mnt < 0):
        raise ValueError("'max_new_tokens' must be a non-negative integer")
    tags = obj.get("tags") or ()
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise ValueError("'tags' must be a list of strings")
    samples = obj.get("samples") or ()
    if not isinstance(samples, list | tuple) or not all(isinstance(t, str) for t in samples):
        raise ValueError("'samples' must be a list of strings (every answer to the prompt)")
    if samples and samples[0] != obj["output"]:
        samples = (obj["output"], *samples)  # the output is always the first answer
    group = obj.get("group")
    if group is not None and (isinstance(group, bool) or not isinstance(group, str | int)):
        raise ValueError("'group' must be a string or an integer")
    for key in ("id", "prompt", "output", "reference", "context"):
        value = obj.get(key)
        if isinstance(value, str) and not _encodable(value):
            # a \ud800-style JSON escape decodes to a lone surrogate, which no file or store holds
            raise ValueError(f"{key!r} holds an unpaired surrogate (a \\udXXX escape)")
    return Record(
        id=str(rid),
        prompt=obj["prompt"],
        output=obj["output"],
        reference=obj.get("reference"),
        context=obj.get("context"),
        finish_reason=finish,
        max_new_tokens=mnt,
        tags=tuple(tags),
        samples=tuple(samples) if len(samples) > 1 else (),
        group=None if group is None else str(group),
    )


class Check:
    """Base class of every check. Subclass it, set the class attributes, implement ``run``.

    ``run`` receives a batch of records and yields exactly one Finding per record (flagged or
    not), built with ``self.finding(...)``. Options come from the suite YAML or the CLI and are
    validated by the nested pydantic ``Options`` model.

    A check with ``scope = "group"`` compares answers: each call of ``run`` receives exactly one
    group, the records of the items sharing a ``group`` (paraphrases of one question) or one
    record with several ``samples``, and only groups holding two answers or more; it still
    yields one Finding per record it receives.

    A check may mend what it flags, for `workbench suggest` to train on: ``repair`` mends one
    flagged output, ``target_repair`` any training target (see :mod:`workbench.suggest.repairs`).
    """

    name: ClassVar[str] = ""
    category: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    # seconds the check may spend on one batch (None: DEFAULT_TIMEOUT_S); see check_timeout
    timeout_s: ClassVar[float | None] = None
    # "output": run on batches of records; "group": run on one group of answers at a time
    scope: ClassVar[Literal["output", "group"]] = "output"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, options: dict[str, Any] | BaseModel | None = None):
        if isinstance(options, BaseModel):
            self.options = options
        else:
            try:
                self.options = self.Options(**(options or {}))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}"
                    for e in exc.errors()
                )
                raise PluginError(f"bad options for check {self.name!r}: {problems}") from None

    def run(self, records: Sequence[Record]) -> Iterable[Finding]:
        raise NotImplementedError

    def repair(self, finding: Finding, record: Record) -> Repair | None:
        """Mend the output this check's flagged ``finding`` was made on, so that it can become
        a training target: ``Repair(text, note="what was done")``. None (the default): it cannot
        be mended, and the output is never a target.

        ``record.output`` is the text as the repairs of earlier findings on it left it (the
        finding's spans are offsets into the output as generated); ``record.finish_reason`` is
        "length" while the text is cut off.
        """
        return None

    def target_repair(
        self, failures: Sequence[tuple[Finding, Record]]
    ) -> Callable[[str], Repair | None] | None:
        """What this check's flagged findings of a run, each with the record it was made on,
        teach about any training target, a reference included: a function from a target to its
        Repair (None: nothing to change), or None (the default) when they teach nothing."""
        return None

    def finding(
        self,
        record: Record,
        *,
        flagged: bool,
        score: float,
        spans: Iterable[tuple[int, int]] = (),
        message: str = "",
        severity: Severity | None = None,
        evidence: dict[str, Any] | None = None,
        category: str | None = None,
    ) -> Finding:
        score = min(1.0, max(0.0, float(score)))
        if severity is None:
            severity = severity_for(score) if flagged else "info"
        n = len(record.output)
        clean = tuple(
            sorted({(max(0, min(int(a), n)), max(0, min(int(b), n))) for a, b in spans if b > a})
        )
        return Finding(
            record_id=record.id,
            check=self.name,
            category=category or self.category,
            flagged=bool(flagged),
            score=score,
            severity=severity,
            spans=clean,
            message=message,
            evidence=evidence,
            check_version=self.version,
        )


def severity_for(score: float) -> Severity:
    """Default severity of a flagged finding from its score."""
    if score >= 0.85:
        return "high"
    if score >= 0.6:
        return "medium"
    return "low"


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
