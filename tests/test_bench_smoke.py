"""Every benchmark runs in its smallest configuration (BENCH_QUICK=1) and gives sane figures.

These check that the benchmarks work, not that the bars are met: quick figures come from a few
records on tiny models and measure nothing.
"""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import bench
from bench.__main__ import _modules

ROOT = Path(__file__).resolve().parents[1]
needs_data = pytest.mark.skipif(bench.shared_data_dir() is None,
                                reason="shared labelled data absent (WORKBENCH_SHARED_DATA)")


@pytest.fixture(autouse=True)
def _quick(monkeypatch):
    monkeypatch.setenv("BENCH_QUICK", "1")
    monkeypatch.setenv("BENCH_THREADS", "1")


def _run(name: str) -> dict:
    figures = importlib.import_module(f"bench.{name}").run()
    assert isinstance(figures, dict) and "error" not in figures
    json.dumps(figures)  # the runner writes them as JSON
    return figures


def _positive(*values: float) -> None:
    for v in values:
        assert isinstance(v, int | float) and math.isfinite(v) and v > 0, values


def _share(*values: float) -> None:
    for v in values:
        assert 0.0 <= v <= 1.0, values


def test_every_module_is_covered():
    covered = {"generation", "run_cache", "store_ingest", "checks_speed", "train_lora",
               "lmeval_overhead", "compare_suggest", "checks_repetition", "checks_length",
               "checks_hallucination", "checks_misspelling", "gguf_real",
               "checks_hallucination_real", "checks_real", "checks_length_phrasing",
               "checks_misspelling_real", "checks_inconsistency_real",
               "inconsistency_paraphrase", "checks_hallucination_summaries",
               "inconsistency_facts", "dashboard_scale", "generation_real",
               "checks_hallucination_judge", "served_parity"}
    assert set(_modules()) == covered


