"""Model faults through `workbench run`: a missing, corrupt or mismatched checkpoint is one line
(exit 2) and leaves the database alone; an over-long prompt is cut and said so; remote code and
pickle weights stay off unless asked. (Tokenizer without a pad token:
tests/run/test_models.py::test_tokenizer_without_pad_uses_eos.)"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from workbench.store import Store


@pytest.fixture(autouse=True)
def _no_entry_point_plugins(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PLUGINS", "")


@pytest.fixture
def suite(tmp_path) -> Path:
    d = tmp_path / "suite"
    d.mkdir()
    (d / "d.jsonl").write_text(json.dumps({"id": "a", "prompt": "Name a colour."}) + "\n"
                               + json.dumps({"id": "b", "prompt": "The quick brown fox " * 60}) + "\n")
    (d / "s.yaml").write_text("name: m\ndata: d.jsonl\ngeneration:\n  max_new_tokens: 4\n")
    return d / "s.yaml"


def _fails_in_one_line(cli, spec: str, suite: Path, *extra: str) -> str:
    res = cli("run", "--model", f"m={spec}", "--suite", suite, "--no-checks", *extra)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1, res.stderr
    assert not Path(os.environ["WORKBENCH_DB"]).exists()  # nothing was written anywhere
    return errors[0]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_checkpoint(tmp_path, cli, suite):
    err = _fails_in_one_line(cli, str(tmp_path / "nope"), suite)
    assert "checkpoint not found" in err


def test_corrupt_weights(tmp_path, cli, suite, tiny_model_dir):
    d = _copy(tiny_model_dir, tmp_path / "corrupt")
    w = next(d.glob("*.safetensors"))
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])  # a download cut in half
    assert "Error: " in _fails_in_one_line(cli, str(d), suite)


def test_garbage_config(tmp_path, cli, suite, tiny_model_dir):
    d = _copy(tiny_model_dir, tmp_path / "badconf")
    (d / "config.json").write_text("{not json")
    assert "Error: " in _fails_in_one_line(cli, str(d), suite)


def test_adapter_on_a_base_it_does_not_fit(tmp_path, cli, suite, tiny_tokenizer, tiny_adapter_dir):
    from workbench.demo.tiny import build_tiny_llama

    other = tmp_path / "narrow"
    build_tiny_llama(other, tiny_tokenizer, hidden_size=32, layers=2, heads=4, seed=3)
    err = _fails_in_one_line(cli, f"{other}+{tiny_adapter_dir}", suite)
    assert "cannot apply adapter" in err


def test_adapter_whose_recorded_base_is_gone(tmp_path, cli, suite, tiny_adapter_dir):
    d = _copy(tiny_adapter_dir, tmp_path / "orphan")
    conf = json.loads((d / "adapter_config.json").read_text())
    conf["base_model_name_or_path"] = str(tmp_path / "deleted-base")
    (d / "adapter_config.json").write_text(json.dumps(conf))
    assert "not found" in _fails_in_one_line(cli, str(d), suite)


def test_pickle_weights_stay_off(tmp_path, cli, suite, tiny_model_dir):
    import torch
    from safetensors.torch import load_file

    d = _copy(tiny_model_dir, tmp_path / "pickled")
    w = next(d.glob("*.safetensors"))
    torch.save(load_file(w), d / "pytorch_model.bin")
    w.unlink()
    assert "--allow-pickle" in _fails_in_one_line(cli, str(d), suite)


def test_remote_code_stays_off(tmp_path, cli, suite, tiny_model_dir):
    d = _copy(tiny_model_dir, tmp_path / "remote")
    marker = tmp_path / "code-ran"
    (d / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    conf = json.loads((d / "config.json").read_text())
    conf.update(model_type="evil", auto_map={"AutoConfig": "modeling_evil.EvilConfig",
                                             "AutoModelForCausalLM": "modeling_evil.Evil"})
    (d / "config.json").write_text(json.dumps(conf))
    _fails_in_one_line(cli, str(d), suite)
    assert not marker.exists()


def test_prompt_longer_than_the_context_is_cut_and_said(tmp_path, cli, suite, tiny_tokenizer):
    from workbench.demo.tiny import build_tiny_llama

    short = tmp_path / "short-context"
    build_tiny_llama(short, tiny_tokenizer, hidden_size=32, layers=1, heads=4, seed=0,
                     max_position_embeddings=32)
    res = cli("run", "--model", f"m={short}", "--suite", suite, "--no-checks", "--json")
    assert res.exit_code == 0, res.output
    assert "warning: 1 prompt(s) longer than the 28 tokens" in res.stderr
    outs = Store().run_outputs(json.loads(res.stdout)["run_id"]).set_index("item_id")
    assert outs.loc["b", "tokens_in"] == 28 and outs.loc["a", "tokens_in"] < 28
    # no room at all for a prompt: a clear error, and the run is not marked finished
    (suite.parent / "s.yaml").write_text("name: m\ndata: d.jsonl\ngeneration:\n"
                                         "  max_new_tokens: 40\n")
    res = cli("run", "--model", f"m={short}", "--suite", suite, "--no-checks")
    assert res.exit_code == 2 and "leaves no room for the prompt" in res.stderr
    assert sorted(Store().list_runs().status) == ["failed", "finished"]
