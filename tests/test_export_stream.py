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

    def counted(*a):
        calls.append(len(a[0]))
        return real(*a)

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
