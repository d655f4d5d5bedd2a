"""Hallucination: content of the output that its context and reference do not support."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import Field, field_validator

from workbench.check.checks import Check, Finding, Record

from .hallucination_judge import Pair, judge_kind, load_judge
from .hallucination_support import Support, Weights, assess

# seconds for one batch when a judge model scores it (a model's time grows with the batch)
JUDGE_TIMEOUT_S = 3600.0


class HallucinationCheck(Check):
    """Flags numbers, dates, names and claims in the output that the evidence does not back.

    The evidence is the record's context and reference (the prompt only counts as a restatement:
    echoing the question is neither support nor a new claim). Records with neither are passed
    with score 0, since there is nothing to check them against.

    With ``judge_model`` (a local checkpoint folder, see ``hallucination_judge``) a model reads
    the evidence too, and the score is ``(1 - judge_weight) * lexical + judge_weight * judge``,
    the judge's part being its probability that the output is unsupported. A flag still needs the
    score to reach ``threshold`` and a span: the lexical rules' spans when they found any, else
    the whole output when the judge finds it more likely unsupported than not, with the judge's
    probability as the reason.
    """

    name = "hallucination"
    category = "hallucination"
    # 3: a name the context ties to something else than the sentence's subject; 4: the options
    # of "...: A or B?", a birth or death year asked for that is no one's in the context
    version = "4"
    description = "numbers, names and claims the context/reference does not support"

    class Options(Check.Options):
        threshold: float = Field(
            0.55, ge=0, le=1, description="flag when the score reaches this (and a span exists)"
        )
        fuzzy_cutoff: float = Field(
            85.0, ge=0, le=100, description="rapidfuzz ratio that counts a word variant as support"
        )
        use_reference: bool = Field(True, description="count the reference as evidence too")
        allowed_words: list[str] = Field(
            default_factory=list, description="words never counted as unsupported"
        )
        weight_number: float = Field(
            0.75, ge=0, le=1, description="score of one unsupported number/date"
        )
        weight_name: float = Field(0.6, ge=0, le=1, description="score of one unsupported name")
        weight_word: float = Field(0.6, ge=0, le=1, description="score of one unsupported word")
        weight_link: float = Field(
            0.6,
            ge=0,
            le=1,
            description="score of one link the context makes otherwise (0 turns the rules off)",
        )
        judge_model: str | None = Field(
            None,
            description="local folder of an NLI / cross-encoder or causal instruct checkpoint "
            "that scores support too (never downloaded); unset: lexical rules only",
        )
        judge_weight: float = Field(
            0.5, ge=0, le=1, description="share of the judge's probability in the score"
        )
        judge_batch_size: int = Field(8, ge=1, description="pairs per forward pass of the judge")
        judge_max_context_tokens: int = Field(
            512, ge=16, description="the judge reads the context cut to this many tokens"
        )
        judge_max_output_tokens: int = Field(
            256, ge=8, description="the judge reads the output cut to this many tokens"
        )
        judge_device: str = Field("cpu", description="torch device of the judge")
        judge_threads: int = Field(1, ge=1, description="torch threads while the judge runs")

        @field_validator("judge_model")
        @classmethod
        def _local_checkpoint(cls, v: str | None) -> str | None:
            if v is None or not v.strip():
                return None
            judge_kind(v)  # a hub id or a folder that is no checkpoint: refused here, in one line
            return v

    def __init__(self, options=None):  # noqa: ANN001 - as Check.__init__
        super().__init__(options)
        if self.options.judge_model:
            self.timeout_s = JUDGE_TIMEOUT_S

    def run(self, records: Sequence[Record]) -> Iterable[Finding]:
        o = self.options
        weights = Weights(
            number=o.weight_number, name=o.weight_name, word=o.weight_word, relation=o.weight_link
        )
        allowed = frozenset(w.lower() for w in o.allowed_words)
        assessed: list[tuple[Record, str, Support | None]] = []
        for rec in records:
            parts = [rec.context or ""]
            if o.use_reference and rec.reference:
                parts.append(rec.reference)
            evidence = "\n".join(p for p in parts if p)
            if not evidence.strip() or not rec.output.strip():
                assessed.append((rec, evidence, None))
                continue
            s = assess(
                _complete_part(rec),
                evidence,
                rec.prompt or "",
                weights=weights,
                fuzzy_cutoff=o.fuzzy_cutoff,
                allowed=allowed,
                # Against a bare reference answer the question is part of what is known.
                question_is_evidence=not (rec.context or "").strip(),
            )
            assessed.append((rec, evidence, s))
        judged = self._judge(assessed)
        for rec, _, s in assessed:
            if s is None:
                yield self.finding(
                    rec,
                    flagged=False,
                    score=0.0,
                    message="no context or reference to check against",
                )
                continue
            source = "context" if (rec.context or "").strip() else "reference"
            message = _message(s, source)
            extra: dict = {}
            score, spans = s.score, s.spans
            p = judged.get(rec.id)
            if p is not None:
                score = (1 - o.judge_weight) * s.score + o.judge_weight * p
                # the lexical spans say where; without any, a judge that doubts the output
                # (P >= 0.5) points at all of it, and its probability is the reason
                spans = s.spans or (_whole(rec.output) if p >= 0.5 else ())
                message = _with_judge(message, p, source, lexical_spans=bool(s.spans))
                extra = {
                    "judge": {
                        "p_unsupported": round(p, 4),
                        "model": Path(o.judge_model or "").name,
                    },
                    "lexical_score": round(s.score, 4),
                    # what the lexical rules alone would have said
                    "lexical_flag": s.score >= o.threshold and bool(s.spans),
                }
            # A flag always points at what it doubts: no span, no flag.
            flagged = score >= o.threshold and bool(spans)
            yield self.finding(
                rec,
                flagged=flagged,
                score=score,
                spans=spans if flagged else (),
                message=message,
                evidence={
                    "unsupported": s.unsupported,
                    "negations": s.negations,
                    "echoed_from_prompt": s.echoed,
                    "contradicted": [list(c) for c in s.contradictions],
                    "misspelled": s.misspelled,
                    "stitched": s.stitched,
                    "content_tokens": s.content_tokens,
                    "extractive": s.extractive,
                    **extra,
                },
            )

    def _judge(self, assessed: list[tuple[Record, str, Support | None]]) -> dict[str, float]:
        """The judge's P(unsupported) per record id (every record with evidence), or {}."""
        o = self.options
        todo = [(rec, ev) for rec, ev, s in assessed if s is not None]
        if not o.judge_model or not todo:
            return {}
        judge = load_judge(o.judge_model, device=o.judge_device, threads=o.judge_threads)
        scores = judge.scores(
            [Pair(context=ev, prompt=rec.prompt or "", output=rec.output) for rec, ev in todo],
            batch_size=o.judge_batch_size,
            max_context_tokens=o.judge_max_context_tokens,
            max_output_tokens=o.judge_max_output_tokens,
        )
        return {rec.id: p for (rec, _), p in zip(todo, scores, strict=True)}


