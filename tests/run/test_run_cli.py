"""`workbench run/runs/show/export` and the runner: cache, resume after a real kill, checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from workbench_testing.runs import make_suite, run_json
from workbench_testing.varied import build_varied_model

from workbench.store import Store

PLUGIN = '''
from workbench import Check, hookimpl


class Marker(Check):
    name = "marker"
    category = "marked"
    description = "flags outputs of items tagged 'flag'"

    def run(self, records):
        for r in records:
            hit = "flag" in r.tags
            yield self.finding(r, flagged=hit, score=0.9 if hit else 0.1,
                               spans=[(0, min(3, len(r.output)))] if hit else [],
                               message="tagged flag" if hit else "")


@hookimpl
def register_checks(register):
    register(Marker)
'''


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _only_local_plugins(monkeypatch):
    """No entry-point plugins: these tests bring their own check through --plugins-dir."""
    monkeypatch.setenv("WORKBENCH_PLUGINS", "")


@pytest.fixture(scope="module")
def varied_dir(tmp_path_factory, tiny_tokenizer):
    return build_varied_model(tmp_path_factory.mktemp("varied"), tiny_tokenizer)


@pytest.fixture
def plugins_dir(tmp_path):
    d = tmp_path / "plugins"
    d.mkdir()
    (d / "marker.py").write_text(PLUGIN)
    return d


@pytest.mark.slow
def test_run_stores_outputs_and_rerun_is_served_from_cache(tmp_path, cli, varied_dir,
                                                           plugins_dir):
    suite = make_suite(tmp_path / "s", 10, refs={"q0001": "nothing like it"})
    first = run_json(cli, "--model", f"base={varied_dir}", "--suite", suite, "-b", "4",
                     "--plugins-dir", plugins_dir)
    assert (first["items"], first["generated"], first["cached"], first["skipped"]) == (10, 10, 0, 0)
    assert first["findings"] == {"marked": {"checked": 10, "flagged": 3, "errors": 0}}
    assert first["metrics"] == {"exact_match": 0.0, "n_scored": 1}
    store = Store(os.environ["WORKBENCH_DB"])
    outs = store.run_outputs(first["run_id"])
    assert len(outs) == 10 and not outs.cached.any()
    assert set(outs.finish_reason) <= {"eos", "stop", "length"} and (outs.tokens_in > 0).all()

    # same suite, model and checks again: the finished run is reported as it is, without
    # loading the model (a load would fail here) or writing anything
    import workbench.run.models

    def no_load(*a, **k):
        raise AssertionError("the model was loaded")

    before = store.list_runs()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workbench.run.models, "load_model", no_load)
        same = run_json(cli, "--model", f"base={varied_dir}", "--suite", suite,
                        "--plugins-dir", plugins_dir)
    assert same["reused"] and same["run_id"] == first["run_id"] and not same["resumed"]
    assert (same["generated"], same["cached"], same["skipped"]) == (0, 0, 10)
    assert same["findings"] == first["findings"] and same["metrics"] == first["metrics"]
    assert len(store.list_runs()) == len(before)
    # other checks are another run (the outputs come from the cache)
    other = run_json(cli, "--model", f"base={varied_dir}", "--suite", suite, "--no-checks")
    assert other["run_id"] != first["run_id"] and not other["reused"]
    assert (other["generated"], other["cached"], other["findings"]) == (0, 10, {})

    # --new-run: a new run even so, every output copied from the cache
    again = run_json(cli, "--model", f"base={varied_dir}", "--suite", suite,
                     "--plugins-dir", plugins_dir, "--new-run")
    assert again["run_id"] != first["run_id"] and not again["resumed"]
    assert not again["reused"] and (again["generated"], again["cached"]) == (0, 10)
    outs2 = store.run_outputs(again["run_id"])
    assert outs2.cached.all() and list(outs2.text) == list(outs.text)
    assert again["findings"] == first["findings"]

    # references changed (cache keys did not): still cached, metrics recomputed
    texts = dict(zip(outs.item_id, outs.text, strict=True))
    refs = {k: texts[k].upper() + " !" for k in ("q0000", "q0001")} | {"q0002": "no match at all"}
    suite2 = make_suite(tmp_path / "s2", 10, refs=refs)
    third = run_json(cli, "--model", f"base={varied_dir}", "--suite", suite2, "--no-checks")
    assert (third["generated"], third["cached"]) == (0, 10)
    assert third["metrics"]["n_scored"] == 3
    assert third["metrics"]["exact_match"] == pytest.approx(2 / 3, abs=1e-6)
    assert third["findings"] == {}

    # a different generation config is a different cache key
    suite3 = make_suite(tmp_path / "s3", 10, max_new=5)
    fourth = run_json(cli, "--model", f"base={varied_dir}", "--suite", suite3, "--no-checks")
    assert (fourth["generated"], fourth["cached"]) == (10, 0)
    # and so is another dtype (its numerics differ)
    fifth = run_json(cli, "--model", f"base={varied_dir}", "--suite", suite3, "--no-checks",
                     "--dtype", "bfloat16")
    assert (fifth["generated"], fifth["cached"]) == (10, 0)


@pytest.mark.slow
def test_table_output_runs_show_export(tmp_path, cli, varied_dir, plugins_dir):
    suite = make_suite(tmp_path / "s", 8, refs={"q0000": "blue"})
    r = cli("run", "--model", f"base={varied_dir}", "--suite", suite, "--plugins-dir", plugins_dir)
    assert r.exit_code == 0, r.output
    for needle in ("base", "generated", "marked 2", "0.000", "(n=1)"):
        assert needle in r.stdout, r.stdout
    store = Store(os.environ["WORKBENCH_DB"])
    run_id = store.resolve_run("latest")

    runs = json.loads(cli("runs", "--json").stdout)
    assert [x["run_id"] for x in runs] == [run_id]
    assert runs[0]["status"] == "finished" and runs[0]["n_outputs"] == 8
    assert run_id in cli("runs").stdout

    shown = json.loads(cli("show", run_id[:5], "--json", "--limit", "3").stdout)
    assert shown["run"]["run_id"] == run_id and shown["metrics"]["n_outputs"] == 8
    assert shown["findings"][0]["category"] == "marked" and shown["findings"][0]["flagged"] == 2
    assert len(shown["flagged"]) == 2
    assert {f["item_id"] for f in shown["flagged"]} == {"q0000", "q0004"}
    text = cli("show", "latest").stdout
    assert "q0000" in text and "marked" in text and "tagged flag" in text
    assert cli("show", "zzzz").exit_code == 2

    out = tmp_path / "export.jsonl"
    assert cli("export", "latest", "--out", out).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 8
    by_id = {x["item_id"]: x for x in rows}
    assert by_id["q0000"]["reference"] == "blue" and by_id["q0000"]["flagged"] == ["marked"]
    assert by_id["q0000"]["findings"][0]["check"] == "marker"
    assert by_id["q0001"]["flagged"] == [] and by_id["q0001"]["findings"][0]["flagged"] is False
    assert {"text", "prompt", "rendered_prompt", "finish_reason", "tokens_out", "metrics"} <= set(
        by_id["q0000"])
    pq = tmp_path / "export.parquet"
    assert cli("export", run_id, "--format", "parquet", "--out", pq).exit_code == 0
    df = pd.read_parquet(pq)
    assert len(df) == 8 and sorted(df.item_id) == sorted(by_id)
    assert cli("export", run_id, "--format", "csv").exit_code == 2


def test_check_selection_options(tmp_path, cli, varied_dir, plugins_dir):
    suite = make_suite(tmp_path / "s", 4)
    res = run_json(cli, "--model", f"base={varied_dir}", "--suite", suite, "--plugins-dir",
                   plugins_dir, "--checks", "marker")
    assert res["findings"]["marked"]["flagged"] == 1
    r = cli("run", "--model", f"base={varied_dir}", "--suite", suite, "--plugins-dir", plugins_dir,
            "--checks", "nope")
    assert r.exit_code == 2 and "unknown check(s): nope" in r.stderr
    r = cli("run", "--model", f"base={varied_dir}", "--suite", suite, "--checks", "marker",
            "--no-checks")
    assert r.exit_code == 2
    # a suite may name checks (with options) itself
    named = make_suite(tmp_path / "n", 4, extra_yaml="checks: [marker]\n")
    res = run_json(cli, "--model", f"base={varied_dir}", "--suite", named, "--plugins-dir",
                   plugins_dir)
    assert res["findings"]["marked"]["checked"] == 4


def test_base_and_adapter_in_one_command(tmp_path, cli, tiny_model_dir, tiny_adapter_dir):
    import warnings

    suite = make_suite(tmp_path / "s", 3, max_new=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_json(cli, "--model", f"base={tiny_model_dir}", "--model",
                       f"tuned={tiny_adapter_dir}", "--suite", suite, "--no-merge")
    # an unmerged adapter passes the KV cache under the argument transformers wants now
    assert not [w for w in caught if "past_key_values" in str(w.message)]
    assert [r["model"] for r in res] == ["base", "tuned"]
    store = Store(os.environ["WORKBENCH_DB"])
    models = store.list_models().set_index("name")
    assert models.loc["tuned", "kind"] == "adapter"
    assert models.loc["tuned", "parent_id"] == models.loc["base", "model_id"]
    assert res[1]["model_id"] != res[0]["model_id"]


def test_bad_model_is_one_line_and_writes_nothing(tmp_path, cli):
    suite = make_suite(tmp_path / "s", 2)
    r = cli("run", "--model", f"base={tmp_path / 'nope'}", "--suite", suite)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: checkpoint not found") and "Traceback" not in r.stderr
    assert not Path(os.environ["WORKBENCH_DB"]).exists()
    r = cli("run", "--model", "a=x", "--model", "a=y", "--suite", suite)
    assert r.exit_code == 2 and "must differ" in r.stderr


def test_chat_suite_uses_the_chat_template(tmp_path, cli, varied_dir):
    d = tmp_path / "chat"
    d.mkdir()
    (d / "data.jsonl").write_text(
        json.dumps({"id": "m1", "messages": [{"role": "user", "content": "Name a colour."}]}) + "\n"
        + json.dumps({"id": "p1", "prompt": "Name a river."}) + "\n")
    (d / "suite.yaml").write_text("name: chat\ndata: data.jsonl\nchat_template: true\n"
                                  "system: Be brief.\ngeneration:\n  max_new_tokens: 4\n")
    res = run_json(cli, "--model", f"m={varied_dir}", "--suite", d / "suite.yaml", "--no-checks")
    outs = Store(os.environ["WORKBENCH_DB"]).run_outputs(res["run_id"]).set_index("item_id")
    assert outs.loc["m1", "rendered_prompt"] == "Be brief.\n\n### Instruction:\nName a colour.\n\n### Response:\n"
    assert outs.loc["p1", "rendered_prompt"].endswith("Name a river.\n\n### Response:\n")


def test_interrupted_run_is_marked_failed_and_resumes(tmp_path, varied_dir):
    from workbench.run.models import load_model
    from workbench.run.runner import run_suite
    from workbench.run.suites import load_suite

    suite = load_suite(make_suite(tmp_path / "s", 9))
    store = Store(tmp_path / "i.duckdb")
    loaded = load_model(str(varied_dir), "base")

    def stop_after_first_batch(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_suite(store, loaded, suite, batch_size=4, checks=[], progress=False,
                  on_progress=stop_after_first_batch)
    run = store.get_run("latest")
    assert run["status"] == "failed" and run["error"] == "interrupted"
    assert len(store.run_outputs(run["run_id"])) == 4
    res = run_suite(store, loaded, suite, batch_size=4, checks=[], progress=False)
    assert res.resumed and res.run_id == run["run_id"]
    assert (res.summary["skipped"], res.summary["generated"], res.summary["cached"]) == (4, 5, 0)
    assert store.get_run(res.run_id)["status"] == "finished"
    assert len(store.run_outputs(res.run_id)) == 9


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path, tiny_model_dir, cli):
    """Kill -9 a real `workbench run` half-way; the rerun finishes only what was missing."""
    n = 100
    suite = make_suite(tmp_path / "big", n, max_new=16)
    db = tmp_path / "kill.duckdb"
    exe = Path(sys.executable).with_name("workbench")
    cmd = [str(exe), "run", "--model", f"base={tiny_model_dir}", "--suite", str(suite),
           "--db", str(db), "--batch-size", "2", "--no-checks", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WORKBENCH_PLUGINS": ""}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stored = 0
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if not db.exists():
                continue
            try:
                stored = count_outputs(db)
            except Exception:  # noqa: BLE001 - the writer holds the file for a moment
                continue
            if stored >= 4:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    store = Store(db)
    run = store.get_run("latest")
    before = len(store.run_outputs(run["run_id"]))
    assert run["status"] == "interrupted"  # no chance to mark it; its process is gone
    assert 4 <= before < n

    res = run_json(cli, *cmd[2:-1])  # the same command again, in-process
    assert res["resumed"] and res["run_id"] == run["run_id"]
    assert (res["skipped"], res["generated"], res["cached"]) == (before, n - before, 0)
    outs = store.run_outputs(run["run_id"])
    assert len(outs) == n and outs.item_id.is_unique
    assert store.get_run(run["run_id"])["status"] == "finished"
    assert len(store.list_runs()) == 1


def count_outputs(db: Path) -> int:
    s = Store(db, read_only=True, lock_timeout=0.2)
    return int(s.query_df("SELECT count(*) AS n FROM outputs").n.iloc[0])


@pytest.mark.slow
def test_cli_import_does_not_load_torch():
    code = "import workbench.cli, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    r = subprocess.run([str(Path(sys.executable).with_name("workbench")), "run", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--model" in r.stdout


def test_metrics_normalise_and_aggregate():
    from workbench.check.metrics import aggregate, check_metric_names, contains, exact_match, score
    from workbench.errors import SuiteError

    assert exact_match("  The Capital is VELL! ", "the capital is vell") == 1.0
    assert exact_match("Vell.", "Vell is it") == 0.0
    assert exact_match("naïve\u00a0café", "NAÏVE café") == 1.0
    assert contains("I think it is Vell, yes.", "vell") == 1.0
    assert contains("Vellum", "vell") == 0.0 and contains("x", "") == 0.0
    assert score("a", None, ["exact_match"]) == {}
    assert aggregate([{"exact_match": 1.0}, {"exact_match": 0.0}, {}, None]) == {
        "exact_match": 0.5, "n_scored": 2}
    with pytest.raises(SuiteError, match="unknown metric"):
        check_metric_names(["exact_match", "bleu"])


def test_finished_run_is_reused_only_when_nothing_that_decides_it_changed(tmp_path, varied_dir):
    from workbench import Check
    from workbench.run.models import load_model
    from workbench.run.runner import run_suite
    from workbench.run.suites import load_suite

    class Count(Check):
        name, category, version = "count", "counted", "1"

        class Options(Check.Options):
            limit: int = 3

        def run(self, records):
            for r in records:
                yield self.finding(r, flagged=len(r.output) > self.options.limit, score=0.5)

    class Broken(Count):
        name = "broken"

        def run(self, records):
            raise RuntimeError("boom")

    suite = load_suite(make_suite(tmp_path / "s", 6))
    store = Store(tmp_path / "r.duckdb")
    loaded = load_model(str(varied_dir), "base")
    first = run_suite(store, loaded, suite, batch_size=4, checks=[Count()], progress=False)
    same = run_suite(store, loaded, suite, batch_size=4, checks=[Count()], progress=False)
    assert same.run_id == first.run_id and same.summary["reused"]
    assert same.summary["findings"] == first.summary["findings"]
    assert same.summary["metrics"] == first.summary["metrics"]
    # another option value, another version: new runs, the outputs from the cache
    opts = run_suite(store, loaded, suite, batch_size=4, checks=[Count({"limit": 99})],
                     progress=False)
    assert opts.run_id != first.run_id and opts.summary["cached"] == 6
    assert opts.summary["findings"]["counted"]["flagged"] == 0

    class Count2(Count):
        version = "2"

    v2 = run_suite(store, loaded, suite, batch_size=4, checks=[Count2()], progress=False)
    assert v2.run_id not in (first.run_id, opts.run_id) and not v2.summary["reused"]
    # a run whose check raised is done again rather than reported as it is
    bad = run_suite(store, loaded, suite, batch_size=4, checks=[Broken()], progress=False)
    again = run_suite(store, loaded, suite, batch_size=4, checks=[Broken()], progress=False)
    assert bad.summary["findings"]["counted"]["errors"] == 6
    assert again.run_id != bad.run_id and not again.summary["reused"]
    # new_run: recorded anew even though nothing changed
    forced = run_suite(store, loaded, suite, batch_size=4, checks=[Count()], progress=False,
                       new_run=True)
    assert forced.run_id != first.run_id and forced.summary["cached"] == 6


def test_version(cli):
    import importlib.metadata as md

    import workbench

    res = cli("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"workbench {workbench.__version__}"
    assert workbench.__version__ == md.version("workbench")


def test_a_later_name_does_not_rename_a_trained_model(cli, tmp_path, tiny_model_dir,
                                                      tiny_adapter_dir):
    """`workbench run --model merged=ADAPTER` on an adapter a training registered: the run is
    named `merged`, the model keeps the name its training gave it (and `trainings` shows it)."""
    from workbench.run.models import identify
    from workbench.store import Store
    from workbench.store.trainings import list_trainings, record_trained_adapter

    fp, _ = identify(str(tiny_adapter_dir))
    store = Store()
    record_trained_adapter(store, {
        "model_id": fp, "name": "base-lora-fix1", "spec": str(tiny_adapter_dir),
        "base": str(tiny_model_dir), "adapter": str(tiny_adapter_dir), "parent_id": "p",
        "meta": {"training_id": "t1", "suggestion_sets": ["s1"]},
    }, {"training_id": "t1", "parent_model_id": "p", "result_model_id": fp, "status": "finished"})
    (tmp_path / "d.jsonl").write_text('{"id": "a", "prompt": "Name a colour."}\n')
    (tmp_path / "s.yaml").write_text("name: s\ndata: d.jsonl\ngeneration: {max_new_tokens: 2}\n")
    res = cli("run", "--model", f"merged={tiny_adapter_dir}", "--suite", tmp_path / "s.yaml",
              "--no-checks", "--json")
    assert res.exit_code == 0, res.output
    model = store.get_model(fp)
    assert model["name"] == "base-lora-fix1" and model["spec"] == str(tiny_adapter_dir)
    assert list_trainings(store).result_name.tolist() == ["base-lora-fix1"]
    assert store.list_runs().model_name.tolist() == ["merged"]  # the run keeps its own name
    # a model no training registered still takes the latest name
    store.upsert_model("plain", "a")
    store.upsert_model("plain", "b")
    assert store.get_model("plain")["name"] == "b"


def test_the_run_summary_prints_whole_in_a_pipe(cli, tmp_path, tiny_model_dir, monkeypatch):
    """Not a terminal (a pipe, a log): the summary table is not cut to 80 columns."""
    monkeypatch.delenv("COLUMNS", raising=False)
    (tmp_path / "d.jsonl").write_text("".join(
        f'{{"id": "q{i}", "prompt": "Name colour {i}.", "reference": "Blue."}}\n'
        for i in range(2)))
    (tmp_path / "s.yaml").write_text("name: s\ndata: d.jsonl\ngeneration: {max_new_tokens: 2}\n"
                                     "metrics: [exact_match, contains]\n")
    name = "a-model-with-a-long-descriptive-name-v2"
    res = cli("run", "--model", f"{name}={tiny_model_dir}", "--suite", tmp_path / "s.yaml")
    assert res.exit_code == 0, res.output
    assert "…" not in res.stdout
    run_id = json.loads(cli("runs", "--json").stdout)[0]["run_id"]
    row = next(line for line in res.stdout.splitlines() if name in line)
    assert run_id in row and "0.000 (n=2)" in row  # each column whole, on the model's line
    assert all(col in res.stdout for col in ("generated", "cached", "flagged"))
