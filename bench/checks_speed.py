"""Throughput of every registered check on ~150-word natural texts, on one core.

Texts: HaluEval general_dev responses labelled "no" (natural ChatGPT answers), joined with the
next answer until each is about 150 words (140-160), so the figure is for the output length the
speed bar names. Four configurations:

* with evidence (the headline): every record carries a ~150-word context and a ~150-word
  reference of its own, as the items of a real suite do. Context and reference are other
  records' texts with a marker that is new in every repeat, so no text is ever seen twice: a
  cache keyed by text (an evidence index, a tokenisation) cannot turn a repeat into cache hits.
* grounded evidence: the same, but the context is the record's own sentences in reverse order,
  so the output is supported (the fast path of the hallucination check).
* a short reference: a one-sentence reference (about 20 words) of its own and no context, as
  in a QA suite;
* no evidence: prompt and output only (the hallucination check then has nothing to check).

Records/s is the median of several timed repeats (by wall clock, and by the process's CPU time,
which is what one core delivers when the machine is shared), after a warm-up pass (lexicons load
once per process, outside the timing). The repeats reuse the outputs, so after the first one the
checks' per-word caches (a word's dictionary verdict, its normal form) are warm, as they become
in a long run whose vocabulary repeats; the very first timed pass, with those caches cold, is
reported too (``first_pass_records_per_cpu_s``). "all" runs every registered check the way
``workbench check`` does.

    python -m bench.checks_speed

BENCH_QUICK=1: 100 records, one repeat (a smoke run).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable

import bench
from bench.checks_repetition import load_natural
from workbench.check.checks import Record
from workbench.check.runner import run_checks

REPEATS = 5
N_RECORDS = 1_000
TARGET_WORDS = 150


def texts_of_150_words(rows: list[dict], n: int = N_RECORDS) -> list[Record]:
    """``n`` records whose outputs hold about 150 words (140-160) of natural text: answers
    joined (keeping their line breaks) and ended at the sentence end nearest 150 words."""
    out: list[Record] = []
    j = 0
    while len(out) < n and j < len(rows) * 4:
        prompt = rows[j % len(rows)]["prompt"]
        text = ""
        while len(text.split()) < TARGET_WORDS + 10:
            text = (text + "\n\n" + rows[j % len(rows)]["output"]).strip()
            j += 1
        cut = None
        for m in re.finditer(r"(?<=[a-z)\"'])[.!?](?=\s)", text):
            words = len(text[: m.end()].split())
            if 140 <= words <= 160:
                cut = m.end()
                if words >= TARGET_WORDS:
                    break
        if cut is None:  # no sentence end in range: cut at 150 words
            cut = len(" ".join(text.split()[:TARGET_WORDS]))
            text = " ".join(text.split())
        out.append(Record(id=str(len(out)), prompt=prompt, output=text[:cut]))
    return out


def _pin_one_core() -> str:
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return "pinned to one core"
    except (AttributeError, OSError):
        return "not pinned"


def _rate(batches: list[list[Record]], checks: list) -> tuple[float, float, float]:
    """(records/s by wall clock, records/s by this process's CPU time, records/s by CPU time of
    the first batch): medians over the batches, one timed run each. On a shared machine the CPU-time figure is the one-core
    throughput; wall clock also counts time spent waiting for the core."""
    wall, cpu = [], []
    for records in batches:
        t0, c0 = time.perf_counter(), time.process_time()
        run_checks(records, checks)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    n = len(batches[0])
    return n / statistics.median(wall), n / statistics.median(cpu), n / cpu[0]


def with_short_reference(records: list[Record], tag: str) -> list[Record]:
    """The records, each with a one-sentence reference of its own (another record's first
    sentence, about 20 words, marked with ``tag``) and no context: a QA suite's items."""
    out = []
    for i, r in enumerate(records):
        first = re.split(r"(?<=[.!?])\s+", records[i - 1].output)[0]
        out.append(dataclasses.replace(r, reference=f"({tag}) {first}"))
    return out


