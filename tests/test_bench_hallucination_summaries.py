"""The summaries benchmark reads FRANK's layout from $WORKBENCH_FRANK and is skipped without it."""

from __future__ import annotations

import json

from bench import checks_hallucination_summaries as summaries

ARTICLE = (
    "The Vell Bridge was built in 1821 by the engineer Mara Quist. It crosses the river Vell "
    "at the old port of Amber and carries the coast road north to Norland."
)


def _frank(root):
    (root / "articles").mkdir()
    (root / "articles" / "h1.json").write_text(
        json.dumps(
            {
                "article": ARTICLE,
                "m1": "the vell bridge was built in 1821 by mara quist .",
                "m2": "the vell bridge was built in 1902 by tomas brandt in lisbon .",
                "m3": "the bridge carries the coast road north to norland .",
            }
        )
    )
    rows = [
        {"hash": "h1", "model_name": "m1", "dataset": "bbc", "Factuality": "1.0"},
        {"hash": "h1", "model_name": "m2", "dataset": "bbc", "Factuality": "0.0"},
        {"hash": "h1", "model_name": "m3", "dataset": "cnndm", "Factuality": "1.0"},
        # a mixed verdict and an article outside the validation split are left out
        {"hash": "h1", "model_name": "m3", "dataset": "cnndm", "Factuality": "0.5"},
        {"hash": "h2", "model_name": "m1", "dataset": "bbc", "Factuality": "0.0"},
    ]
    (root / "human_annotations.json").write_text(json.dumps(rows))
    (root / "validation_split.txt").write_text("h1\n")


def test_skipped_without_the_data(monkeypatch):
    monkeypatch.delenv("WORKBENCH_FRANK", raising=False)
    assert "skipped" in summaries.run()


def test_figures_on_a_tiny_frank_folder(tmp_path, monkeypatch):
    _frank(tmp_path)
    monkeypatch.setenv("WORKBENCH_FRANK", str(tmp_path))
    rows = summaries.load(tmp_path)
    assert [(r.id, y) for r, y, _ in rows] == [("h1:m1", 0), ("h1:m2", 1), ("h1:m3", 0)]
    f = summaries.run()
    assert f["all"]["summaries"] == 3 and f["all"]["unfaithful"] == 1
    assert f["all"]["recall"] == 1.0 and f["all"]["flag_rate_faithful"] == 0.0
    assert f["all"]["roc_auc"] == 1.0 and f["all"]["flag_rate_faithful_at_recall_0.60"] == 0.0
    assert f["cnndm"]["unfaithful"] == 0 and f["cnndm"]["roc_auc"] is None
