"""Hallucination: content of the output that its context and reference do not support."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import Field

from workbench.checks import Check, Finding, Record

from .hallucination_support import Support, Weights, assess


class HallucinationCheck(Check):
    """Flags numbers, dates, names and claims in the output that the evidence does not back.

    The evidence is the record's context and reference (the prompt only counts as a restatement:
    echoing the question is neither support nor a new claim). Records with neither are passed
    with score 0, since there is nothing to check them against.
    """

    name = "hallucination"
    category = "hallucination"
    version = "1"
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

    def run(self, records: Sequence[Record]) -> Iterable[Finding]:
        o = self.options
        weights = Weights(
            number=o.weight_number, name=o.weight_name, word=o.weight_word, relation=o.weight_link
        )
        allowed = frozenset(w.lower() for w in o.allowed_words)
        for rec in records:
            parts = [rec.context or ""]
            if o.use_reference and rec.reference:
                parts.append(rec.reference)
            evidence = "\n".join(p for p in parts if p)
            if not evidence.strip() or not rec.output.strip():
                yield self.finding(
                    rec,
                    flagged=False,
                    score=0.0,
                    message="no context or reference to check against",
                )
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
            # A flag always points at what it doubts: no span, no flag.
            flagged = s.score >= o.threshold and bool(s.spans)
            source = "context" if (rec.context or "").strip() else "reference"
            message = _message(s, source)
            yield self.finding(
                rec,
                flagged=flagged,
                score=s.score,
                spans=s.spans if flagged else (),
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
                },
            )


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
