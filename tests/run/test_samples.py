"""Several samples per item and paraphrase groups: storage, cache, resume, the group-check
contract (built-in inconsistency check and a third-party plugin)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from html import escape as html_escape
from pathlib import Path

import pytest
from workbench_checks.inconsistency import InconsistencyCheck
from workbench_testing.victims import BLOCKING_CHECK, kill_when_ready, victim_env

from workbench.check.checks import Record, record_from_dict
from workbench.check.runner import answer_groups, run_checks
from workbench.store import Store

WORKBENCH = str(Path(sys.executable).with_name("workbench"))

GROUP_PLUGIN = '''
from workbench import Check, hookimpl


class GroupSize(Check):
    """Reports what one call received: records, answers, and the group names."""

    name = "groupsize"
    category = "groupsize"
    scope = "group"

    def run(self, records):
        n = sum(len(r.answers) for r in records)
        names = sorted({str(r.group) for r in records})
        for r in records:
            yield self.finding(r, flagged=True, score=0.5,
                               message=f"{len(records)} records {n} answers {names}")


@hookimpl
def register_checks(register):
    register(GroupSize)
'''


def _suite(d: Path, n: int, gen: str, groups: bool = False) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        row = {"id": f"q{i:02d}", "prompt": f"Say {i} and {i * 3}"}
        if groups:
            row["group"] = f"g{i // 3}"
        rows.append(json.dumps(row))
    (d / "d.jsonl").write_text("\n".join(rows) + "\n")
    (d / "s.yaml").write_text(f"name: k\ndata: d.jsonl\ngeneration:\n{gen}")
    return d / "s.yaml"


SAMPLED = "  max_new_tokens: 6\n  temperature: 1.0\n  seed: 5\n  samples: 3\n  first: greedy\n"


def _texts(store: Store, run_id: str) -> dict[tuple[str, int], str]:
    outs = store.run_outputs(run_id)
    got = {(r.item_id, 0): r.text for r in outs.itertuples()}
    got.update({(r.item_id, int(r.sample)): r.text
                for r in store.run_samples(run_id).itertuples()})
    return got


def test_samples_stored_cached_and_checked(tmp_path, cli, tiny_model_dir):
    suite = _suite(tmp_path / "s", 6, SAMPLED)
    db = tmp_path / "a.duckdb"
    base = ["run", "--model", f"m={tiny_model_dir}", "--suite", str(suite), "--db", str(db),
            "--json"]
    res = cli(*base, "--batch-size", "4", "--checks", "inconsistency,length")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["samples"], out["samples_generated"], out["generated"]) == (3, 18, 6)
    store = Store(db)
    run_id = out["run_id"]
    texts = _texts(store, run_id)
    assert len(texts) == 18 and len(store.run_outputs(run_id)) == 6
    # the first sample is the greedy answer, the one a plain greedy run gives
    greedy = _suite(tmp_path / "g", 6, "  max_new_tokens: 6\n")
    g = json.loads(cli("run", "--model", f"m={tiny_model_dir}", "--suite", str(greedy),
                       "--db", str(tmp_path / "g.duckdb"), "--json", "--no-checks").stdout)
    gtexts = _texts(Store(tmp_path / "g.duckdb"), g["run_id"])
    assert all(texts[(i, 0)] == t for (i, _), t in gtexts.items())
    # the group check saw every item's three answers; per-output checks saw sample 0 only
    f = store.run_findings(run_id)
    inc = f[f.check_name == "inconsistency"]
    assert len(inc) == 6 and inc.message.str.contains(" in 3").all()
    assert (f.check_name == "length").sum() == 6
    # the export carries every answer, and `workbench check` reads it back as groups
    exported = tmp_path / "e.jsonl"
    assert cli("export", run_id, "--db", str(db), "--out", str(exported)).exit_code == 0
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    assert all(len(r["samples"]) == 3 and r["samples"][0] == r["text"] for r in rows)
    recheck = tmp_path / "r.jsonl"
    recheck.write_text("".join(json.dumps({"id": r["item_id"], "prompt": r["rendered_prompt"],
                                           "output": r["text"], "samples": r["samples"]}) + "\n"
                               for r in rows))
    res = cli("check", str(recheck), "--checks", "inconsistency", "--all-scores")
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 6, res.output
    stored = dict(zip(inc.item_id, inc.score.round(4), strict=True))
    assert {json.loads(x)["id"]: json.loads(x)["score"] for x in res.stdout.splitlines()} == stored

    # same answers at another batch size (each sample has its own seed)
    db2 = tmp_path / "b.duckdb"
    res = cli("run", "--model", f"m={tiny_model_dir}", "--suite", str(suite), "--db", str(db2),
              "--json", "--batch-size", "1", "--no-checks")
    assert _texts(Store(db2), json.loads(res.stdout)["run_id"]) == texts

    # a new run of the same suite takes every sample from the cache
    res = cli(*base, "--new-run", "--no-checks")
    out = json.loads(res.stdout)
    assert (out["generated"], out["cached"], out["samples_generated"]) == (0, 6, 0)
    assert _texts(store, out["run_id"]) == texts


def test_samples_option_keeps_the_greedy_answer_first(tmp_path, cli, tiny_model_dir):
    suite = _suite(tmp_path / "s", 3, "  max_new_tokens: 6\n")
    args = ["run", "--model", f"m={tiny_model_dir}", "--suite", str(suite),
            "--db", str(tmp_path / "a.duckdb"), "--json", "--no-checks"]
    plain = json.loads(cli(*args).stdout)
    res = cli(*args, "--samples", "4")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["run_id"] != plain["run_id"]  # another generation config, another run
    assert (out["cached"], out["samples_generated"]) == (0, 9)  # sample 0 reused from cache
    store = Store(tmp_path / "a.duckdb")
    assert (store.run_outputs(out["run_id"]).text.tolist()
            == store.run_outputs(plain["run_id"]).text.tolist())
    res = cli(*args, "--temperature", "0.5")
    assert res.exit_code == 2 and "--samples" in res.output


def test_greedy_samples_rejected(tmp_path, cli):
    suite = _suite(tmp_path / "s", 2, "  samples: 3\n")
    res = cli("suites", "validate", str(suite))
    assert res.exit_code != 0 and "temperature" in res.output


def _processes_naming(text: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and text in (p / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(p.name))
        except OSError:
            pass
    return found


def test_resume_after_sigkill_mid_samples(tmp_path, cli, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PLUGINS", "")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "blocker.py").write_text(BLOCKING_CHECK)
    n, db, ready = 8, tmp_path / "k.duckdb", tmp_path / "ready"
    args = ["run", "--model", f"m={tiny_model_dir}", "--suite",
            str(_suite(tmp_path / "s", n, SAMPLED)), "--db", str(db), "--batch-size", "2",
            "--plugins-dir", str(plugins), "--json"]
    proc = subprocess.Popen([WORKBENCH, *args], env=victim_env(WB_FAULT_READY=str(ready)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kill_when_ready(proc, ready)
    # the blocking check ran in a process of its own: it dies with the command
    deadline = time.monotonic() + 10
    while _processes_naming(str(db)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_naming(str(db))
    store = Store(db)
    run = store.get_run("latest")
    before = _texts(store, run["run_id"])
    n_items = len(store.run_outputs(run["run_id"]))
    assert 0 < n_items < n and len(before) == 3 * n_items  # whole items only

    res = cli(*args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["resumed"] and out["skipped"] == n_items
    after = _texts(store, run["run_id"])
    assert len(after) == 3 * n and all(after[k] == v for k, v in before.items())
    samples = store.run_samples(run["run_id"])
    assert not samples.duplicated(["output_id", "sample"]).any()
    # the resumed items are the ones a run in one go gives
    fresh = tmp_path / "fresh.duckdb"
    res = cli("run", "--model", f"m={tiny_model_dir}", "--suite",
              str(_suite(tmp_path / "s2", n, SAMPLED)), "--db", str(fresh), "--json",
              "--no-checks")
    assert _texts(Store(fresh), json.loads(res.stdout)["run_id"]) == after


def test_group_contract_through_a_plugin_dir(tmp_path, cli, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PLUGINS", "")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "groupsize.py").write_text(GROUP_PLUGIN)
    suite = _suite(tmp_path / "s", 7, "  max_new_tokens: 4\n", groups=True)
    res = cli("run", "--model", f"m={tiny_model_dir}", "--suite", str(suite),
              "--db", str(tmp_path / "a.duckdb"), "--json", "--batch-size", "2",
              "--plugins-dir", str(plugins), "--checks", "groupsize")
    assert res.exit_code == 0, res.output
    store = Store(tmp_path / "a.duckdb")
    f = store.run_findings(json.loads(res.stdout)["run_id"])
    by_item = dict(zip(f.item_id, f.message, strict=True))
    # groups g0, g1 of three items arrive whole though batches hold two; g2 has one item and
    # one answer: nothing to compare, no finding
    assert by_item == {f"q{i:02d}": f"3 records 3 answers ['g{i // 3}']" for i in range(6)}


# -- the inconsistency check itself ------------------------------------------------------------

def _check(**opts) -> InconsistencyCheck:
    return InconsistencyCheck(opts)


def _rec(rid: str, prompt: str, *answers: str, group: str | None = None) -> Record:
    return Record(id=rid, prompt=prompt, output=answers[0],
                  samples=tuple(answers) if len(answers) > 1 else (), group=group)


def test_inconsistency_clusters_claims():
    q = "What is the capital of Peru?"
    same = _rec("a", q, "The capital of Peru is Lima.", "Lima.", "It is Lima, the capital.",
                "The capital is Lima, a city on the coast.")
    (f,) = _check().run([same])
    assert not f.flagged and f.score == 0.0
    mixed = _rec("b", q, "The capital of Peru is Cusco.", "Lima.", "The capital is Arequipa.",
                 "Lima is the capital.", "Trujillo.")
    (f,) = _check().run([mixed])
    assert f.flagged and f.score == pytest.approx(0.9)  # only the two Limas support each other
    assert "Lima" in f.message and "x2" in f.message
    a, b = f.spans[0]
    assert mixed.output[a:b] == "Cusco" and f.severity == "high"  # outside the majority


def test_inconsistency_numbers_and_yes_no_must_match():
    dates = _rec("d", "When was the bridge built?", "It was built in 1932.",
                 "The bridge was built in 1874.", "Built in 1932.")
    (f,) = _check(threshold=0.3).run([dates])
    assert f.flagged and f.evidence["clusters"] == [2, 1]
    yes_no = [_rec("y", "Is the lake deep?", "Yes, it is deep.", group="g"),
              _rec("n", "Would you say the lake is deep?", "No, it is not deep.", group="g")]
    found = list(_check().run(yes_no))
    assert [x.flagged for x in found] == [True, True]


def test_group_checks_get_whole_groups_with_two_answers():
    recs = [_rec("a", "p", "x", group="g"), _rec("b", "p", "y"), _rec("c", "p", "z", group="g"),
            _rec("d", "p", "u", "v")]
    assert [[r.id for r in g] for g in answer_groups(recs)] == [["a", "c"], ["d"]]
    report = run_checks(recs, [_check()])
    assert sorted(f.record_id for f in report.findings) == ["a", "c", "d"]


def test_records_read_samples_and_group():
    r = record_from_dict({"id": 1, "prompt": "p", "output": "a", "samples": ["b", "c"],
                          "group": 7})
    assert r.samples == ("a", "b", "c") and r.group == "7" and r.answers == ("a", "b", "c")
    with pytest.raises(ValueError, match="samples"):
        record_from_dict({"id": 1, "prompt": "p", "output": "a", "samples": [1]})


def test_item_page_shows_the_samples_side_by_side(tmp_path, cli, tiny_model_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from workbench.dashboard import APP_PATH

    suite, db = _suite(tmp_path / "s", 2, SAMPLED), tmp_path / "a.duckdb"
    res = cli("run", "--model", f"m={tiny_model_dir}", "--suite", str(suite), "--db", str(db),
              "--json", "--checks", "inconsistency")
    assert res.exit_code == 0, res.output
    run_id = json.loads(res.stdout)["run_id"]
    texts = _texts(Store(db), run_id)
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    at = AppTest.from_file(str(APP_PATH), default_timeout=90)
    at.query_params["item"] = "q01"
    at.switch_page("item.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    joined = "".join(h.value for h in at.html)
    assert "all 3 answers" in joined
    for k in range(3):
        assert f"sample {k}</div>" in joined
        assert html_escape(texts[("q01", k)])[:15] in joined
    # each answer's claim is marked (the check's per-answer spans)
    assert joined.count("<mark") >= 3
