"""A tiny model whose greedy outputs vary from prompt to prompt (for generation tests).

The shared fixtures' random tiny model has near-uniform logits and answers almost every prompt
with the same token; re-drawing its weights with a larger spread makes outputs diverse, so tests
of batching, stop strings and eos see real differences between prompts.
"""

from __future__ import annotations

from pathlib import Path


def build_varied_model(out: Path, tokenizer, std: float = 0.3, seed: int = 0) -> Path:
    import torch

    from workbench.demo.tiny import build_tiny_llama

    model = build_tiny_llama(out, tokenizer, save=False, seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.copy_(torch.randn(p.shape, generator=g) * std)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_adapter(out: Path, base_dir: Path, seed: int = 1) -> Path:
    """A LoRA adapter with non-zero weights, its base recorded in adapter_config.json."""
    import json

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir)
    cfg = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                     init_lora_weights=False)
    torch.manual_seed(seed)
    model = get_peft_model(base, cfg)
    model.save_pretrained(out)
    p = out / "adapter_config.json"
    conf = json.loads(p.read_text())
    conf["base_model_name_or_path"] = str(base_dir)
    p.write_text(json.dumps(conf, indent=2))
    return out


PROMPTS = [
    "What is the capital of Norland?",
    "Name a colour.",
    "The quick brown fox",
    "Numbers like 12, 340 and 2024 appear in answers. Rivers, mountains and cities have names.",
    "A",
    "### Instruction:\nName a colour.\n\n### Response:\n",
    "tiny model answers tiny questions " * 3,
    "Rivers",
    "What is",
    "The capital of Norland is Vell. The capital of Norland is",
    "Blue is a colour. Blue",
]
