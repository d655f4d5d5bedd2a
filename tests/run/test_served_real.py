"""Suites on a real OpenAI-compatible server: ``transformers serve`` on the tiny model.

The server is started on 127.0.0.1 in its own process; the suite runs through it, its findings
are stored; a second run is cut off by killing the server half-way, and the rerun against the
restarted server finishes the run without generating an item twice. An lm-eval suite
generates through it as a custom suite does.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from workbench_testing.runs import write_suite

from bench._serve import Server, free_port
from workbench.store import Store

pytest.importorskip("fastapi", reason="transformers serve needs the serving extra (make test installs it)")
pytest.importorskip("uvicorn", reason="transformers serve needs the serving extra (make test installs it)")


@pytest.fixture
def served(tmp_path, tiny_model_dir):
    srv = Server(tiny_model_dir, free_port(), tmp_path / "serve.log")
    srv.start()
    yield srv
    srv.kill()


def _suite(d: Path, n: int) -> Path:
    rows = [{"id": f"q{i:02d}", "prompt": f"the cat sat on the mat {i}", "reference": "a mat"}
            for i in range(n)]
    return write_suite(d, rows, "name: served\nchecks: [length, repetition]\n"
                                "generation:\n  max_new_tokens: 12\n")


def test_a_custom_suite_runs_on_transformers_serve_and_resumes_after_a_kill(tmp_path, cli,
                                                                            served):
    db = tmp_path / "a.duckdb"
    model = f"srv=openai:{served.model}@{served.url}"
    first = cli("run", "--model", model, "--suite", str(_suite(tmp_path / "s1", 6)),
                "--db", str(db), "--json", "--batch-size", "2")
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["generated"] == 6
    store = Store(db)
    outs = store.run_outputs(out["run_id"])
    assert len(outs) == 6 and set(outs.finish_reason) <= {"eos", "length"}
    assert (outs.tokens_out > 0).all()  # token counts come from the server's usage
    findings = store.run_findings(out["run_id"])
    assert set(findings.check_name) == {"length", "repetition"} and len(findings) == 12

    # a second suite, cut off half-way: the server is killed after 8 of its 24 answers
    suite2, n = _suite(tmp_path / "s2", 24), 24
    before = served.requests_served()

    def killer():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and served.requests_served() - before < 8:
            time.sleep(0.05)
        served.kill()

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    cut = cli("run", "--model", model, "--suite", str(suite2), "--db", str(db), "--batch-size",
              "1")
    t.join(timeout=150)
    assert cut.exit_code != 0
    assert "Traceback" not in cut.output

    served.start()  # the same address: the same model identity
    again = cli("run", "--model", model, "--suite", str(suite2), "--db", str(db), "--json",
                "--batch-size", "4")
    assert again.exit_code == 0, again.output
    res = json.loads(again.stdout)
    assert res["resumed"] is True
    assert 0 < res["generated"] < n  # what the cut run stored is not asked for again
    outs2 = store.run_outputs(res["run_id"])
    assert len(outs2) == n and outs2.item_id.is_unique
    f2 = store.run_findings(res["run_id"])
    assert len(f2) == 2 * n and not f2.duplicated(["item_id", "check_name"]).any()


def test_an_lm_eval_suite_runs_on_transformers_serve_through_the_openai_backend(
        tmp_path, cli, served, monkeypatch):
    """generate_until through workbench's served model (token counts from the server's usage,
    the served model's id), the run recorded as lm-eval's local-completions backend."""
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the task YAML's data paths
    db = tmp_path / "a.duckdb"
    before = served.requests_served()
    res = cli("run", "--backend", "openai", "--base-url", served.url, "--model",
              f"srv={served.model}", "--suite", "lm-eval:suites/lm-eval/workbench_qa.yaml",
              "--limit", "3", "--db", str(db), "--json", "--batch-size", "2")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["generated"] == 3 and out["generate_until"] == {"cached": 0, "generated": 3}
    assert out["model_id"].startswith("served-")
    store = Store(db)
    assert store.get_run(out["run_id"])["gen_config"]["backend"] == "local-completions"
    assert served.requests_served() - before >= 3  # the answers came from the server
    outs = store.run_outputs(out["run_id"])
    assert len(outs) == 3 and (outs.tokens_out > 0).all() and not outs.cached.any()
