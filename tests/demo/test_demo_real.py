"""The default demo on the real model (SmolLM2-135M-Instruct), end to end.

Minutes of CPU and the model from the package registry (or WORKBENCH_SMOLLM2_WHEEL): selected
with `make test-real` (pytest -m realmodel), never in `make test`.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.realmodel


def test_real_demo_closes_the_loop_and_its_verdict_holds_by_the_task_metric(cli, tmp_path):
    res = cli("demo", "--db", tmp_path / "demo.duckdb", "--json", "--examples", "0")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout, parse_constant=lambda c: pytest.fail(f"{c} in --json"))
    assert info["model"] == "smollm2-135m" and info["suite"] == "facts"
    assert info["items"] == 64
    assert set(info["findings"]) == {"repetition", "length", "misspelling", "hallucination"}
    loop = info["loop"]
    assert loop["rounds"], loop["stopped"]
    cmp = loop["rounds"][0]["vs_base"]
    rows = {(r["kind"], r["name"]): r for r in cmp["rows"]}
    answer = rows[("metric", "answer")]
    # the verdict never reports a win the task metric does not show
    if answer["b"] < answer["a"]:
        assert cmp["verdict"] != "better" and loop["best"] == "base"
    for (kind, _), r in rows.items():
        if kind == "category" and r["status"] == "better":
            assert r["confounded_reason"] is None
    # and the shipped training settings do help: more right answers, by the metric
    assert cmp["verdict"] == "better", cmp["verdict_reason"]
    assert answer["b"] > answer["a"] and answer["status"] == "better"
