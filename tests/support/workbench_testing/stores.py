"""Synthetic stores: a suite and finished runs with their outputs and findings, written straight
into the store (the compare, suggest and dashboard tests build on them)."""

from __future__ import annotations

import json

import pandas as pd

from workbench.store import Store, new_id


def add_suite(store: Store, suite_id: str, items: list[dict]) -> str:
    """items: dicts with item_id, prompt and optional reference, context, split."""
    df = pd.DataFrame([{"reference": None, "context": None, "split": "eval", **it} for it in items])
    store.upsert_suite(suite_id, suite_id.split("@")[0], "custom", None, suite_id, {}, df)
    return suite_id


def add_run(store: Store, suite_id: str, model: str, outputs: dict[str, dict],
            status: str = "finished") -> str:
    """outputs: item_id -> {text, tokens_out, metrics, finish_reason, findings: [dict(check,
    category, flagged, spans, message, evidence, error)]}."""
    run_id, _ = store.start_run(model_id=model, model_name=model, suite_id=suite_id,
                                config_key=new_id("k"), gen_config={}, seed=0)
    outs, finds = [], []
    for item_id, o in outputs.items():
        oid = f"{run_id}:{item_id}"
        outs.append({"output_id": oid, "run_id": run_id, "item_id": item_id,
                     "text": o.get("text", "out"), "finish_reason": o.get("finish_reason", "eos"),
                     "metrics": json.dumps(o["metrics"]) if "metrics" in o else None,
                     **({"tokens_out": o["tokens_out"]} if "tokens_out" in o else {})})
        for f in o.get("findings", []):
            finds.append({"output_id": oid, "run_id": run_id, "check_name": f["check"],
                          "check_version": "1", "category": f["category"],
                          "flagged": f.get("flagged", True), "score": 0.9, "severity": "high",
                          "spans": json.dumps(f.get("spans", [])),
                          "message": f.get("message", ""),
                          "evidence": json.dumps(f["evidence"]) if f.get("evidence") else None,
                          "error": f.get("error")})
    store.add_outputs(pd.DataFrame(outs), pd.DataFrame(finds) if finds else None)
    if status == "finished":
        store.finish_run(run_id, {})
    return run_id
