"""The batch size chosen when --batch-size is left out: bounded by the key/value cache that the
run's longest sequence needs and the memory free, capped per device, and told to the user."""

from __future__ import annotations

import json
import types

from workbench.run.batch_size import (
    CPU_CAP,
    cache_bytes_per_token,
    choose_batch_size,
    free_memory_bytes,
)


def _loaded(backend="hf", device="cpu", dtype="float32", layers=30, heads=9, kv=3, hidden=576):
    cfg = types.SimpleNamespace(num_hidden_layers=layers, num_attention_heads=heads,
                                num_key_value_heads=kv, hidden_size=hidden)
    return types.SimpleNamespace(backend=backend, device=device, dtype=dtype,
                                 model=types.SimpleNamespace(config=cfg))


def test_cache_bytes_per_token_follow_the_models_shape():
    # SmolLM2-135M: 30 layers, 3 key/value heads of 64: 2 x 30 x 3 x 64 x 4 bytes
    assert cache_bytes_per_token(_loaded().model, "float32") == 46_080
    assert cache_bytes_per_token(_loaded().model, "bfloat16") == 23_040
    assert cache_bytes_per_token(types.SimpleNamespace(config=None), "float32") is None


def test_the_batch_fits_the_free_memory_and_stops_at_the_devices_cap():
    gib = 2**30
    # plenty of memory: the CPU cap, never more than there are prompts
    assert choose_batch_size(_loaded(), [200] * 100, 128, free=16 * gib)[0] == CPU_CAP
    assert choose_batch_size(_loaded(), [200] * 5, 128, free=16 * gib)[0] == 5
    # little memory, long sequences: fewer rows (a quarter of 64 MiB over 46 KB x 2,176 x 1.5)
    batch, why = choose_batch_size(_loaded(), [2048, 10], 128, free=64 * 2**20)
    assert batch == 1 and "0.1 GiB free" in why
    mid = choose_batch_size(_loaded(), [1000] * 64, 1000, free=2 * gib)[0]
    assert 1 < mid < CPU_CAP
    # a GPU takes more rows
    assert choose_batch_size(_loaded(device="cuda:0"), [200] * 1000, 128, free=40 * gib)[0] > 64
    # served models and vLLM batch on their side
    assert choose_batch_size(_loaded(backend="openai"), [1] * 100, 8)[0] == 16
    assert choose_batch_size(_loaded(backend="vllm"), [1] * 1000, 8)[0] == 256
    # nothing known: the old default
    assert choose_batch_size(types.SimpleNamespace(backend="hf", device="cpu", dtype=None,
                                                   model=None), [1] * 20, 8, free=gib)[0] == 8


def test_free_memory_is_read_from_the_os():
    free = free_memory_bytes("cpu")
    assert free is None or free > 0


def test_run_without_batch_size_reports_the_chosen_one(cli, tmp_path, tiny_model_dir):
    d = tmp_path / "s"
    d.mkdir()
    rows = [{"id": f"q{i}", "prompt": f"the cat {i}"} for i in range(12)]
    (d / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "s.yaml").write_text("name: b\ndata: d.jsonl\nchecks: []\ngeneration:\n"
                              "  max_new_tokens: 4\n")
    res = cli("run", "--model", f"tiny={tiny_model_dir}", "--suite", str(d / "s.yaml"),
              "--db", str(tmp_path / "a.duckdb"), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["batch_size"] == 12 and "GiB free" in out["batch_size_chosen"]
    # given, it is used as it is
    res = cli("run", "--model", f"tiny={tiny_model_dir}", "--suite", str(d / "s.yaml"),
              "--db", str(tmp_path / "b.duckdb"), "--json", "--batch-size", "3")
    out3 = json.loads(res.stdout)
    assert out3["batch_size"] == 3 and "batch_size_chosen" not in out3
