"""compare and suggest on runs the real runner made: a tiny model and a LoRA adapter on it."""

from __future__ import annotations

import json
import os

import pytest
from workbench_testing.varied import build_adapter, build_varied_model

from workbench.store import Store

RIVERS = ["Lune", "Gafy", "Tour", "Wusarn", "Drost", "Rypith", "Osk", "Mire", "Teal", "Vorn",
          "Pell", "Kast", "Brin", "Sorrel", "Ulm", "Yarrow"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_tokenizer):
    base = build_varied_model(tmp_path_factory.mktemp("base"), tiny_tokenizer)
    return base, build_adapter(tmp_path_factory.mktemp("adapter"), base)


def _suite(d) -> str:
    rows = []
    for i, name in enumerate(RIVERS):
        ctx = f"The {name} river is {100 + 37 * i} miles long and flows into Lake {name[::-1]}."
        rows.append({"id": f"{'e' if i < 8 else 't'}{i:02d}", "prompt": f"Where does the {name}"
                     " river flow?", "context": ctx, "reference": f"Into Lake {name[::-1]}.",
                     "split": "eval" if i < 8 else "train"})
    (d / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "suite.yaml").write_text(
        "name: rivers\ndata: data.jsonl\ntemplate: \"{{ prompt }}\\n{{ context }}\\n\"\n"
        "generation:\n  max_new_tokens: 12\nchecks: [repetition, length, misspelling]\n")
    return str(d / "suite.yaml")


@pytest.mark.slow
def test_compare_and_suggest_on_real_runs(tmp_path, cli, models, monkeypatch):
    base, adapter = models
    suite = _suite(tmp_path)
    ids = []
    for spec in (f"base={base}", f"tuned={adapter}"):
        r = cli("run", "--model", spec, "--suite", suite, "--json")
        assert r.exit_code == 0, r.output
        ids.append(json.loads(r.stdout)["run_id"])
    r = cli("compare", *ids, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["n_shared"] == 8 and d["notes"] == []
    names = {row["name"] for row in d["rows"]}
    assert {"repetition", "length", "misspelling", "exact_match"} <= names
    for row in d["rows"]:
        assert row["n"] == 8
        assert row["fixed"] + row["regressed"] + row["unchanged"] == 8
        assert 0.0 <= row["p_value"] <= 1.0
    store = Store(os.environ["WORKBENCH_DB"])
    # the outputs really differ, and the transitions say so item by item
    a, b = (store.run_outputs(i).set_index("item_id").text for i in ids)
    assert (a != b).any()
    gate = cli("compare", *ids, "--fail-on-regression", "--alpha", "1e-9")
    assert gate.exit_code == 0  # nothing can be that significant on 8 items

    monkeypatch.chdir(tmp_path)
    r = cli("suggest", ids[0], "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    failures = {c: v["failures"] for c, v in s["per_category"].items()}
    assert failures.get("length") == 8  # 12 new tokens: the random model never stops in time
    assert s["n_suggestions"] > 0 and s["per_category"]["length"]["covered"] == 8
    assert all(row["pool_row"].startswith("t") for row in s["rows"])  # train rows only
    lines = open(s["path"], encoding="utf-8").read().splitlines()
    assert len(lines) == s["n_suggestions"]
    assert all(json.loads(x)["messages"][-1]["role"] == "assistant" for x in lines)

    # a run on the train split: its cut-off outputs are completed from their references
    r = cli("run", "--model", f"base={base}", "--suite", suite, "--split", "train", "--json")
    train_run = json.loads(r.stdout)["run_id"]
    r = cli("suggest", train_run, "--json", "--per-failure", "1")
    s = json.loads(r.stdout)
    done = [row for row in s["rows"] if row["provenance"].get("replaces_output")]
    assert done and all(row["repaired"] for row in done)
    assert all(row["target"].startswith("Into Lake") for row in done)