def with_evidence(records: list[Record], tag: str, grounded: bool = False) -> list[Record]:
    """The records, each with a context and a reference of its own, marked with ``tag`` so that
    neither text was seen before in this process. The context is another record's text (the
    output is unsupported: the slow path of evidence-reading checks), or with ``grounded`` the
    record's own sentences in reverse order (the output is supported, as in a suite whose
    answers come from their context); the reference is another record's text."""
    out = []
    for i, r in enumerate(records):
        if grounded:
            context = " ".join(reversed(re.split(r"(?<=[.!?])\s+", r.output)))
            reference = records[i - 1].output
        else:
            context, reference = records[i - 1].output, records[i - 2].output
        out.append(
            dataclasses.replace(r, context=f"({tag}) {context}", reference=f"({tag}) {reference}")
        )
    return out


def _measure(
    checks: list,
    batches_for: Callable[[str], list[list[Record]]],
    suffix: str,
    out: dict,
    only: tuple[str, ...] = (),
) -> None:
    """Rates of each check alone (or of those named in ``only``) and of all together ("all"),
    each on its own batches, into ``out["records_per_cpu_s"]`` and ``out["records_per_s"]`` as
    ``<name><suffix>``."""
    alone = [(c.name, [c]) for c in checks if not only or c.name in only]
    for name, group in [("all", checks), *alone]:
        wall, cpu, first = _rate(batches_for(name), group)
        out["records_per_cpu_s"][name + suffix] = round(cpu)
        out["records_per_s"][name + suffix] = round(wall)
        out["first_pass_records_per_cpu_s"][name + suffix] = round(first)


BAR = 2000


def run() -> dict:
    try:
        before = os.sched_getaffinity(0)
    except AttributeError:  # not on Linux
        return _run()
    try:
        return _run()
    finally:  # unpin: the caller (a test session, a notebook) keeps all its cores
        os.sched_setaffinity(0, before)


def _run() -> dict:
    rows = load_natural()
    if rows is None:
        print("skipped: shared data not found; set WORKBENCH_SHARED_DATA", file=sys.stderr)
        return {"skipped": "shared data absent"}
    from workbench.plugins import Plugins

    core = _pin_one_core()
    checks = Plugins().make_checks()
    records = texts_of_150_words(rows, bench.pick(N_RECORDS, 100))
    repeats = bench.pick(REPEATS, 1)
    run_checks(with_evidence(records[:50], "warm-up"), checks)  # lexicons, regex caches
    figures: dict = {
        "headline": {},
        "records_per_cpu_s": {},
        "records_per_s": {},
        # the first timed batch of each measurement: the per-word caches of the checks (the
        # lexicon's verdicts, the hallucination check's token normal forms) see these records'
        # words for the first time only in the very first measurement ("all_with_evidence")
        "first_pass_records_per_cpu_s": {},
        "records": len(records),
        "words_per_record": TARGET_WORDS,
        "context_and_reference_words": TARGET_WORDS,
        "repeats": repeats,
        "cpu": core,
        "checks": sorted(c.name for c in checks),
    }
    # "*_with_evidence": each record with a context and a reference of its own; every check
    # and every repeat gets evidence texts never seen before (see the docstring)
    _measure(
        checks,
        lambda name: [with_evidence(records, f"{name} {k}") for k in range(repeats)],
        "_with_evidence",
        figures,
    )
    # the same with a context that supports the output (evidence-reading checks only)
    _measure(
        checks,
        lambda name: [with_evidence(records, f"g {name} {k}", True) for k in range(repeats)],
        "_with_grounded_evidence",
        figures,
        only=("hallucination",),
    )
    # a one-sentence reference, no context (a QA suite)
    _measure(
        checks,
        lambda name: [with_short_reference(records, f"s {name} {k}") for k in range(repeats)],
        "_with_short_reference",
        figures,
        only=("hallucination",),
    )
    _measure(checks, lambda name: [records] * repeats, "", figures)
    headline = figures["records_per_cpu_s"]["all_with_evidence"]
    figures["headline"] = {
        "all_checks_with_evidence_records_per_cpu_s": headline,
        "all_checks_grounded_evidence_records_per_cpu_s": figures["records_per_cpu_s"][
            "all_with_grounded_evidence"
        ],
        "all_checks_short_reference_records_per_cpu_s": figures["records_per_cpu_s"][
            "all_with_short_reference"],
        "all_checks_no_evidence_records_per_cpu_s": figures["records_per_cpu_s"]["all"],
        "all_checks_with_evidence_first_pass_records_per_cpu_s": figures[
            "first_pass_records_per_cpu_s"]["all_with_evidence"],
        "bar": f"all checks >= {BAR} records/s on one core, 150-word outputs with evidence",
        "meets_bar": headline >= BAR,
    }
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
