"""`workbench export` streams a run a chunk of outputs at a time (jsonl, file or stdout): the
same rows as the whole-run frame, never the whole run in memory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from workbench.store import Store
from workbench.store.runs import export_chunks, export_frame


def _big_run(n: int = 23) -> tuple[Store, str]:
    s = Store(Path(os.environ["WORKBENCH_DB"]))
    ids = [f"q{i:03d}" for i in range(n)]
    s.upsert_suite("t@1", "t", "custom", None, "fp", {"name": "t"},
                   pd.DataFrame({"item_id": ids, "prompt": [f"p {i}" for i in ids],
                                 "split": "eval", "tags": [[] for _ in ids]}))
    run_id, _ = s.start_run(model_id="m", model_name="m", suite_id="t@1", config_key="k",
                            gen_config={}, seed=0)
    oids = [f"o{i}" for i in ids]
    findings = pd.DataFrame({
        "output_id": oids[::2], "run_id": run_id, "check_name": "c", "check_version": "1",
        "category": "cat", "flagged": [k % 3 == 0 for k in range(len(oids[::2]))],
        "score": 0.5, "severity": "low", "spans": "[[0, 1]]", "message": "m", "evidence": None,
        "error": None})
    s.add_outputs(pd.DataFrame({"output_id": oids, "run_id": run_id, "item_id": ids,
                                "text": [f"answer {i}" for i in ids], "finish_reason": "eos"}),
                  findings)
    s.finish_run(run_id, {})
    return s, run_id


def test_chunks_hold_the_same_rows_as_the_whole_frame():
    s, run_id = _big_run()
    whole = export_frame(s, run_id)
    for size in (1, 4, 23, 100):
        chunks = list(export_chunks(s, run_id, size=size))
        assert [len(c) for c in chunks][:-1] == [size] * (len(chunks) - 1)
        joined = pd.concat(chunks, ignore_index=True)
        assert joined.to_json(orient="records", lines=True) == \
            whole.to_json(orient="records", lines=True)


def test_export_jsonl_streams_without_building_the_whole_run(tmp_path, cli, monkeypatch):
    s, run_id = _big_run()
    expected = export_frame(s, run_id).to_json(orient="records", lines=True,
                                               force_ascii=False, date_format="iso")
    import workbench.store.runs as runs

    monkeypatch.setattr(runs, "EXPORT_CHUNK", 5)
    calls = []
    real = runs._export_rows

    def counted(*a, **k):
        calls.append(len(a[0]))
        return real(*a, **k)

    monkeypatch.setattr(runs, "_export_rows", counted)

    def whole(*a, **k):
        raise AssertionError("the whole run was built in memory")

    monkeypatch.setattr(runs, "export_frame", whole)
    out = tmp_path / "e.jsonl"
    res = cli("export", run_id, "--out", out)
    assert res.exit_code == 0, res.output
    assert "wrote 23 outputs" in res.output
    assert out.read_text() == expected
    assert calls == [5, 5, 5, 5, 3]
    res = cli("export", run_id, "--out", "-")
    assert res.exit_code == 0
    assert [json.loads(ln)["item_id"] for ln in res.stdout.splitlines()] == \
        [f"q{i:03d}" for i in range(23)]


def _varied_run(n: int = 23) -> tuple[Store, str]:
    """A run whose chunks differ: references, chat messages, findings, errors, verdicts and
    further samples only on some items (a chunk of 5 alone would guess other column types)."""
    from workbench.store.verdicts import record_verdict

    s = Store(Path(os.environ["WORKBENCH_DB"]))
    ids = [f"q{i:03d}" for i in range(n)]
    s.upsert_suite("v@1", "v", "custom", None, "fp", {"name": "v"}, pd.DataFrame({
        "item_id": ids, "prompt": [f"p {i}" for i in ids], "split": "eval",
        "reference": [f"r {i}" if k >= 17 else None for k, i in enumerate(ids)],
        "messages": [json.dumps([{"role": "user", "content": f"m {i}"}]) if k == 12 else None
                     for k, i in enumerate(ids)],
        "tags": [["late"] if k >= 15 else [] for k in range(n)]}))
    run_id, _ = s.start_run(model_id="m", model_name="m", suite_id="v@1", config_key="kv",
                            gen_config={}, seed=0)
    oids = [f"v{i}" for i in ids]
    late = oids[11:]
    findings = pd.DataFrame({
        "output_id": late, "run_id": run_id, "check_name": "c", "check_version": "1",
        "category": "cat", "flagged": [k % 2 == 0 for k in range(len(late))],
        "score": [None if k == 3 else 0.25 * (k % 4) for k in range(len(late))],
        "severity": "low", "spans": ["[[0, 1], [2, 4]]" if k % 2 == 0 else "[]"
                                     for k in range(len(late))],
        "message": "m", "evidence": None,
        "error": ["boom" if k == 5 else None for k in range(len(late))]})
    outs = pd.DataFrame({"output_id": oids, "run_id": run_id, "item_id": ids,
                         "text": [f"answer {i}" for i in ids], "finish_reason": "eos",
                         "tokens_out": [k if k >= 8 else None for k in range(n)],
                         "metrics": [json.dumps({"exact_match": 1.0}) if k >= 17 else None
                                     for k in range(n)]})
    samples = pd.DataFrame({"output_id": oids[20:], "run_id": run_id,
                            "item_id": ids[20:], "sample": 1,
                            "text": [f"other {i}" for i in ids[20:]], "finish_reason": "eos"})
    s.add_outputs(outs, findings, samples)
    record_verdict(s, late[0], "cat", "wrong", check_name="c")
    record_verdict(s, oids[1], "made-up", "missing")
    s.finish_run(run_id, {})
    return s, run_id


def _plain(rows: list[dict]) -> list[dict]:
    return json.loads(json.dumps(rows, default=str))


def test_export_parquet_streams_under_one_schema(tmp_path, cli, monkeypatch):
    import pyarrow.parquet as pq

    s, run_id = _varied_run()
    whole = export_frame(s, run_id)
    whole["metrics"] = [json.dumps(m, ensure_ascii=False) for m in whole["metrics"]]
    expected = _plain(json.loads(whole.to_json(orient="records")))
    import workbench.store.runs as runs

    monkeypatch.setattr(runs, "EXPORT_CHUNK", 5)

    def whole_run(*a, **k):
        raise AssertionError("the whole run was built in memory")

    monkeypatch.setattr(runs, "export_frame", whole_run)
    out = tmp_path / "e.parquet"
    res = cli("export", run_id, "--format", "parquet", "--out", out)
    assert res.exit_code == 0, res.output
    assert "wrote 23 outputs" in res.output
    f = pq.ParquetFile(out)
    assert f.metadata.num_row_groups == 5  # one per chunk of 5 outputs
    got = _plain(f.read().to_pylist())
    assert got == expected
    assert [r["item_id"] for r in got] == [f"q{i:03d}" for i in range(23)]
    assert got[11]["findings"][0]["verdict"] == "wrong" and got[1]["missing"] == ["made-up"]
    assert got[0]["samples"] == ["answer q000"] and got[22]["samples"] == ["answer q022",
                                                                          "other q022"]
    assert got[12]["messages"] == [{"role": "user", "content": "m q012"}]
