"""Throughput of every registered check on ~150-word natural texts, on one core.

Texts: HaluEval general_dev responses labelled "no" (natural ChatGPT answers), joined with the
next answer until each is about 150 words (140-160), so the figure is for the output length the
speed bar names. Records/s is the median of several timed repeats over the same records (by wall clock, and by
the process's CPU time, which is what one core delivers when the machine is shared), after a
warm-up pass (lexicons and caches load once per process, outside the timing). The figure for
"all" runs every registered check the way ``workbench check`` does.

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

import bench
from bench.checks_repetition import load_natural
from workbench.checks import Record, run_checks

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


def _rate(records: list[Record], checks: list, repeats: int = REPEATS) -> tuple[float, float]:
    """(records/s by wall clock, records/s by this process's CPU time): medians of REPEATS.
    On a shared machine the CPU-time figure is the one-core throughput; wall clock also counts
    time spent waiting for the core."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        run_checks(records, checks)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return len(records) / statistics.median(wall), len(records) / statistics.median(cpu)


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
    plugins = Plugins()
    checks = plugins.make_checks()
    records = texts_of_150_words(rows, bench.pick(N_RECORDS, 100))
    repeats = bench.pick(REPEATS, 1)
    run_checks(records[:50], checks)  # warm-up: lexicons, regex caches
    figures: dict = {
        "records": len(records),
        "words_per_record": TARGET_WORDS,
        "repeats": repeats,
        "cpu": core,
        "records_per_s": {},
        "records_per_cpu_s": {},
    }
    for name, group in [(c.name, [c]) for c in checks] + [("all", checks)]:
        wall, cpu = _rate(records, group, repeats)
        figures["records_per_s"][name] = round(wall)
        figures["records_per_cpu_s"][name] = round(cpu)
    # checks that read evidence (hallucination) do their real work only when there is some:
    # the same records with a ~150-word context (the neighbouring text) and a reference
    # ("*_with_evidence" figures)
    with_evidence = [
        dataclasses.replace(r, context=records[i - 1].output, reference=records[i - 2].output)
        for i, r in enumerate(records)
    ]
    run_checks(with_evidence[:50], checks)
    for name, group in [(c.name, [c]) for c in checks] + [("all", checks)]:
        wall, cpu = _rate(with_evidence, group, repeats)
        figures["records_per_s"][f"{name}_with_evidence"] = round(wall)
        figures["records_per_cpu_s"][f"{name}_with_evidence"] = round(cpu)
    figures["checks"] = sorted(c.name for c in checks)
    figures["bar"] = "all checks >= 2000 records/s"
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
