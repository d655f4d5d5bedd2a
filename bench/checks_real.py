"""Every check on hand-labelled real model outputs (bench/realdata/*.jsonl, docs/labelling.md).

Each labelled file holds real outputs with the categories a person labelled (``labels``); prompts,
contexts and references of public dev items are joined at run time from ../shared/data by
``source_id`` (their text is not stored here). Every registered check whose category is labelled
is scored on the outputs that carry that label: precision, recall, and flags (all, and false
ones) per 1,000 words of output.

    python -m bench.checks_real [--show CATEGORY]   # --show: print each output's verdict

Without ../shared/data (or $WORKBENCH_SHARED_DATA) the outputs of dev items cannot be joined
with their prompts: the benchmark says so and is skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import bench
from workbench.check.checks import Record

REALDATA = bench.ROOT / "bench" / "realdata"


def _dev_items(root: Path) -> dict[tuple[str, str], dict]:
    """(source, id) -> {prompt, context, reference} for the dev data the labelled sets use."""
    items: dict[tuple[str, str], dict] = {}
    general = root / "halueval" / "general_dev.jsonl"
    if general.is_file():
        for line in general.open():
            row = json.loads(line)
            items[("halueval_general_dev", str(row["ID"]))] = {"prompt": row["user_query"]}
    qa = root / "halueval" / "qa_dev.jsonl"
    if qa.is_file():
        for line in qa.open():
            row = json.loads(line)
            items[("halueval_qa_dev", str(row["id"]))] = {
                "prompt": row["question"],
                "context": row["knowledge"],
                "reference": row["right_answer"],
            }
    return items


def load(root: Path | None = None) -> list[tuple[Record, dict, str]] | None:
    """(record, labels, file name) for every labelled output; None when the dev data is absent."""
    root = root or bench.shared_data_dir()
    if root is None:
        return None
    items = _dev_items(root)
    out = []
    for path in sorted(REALDATA.glob("*.jsonl")):
        for n, line in enumerate(path.open()):
            row = json.loads(line)
            labels = {k: v for k, v in (row.get("labels") or {}).items() if isinstance(v, bool)}
            if not labels:
                continue
            joined = items.get((row["source"], str(row.get("source_id"))), {})
            prompt = row.get("prompt") or joined.get("prompt")
            if prompt is None:
                continue  # a dev item this copy of the data lacks
            rec = Record(
                id=f"{path.stem}:{n}",
                prompt=prompt,
                output=row["output"],
                reference=row.get("reference") or joined.get("reference"),
                context=row.get("context") or joined.get("context"),
                finish_reason=row.get("finish_reason"),
                max_new_tokens=(row.get("generation") or {}).get("max_new_tokens"),
                tags=tuple(f"{k}={v}" for k, v in (row.get("notes") or {}).items()),
            )
            out.append((rec, labels, path.name))
    return bench.limit(out, 60)


def rows_notes(rows, category: str):
    """The positives of ``category`` with the kinds a labeller noted (notes.<category>)."""
    for r, lab, name in rows:
        if lab.get(category):
            note = (r.tags and dict(t.split("=", 1) for t in r.tags).get(category)) or ""
            yield r, lab, name, [k for k in note.split(",") if k]


def score(rows: list[tuple[Record, dict, str]], checks) -> dict:
    """Per check: precision, recall and flags per 1,000 words on the outputs labelled for its
    category."""
    from workbench_checks._text import count_words

    figures: dict = {}
    for check in checks:
        part = [(r, lab[check.category]) for r, lab, _ in rows if check.category in lab]
        if not part:
            continue
        found = {f.record_id: f for f in check.run([r for r, _ in part])}
        tp = sum(1 for r, y in part if y and found[r.id].flagged)
        fp = sum(1 for r, y in part if not y and found[r.id].flagged)
        pos = sum(1 for _, y in part if y)
        words = sum(count_words(r.output) for r, _ in part) or 1
        by_note: dict[str, list[bool]] = {}
        for r, _, _, notes in rows_notes(rows, check.category):
            for note in notes:
                by_note.setdefault(note, []).append(found[r.id].flagged)
        figures[check.name] = {
            "category": check.category,
            "outputs": len(part),
            "positives": pos,
            "flagged": tp + fp,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / pos, 3) if pos else None,
            "flags_per_1k_words": round(1000 * (tp + fp) / words, 2),
            "false_flags_per_1k_words": round(1000 * fp / words, 2),
            "recall_by_kind": {k: round(sum(v) / len(v), 3) for k, v in sorted(by_note.items())},
        }
    return figures


def _labelled_rows():
    """(record id, row) of every labelled file's lines, the ids ``load`` gives them."""
    for path in sorted(REALDATA.glob("*.jsonl")):
        for n, line in enumerate(path.open()):
            yield f"{path.stem}:{n}", json.loads(line)


def misspelled_tokens() -> dict[str, list[str]]:
    """Record id -> the tokens a labeller marked misspelled (``misspelled`` in a labelled row)."""
    return {
        rid: list(row.get("misspelled") or [])
        for rid, row in _labelled_rows()
        if "misspelling" in (row.get("labels") or {})
    }


def labelled_after_rules() -> set[str]:
    """Record ids of outputs labelled after the check's rules were written
    (``"labelled_after_rules": true``): figures on them alone are the honest test."""
    return {rid for rid, row in _labelled_rows() if row.get("labelled_after_rules")}