def test_quick_switch(monkeypatch):
    assert bench.quick() and bench.pick(10, 1) == 1 and bench.limit([1, 2, 3], 2) == [1, 2]
    monkeypatch.setenv("BENCH_QUICK", "0")
    assert not bench.quick() and bench.pick(10, 1) == 10 and bench.limit([1, 2, 3], 2) == [1, 2, 3]
    calls: list[str] = []
    times = bench.median_times({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3)
    assert calls == ["a", "b"] * 3  # interleaved, not a, a, a, b, b, b
    assert all(len(t) == 3 and t == sorted(t) for t in times.values())


@pytest.mark.slow
def test_gguf_real():
    f = _run("gguf_real")
    _positive(f["first_load_s"], f["cached_load_s"], f["generate_s"])
    assert f["cached_load_s"] < f["first_load_s"]
    assert f["same_text"] and f["text"] and f["max_abs_weight_diff"] == 0.0
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(f["converted_files"])


@pytest.mark.slow
def test_served_parity():
    pytest.importorskip("fastapi", reason="transformers serve needs the serving extra")
    f = _run("served_parity")
    assert f["prompts"] == 4 and 0 <= f["same_text"] <= 4 and f["shared_cache_keys"] == 0
    _share(f["same_share"])
    _positive(f["hf_s"], f["served_s"])


@pytest.mark.slow
def test_generation_real():
    figures = _run("generation_real")
    f = figures["threads1_batch4"]
    assert f["prompts"] == 4 and f["tokens_out"] > 0 and not f["errors"]
    assert set(f["tokens_per_s"]) == {"workbench", "lm_eval", "hf_continuous", "hf_batched"}
    _positive(*f["tokens_per_s"].values(), *f["speedup"].values(), f["roofline_share"])
    assert all(0 <= n <= 4 for n in f["same_text"].values())
    r = f["roofline"]
    _positive(r["peak_gflops"], r["read_gb_s"], r["decode_linears_ms"], r["ceiling_tokens_per_s"])
    assert set(f["dtypes"]) == {"bfloat16", "int8"}
    assert all(0 <= d["differ_from_float32"] <= 4 for d in f["dtypes"].values())


@pytest.mark.slow
def test_generation():
    figures = _run("generation")
    for name in ("demo", "100m"):
        f = figures[name]
        assert f["prompts"] >= 2 and f["tokens_out"] > 0
        _positive(*f["tokens_per_s"].values(), f["speedup_vs_lm_eval"], f["speedup_vs_plain_loop"])
        assert set(f["tokens_per_s"]) == {"workbench", "lm_eval_generate_until",
                                          "plain_generate_loop"}
        assert sum(f["finish"].values()) == f["prompts"]
        # greedy and the same requests: the three ways agree on these tiny models
        assert f["same_text_as_lm_eval"] == f["prompts"] == f["same_text_as_plain_loop"]
    # the random model's scaled eos ends some answers before the limit
    lo, _, hi = figures["100m"]["tokens_out_min_median_max"]
    assert lo < hi <= figures["100m"]["max_new_tokens"]


@pytest.mark.slow
def test_run_cache():
    figures = _run("run_cache")
    for model in ("demo", "100m"):
        f = figures[model]
        assert f["generated_first"] == f["items"] == f["cached_new_run"] == 16
        assert f["generated_rerun"] == f["generated_new_run"] == 0 and f["reused_rerun"]
        _positive(f["first_run_s_median"], f["rerun_s_median"], f["speedup_rerun"],
                  f["new_run_s_median"], f["speedup_new_run"], f["run_peak_rss_mb"])


@pytest.mark.slow
def test_dashboard_scale():
    f = _run("dashboard_scale")
    assert f["outputs"] == 20_000
    by_sort = f["failures_page_ms_by_sort"]
    assert set(by_sort) == {"score", "severity", "tokens", "latency", "length", "item", "run"}
    _positive(f["failures_sorted_page_ms_p95"], f["failures_sorted_nonempty_page_ms_p95"],
              f["item_page_ms_p95"], *(v for s in by_sort.values() for v in s.values()),
              *f["matrix"]["ms_median"].values())
    assert f["matrix"]["runs"] == 5 and f["matrix"]["items"] == 1000


def test_store_ingest():
    f = _run("store_ingest")
    assert f["outputs"] == 20_000 and f["findings"] == 60_000
    _positive(f["ingest_seconds"], f["failures_page_ms_median"], f["failures_page_ms_p95"])
    assert f["failures_page_ms_p95"] >= f["failures_page_ms_median"]
    dash = f["dashboard"]
    assert dash["problems"] == [] and dash["peak_rss_mb"] > 50
    assert set(dash["page_seconds"]) == {"overview", "failures", "compare", "suggestions"}
    for key in ("export", "export_parquet"):
        exp = f[key]
        assert exp["lines"] == 20_000 and exp["peak_rss_mb"] > 50 and exp["mb"] > 0, exp


@needs_data
def test_checks_speed():
    import os

    cores = os.sched_getaffinity(0)
    f = _run("checks_speed")
    assert os.sched_getaffinity(0) == cores  # pinned for the measurement only
    assert {"repetition", "length", "misspelling", "hallucination"} <= set(f["checks"])
    _positive(*f["records_per_s"].values(), *f["records_per_cpu_s"].values())


@pytest.mark.slow
def test_train_lora():
    f = _run("train_lora")
    assert f["plain"]["tokens"] == f["workbench"]["tokens"] > 0  # the same data for both
    _positive(f["plain"]["tokens_per_s"], f["workbench"]["tokens_per_s"], f["speedup"],
              f["plain"]["peak_rss_mb"], f["workbench"]["peak_rss_mb"])


@pytest.mark.slow
def test_inconsistency_paraphrase():
    f = _run("inconsistency_paraphrase")
    assert (f["groups"], f["items"]) == (2, 6)
    assert 0 <= f["base"]["inconsistent_groups"] <= 2
    _share(f["base"]["inconsistent_share"])


def test_inconsistency_facts():
    f = _run("inconsistency_facts")
    assert (f["items"], f["answers_per_item"]) == (8, 5)
    assert 0 <= f["flagged_wrong"] <= f["flagged"] <= 8


def test_lmeval_overhead():
    f = _run("lmeval_overhead")
    assert f["metrics_identical"] is True and f["samples"] > 0
    _positive(f["lm_eval_direct_s"], f["workbench_s"], f["workbench_from_cache_s"])


@pytest.mark.slow
def test_compare_suggest():
    f = _run("compare_suggest")
    assert f["compare_rows"] > 0
    for method in ("hybrid", "tfidf", "fuzz"):
        _share(f[f"suggest_{method}"]["on_topic_share"])
    _share(f["guard"]["default"]["recall"], f["guard"]["default"]["false_positive_rate"])


@needs_data
@pytest.mark.parametrize("name", ["checks_repetition", "checks_length", "checks_hallucination",
                                  "checks_misspelling", "checks_hallucination_real",
                                  "checks_real", "checks_length_phrasing",
                                  "checks_misspelling_real", "checks_inconsistency_real"])
def test_detector_quality(name):
    f = _run(name)
    shares = [v for k, v in _leaves(f) if k.split(".")[-1] in ("recall", "fpr", "precision",
                                                               "auc", "roc_auc")]
    assert shares, f"{name}: no recall/precision figures"
    _share(*shares)


def _leaves(d: dict, prefix: str = ""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, f"{prefix}{k}.")
        elif isinstance(v, int | float) and not isinstance(v, bool):
            yield f"{prefix}{k}", v


@needs_data
def test_runner_table_and_json(tmp_path):
    """`python -m bench --quick NAME` runs the module in a child and writes one JSON file."""
    out = tmp_path / "figures.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "checks_repetition",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "checks_repetition" in proc.stdout and "dev.recall" in proc.stdout
    data = json.loads(out.read_text())
    assert data["quick"] is True and data["machine"]["cpus"] >= 1
    figures = data["benchmarks"]["checks_repetition"]
    _share(figures["dev"]["recall"])
    assert figures["_peak_rss_mb"] > 0 and figures["_seconds"] >= 0


def test_runner_unknown_name():
    proc = subprocess.run([sys.executable, "-m", "bench", "no_such_bench"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown benchmark" in proc.stderr
