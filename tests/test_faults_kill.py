"""SIGKILL inside each phase: checks, training, a store write; and two writers at once with the
dashboard's queries reading. After a real kill -9 the database opens, nothing stored before is
lost, and a rerun completes without duplicates. (A kill during generation:
tests/test_run_cli.py::test_resume_after_sigkill.)

Each victim signals through a file that it has reached the phase, then blocks there until it is
killed, so the kill always lands inside the phase."""

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

from workbench.store import Store

pytestmark = pytest.mark.slow

WORKBENCH = str(Path(sys.executable).with_name("workbench"))

BLOCKING_CHECK = '''
import os
import time
from pathlib import Path

from workbench import Check, hookimpl


class Blocker(Check):
    """Blocks inside its second batch when $WB_FAULT_READY names a file (then writes it)."""

    name = "blocker"
    category = "blocked"
    calls = 0

    def run(self, records):
        type(self).calls += 1
        ready = os.environ.get("WB_FAULT_READY")
        if ready and type(self).calls == 2:
            Path(ready).write_text("inside a check")
            time.sleep(120)
        for r in records:
            yield self.finding(r, flagged=len(r.output) % 2 == 0, score=0.5)


@hookimpl
def register_checks(register):
    register(Blocker)
'''


def _env(plugins: str | None = "", **extra: str) -> dict[str, str]:
    """The victim's environment: one thread; no entry-point plugins unless ``plugins=None``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **extra}
    env.pop("WORKBENCH_PLUGINS", None)
    return env if plugins is None else {**env, "WORKBENCH_PLUGINS": plugins}


def _kill_when_ready(proc: subprocess.Popen, ready: Path, timeout: float = 150) -> None:
    """SIGKILL ``proc`` as soon as it writes ``ready``; fail if it exits or stalls first."""
    deadline = time.monotonic() + timeout
    try:
        while not ready.exists():
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                pytest.fail(f"the victim exited ({proc.returncode}) before the phase: {err[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the victim never reached the phase")
            time.sleep(0.05)
        time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _suite(d: Path, n: int) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "d.jsonl").write_text("".join(
        json.dumps({"id": f"q{i:03d}", "prompt": f"Say {i} and {i * 3}"}) + "\n" for i in range(n)))
    (d / "s.yaml").write_text("name: k\ndata: d.jsonl\ngeneration:\n  max_new_tokens: 3\n")
    return d / "s.yaml"


def test_sigkill_during_checks(tmp_path, cli, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PLUGINS", "")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "blocker.py").write_text(BLOCKING_CHECK)
    n, db, ready = 8, tmp_path / "k.duckdb", tmp_path / "ready"
    args = ["run", "--model", f"m={tiny_model_dir}", "--suite", str(_suite(tmp_path / "s", n)),
            "--db", str(db), "--batch-size", "2", "--plugins-dir", str(plugins), "--json"]
    proc = subprocess.Popen([WORKBENCH, *args], env=_env(WB_FAULT_READY=str(ready)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _kill_when_ready(proc, ready)

    store = Store(db)  # opens (DuckDB replays its WAL)
    run = store.get_run("latest")
    assert run["status"] == "running"  # no chance to mark it: never 'finished'
    before = store.run_outputs(run["run_id"])
    assert len(before) == 2  # the first batch, written with its findings before the kill
    assert len(store.run_findings(run["run_id"])) == 2

    res = cli(*args)  # the same command, no longer blocking
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["resumed"] and out["run_id"] == run["run_id"]
    assert (out["skipped"], out["generated"]) == (2, n - 2)
    outs = store.run_outputs(run["run_id"])
    assert len(outs) == n and outs.item_id.is_unique
    assert outs.set_index("item_id").loc[before.item_id, "text"].tolist() == before.text.tolist()
    f = store.run_findings(run["run_id"])
    assert len(f) == n and not f.duplicated(["output_id", "check_name"]).any()
    assert store.get_run(run["run_id"])["status"] == "finished" and len(store.list_runs()) == 1


TRAIN_VICTIM = '''
import sys, time
from pathlib import Path
from workbench.loop import train_adapter
from workbench.store import Store

db, base, data, out, ready = sys.argv[1:]


def on_step(step, total, loss):
    if step == 1:
        Path(ready).write_text(f"step 1 of {total}, loss {loss}")
        time.sleep(120)


train_adapter(Store(db), base, data, out_dir=out, on_step=on_step,
              config={"max_steps": 3, "batch_size": 4, "r": 4})
'''


def test_sigkill_during_training(tmp_path, cli, tiny_model_dir):
    rows = [{"messages": [{"role": "user", "content": f"Name colour number {i}."},
                          {"role": "assistant", "content": "Blue is a colour."}]} for i in range(8)]
    data = tmp_path / "sugg.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db, out, ready = tmp_path / "t.duckdb", tmp_path / "adapter", tmp_path / "ready"
    Store(db).upsert_model("seed-model", "seed")  # something stored before the training
    proc = subprocess.Popen(
        [sys.executable, "-c", TRAIN_VICTIM, str(db), str(tiny_model_dir), str(data), str(out),
         str(ready)], env=_env(plugins=None), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _kill_when_ready(proc, ready)
    assert ready.read_text().startswith("step 1 of 3")

    store = Store(db)
    assert "seed-model" in set(store.list_models().model_id)
    from workbench.store.trainings import list_trainings

    assert list_trainings(store).empty  # a killed training is never recorded as one
    assert not out.exists() or not any(out.iterdir())  # no half-saved adapter

    res = cli("train", "--base", tiny_model_dir, "--suggestions", data, "--out", out, "--db", db,
              "--max-steps", "3", "--train-batch-size", "4", "--r", "4", "--json")
    assert res.exit_code == 0, res.output
    done = list_trainings(store)
    assert len(done) == 1 and done.status.iloc[0] == "finished"
    assert (out / "adapter_config.json").exists()
    assert "seed-model" in set(store.list_models().model_id)


STORE_VICTIM = '''
import sys
from pathlib import Path
import pandas as pd
from workbench.store import Store

db, ready, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = Store(db)
df = pd.DataFrame({"output_id": [f"big{i}" for i in range(n)], "run_id": "r-big",
                   "item_id": [f"i{i}" for i in range(n)], "text": ["x" * 300] * n})
Path(ready).write_text("inserting")
store.add_outputs(df)
Path(ready + ".done").write_text("done")
'''


def test_sigkill_during_a_store_write(tmp_path):
    db, ready, n = tmp_path / "w.duckdb", tmp_path / "ready", 200_000
    store = Store(db)
    store.add_outputs(pd.DataFrame({"output_id": ["keep1", "keep2"], "run_id": "r-old",
                                    "item_id": ["a", "b"], "text": ["one", "two"]}))
    proc = subprocess.Popen([sys.executable, "-c", STORE_VICTIM, str(db), str(ready), str(n)],
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    _kill_when_ready(proc, ready)
    finished_first = Path(str(ready) + ".done").exists()

    counts = Store(db).query_df("SELECT run_id, count(*) AS n FROM outputs GROUP BY run_id")
    got = dict(zip(counts.run_id, counts.n, strict=True))
    assert got["r-old"] == 2  # what was there survives
    assert got.get("r-big", 0) in (0, n)  # the killed write is all or nothing
    assert finished_first or got.get("r-big", 0) == 0
    # the rerun of the write completes, without duplicates
    proc = subprocess.run([sys.executable, "-c", STORE_VICTIM, str(db), str(ready), str(n)],
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = Store(db).query_df(
        "SELECT count(*) AS n, count(DISTINCT output_id) AS d FROM outputs WHERE run_id = 'r-big'")
    assert int(counts.n.iloc[0]) == int(counts.d.iloc[0]) == n


DASHBOARD_READER = '''
import sys, time
from workbench.store import Store, queries

db, stop = sys.argv[1], sys.argv[2]
import os
reads = 0
while not os.path.exists(stop):
    if not os.path.exists(db):
        time.sleep(0.05)
        continue
    store = Store(db, read_only=True)
    try:
        queries.totals(store)
        queries.runs(store)
        queries.category_rates(store)
        queries.failures_page(store)
        reads += 1
    except Exception as exc:
        if "needs a schema upgrade" in str(exc) or "does not exist" in str(exc).lower():
            continue  # the writer is still creating the file
        raise
    time.sleep(0.2)
print(reads)
'''


def test_two_writers_and_a_dashboard_reader(tmp_path, tiny_model_dir):
    """Two `workbench run` on one database, the dashboard's queries reading meanwhile: both runs
    finish (the second waits for the lock between short transactions), reads never fail, and
    the file holds each output once."""
    n, db, stop = 6, tmp_path / "two.duckdb", tmp_path / "stop"
    suite = _suite(tmp_path / "s", n)
    reader = subprocess.Popen([sys.executable, "-c", DASHBOARD_READER, str(db), str(stop)],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    writers = [subprocess.Popen(
        [WORKBENCH, "run", "--model", f"{name}={tiny_model_dir}", "--suite", str(suite), "--db",
         str(db), "--batch-size", "2", "--no-checks", "--json"],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")]
    try:
        results = [w.communicate(timeout=300) for w in writers]
    finally:
        stop.write_text("stop")
        reads, reader_err = reader.communicate(timeout=120)
        for w in writers:
            if w.poll() is None:
                w.kill()
    for w, (out, err) in zip(writers, results, strict=True):
        assert w.returncode == 0, err[-2000:]
        assert json.loads(out)["status"] == "finished"
    assert reader.returncode == 0, reader_err[-2000:]
    assert int(reads) >= 1

    store = Store(db)
    runs = store.list_runs()
    assert set(runs.status) == {"finished"}
    for run_id in runs.run_id:
        outs = store.run_outputs(run_id)
        assert len(outs) == n and outs.item_id.is_unique
    total = store.query_df("SELECT count(*) AS n, count(DISTINCT output_id) AS d FROM outputs")
    assert int(total.n.iloc[0]) == int(total.d.iloc[0]) == n * len(runs)
