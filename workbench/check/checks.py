"""The check API: Record in, Finding out. Check logic itself lives in plugins; running checks on
records is in ``runner.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
