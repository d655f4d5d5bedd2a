"""Tiny GGUF files for tests and benchmarks.

Write a saved tiny Llama (HF dir with a byte-level BPE tokenizer) as a GGUF file, the way
llama.cpp's converter lays it out: llama.cpp tensor names, q/k rows permuted, 2-D weights
quantized to Q8_0, a gpt2-style tokenizer in the metadata with the chat template.

``dequantized_copy`` writes the HF dir with the exact weights a GGUF reader recovers (each
quantized tensor quantized and dequantized again), the reference a loaded GGUF must match.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

QUANT = "Q8_0"


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's row order for q/k (rotary halves interleaved per head)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _roundtrip(w: np.ndarray):
    """(quantized bytes, dequantized values) of a 2-D float32 tensor in Q8_0."""
    from gguf import GGMLQuantizationType, quants

    qtype = GGMLQuantizationType[QUANT]
    q = quants.quantize(w.astype(np.float32), qtype)
    return q, quants.dequantize(q, qtype).astype(np.float32).reshape(w.shape)


def _state(model_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(model_dir / "model.safetensors"))


def write_gguf(model_dir: Path, out: Path, *, architecture: str = "llama") -> Path:
    """MODEL_DIR (a tiny LlamaForCausalLM + tokenizer) as a GGUF file at OUT."""
    import gguf

    cfg = json.loads((model_dir / "config.json").read_text())
    tok = json.loads((model_dir / "tokenizer.json").read_text())
    tok_cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    n_head, n_kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
    n_layers = cfg["num_hidden_layers"]

    w = gguf.GGUFWriter(str(out), architecture)
    w.add_name("tiny-llama")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(n_layers)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    rope = (cfg.get("rope_parameters") or {}).get("rope_theta") or cfg.get("rope_theta", 10000.0)
    w.add_rope_freq_base(float(rope))
    w.add_rope_dimension_count(cfg["hidden_size"] // n_head)
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)

    vocab = tok["model"]["vocab"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    special = {a["content"] for a in tok.get("added_tokens", []) if a.get("special")}
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([3 if t in special else 1 for t in tokens])
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab[tok_cfg["bos_token"]])
    w.add_eos_token_id(vocab[tok_cfg["eos_token"]])
    w.add_pad_token_id(vocab[tok_cfg["pad_token"]])
    w.add_add_bos_token(False)
    template = model_dir / "chat_template.jinja"
    w.add_chat_template(template.read_text() if template.exists() else tok_cfg["chat_template"])

    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    for name, t in _state(model_dir).items():
        if name == "lm_head.weight" and cfg.get("tie_word_embeddings"):
            continue
        gname = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        assert gname is not None, name
        t = t.astype(np.float32)
        if name.endswith("q_proj.weight"):
            t = _permute(t, n_head)
        elif name.endswith("k_proj.weight"):
            t = _permute(t, n_kv)
        if t.ndim == 2:
            q, _ = _roundtrip(t)
            w.add_tensor(gname, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType[QUANT])
        else:
            w.add_tensor(gname, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def dequantized_copy(model_dir: Path, out: Path) -> Path:
    """MODEL_DIR with each 2-D weight replaced by its Q8_0 round trip (what the GGUF holds)."""
    from safetensors.numpy import save_file

    shutil.copytree(model_dir, out)
    state = {k: (_roundtrip(v.astype(np.float32))[1] if v.ndim == 2 else v)
             for k, v in _state(model_dir).items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out
