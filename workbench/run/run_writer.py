"""A run's rows: its suite's items, and each batch of finished items as outputs, further samples,
per-sample metrics and findings, written in one short transaction per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..check.checks import Check, Record
from ..check.metrics import score
from ..check.runner import run_checks
from ..store import Store, output_id, to_json
from ..store.findings import finding_rows
from .generation import GenOutput
from .suite_schema import Item


def items_frame(items: Sequence[Item]) -> pd.DataFrame:
    return pd.DataFrame({
        "item_id": [i.id for i in items],
        "prompt": [i.prompt for i in items],
        "messages": [to_json(i.messages) for i in items],
        "reference": [i.reference for i in items],
        "context": [i.context for i in items],
        "tags": [list(i.tags) for i in items],
        "split": [i.split for i in items],
        "meta": [to_json(i.extra) if i.extra else None for i in items],
    })


class BatchWriter:
    """Turns finished items into store rows (output, further samples, metrics, findings) and
    writes them per batch."""

    def __init__(self, store: Store, run_id: str, checks: list[Check], metric_names: list[str],
                 gen: Any):
        self.store, self.run_id, self.checks = store, run_id, checks
        self.metric_names, self.gen = metric_names, gen
        self.check_errors: dict[str, int] = {}

    def write(self, items: list[Item], rendered: list[str], keys: list[list[str]],
              answers: list[list[GenOutput]], cached: list[list[bool]]) -> None:
        """Store whole items: ``answers[i]`` holds item i's samples (the first is its output),
        ``keys[i]`` their cache keys, ``cached[i]`` whether each came from the cache."""
        oids = [output_id(self.run_id, it.id) for it in items]
        firsts = [a[0] for a in answers]
        rows = pd.DataFrame({
            "output_id": oids,
            "run_id": self.run_id,
            "item_id": [it.id for it in items],
            "text": [o.text for o in firsts],
            "rendered_prompt": rendered,
            "tokens_in": [int(o.tokens_in) for o in firsts],
            "tokens_out": [int(o.tokens_out) for o in firsts],
            "finish_reason": [o.finish_reason for o in firsts],
            "latency_s": [float(o.latency_s) for o in firsts],
            "cache_key": [k[0] for k in keys],
            "cached": [c[0] for c in cached],
            "metrics": [to_json(score(o.text, it.reference, self.metric_names, it.extra))
                        for it, o in zip(items, firsts, strict=True)],
        })
        extra = [(oid, it.id, s, o, k[s], c[s])
                 for oid, it, a, k, c in zip(oids, items, answers, keys, cached, strict=True)
                 for s, o in enumerate(a) if s > 0]
        samples = pd.DataFrame({
            "output_id": [e[0] for e in extra], "sample": [e[2] for e in extra],
            "run_id": self.run_id, "item_id": [e[1] for e in extra],
            "text": [e[3].text for e in extra],
            "tokens_in": [int(e[3].tokens_in) for e in extra],
            "tokens_out": [int(e[3].tokens_out) for e in extra],
            "finish_reason": [e[3].finish_reason for e in extra],
            "latency_s": [float(e[3].latency_s) for e in extra],
            "cache_key": [e[4] for e in extra], "cached": [e[5] for e in extra],
        }) if extra else None
        findings = None
        if self.checks:
            records = [
                Record(id=oid, prompt=r, output=a[0].text, reference=it.reference,
                       context=it.context, finish_reason=a[0].finish_reason,
                       max_new_tokens=it.generation(self.gen).max_new_tokens,
                       tags=tuple(it.tags),
                       samples=tuple(o.text for o in a) if len(a) > 1 else (),
                       group=it.group)
                for oid, r, it, a in zip(oids, rendered, items, answers, strict=True)
            ]
            report = run_checks(records, self.checks)
            for k, v in report.errors.items():
                self.check_errors[k] = self.check_errors.get(k, 0) + v
            findings = finding_rows(self.run_id, report.findings)
        self.store.add_outputs(rows, findings, samples)
