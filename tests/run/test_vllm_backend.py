"""``--backend vllm`` for custom suites: vLLM's offline engine in this process.

vLLM is not installed here (it needs a GPU it supports): these tests put a fake ``vllm`` module
at the import boundary, with the same names and call shapes (``LLM.generate`` / ``LLM.chat``
with one ``SamplingParams`` per prompt, ``RequestOutput.outputs[0]``, ``LoRARequest``), and
check what workbench hands it and what it stores. The engine itself is not exercised.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from workbench_testing.runs import colour_suite

from workbench.store import Store


class _Completion:
    def __init__(self, text, finish_reason, stop_reason, n_tokens):
        self.text, self.finish_reason, self.stop_reason = text, finish_reason, stop_reason
        self.token_ids = list(range(n_tokens))


class _RequestOutput:
    def __init__(self, prompt, completion):
        self.prompt_token_ids = list(range(len(str(prompt).split())))
        self.outputs = [completion]


class FakeLLM:
    instances: list[FakeLLM] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls: list[tuple[str, list, list, object]] = []
        type(self).instances.append(self)

    def get_tokenizer(self):  # vLLM hands back the model's Hugging Face tokenizer
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.kwargs["model"])

    def _answer(self, prompt, params):
        words = str(prompt).split()[-2:]
        text = ("answer: " + " ".join(words)) if params.temperature == 0 else f"s{params.seed % 97}"
        for s in params.stop or []:
            if s in text:
                return _Completion(text[: text.index(s)], "stop", s, 2)
        if params.max_tokens < 3:
            return _Completion(text[:4], "length", None, params.max_tokens)
        return _Completion(text, "stop", None, 3)

    def generate(self, prompts, params, lora_request=None, use_tqdm=True):
        self.calls.append(("generate", list(prompts), list(params), lora_request))
        return [_RequestOutput(p, self._answer(p, sp)) for p, sp in zip(prompts, params,
                                                                        strict=True)]

    def chat(self, conversations, params, lora_request=None, use_tqdm=True):
        self.calls.append(("chat", list(conversations), list(params), lora_request))
        return [_RequestOutput(c[-1]["content"], self._answer(c[-1]["content"], sp))
                for c, sp in zip(conversations, params, strict=True)]


class SamplingParams:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class LoRARequest:
    def __init__(self, name, int_id, path):
        self.lora_name, self.lora_int_id, self.lora_path = name, int_id, path


@pytest.fixture
def fake_vllm(monkeypatch):
    FakeLLM.instances = []
    mod = types.ModuleType("vllm")
    mod.__version__ = "0.0.fake"
    mod.LLM, mod.SamplingParams = FakeLLM, SamplingParams
    lora = types.ModuleType("vllm.lora")
    req = types.ModuleType("vllm.lora.request")
    req.LoRARequest = LoRARequest
    lora.request = req
    mod.lora = lora
    for name, m in (("vllm", mod), ("vllm.lora", lora), ("vllm.lora.request", req)):
        monkeypatch.setitem(sys.modules, name, m)
    return mod


def _suite(d: Path, chat: bool = False, gen: str = "  max_new_tokens: 8\n") -> Path:
    return colour_suite(d, "v", chat, gen)


def test_a_custom_suite_runs_on_vllm_and_is_kept_apart_from_the_local_engine(
        tmp_path, cli, fake_vllm, tiny_model_dir):
    suite, db = _suite(tmp_path / "s"), tmp_path / "a.duckdb"
    res = cli("run", "--backend", "vllm", "--model", f"tiny={tiny_model_dir}", "--suite",
              str(suite), "--db", str(db), "--json", "--batch-size", "2")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["generated"] == 5 and out["model_id"].startswith("vllm-")
    (llm,) = FakeLLM.instances
    assert llm.kwargs["model"] == str(tiny_model_dir) and "enable_lora" not in llm.kwargs
    # handed over batch_size prompts at a time, greedy, one SamplingParams per prompt
    assert [len(c[1]) for c in llm.calls] == [2, 2, 1]
    assert all(p.temperature == 0 and p.max_tokens == 8 for c in llm.calls for p in c[2])
    store = Store(db)
    outs = store.run_outputs(out["run_id"])
    assert sorted(outs.text) == [f"answer: {i} please" for i in range(5)]
    assert set(outs.finish_reason) == {"eos"} and set(outs.tokens_out) == {3}
    run = store.get_run(out["run_id"])
    assert run["versions"]["backend"] == "vllm" and run["versions"]["engine_version"] == "0.0.fake"
    # the same weights on the local engine: another model id, nothing reused from vLLM's cache
    local = json.loads(cli("run", "--model", f"tiny={tiny_model_dir}", "--suite", str(suite),
                           "--db", str(db), "--json").stdout)
    assert local["model_id"] != out["model_id"] and local["generated"] == 5
    cmp = json.loads(cli("compare", local["run_id"], out["run_id"], "--db", str(db),
                         "--json").stdout)
    assert any("different backends (A: hf, B: vllm 0.0.fake)" in n for n in cmp["notes"])
    # an unchanged vLLM run is found without loading the engine again
    again = json.loads(cli("run", "--backend", "vllm", "--model", f"tiny={tiny_model_dir}",
                           "--suite", str(suite), "--db", str(db), "--json").stdout)
    assert again["run_id"] == out["run_id"] and len(FakeLLM.instances) == 1


def test_vllm_runs_an_adapter_through_a_lora_request_and_chat_items_through_chat(
        tmp_path, cli, fake_vllm, tiny_model_dir, tiny_adapter_dir):
    gen = "  max_new_tokens: 8\n  temperature: 0.8\n  samples: 3\n  first: greedy\n"
    suite, db = _suite(tmp_path / "s", chat=True, gen=gen), tmp_path / "a.duckdb"
    res = cli("run", "--backend", "vllm", "--model", f"ft={tiny_adapter_dir}", "--suite",
              str(suite), "--db", str(db), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    (llm,) = FakeLLM.instances
    assert llm.kwargs["model"] == str(tiny_model_dir) and llm.kwargs["enable_lora"] is True
    assert {c[0] for c in llm.calls} == {"chat"}
    lora = llm.calls[0][3]
    assert isinstance(lora, LoRARequest) and Path(lora.lora_path) == Path(tiny_adapter_dir)
    seeds = [p.seed for c in llm.calls for p in c[2] if p.temperature > 0]
    assert len(seeds) == 10 and len(set(seeds)) == 10  # a seed per sample
    assert out["samples_generated"] == 15
    store = Store(db)
    model = store.query_df("SELECT kind, parent_id FROM models WHERE model_id = ?",
                           [out["model_id"]]).iloc[0]
    assert model["kind"] == "adapter" and model["parent_id"].startswith("vllm-")


def test_vllm_not_installed_is_a_one_line_error(tmp_path, cli, tiny_model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    res = cli("run", "--backend", "vllm", "--model", f"tiny={tiny_model_dir}", "--suite",
              str(_suite(tmp_path / "s")), "--db", str(tmp_path / "a.duckdb"))
    assert res.exit_code == 2 and "vLLM is not installed here" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "a.duckdb").exists()
    res = cli("run", "--backend", "sglang", "--model", f"tiny={tiny_model_dir}", "--suite",
              str(_suite(tmp_path / "s")))
    assert res.exit_code == 2 and "custom suites run on hf, openai or vllm" in res.output
