"""`workbench loop` end to end on the tiny model and a tiny suite (a few training steps)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from workbench_testing.checks import CHECK_PLUGIN


@pytest.fixture
def tiny_suite(tmp_path) -> tuple[Path, Path]:
    """A suite of 6 eval and 16 train items, and a plugins dir with a check every item fails."""
    rows = [{"id": f"e{i}", "prompt": f"Name the colour of flag {i}.", "reference": "Red.",
             "split": "eval"} for i in range(6)]
    rows += [{"id": f"t{i}", "prompt": f"Name the colour of banner {i}.",
              "context": f"Banner {i} is red.", "reference": "Red.", "split": "train"}
             for i in range(16)]
    (tmp_path / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = tmp_path / "tiny.yaml"
    suite.write_text(
        "name: tiny\ndata: tiny.jsonl\n"
        'template: "### Instruction:\\n{{ prompt }}\\n\\n### Response:\\n"\n'
        "generation: {max_new_tokens: 6}\nchecks: [not_reference]\n"
    )
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "not_reference.py").write_text(CHECK_PLUGIN)
    return suite, plugins


@pytest.mark.slow
def test_loop_runs_end_to_end(cli, tiny_model_dir, tiny_suite, tmp_path):
    from workbench.store import Store
    from workbench.store.trainings import list_trainings

    suite, plugins = tiny_suite
    out = tmp_path / "adapters"
    res = cli("loop", "--model", f"tiny={tiny_model_dir}", "--suite", suite, "--rounds", "2",
              "--out", out, "--plugins-dir", plugins, "--max-steps", "3", "--r", "4",
              "--per-failure", "2", "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)

    assert info["rounds"], info["stopped"]
    first = info["rounds"][0]
    assert first["suggestions"] > 0
    assert Path(first["training"]["adapter_dir"]) == out / "round-1"
    assert (out / "round-1" / "adapter_config.json").exists()
    assert (out / "round-1" / "workbench_lineage.json").exists()

    # the comparison is base run -> tuned run on the eval items, per category and metric
    cmp = info["comparison"] or first["vs_base"]
    assert cmp["n_shared"] == 6
    names = {r["name"] for r in cmp["rows"]}
    assert "wrong_answer" in names and "exact_match" in names
    assert info["stopped"]

    store = Store()
    tuned = store.get_model(first["training"]["model_id"])
    assert tuned["kind"] == "adapter" and tuned["name"] == "tiny-lora-round1"
    runs = store.list_runs()
    assert set(runs.model_name) >= {"tiny", "tiny-lora-round1"}
    assert len(list_trainings(store)) == len(info["rounds"])
    if len(info["rounds"]) == 2:  # round 2 trains from the base on both rounds' sets
        lineage = json.loads((out / "round-2" / "workbench_lineage.json").read_text())
        assert lineage["suggestion_sets"] == [first["set_id"], info["rounds"][1]["set_id"]]
        assert lineage["parent_model_id"] == tuned["parent_id"]


@pytest.mark.slow
def test_loop_prints_the_before_after_table(cli, tiny_model_dir, tiny_suite, tmp_path):
    suite, plugins = tiny_suite
    res = cli("loop", "--model", str(tiny_model_dir), "--suite", suite, "--out",
              tmp_path / "a", "--plugins-dir", plugins, "--max-steps", "2")
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert "before" in text and "after" in text and "wrong_answer" in text
    assert "exact_match (metric)" in text
    assert f"adapter: {tmp_path / 'a' / 'round-1'}" in text.replace("\n", "")


@pytest.mark.slow
def test_demo_command_closes_the_loop(cli, tiny_model_dir, monkeypatch, tmp_path):
    """`workbench demo` (loop on by default), with the tiny model standing in for the demo build
    and a cut-down copy of the demo suite: the wiring, not the quality (`make demo` shows that)."""
    import yaml

    import workbench.demo
    from workbench.demo import DEMO_SUITE

    spec = yaml.safe_load(DEMO_SUITE.read_text())
    rows = [json.loads(x) for x in (DEMO_SUITE.parent / spec["data"]).read_text().splitlines()]
    rows = [r for r in rows if r["split"] == "eval"][:10] + [
        r for r in rows if r["split"] == "train"][:30]
    (tmp_path / "demo.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec.update(data="demo.jsonl", generation=dict(spec["generation"], max_new_tokens=8))
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.setattr(workbench.demo, "DEMO_SUITE", tmp_path / "demo.yaml")
    monkeypatch.setattr(workbench.demo, "ensure_demo_model", lambda **kw: tiny_model_dir)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    res = cli("demo", "--tiny", "--db", tmp_path / "demo.duckdb", "--json", "--examples", "0")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    loop = info["loop"]
    assert loop["base_run_id"] == info["run_id"]  # the demo's base run is reused, not redone
    assert loop["rounds"], loop["stopped"]
    adapter = Path(loop["rounds"][0]["training"]["adapter_dir"])
    assert adapter.is_relative_to(tmp_path / "home" / "demo-adapters")
    lineage = json.loads((adapter / "workbench_lineage.json").read_text())
    assert lineage["base"] == str(tiny_model_dir)
