"""Reduced precision: int8 weights, and the count of outputs that differ from float32."""

from __future__ import annotations

import os

import pytest
from workbench_testing.runs import make_suite, run_json
from workbench_testing.varied import build_varied_model

from workbench.errors import ConfigError
from workbench.store import Store

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def varied_dir(tmp_path_factory, tiny_tokenizer):
    return build_varied_model(tmp_path_factory.mktemp("varied"), tiny_tokenizer)


def test_int8_quantizes_the_linear_layers_and_generates(varied_dir):
    import torch

    from workbench.run.generation import GenerationConfig, generate
    from workbench.run.models import load_model

    m = load_model(str(varied_dir), dtype="int8")
    assert m.dtype == "int8"
    linear = [x for x in m.model.modules() if type(x) is torch.nn.Linear]
    quantized = [x for x in m.model.modules() if "quantized" in type(x).__module__]
    assert quantized and not linear
    outs = generate(m, ["Question 1: name a colour", "Question 2"], GenerationConfig(
        max_new_tokens=6), batch_size=2)
    assert all(0 < o.tokens_out <= 6 for o in outs)


def test_int8_is_for_the_cpu(varied_dir):
    from workbench.run.models import load_model
    from workbench.run.precision import quantize_int8

    with pytest.raises(ConfigError, match="int8 is for --device cpu"):
        quantize_int8(load_model(str(varied_dir)).model, "cuda")


def test_reduced_run_reports_how_many_outputs_differ_from_float32(tmp_path, cli, varied_dir):
    suite = make_suite(tmp_path / "s", 10, max_new=8)
    reduced = run_json(cli, "--model", f"m={varied_dir}", "--suite", suite, "--no-checks",
                       "--dtype", "bfloat16", "--precision-check", "6")
    full = run_json(cli, "--model", f"m={varied_dir}", "--suite", suite, "--no-checks",
                    "--dtype", "float32")
    assert "precision" not in full  # nothing to report at full precision
    store = Store(os.environ["WORKBENCH_DB"])
    texts = {r: dict(zip(*(store.run_outputs(r)[c] for c in ("item_id", "text")), strict=True))
             for r in (reduced["run_id"], full["run_id"])}
    first6 = [f"q{i:04d}" for i in range(6)]
    differing = [i for i in first6 if texts[reduced["run_id"]][i] != texts[full["run_id"]][i]]
    p = reduced["precision"]
    assert (p["dtype"], p["checked"]) == ("bfloat16", 6)
    assert p["differing"] == differing and p["differ"] == len(differing)

    off = run_json(cli, "--model", f"m={varied_dir}", "--suite", suite, "--no-checks",
                   "--dtype", "bfloat16", "--precision-check", "0", "--new-run")
    assert "precision" not in off
    table = cli("run", "--model", f"m={varied_dir}", "--suite", suite, "--no-checks",
                "--dtype", "bf16", "--new-run", "--precision-check", "3")
    assert table.exit_code == 0, table.output
    assert "bfloat16:" in table.stdout and "of 3 outputs checked differ from float32" in \
        table.stdout


def test_disagreement_names_each_output_the_reference_writes_otherwise(varied_dir):
    from workbench.run.generation import GenerationConfig, generate
    from workbench.run.models import load_model
    from workbench.run.precision import disagreement

    m = load_model(str(varied_dir))
    prompts = [f"Question {i}: name a colour" for i in range(5)]
    cfg = GenerationConfig(max_new_tokens=6)
    texts = [o.text for o in generate(m, prompts, cfg, batch_size=2)]
    assert disagreement(m, prompts, texts, cfg, batch_size=3) == []
    texts[1] += " changed"
    texts[4] = ""
    assert disagreement(m, prompts, texts, cfg, batch_size=3) == [1, 4]
