"""The hallucination check's judge model against its lexical rules, on the same items.

Sets: FRANK's validation summaries (``bench.checks_hallucination_summaries``; a balanced-ish
sample: per dataset every summary of the rarer class and ``--majority`` of the other, picked by
a hash of the id) and the 200 real SmolLM2-135M answers labelled by hand
(``bench.checks_hallucination_real``). Each record goes through ``HallucinationCheck`` with
``judge_model`` set, which gives per record the lexical score, the judge's P(unsupported) and the
combined score (``judge_weight``, default 0.5).

Figures per set: ROC-AUC of the lexical score, of the judge and of the combination (at several
weights); at the check's threshold the flag rate on faithful summaries and the recall (FRANK), or
precision and recall (real answers); the combination at the lowest threshold that flags no
more faithful items than the lexical rules do at theirs (recall at an equal false-flag rate);
the judge's mean probability on each class; its seconds per pair. The judge reads each context
cut to ``--max-context-tokens`` tokens (FRANK's articles run to 1,400 tokens).

    BENCH_JUDGE_MODEL=/path/to/local/checkpoint WORKBENCH_FRANK=/path/to/frank \\
        python -m bench.checks_hallucination_judge [--sets real,frank] [--cache FILE]

Without a judge model (``--judge`` or $BENCH_JUDGE_MODEL: a local folder, never downloaded) the
benchmark is skipped. ``--cache`` keeps each record's result (a JSON line) so that a long run can
be resumed; BENCH_QUICK=1 scores 6 records of each set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import bench
from bench.checks_hallucination import roc_auc, split_of
from workbench.check.checks import Record

WEIGHTS = (0.25, 0.5, 0.75)


def _key(rid: str) -> str:
    return hashlib.sha1(rid.encode()).hexdigest()


def frank_sample(majority: int) -> list[tuple[Record, int, str]] | None:
    """Per FRANK dataset: every summary of its rarer class, ``majority`` of the other."""
    from bench.checks_hallucination_summaries import load, source

    root = source()
    if root is None:
        return None
    rows = load(root)
    out = []
    for ds in sorted({d for _, _, d in rows}):
        mine = sorted((r for r in rows if r[2] == ds), key=lambda r: _key(r[0].id))
        pos = [r for r in mine if r[1]]
        neg = [r for r in mine if not r[1]]
        rare, common = (pos, neg) if len(pos) <= len(neg) else (neg, pos)
        out += rare + common[:majority]
    return out


def real_set() -> list[tuple[Record, int, str]] | None:
    from bench.checks_hallucination_real import load

    rows = load()
    if rows is None:
        return None
    return [
        (rec, int(bool(row["labels"]["hallucination"])), split_of(rec.id)) for row, rec, _ in rows
    ]


def score(
    items: list[tuple[Record, int, str]], judge: str, opts: dict, cache: Path | None, chunk: int
) -> list[dict]:
    """Per record: lexical score, judge probability, combined score and flag, seconds per pair."""
    from workbench_checks.hallucination import HallucinationCheck
    from workbench_checks.hallucination_judge import load_judge

    done: dict[str, dict] = {}
    if cache and cache.is_file():
        for line in cache.read_text().splitlines():
            row = json.loads(line)
            done[row["id"]] = row
    check = HallucinationCheck({"judge_model": judge, **opts})
    load_judge(judge, device=check.options.judge_device, threads=check.options.judge_threads)
    todo = [rec for rec, _, _ in items if rec.id not in done]
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        t0 = time.perf_counter()
        found = list(check.run(part))
        per = (time.perf_counter() - t0) / len(part)
        rows = []
        for f in found:
            ev = f.evidence or {}
            rows.append(
                {
                    "id": f.record_id,
                    "lexical": ev.get("lexical_score", f.score),
                    "lexical_flag": bool(ev.get("lexical_flag", False)),
                    "judge": ev.get("judge", {}).get("p_unsupported"),
                    "combined": f.score,
                    "flagged": f.flagged,
                    "s_per_pair": per,
                }
            )
        for row in rows:
            done[row["id"]] = row
        if cache:
            with cache.open("a") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in rows)
        print(f"  {start + len(part)}/{len(todo)} scored ({per:.2f} s/pair)", file=sys.stderr)
    return [done[rec.id] for rec, _, _ in items]


def _auc(values: list[float], labels: list[int]) -> float | None:
    return round(roc_auc(values, labels), 3) if 0 < sum(labels) < len(labels) else None


def _rates(flags: list[bool], labels: list[int]) -> dict:
    pos = sum(labels)
    neg = len(labels) - pos
    tp = sum(f and y for f, y in zip(flags, labels, strict=True))
    fp = sum(f and not y for f, y in zip(flags, labels, strict=True))
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / pos, 3) if pos else None,
        "flag_rate_faithful": round(fp / neg, 3) if neg else None,
    }


def _at_flag_rate(rows: list[dict], labels: list[int], most: int) -> dict:
    """The combination at the lowest threshold that flags at most ``most`` faithful items: a
    comparison with the lexical rules at their own false-flag rate. A flag needs a span, as in
    the check: lexical spans, or a judge at P >= 0.5."""
    can = [r["lexical_spans"] or (r["judge"] or 0.0) >= 0.5 for r in rows]
    for t in sorted({round(r["combined"], 6) for r in rows} | {1.01}):
        flags = [c and r["combined"] >= t for c, r in zip(can, rows, strict=True)]
        if sum(f and not y for f, y in zip(flags, labels, strict=True)) <= most:
            return {"threshold": round(t, 3), **_rates(flags, labels)}
    return {}


def figures(rows: list[dict], labels: list[int], threshold: float) -> dict:
    if not rows:
        return {"items": 0}
    lex = [r["lexical"] for r in rows]
    jud = [r["judge"] if r["judge"] is not None else 0.0 for r in rows]
    lexical = _rates([r["lexical_flag"] for r in rows], labels)
    lexical_fp = sum(r["lexical_flag"] and not y for r, y in zip(rows, labels, strict=True))
    return {
        "items": len(rows),
        "positives": sum(labels),
        "roc_auc": {
            "lexical": _auc(lex, labels),
            "judge": _auc(jud, labels),
            **{
                f"combined_w{w}": _auc(
                    [(1 - w) * a + w * b for a, b in zip(lex, jud, strict=True)], labels
                )
                for w in WEIGHTS
            },
        },
        f"at_threshold_{threshold}": {
            "lexical": lexical,
            "combined": _rates([r["flagged"] for r in rows], labels),
        },
        "combined_at_lexical_flag_rate": _at_flag_rate(rows, labels, lexical_fp),
        "judge_mean_p": {
            "unsupported": _mean([p for p, y in zip(jud, labels, strict=True) if y]),
            "supported": _mean([p for p, y in zip(jud, labels, strict=True) if not y]),
        },
        "judge_s_per_pair_median": round(statistics.median(r["s_per_pair"] for r in rows), 2),
    }


def _mean(xs: list[float]) -> float | None:
    return round(statistics.mean(xs), 3) if xs else None


def run(
    judge: str | None = None,
    sets: list[str] | None = None,
    opts: dict | None = None,
    cache: Path | None = None,
) -> dict:
    judge = judge or os.environ.get("BENCH_JUDGE_MODEL")
    sets = sets or ["real", "frank"]
    opts = opts or {"judge_max_context_tokens": 384, "judge_batch_size": 4}
    if not judge or not Path(judge).is_dir():
        print("no local judge model (--judge / $BENCH_JUDGE_MODEL); skipped", file=sys.stderr)
        return {"skipped": "set BENCH_JUDGE_MODEL to a local checkpoint folder"}
    from workbench_checks.hallucination import HallucinationCheck

    threshold = HallucinationCheck().options.threshold
    out: dict = {"judge": Path(judge).name, "options": opts}
    for name in sets:
        items = frank_sample(bench.pick(50, 3)) if name == "frank" else real_set()
        if items is None:
            out[name] = {"skipped": "data not found (WORKBENCH_FRANK / shared dev data)"}
            continue
        items = items if not bench.quick() else items[:3] + items[-3:]
        print(f"{name}: {len(items)} records", file=sys.stderr)
        where = cache.with_name(f"{cache.stem}-{name}{cache.suffix}") if cache else None
        rows = score(items, judge, opts, where, chunk=opts.get("judge_batch_size", 4) * 4)
        # where the lexical rules have a span (threshold 0: a finding flags iff it has one)
        spans = HallucinationCheck({"threshold": 0.0}).run([rec for rec, _, _ in items])
        for row, f in zip(rows, spans, strict=True):
            row["lexical_spans"] = f.flagged
        labels = [y for _, y, _ in items]
        groups = ("all", "cnndm", "bbc") if name == "frank" else ("all", "dev", "heldout")
        out[name] = {}
        for g in groups:
            idx = [i for i, (_, _, tag) in enumerate(items) if g in ("all", tag)]
            out[name][g] = figures([rows[i] for i in idx], [labels[i] for i in idx], threshold)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", default=os.environ.get("BENCH_JUDGE_MODEL"))
    ap.add_argument("--sets", default="real,frank")
    ap.add_argument("--max-context-tokens", type=int, default=384)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--cache", type=Path, help="JSON lines of per-record results (resumable)")
    a = ap.parse_args(argv)
    opts = {"judge_max_context_tokens": a.max_context_tokens, "judge_batch_size": a.batch_size}
    print(json.dumps(run(a.judge, a.sets.split(","), opts, a.cache), indent=2))


if __name__ == "__main__":
    main()
