"""The judge benchmark: skipped without a local judge model; with one (a tiny random model
here) it scores the lexical rules, the judge and their combination on the same records."""

from __future__ import annotations

import json

from bench import checks_hallucination_judge as judge_bench

ARTICLE = (
    "The Vell Bridge was built in 1821 by the engineer Mara Quist. It crosses the river Vell "
    "at the old port of Amber and carries the coast road north to Norland."
)


def _frank(root):
    (root / "articles").mkdir()
    summaries = {
        "m1": ("the vell bridge was built in 1821 by mara quist .", "1.0", "bbc"),
        "m2": ("the vell bridge was built in 1902 by tomas brandt in lisbon .", "0.0", "bbc"),
        "m3": ("the bridge carries the coast road north to norland .", "1.0", "cnndm"),
        "m4": ("the bridge was closed in 1990 after a flood .", "0.0", "cnndm"),
    }
    (root / "articles" / "h1.json").write_text(
        json.dumps({"article": ARTICLE, **{m: s for m, (s, _, _) in summaries.items()}})
    )
    rows = [
        {"hash": "h1", "model_name": m, "dataset": d, "Factuality": f}
        for m, (_, f, d) in summaries.items()
    ]
    (root / "human_annotations.json").write_text(json.dumps(rows))
    (root / "validation_split.txt").write_text("h1\n")


def test_skipped_without_a_judge(monkeypatch):
    monkeypatch.delenv("BENCH_JUDGE_MODEL", raising=False)
    assert "skipped" in judge_bench.run()
    assert "skipped" in judge_bench.run(judge="org/not-a-local-folder")


def test_figures_for_lexical_judge_and_combination(
    tmp_path, monkeypatch, tiny_model_dir, one_torch_thread
):
    _frank(tmp_path)
    monkeypatch.setenv("WORKBENCH_FRANK", str(tmp_path))
    cache = tmp_path / "scores.jsonl"
    opts = {"judge_max_context_tokens": 64, "judge_batch_size": 2}
    out = judge_bench.run(str(tiny_model_dir), ["frank"], opts, cache)
    f = out["frank"]["all"]
    assert f["items"] == 4 and f["positives"] == 2
    assert set(f["roc_auc"]) == {"lexical", "judge", "combined_w0.25", "combined_w0.5",
                                 "combined_w0.75"}
    assert all(0.0 <= v <= 1.0 for v in f["roc_auc"].values())
    assert f["roc_auc"]["lexical"] == 1.0  # the unfaithful summaries hold new numbers and names
    assert f["judge_s_per_pair_median"] >= 0
    rows = [json.loads(x) for x in (tmp_path / "scores-frank.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(0.0 < r["judge"] < 1.0 for r in rows)
    # a second run reads every record from the cache and gives the same figures
    assert judge_bench.run(str(tiny_model_dir), ["frank"], opts, cache) == out
