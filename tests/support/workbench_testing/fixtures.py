"""Shared fixtures: a tmp workbench home per test, tiny models built locally (no network)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the fuzz tests on a fixed example sequence so a green build stays green; locally
# every run explores new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# tiny models run fastest on one torch thread (workbench.run.threads reads this before each phase)
os.environ.setdefault("WORKBENCH_THREADS", "1")

TINY_TEXT = [
    "### Instruction:\nWhat is the capital of Norland?\n\n### Response:\nThe capital of Norland is Vell.",
    "### Instruction:\nName a colour.\n\n### Response:\nBlue is a colour.",
    "The quick brown fox jumps over the lazy dog. A tiny model answers tiny questions.",
    "Numbers like 12, 340 and 2024 appear in answers. Rivers, mountains and cities have names.",
] * 20


@pytest.fixture(autouse=True)
def _workbench_home(tmp_path, monkeypatch):
    """Each test gets its own database path and cache directory."""
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "workbench.duckdb"))
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_DEBUG", raising=False)
    from workbench.plugins import reset_plugins

    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread, and a shared test machine stays responsive."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from workbench.demo.tiny import build_tokenizer

    return build_tokenizer(TINY_TEXT, vocab_size=400)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A saved random tiny Llama (safetensors) with its tokenizer."""
    from workbench.demo.tiny import build_tiny_llama

    out = tmp_path_factory.mktemp("tiny-llama")
    build_tiny_llama(out, tiny_tokenizer, hidden_size=64, layers=2, heads=4, seed=0)
    return out


@pytest.fixture(scope="session")
def tiny_adapter_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """A PEFT LoRA adapter on the tiny model, with non-zero weights so it changes outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    torch.manual_seed(1)
    model = get_peft_model(base, cfg)
    out = tmp_path_factory.mktemp("tiny-adapter")
    model.save_pretrained(out)
    # record the base where users would: adapter_config.json's base_model_name_or_path
    import json

    p = out / "adapter_config.json"
    conf = json.loads(p.read_text())
    conf["base_model_name_or_path"] = str(tiny_model_dir)
    p.write_text(json.dumps(conf, indent=2))
    return out


@pytest.fixture
def cli():
    """Invoke the CLI in-process: cli("run", "--model", ...) -> click Result."""
    from typer.testing import CliRunner

    from workbench.cli import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke
