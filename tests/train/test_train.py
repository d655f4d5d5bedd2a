"""`workbench train`: a real short training on the tiny model with the LoRA trainer, training
from a stored set, its errors and its settings. (The trainer's own parts: plugins/lora/tests.)"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.train.trainers import LINEAGE_FILE


# -- a real training ----------------------------------------------------------------------------------
def _write_jsonl(path: Path, n: int = 12) -> Path:
    rows = [{"messages": [{"role": "user", "content": f"Name colour number {i}."},
                          {"role": "assistant", "content": "Blue is a colour."}]} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_train_cli_saves_a_peft_adapter_with_lineage_and_store_rows(cli, tiny_model_dir, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from workbench.run.models import model_fingerprint
    from workbench.store import Store
    from workbench.store.trainings import get_training

    data = _write_jsonl(tmp_path / "s.jsonl")
    out = tmp_path / "adapter"
    res = cli("train", "--base", tiny_model_dir, "--suggestions", data, "--out", out,
              "--max-steps", "4", "--train-batch-size", "4", "--r", "4", "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)

    conf = json.loads((out / "adapter_config.json").read_text())
    assert conf["base_model_name_or_path"] == str(tiny_model_dir.resolve())
    assert conf["r"] == 4
    assert set(conf["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj",
                                           "gate_proj", "up_proj", "down_proj"}
    lineage = json.loads((out / LINEAGE_FILE).read_text())
    base_fp = model_fingerprint(tiny_model_dir)
    assert lineage["parent_model_id"] == base_fp
    assert lineage["suggestion_sets"] == [str(data)]
    assert lineage["config"]["r"] == 4 and len(lineage["loss_curve"]) == 4
    assert lineage["final_loss"] == info["metrics"]["final_loss"]

    # a standard adapter: plain peft loads it, and it changes what the model computes
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    ids = torch.tensor([[5, 17, 42, 9, 3]])
    with torch.no_grad():
        before = base(ids).logits
        tuned = PeftModel.from_pretrained(base, out)
        after = tuned(ids).logits
    assert not torch.allclose(before, after, atol=1e-4)

    store = Store()
    model = store.get_model(info["model_id"])
    assert model["kind"] == "adapter" and model["parent_id"] == base_fp
    assert model["adapter"] == str(out.resolve())
    row = get_training(store, info["training_id"])
    assert row["result_model_id"] == info["model_id"] and row["parent_model_id"] == base_fp
    assert [s for s, _ in row["loss_curve"]] == [1, 2, 3, 4]
    assert row["status"] == "finished"

    listing = cli("trainings", "--json")
    assert json.loads(listing.stdout)[0]["training_id"] == info["training_id"]


def _seed_suggestion_set(store, suite_path: Path) -> tuple[str, str]:
    """A suite in the store with eval + train items, a run, and a suggestion set on two train rows."""
    from workbench.run.suite_schema import ALPACA_TEMPLATE
    from workbench.run.suites import load_suite
    from workbench.store import to_json

    rows = [{"id": f"e{i}", "prompt": f"Name colour {i}.", "reference": "Red.", "split": "eval"}
            for i in range(2)]
    rows += [{"id": f"t{i}", "prompt": f"Which colour is sky {i}?", "context": f"Sky {i} is blue.",
              "reference": f"Sky {i} is blue.", "split": "train"} for i in range(8)]
    (suite_path.parent / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite_path.write_text(
        f"name: colours\ndata: s.jsonl\ntemplate: {json.dumps(ALPACA_TEMPLATE)}\n"
    )
    suite = load_suite(suite_path)
    items = pd.DataFrame([{
        "item_id": it.id, "prompt": it.prompt, "reference": it.reference, "context": it.context,
        "tags": it.tags, "split": it.split,
    } for it in suite.items])
    store.upsert_suite(suite.suite_id, suite.name, "custom", str(suite_path), suite.fingerprint,
                       suite.spec.model_dump(), items)
    with store.transaction() as db:
        db.execute("INSERT INTO runs (run_id, model_id, suite_id, config_key, status) "
                   "VALUES ('r1', 'm', ?, 'k', 'finished')", [suite.suite_id])
        db.execute("INSERT INTO suggestion_sets (set_id, run_id, n_suggestions) "
                   "VALUES ('set1', 'r1', 2)")
        for k, item in enumerate(["t0", "t1"]):
            msgs = [{"role": "user", "content": f"Which colour is sky {k}?"},
                    {"role": "assistant", "content": f"Sky {k} is blue."}]
            db.execute(
                "INSERT INTO suggestions (suggestion_id, set_id, category, prompt, target, messages,"
                " pool_row) VALUES (?, 'set1', 'misspelling', ?, ?, ?, ?)",
                [f"s{k}", msgs[0]["content"], msgs[1]["content"], to_json(msgs), item],
            )
    return suite.suite_id, "set1"


def test_examples_from_a_stored_set_use_the_suite_template_and_replay_the_train_split(tmp_path):
    from workbench.store import Store
    from workbench.train.examples import examples_from_sets, replay_pool

    store = Store()
    suite_id, set_id = _seed_suggestion_set(store, tmp_path / "colours.yaml")
    examples, suite_ids = examples_from_sets(store, [set_id])
    assert suite_ids == [suite_id]
    assert [e.ref for e in examples] == ["s0", "s1"]
    # prompted exactly as the runner renders train item t0 for evaluation
    assert examples[0].prompt == (
        "### Instruction:\nWhich colour is sky 0?\n\n### Input:\nSky 0 is blue.\n\n### Response:\n"
    )
    assert examples[0].response == "Sky 0 is blue."
    replay = replay_pool(store, suite_ids, exclude={"t0", "t1"})
    assert sorted(e.ref for e in replay) == [f"t{i}" for i in range(2, 8)]  # never eval items
    assert all(e.source == "replay" and e.prompt.startswith("### Instruction:") for e in replay)


def test_train_from_a_store_set_by_registered_model_name(cli, tiny_model_dir, tmp_path):
    from workbench.run.models import model_fingerprint
    from workbench.store import Store

    store = Store()
    _seed_suggestion_set(store, tmp_path / "colours.yaml")
    store.upsert_model(model_fingerprint(tiny_model_dir), "tiny", spec=str(tiny_model_dir),
                       base=str(tiny_model_dir), kind="full")
    res = cli("train", "--base", "tiny", "--suggestions", "set", "--out", tmp_path / "a",
              "--max-steps", "2", "--replay-share", "0.5", "--name", "tiny-fixed", "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["model_name"] == "tiny-fixed" and info["set_ids"] == ["set1"]
    assert info["metrics"]["examples"] == 4 and info["metrics"]["replay_examples"] == 2


def _user_error(args: list) -> str:
    """The one-line message of a command that must fail with a WorkbenchError (exit 2)."""
    from typer.testing import CliRunner

    from workbench.cli import UserError, app

    res = CliRunner().invoke(app, [str(a) for a in args])
    if isinstance(res.exception, UserError):  # raised through the test runner
        return str(res.exception)
    assert res.exit_code == 2, res.output
    return res.output


def test_train_errors_are_one_line(tiny_model_dir, tmp_path):
    base = ["train", "--base", tiny_model_dir, "--suggestions"]
    assert "no suggestion set 'nope'" in _user_error([*base, "nope"])
    assert "not found" in _user_error([*base, tmp_path / "missing.jsonl"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n')
    assert "bad.jsonl:1" in _user_error([*base, bad])
    ok = _write_jsonl(tmp_path / "s.jsonl")
    assert "replay_share" in _user_error([*base, ok, "--replay-share", "2"])
    assert "unknown trainer 'nope'" in _user_error([*base, ok, "--trainer", "nope"])


def test_trainings_config_shows_the_options_train_takes(cli):
    import re

    rows = json.loads(cli("trainings", "--config", "--json").stdout)
    train_help = cli("train", "--help").stdout + cli("loop", "--help").stdout
    flags = set(re.findall(r"--[a-z][a-z-]*", train_help))
    options = [r["option"] for r in rows if r["option"]]
    assert {"--lr", "--train-batch-size", "--lora-alpha", "--r"} <= set(options)
    assert set(options) <= flags  # each shown option is one `train` and `loop` take
    assert {r["field"] for r in rows if r["option"] is None} >= {"max_batch_tokens"}
    text = cli("trainings", "--config").stdout
    assert re.search(r"^--lr\s+0\.001", text, re.M) and "learning_rate" not in text.split(
        "not command-line options")[0]
    from workbench.cli.train import train_overrides

    assert train_overrides(lr=0.1, lora_alpha=8.0, train_batch_size=2, r=None) == {
        "learning_rate": 0.1, "alpha": 8.0, "batch_size": 2}


def test_trainer_settings_are_read_against_its_config(tiny_model_dir, tmp_path, monkeypatch):
    """`--set KEY=VALUE` and the Config's own flags reach the trainer as typed Config fields;
    an unknown key, a bad value or an unknown flag is one line naming the valid keys."""
    from workbench_lora.config import LoraTrainConfig

    from workbench.errors import WorkbenchError
    from workbench.train import training
    from workbench.train.trainer_settings import flag_pairs, parse_settings

    assert parse_settings("lora", LoraTrainConfig, [
        "r=8", "target_modules=q_proj, v_proj", "max_steps=none", "learning-rate=1e-4"]) == {
        "r": 8, "target_modules": ["q_proj", "v_proj"], "max_steps": None, "learning_rate": 1e-4}
    assert flag_pairs("lora", LoraTrainConfig, ["--lr", "0.1", "--r=4"]) == [
        "learning_rate=0.1", "r=4"]

    def fake_train(store, base, suggestions, *, config, **kw):
        raise WorkbenchError(f"would train with {sorted(config.items())}")

    monkeypatch.setattr(training, "train_adapter", fake_train)
    base = ["train", "--base", tiny_model_dir, "--suggestions", _write_jsonl(tmp_path / "s.jsonl")]
    got = _user_error([*base, "--lr", "0.01", "--set", "max_batch_tokens=64",
                       "--set", "target_modules=q_proj", "--r=4"])
    assert ("would train with [('learning_rate', 0.01), ('max_batch_tokens', 64), ('r', 4), "
            "('target_modules', ['q_proj'])]") in got

    err = _user_error([*base, "--set", "rank=8"])
    assert "unknown setting 'rank' for trainer 'lora'" in err and "\n" not in err.strip()
    assert "valid keys: r, alpha," in err and "max_batch_tokens" in err
    err = _user_error([*base, "--set", "r=eight"])
    assert "bad value for r='eight'" in err and "expected an integer" in err
    assert "expected a number" in _user_error([*base, "--set", "learning_rate=fast"])
    assert "expected KEY=VALUE" in _user_error([*base, "--set", "r"])
    err = _user_error([*base, "--learning-rate", "0.1"])
    assert "no such option: '--learning-rate'" in err and "--lr" in err
    assert "needs a value" in _user_error([*base, "--lr"])
    assert "replay_share must be in [0, 1)" in _user_error([*base, "--set", "replay_share=2"])
    err = _user_error(["loop", "--model", tiny_model_dir, "--suite", tmp_path / "x.yaml",
                       "--set", "nope=1"])
    assert "unknown setting 'nope' for trainer 'lora'" in err


def test_train_help_lists_the_trainers_settings(cli):
    text = cli("train", "--help").stdout
    assert "Settings of trainer 'lora'" in text and "--set" in text
    for line in ("r: int = 16  (--r)", "max_batch_tokens: int = 192",
                 "target_modules: list[str] | None = None  (--target-modules)"):
        assert line in text