def _whole(text: str) -> tuple[tuple[int, int], ...]:
    """The output without its surrounding whitespace, as one span."""
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    return ((start, end),) if end > start else ()


def _with_judge(message: str, p: float, source: str, *, lexical_spans: bool) -> str:
    """The lexical message with the judge's verdict: the reason of a judge-only flag."""
    if p >= 0.5:
        verdict = f"the judge model finds the output unsupported by the {source} (P {p:.2f})"
    else:
        verdict = f"the judge model finds the output supported by the {source} (P unsupported {p:.2f})"
    return f"{message}; {verdict}" if lexical_spans else f"{verdict}; {message}"


def _complete_part(rec: Record) -> str:
    """The output without a last word cut off by the token limit ("a town of 43" for "43,000").

    A cut-off word is the length check's finding (truncation); read as a claim it would be a
    number or name the context never gives. The part kept is a prefix, so spans stay valid.
    """
    text = rec.output
    if rec.finish_reason != "length" or not text or not text[-1].isalnum():
        return text
    cut = len(text)
    while cut > 0 and not text[cut - 1].isspace():
        cut -= 1
    return text[:cut] if cut > 0 else text


def _message(s: Support, source: str) -> str:
    """One line: what the evidence does not support, and why."""
    dated = list(s.contradicted_parts)
    claims = []
    for c in s.unsupported:
        if c in dated:
            dated.remove(c)  # shown with its whole date or count below
        else:
            claims.append(repr(c))
    claims += [f"{mine!r} (the {source} gives {theirs!r})" for mine, theirs in s.contradictions]
    claims += [f"{n!r} (negation)" for n in s.negations]
    parts = []
    if claims:
        shown = ", ".join(claims[:8])
        more = f" and {len(claims) - 8} more" if len(claims) > 8 else ""
        parts.append(f"not supported by the {source}: {shown}{more}")
    if s.stitched:
        shown = ", ".join(map(repr, s.stitched[:8]))
        parts.append(f"said of something else in another sentence of the {source}: {shown}")
    if not parts:
        note = f" (misspelled: {', '.join(map(repr, s.misspelled))})" if s.misspelled else ""
        return f"every content word is supported by the {source}{note}"
    return "; ".join(parts)
