"""Inconsistent paraphrase groups on the real demo model, before and after a LoRA round.

Each eval item of the demo's ``facts`` suite that asks for a number, a place or a feature is
asked three ways (its own question and two paraphrases written for the project), the three
items sharing a ``group``. The suite runs through ``workbench.run.runner.run_suite`` (greedy, the
facts template, 64 new tokens) with the ``inconsistency`` check and the ``answer`` metric, on
SmolLM2-135M-Instruct and, with ``--adapter``, on the same model with the demo's LoRA adapter
(``workbench demo`` leaves it under $WORKBENCH_HOME/demo-adapters/loop-*/round-1).

Figures: groups, share of inconsistent groups, and the answer metric, per model.

    python -m bench.inconsistency_paraphrase [--adapter DIR] [--db FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from pathlib import Path

from bench import quick

FACTS = Path(__file__).resolve().parents[1] / "workbench" / "demo" / "data"

# (kind, task) -> (pattern of the suite's question, two paraphrases)
PARAPHRASES: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("river", "number"): (r"How long is (.+)\?",
                          ["What is the length of {np}?", "How many miles long is {np}?"]),
    ("mountain", "number"): (r"How tall is (.+)\?",
                             ["What is the height of {np}?", "How many feet high is {np}?"]),
    ("town", "number"): (r"How many people live in (.+)\?",
                         ["What is the population of {np}?",
                          "How large is the population of {np}?"]),
    ("river", "place"): (r"Which lake does (.+) flow into\?",
                         ["Into which lake does {np} flow?", "Name the lake {np} flows into."]),
    ("mountain", "place"): (r"In which range does (.+) stand\?",
                            ["Which mountain range is {np} part of?",
                             "Name the range where {np} stands."]),
    ("town", "place"): (r"In which province is (.+)\?",
                        ["Which province is {np} in?", "Name the province where {np} lies."]),
    ("river", "known"): (r"What is (.+) known for\?",
                         ["What is {np} famous for?", "For what is {np} best known?"]),
}
for _kind in ("mountain", "town"):
    PARAPHRASES[(_kind, "known")] = PARAPHRASES[("river", "known")]


def paraphrase_items() -> list[dict]:
    """The grouped items: each usable eval item of ``facts`` and its two paraphrases."""
    out = []
    for line in (FACTS / "facts.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["split"] != "eval":
            continue
        rule = PARAPHRASES.get((row["tags"][0], row["tags"][1]))
        m = rule and re.fullmatch(rule[0], row["prompt"])
        if not m:
            continue
        for j, prompt in enumerate([row["prompt"], *(p.format(np=m.group(1)) for p in rule[1])]):
            out.append({**row, "id": f"{row['id']}-p{j}", "prompt": prompt, "group": row["id"]})
    return out


def write_suite(d: Path, items: list[dict]) -> Path:
    import yaml

    spec = yaml.safe_load((FACTS / "facts.yaml").read_text())
    spec.update(name="facts-paraphrases", data="items.jsonl", checks={"inconsistency": {}})
    (d / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    (d / "suite.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return d / "suite.yaml"


def run(adapter: str | None = None, db: str | None = None) -> dict:
    from workbench.demo.real_model import ensure_real_model
    from workbench.run.models import load_model
    from workbench.run.runner import run_suite
    from workbench.run.suites import load_suite
    from workbench.store import Store

    items = paraphrase_items()
    out: dict = {"groups": len({r["group"] for r in items}), "items": len(items)}
    with tempfile.TemporaryDirectory() as tmp:
        if quick():  # a tiny random model on six items: checks that the benchmark works
            from workbench.demo.tiny import build_tiny_llama, build_tokenizer

            items, adapter = items[:6], None
            tok = build_tokenizer([r["prompt"] + " " + r["context"] for r in items], 300)
            build_tiny_llama(Path(tmp) / "tiny", tok)
            base = str(Path(tmp) / "tiny")
            out.update(groups=2, items=6)
        else:
            base = str(ensure_real_model())
        suite = load_suite(write_suite(Path(tmp), items))
        store = Store(db or Path(tmp) / "p.duckdb")
        specs = {"base": base}
        if adapter:
            specs["lora"] = f"{base}+{adapter}"
        for name, spec in specs.items():
            loaded = load_model(spec, name, device="cpu")
            res = run_suite(store, loaded, suite, batch_size=16, progress=False)
            f = store.run_findings(res.run_id)
            inc = f[f.check_name == "inconsistency"]
            groups = inc.assign(group=inc.item_id.str.rsplit("-p", n=1).str[0])
            flagged = groups.groupby("group").flagged.any()
            out[name] = {
                "inconsistent_groups": int(flagged.sum()),
                "inconsistent_share": round(float(flagged.mean()), 3),
                "answer": round(float(res.summary["metrics"].get("answer", float("nan"))), 3),
            }
            del loaded
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapter", default=None, help="the demo's LoRA adapter dir")
    ap.add_argument("--db", default=None, help="keep the runs in this database")
    a = ap.parse_args()
    os.environ.setdefault("WORKBENCH_THREADS", "1")
    print(json.dumps(run(a.adapter, a.db), indent=2))
