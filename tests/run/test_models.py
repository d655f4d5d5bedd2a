"""Loading checkpoints: full dirs, PEFT adapters (merged or not, BASE+ADAPTER), errors, fingerprints."""

from __future__ import annotations

import shutil

import pytest
from workbench_testing.varied import PROMPTS, build_adapter, build_varied_model

from workbench.errors import ConfigError, ModelLoadError
from workbench.run.generation import GenerationConfig, generate
from workbench.run.models import load_model, parse_model_arg

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def varied_dir(tmp_path_factory, tiny_tokenizer):
    return build_varied_model(tmp_path_factory.mktemp("varied"), tiny_tokenizer)


@pytest.fixture(scope="module")
def varied_adapter(tmp_path_factory, varied_dir):
    return build_adapter(tmp_path_factory.mktemp("varied-adapter"), varied_dir)


def texts(loaded, n=16):
    return [o.text for o in generate(loaded, PROMPTS, GenerationConfig(max_new_tokens=n))]


def test_parse_model_arg(tmp_path):
    assert parse_model_arg("base=/models/x") == ("base", "/models/x")
    assert parse_model_arg("tuned=org/name") == ("tuned", "org/name")
    assert parse_model_arg("/models/llama-7b/") == ("llama-7b", "/models/llama-7b/")
    assert parse_model_arg("t=/b+/a") == ("t", "/b+/a")
    odd = tmp_path / "a=b"
    odd.mkdir()
    assert parse_model_arg(str(odd)) == ("a=b", str(odd))  # an existing path wins over NAME=
    for bad in ("", "=x", "name="):
        with pytest.raises(ConfigError):
            parse_model_arg(bad)


def test_load_full_checkpoint(tiny_model_dir):
    m = load_model(str(tiny_model_dir), "base")
    assert (m.name, m.kind, m.device, m.dtype) == ("base", "full", "cpu", "float32")
    assert m.adapter is None and m.parent_fingerprint is None
    assert m.tokenizer.pad_token_id is not None and m.tokenizer.padding_side == "left"
    assert len(m.fingerprint) == 64
    assert load_model(str(tiny_model_dir)).fingerprint == m.fingerprint  # stable


def test_dtype_override_and_bad_device(tiny_model_dir):
    import torch

    m = load_model(str(tiny_model_dir), dtype="bf16")
    assert m.dtype == "bfloat16" and next(m.model.parameters()).dtype == torch.bfloat16
    with pytest.raises(ConfigError, match="dtype"):
        load_model(str(tiny_model_dir), dtype="int3")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            load_model(str(tiny_model_dir), device="cuda")


def test_fingerprint_changes_with_weights(tmp_path, varied_dir):
    import torch
    from transformers import AutoModelForCausalLM

    copy = tmp_path / "copy"
    shutil.copytree(varied_dir, copy)
    fp = load_model(str(varied_dir)).fingerprint
    assert load_model(str(copy)).fingerprint == fp  # content, not path
    model = AutoModelForCausalLM.from_pretrained(copy)
    with torch.no_grad():
        model.model.layers[0].mlp.up_proj.weight[0, 0] += 1e-3
    model.save_pretrained(copy)
    assert load_model(str(copy)).fingerprint != fp


def test_adapter_merged_and_unmerged_agree(varied_dir, varied_adapter):
    base = load_model(str(varied_dir), "base")
    merged = load_model(str(varied_adapter), "tuned")
    unmerged = load_model(str(varied_adapter), "tuned", merge=False)
    assert merged.kind == "adapter" and merged.merged and not unmerged.merged
    assert merged.base == str(varied_dir) and merged.adapter == str(varied_adapter)
    assert merged.parent_fingerprint == base.fingerprint
    assert merged.fingerprint == unmerged.fingerprint != base.fingerprint
    assert "PeftModel" in type(unmerged.model).__name__
    assert "PeftModel" not in type(merged.model).__name__
    t_merged = texts(merged)
    assert t_merged == texts(unmerged)
    assert t_merged != texts(base)  # the adapter really changes what the model says