def labelled_after_version(version: str) -> set[str]:
    """Record ids of outputs generated and labelled after check version ``version`` was
    written (``"labelled_after_check_version"``), before the check was run on them."""
    return {
        rid
        for rid, row in _labelled_rows()
        if row.get("labelled_after_check_version") == version
    }


def sampled_outputs() -> set[str]:
    """Record ids of outputs sampled at a temperature above 0 (the rest are greedy)."""
    return {
        rid
        for rid, row in _labelled_rows()
        if ((row.get("generation") or {}).get("temperature") or 0.0) > 0
    }


def _apart(rows, check, parts: dict, tokens: bool = False) -> dict:  # noqa: ANN001
    """``check``'s figures on each named part of ``rows`` (``parts``: name -> test of a record
    id), with token figures too when ``tokens`` and the check is the misspelling check."""
    out = {}
    for name, holds in parts.items():
        part = [x for x in rows if holds(x[0].id)]
        if not any(check.category in lab for _, lab, _ in part):
            continue
        figures = score(part, [check])[check.name]
        figures.pop("category", None)
        if tokens and check.category == "misspelling":
            figures["tokens"] = score_misspelled_tokens(part, check)
        out[name] = figures
    return out


def split_by_decoding(rows, check) -> dict:  # noqa: ANN001 - a check
    """Figures of ``check`` on greedy and on sampled outputs apart."""
    sampled = sampled_outputs()
    return _apart(rows, check, {"greedy": lambda i: i not in sampled,
                                "sampled": lambda i: i in sampled})


def split_by_labelling(rows, check) -> dict:  # noqa: ANN001 - a check
    """Output and token figures of ``check`` on the outputs labelled before its rules were
    written, on all those labelled after, and on those labelled after its version 3."""
    after, after_v3 = labelled_after_rules(), labelled_after_version("3")
    return _apart(rows, check, {"labelled_before_rules": lambda i: i not in after,
                                "labelled_after_rules": lambda i: i in after,
                                "labelled_after_version_3": lambda i: i in after_v3},
                  tokens=True)


def score_misspelled_tokens(rows, check) -> dict:  # noqa: ANN001 - the misspelling check
    """Token-level figures of the misspelling check: flagged words against the words labelled
    misspelled (a word counts once per output, case kept as written)."""
    from workbench_checks._text import count_words

    gold = misspelled_tokens()
    part = [r for r, lab, _ in rows if "misspelling" in lab and r.id in gold]
    found = {f.record_id: f for f in check.run(part)}
    tp = fp = fn = 0
    false: list[str] = []
    missed: list[str] = []
    for r in part:
        f = found[r.id]
        flagged = {w["word"] for w in (f.evidence or {}).get("words", [])} if f.flagged else set()
        want = set(gold[r.id])
        tp += len(flagged & want)
        fp += len(flagged - want)
        fn += len(want - flagged)
        false += sorted(flagged - want)
        missed += sorted(want - flagged)
    words = sum(count_words(r.output) for r in part) or 1
    return {
        "outputs": len(part),
        "tokens": tp + fn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "false_flags_per_1k_words": round(1000 * fp / words, 2),
        "false_flags": false[:20],
        "missed": missed[:20],
    }


def _table(figures: dict) -> str:
    head = f"{'check':<15} {'outputs':>7} {'pos':>5} {'flagged':>7} {'prec':>6} {'recall':>6} "
    head += f"{'flags/1kw':>9} {'false/1kw':>9}"
    lines = [head]
    for name, f in figures.items():
        p = "-" if f["precision"] is None else f"{f['precision']:.3f}"
        r = "-" if f["recall"] is None else f"{f['recall']:.3f}"
        lines.append(
            f"{name:<15} {f['outputs']:>7} {f['positives']:>5} {f['flagged']:>7} {p:>6} {r:>6} "
            f"{f['flags_per_1k_words']:>9} {f['false_flags_per_1k_words']:>9}"
        )
    return "\n".join(lines)


def run() -> dict:
    rows = load()
    if rows is None:
        print(
            "skipped: ../shared/data not found (the labelled outputs are joined with the dev data "
            "there); set WORKBENCH_SHARED_DATA",
            file=sys.stderr,
        )
        return {"skipped": "shared data absent"}
    from workbench.plugins import Plugins

    checks = Plugins().make_checks()
    figures = score(rows, checks)
    print(_table(figures), file=sys.stderr)
    for check in checks:
        if check.category == "misspelling" and "misspelling" in figures:
            figures["misspelling"]["tokens"] = score_misspelled_tokens(rows, check)
            figures["misspelling"].update(split_by_labelling(rows, check))
            figures["misspelling"]["by_decoding"] = split_by_decoding(rows, check)
    figures["bar"] = "precision >= 0.90 and recall >= 0.85 where a category has >= 40 positives"
    return figures


def show(category: str) -> None:
    """Each labelled output's verdict for ``category`` (for reading flags and passes)."""
    from workbench.plugins import Plugins

    rows = load() or []
    for check in Plugins().make_checks():
        if check.category != category:
            continue
        part = [(r, lab[category]) for r, lab, _ in rows if category in lab]
        found = {f.record_id: f for f in check.run([r for r, _ in part])}
        for r, y in part:
            f = found[r.id]
            mark = "ok " if f.flagged == y else "BAD"
            print(f"{mark} label={int(y)} flag={int(f.flagged)} {r.id} {f.message[:90]}")


if __name__ == "__main__":
    if "--show" in sys.argv:
        show(sys.argv[sys.argv.index("--show") + 1])
    else:
        print(json.dumps(run(), indent=2))
