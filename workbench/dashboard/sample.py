"""A synthetic, demo-like database for the dashboard's tests and for trying the dashboard.

Everything is written through Store methods: two models (a base and a tuned LoRA adapter on it),
one suite, a run of each model on it, outputs with findings and spans, a suggestion set from
the base run's failures and the training that produced the adapter, with its loss curve.
Some outputs hold HTML on purpose: the dashboard must show it as text.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..check.checks import Finding
from ..store import Store, new_id, to_json
from ..store.findings import finding_rows

CITIES = ["Vell", "Oram", "Tarn", "Kessel", "Brin", "Dauth", "Mirel", "Sova"]
COUNTRIES = ["Norland", "Estmark", "Galdor", "Pellis", "Rovania", "Sundra", "Talvik", "Ymir"]
MISSPELT = {"capital": "captial", "river": "rivver", "because": "becuase", "bridge": "brigde"}
XSS = ["<script>alert('x')</script>", "<img src=x onerror=alert(1)>"]


@dataclass
class SampleIds:
    """The ids of what ``build_sample_db`` wrote."""

    path: str
    base_model: str
    tuned_model: str
    suite_id: str
    run_base: str
    run_tuned: str
    set_id: str
    training_id: str
    n_items: int


def _item(i: int) -> dict:
    country, city = COUNTRIES[i % len(COUNTRIES)], CITIES[i % len(CITIES)]
    river = CITIES[(i + 3) % len(CITIES)]
    kind = i % 4
    if kind == 0:
        prompt = f"What is the capital of {country}?"
        reference = f"The capital of {country} is {city}."
        tags = ["geo", "capital"]
    elif kind == 1:
        prompt = f"Which river flows through {city}?"
        reference = f"The {river} river flows through {city}."
        tags = ["geo", "river"]
    elif kind == 2:
        prompt = f"Explain why {city} has a bridge."
        reference = f"{city} has a bridge because the {river} river splits the town."
        tags = ["explain"]
    else:
        prompt = f"Add {i} and {i + 7}."
        reference = f"{i} + {i + 7} = {2 * i + 7}."
        tags = ["math"]
    return {"item_id": f"q{i:03d}", "prompt": prompt, "reference": reference,
            "context": f"{country} is a country whose capital is {city}; the {river} river "
                       f"flows through {city}.", "tags": tags, "split": "eval"}


def _answer(item: dict, errors: set[str], rng: random.Random) -> tuple[str, str, dict]:
    """An output for the item carrying the given error kinds; returns (text, finish, spans)."""
    text = item["reference"]
    spans: dict[str, list[list[int]]] = {}
    finish = "eos"
    if "misspelling" in errors:
        word = next((w for w in MISSPELT if w in text), None)
        if word is None:
            text = text.rstrip(".") + " because it is so."
            word = "because"
        text = text.replace(word, MISSPELT[word], 1)
    if "hallucination" in errors:
        wrong = rng.choice([c for c in CITIES if c not in text])
        text = text + f" It was founded by King {wrong} in 1312."
    if "repetition" in errors:
        text = text + " and the river" * 4
    if "length" in errors:
        text = text + " Furthermore, " + "it is well known that " * 6
        finish = "length"
    # spans are computed on the final text, as a check would
    for bad in MISSPELT.values():
        at = text.find(bad)
        if at >= 0:
            spans.setdefault("misspelling", []).append([at, at + len(bad)])
    if "hallucination" in errors:
        at = text.find("It was founded by")
        spans["hallucination"] = [[at, text.find(".", at) + 1]]
    if "repetition" in errors:
        at = text.find(" and the river")
        spans["repetition"] = [[at + 1, at + len(" and the river") * 4]]
    if "length" in errors:
        at = text.find(" Furthermore")
        spans["length"] = [[at + 1, len(text)]]
    return text, finish, spans


CHECKS = {"repetition": "repetition", "length": "length", "misspelling": "spelling",
          "hallucination": "grounding"}
MESSAGES = {"repetition": "the phrase 'and the river' repeats 4 times",
            "length": "stopped at max_new_tokens (finish_reason=length)",
            "misspelling": "misspelt word(s) not in the dictionary",
            "hallucination": "claim not supported by the context"}


def _rows(run_id: str, items: list[dict], errors_of: dict[str, set[str]],
          rng: random.Random) -> tuple[pd.DataFrame, pd.DataFrame]:
    outputs, findings = [], []
    for n, item in enumerate(items):
        errors = errors_of.get(item["item_id"], set())
        text, finish, spans = _answer(item, errors, rng)
        if n in (5, 6):  # untrusted text: must be shown, never interpreted
            text = f"{XSS[n - 5]} {text}"
            spans = {k: [[a + len(XSS[n - 5]) + 1, b + len(XSS[n - 5]) + 1] for a, b in v]
                     for k, v in spans.items()}
        oid = f"{run_id}-{item['item_id']}"
        outputs.append({"output_id": oid, "run_id": run_id, "item_id": item["item_id"],
                        "text": text, "rendered_prompt": f"### Instruction:\n{item['prompt']}"
                        "\n\n### Response:\n", "tokens_in": 12, "tokens_out": len(text) // 4,
                        "finish_reason": finish,
                        # deterministic (no draw from rng), so the rest of the data is unchanged
                        "latency_s": round(0.04 + len(text) / 2500, 3),
                        "metrics": to_json({"exact_match": float(text == item["reference"])}),
                        "cache_key": f"ck-{oid}"})
        for category, check in CHECKS.items():
            flagged = category in errors
            score = round(rng.uniform(0.6, 0.98), 3) if flagged else round(rng.uniform(0, .2), 3)
            findings.append(Finding(
                record_id=oid, check=check, category=category, flagged=flagged, score=score,
                severity=("high" if score >= 0.85 else "medium") if flagged else "info",
                spans=tuple(tuple(s) for s in spans.get(category, [])) if flagged else (),
                message=MESSAGES[category] if flagged else "", evidence={"score": score}))
    return pd.DataFrame(outputs), finding_rows(run_id, findings)


def build_sample_db(path: str | Path, n_items: int = 40, seed: int = 0) -> SampleIds:
    """Write a demo-like database at ``path`` (created or extended) and return its ids."""
    rng = random.Random(seed)
    store = Store(path)
    base = store.upsert_model("fp-base-" + new_id(), "tiny-base", spec="./tiny-llama",
                              base="./tiny-llama", kind="full")
    tuned = store.upsert_model("fp-tuned-" + new_id(), "tiny-tuned",
                               spec="./adapters/round1", base="./tiny-llama",
                               adapter="./adapters/round1", parent_id=base, kind="adapter")
    items = [_item(i) for i in range(n_items)]
    suite_id = "demo-qa@" + new_id()[:8]
    store.upsert_suite(suite_id, "demo-qa", "custom", "suites/demo-qa.yaml", suite_id[-8:],
                       {"name": "demo-qa"}, pd.DataFrame(items))
    cats = list(CHECKS)
    base_errors: dict[str, set[str]] = {}
    tuned_errors: dict[str, set[str]] = {}
    for item in items:
        a = {c for c in cats if rng.random() < 0.3}
        # the adapter fixes most of the base model's errors and introduces a few new ones
        b = {c for c in a if rng.random() < 0.35} | {c for c in cats if rng.random() < 0.06}
        base_errors[item["item_id"]], tuned_errors[item["item_id"]] = a, b
    for n in (5, 6):  # the outputs holding HTML are failures, so the failure page shows them
        if n < n_items:
            base_errors[items[n]["item_id"]].add("hallucination")
    run_ids = []
    for model_id, name, errors in ((base, "tiny-base", base_errors),
                                   (tuned, "tiny-tuned", tuned_errors)):
        run_id, _ = store.start_run(model_id=model_id, model_name=name, suite_id=suite_id,
                                    config_key=f"{model_id}-{suite_id}",
                                    gen_config={"max_new_tokens": 48}, seed=seed)
        outputs, findings = _rows(run_id, items, errors, rng)
        store.add_outputs(outputs, findings)
        flagged = findings[findings.flagged].output_id.nunique()
        store.finish_run(run_id, {"n": n_items, "flagged_rate": round(flagged / n_items, 3)})
        run_ids.append(run_id)

    set_id = "set-" + new_id()
    failing = [i for i in items if base_errors[i["item_id"]]]
    rows = []
    for item in failing[: max(1, len(failing) // 2)]:
        category = sorted(base_errors[item["item_id"]])[0]
        rows.append({
            "suggestion_id": "sg-" + new_id(), "set_id": set_id, "category": category,
            "prompt": item["prompt"], "target": item["reference"],
            "messages": to_json([{"role": "user", "content": item["prompt"]},
                                 {"role": "assistant", "content": item["reference"]}]),
            "source_item_ids": [item["item_id"]],
            "source_output_ids": [f"{run_ids[0]}-{item['item_id']}"],
            "pool_row": None, "similarity": round(rng.uniform(0.5, 0.95), 3), "repaired": True,
            "provenance": json.dumps({
                "reason": f"{category} failure on {item['item_id']} in the base run; target is "
                          "the suite reference",
                # an example can target several categories of its failure: each is recorded
                "categories": sorted(base_errors[item["item_id"]]),
                "failures": [{"category": c, "check": CHECKS[c],
                              "item_id": item["item_id"],
                              "output_id": f"{run_ids[0]}-{item['item_id']}",
                              "similarity": 1.0} for c in sorted(base_errors[item["item_id"]])],
                "pool": f"suite:{suite_id}:eval", "target": "reference"}),
        })
    store.insert_df("suggestions", pd.DataFrame(rows))
    store.insert_df("suggestion_sets", pd.DataFrame([{
        "set_id": set_id, "run_id": run_ids[0], "pool": None, "n_suggestions": len(rows),
        "n_dropped_contaminated": 1, "config": to_json({"per_category": 10}),
        "export_path": "suggestions.jsonl"}]))
    training_id = "tr-" + new_id()
    curve = [[step, round(2.6 * 0.93 ** step + 0.3 + rng.uniform(0, 0.05), 4)]
             for step in range(1, 41)]
    store.insert_df("trainings", pd.DataFrame([{
        "training_id": training_id, "parent_model_id": base, "result_model_id": tuned,
        "set_id": set_id, "trainer": "lora", "config": to_json({"r": 8, "epochs": 2}),
        "loss_curve": to_json(curve), "adapter_path": "./adapters/round1", "status": "finished",
        "metrics": to_json({"final_loss": curve[-1][1]}),
        "started_at": pd.Timestamp("2026-01-01 10:00"),
        "finished_at": pd.Timestamp("2026-01-01 10:02")}]))
    return SampleIds(path=str(path), base_model=base, tuned_model=tuned, suite_id=suite_id,
                     run_base=run_ids[0], run_tuned=run_ids[1], set_id=set_id,
                     training_id=training_id, n_items=n_items)


if __name__ == "__main__":
    import sys

    ids = build_sample_db(sys.argv[1] if len(sys.argv) > 1 else "sample.duckdb")
    print(ids)