def test_base_plus_adapter_form(tmp_path, varied_dir, varied_adapter):
    import json

    # an adapter whose recorded base is wrong: BASE+ADAPTER overrides it
    moved = tmp_path / "adapter"
    shutil.copytree(varied_adapter, moved)
    conf = json.loads((moved / "adapter_config.json").read_text())
    conf["base_model_name_or_path"] = "/nowhere/base"
    (moved / "adapter_config.json").write_text(json.dumps(conf))
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(str(moved))
    m = load_model(f"{varied_dir}+{moved}", "tuned")
    assert m.kind == "adapter" and m.base == str(varied_dir)
    assert m.fingerprint == load_model(str(varied_adapter)).fingerprint
    with pytest.raises(ModelLoadError, match="not a PEFT adapter"):
        load_model(f"{varied_dir}+{varied_dir}")


def test_missing_and_hub_offline(tmp_path, monkeypatch):
    with pytest.raises(ModelLoadError, match="checkpoint not found"):
        load_model(str(tmp_path / "nope"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelLoadError, match="not in the hub cache.*offline"):
        load_model("some-org/some-model-that-is-not-cached")


def test_corrupt_and_incomplete_checkpoints(tmp_path, tiny_model_dir):
    bad = tmp_path / "truncated"
    shutil.copytree(tiny_model_dir, bad)
    w = next(bad.glob("*.safetensors"))
    w.write_bytes(w.read_bytes()[:-100])
    with pytest.raises(ModelLoadError, match="corrupt safetensors"):
        load_model(str(bad))
    garbage = tmp_path / "garbage"
    shutil.copytree(tiny_model_dir, garbage)
    next(garbage.glob("*.safetensors")).write_bytes(b"not a safetensors file at all")
    with pytest.raises(ModelLoadError, match="corrupt"):
        load_model(str(garbage))
    noconf = tmp_path / "noconf"
    shutil.copytree(tiny_model_dir, noconf)
    (noconf / "config.json").unlink()
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(str(noconf))
    noweights = tmp_path / "noweights"
    shutil.copytree(tiny_model_dir, noweights)
    for f in noweights.glob("*.safetensors"):
        f.unlink()
    with pytest.raises(ModelLoadError, match="no weights"):
        load_model(str(noweights))
    badconf = tmp_path / "badconf"
    shutil.copytree(tiny_model_dir, badconf)
    (badconf / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError):
        load_model(str(badconf))


def test_pickle_weights_need_allow_pickle(tmp_path, tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    pk = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, pk, ignore=shutil.ignore_patterns("*.safetensors"))
    torch.save(AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict(),
               pk / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="--allow-pickle"):
        load_model(str(pk))
    m = load_model(str(pk), allow_pickle=True)
    ref = load_model(str(tiny_model_dir))
    assert texts(m, 6) == texts(ref, 6)


def test_tokenizer_without_pad_uses_eos(tmp_path, tiny_model_dir):
    import json

    d = tmp_path / "nopad"
    shutil.copytree(tiny_model_dir, d)
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        p = d / name
        if p.exists():
            conf = json.loads(p.read_text())
            conf.pop("pad_token", None)
            p.write_text(json.dumps(conf))
    m = load_model(str(d))
    assert m.tokenizer.pad_token == m.tokenizer.eos_token


def test_custom_code_needs_trust_remote_code(tmp_path, tiny_model_dir):
    import json

    d = tmp_path / "custom"
    shutil.copytree(tiny_model_dir, d)
    conf = json.loads((d / "config.json").read_text())
    conf["auto_map"] = {"AutoConfig": "my_code.MyConfig",
                        "AutoModelForCausalLM": "my_code.MyModel"}
    conf["model_type"] = "my-custom-llama"
    (d / "config.json").write_text(json.dumps(conf))
    (d / "my_code.py").write_text("raise RuntimeError('custom code ran')\n")
    with pytest.raises(ModelLoadError, match="--trust-remote-code"):
        load_model(str(d))
