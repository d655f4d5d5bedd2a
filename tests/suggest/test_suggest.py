"""suggest(): similar pool rows per failure, category weights, repairs, contamination guard."""

from __future__ import annotations

import json

import pytest
from workbench_checks.repairs import apply_corrections, corrections_from, remove_spans
from workbench_testing.stores import add_run, add_suite

from workbench.errors import WorkbenchError
from workbench.store import Store
from workbench.store import suggestions as sq
from workbench.suggest.suggest import (
    PoolRow,
    SuggestError,
    load_pool_file,
    load_suggestions,
    near_duplicates,
    sample_pool,
    similarity_matrix,
    suggest,
)

EVAL = [
    {"item_id": "e1", "prompt": "What is the capital of Norland?", "reference": "Vell."},
    {"item_id": "e2", "prompt": "Name the longest river in Osterra.", "reference": "The Lune."},
    {"item_id": "e3", "prompt": "Write a note about the weather.", "reference": "It is sunny."},
    {"item_id": "e4", "prompt": "Write a sentence about the mountains of Osterra."},
]
TRAIN = [
    {"item_id": "t1", "prompt": "What is the capital of Westmark?",
     "reference": "The capital of Westmark is Dorn."},
    # the same question as eval item e1: must never be suggested
    {"item_id": "t2", "prompt": "What is the capital of Norland ?", "reference": "Vell."},
    {"item_id": "t3", "prompt": "Which river is the longest in Osterra?",
     "reference": "The Lune is the longest river in Osterra."},
    {"item_id": "t4", "prompt": "Describe the mountains of Westmark.",
     "reference": "The mountains of Westmark are tall and teh snow stays all year."},
    {"item_id": "t5", "prompt": "Name a colour.", "reference": "Blue."},
    {"item_id": "t6", "prompt": "Summarise the text.", "context": "Rain fell on the weather station.",
     "reference": "It rained at the station."},
    # no reference: only the model's own output on it can become a target
    {"item_id": "t7", "prompt": "Explain why the sky is blue."},
]
LOOP = "The sky is blue because air scatters blue light. The sky is blue because air scatters blue light."


def _f(category: str, flagged: bool, **kw) -> dict:
    return {"check": category, "category": category, "flagged": flagged, **kw}


def _findings(flags: set[str], **extra) -> list[dict]:
    return [_f(c, c in flags, **extra.get(c, {}))
            for c in ("hallucination", "misspelling", "repetition")]


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "sug.duckdb")


@pytest.fixture
def run(store) -> str:
    """Eval: e1, e2 hallucinate, e3 misspells 'teh', e4 loops; train: t7 loops (no reference).
    Rates over the 5 judged items: hallucination 2/5, repetition 2/5, misspelling 1/5."""
    add_suite(store, "qa@1", [*EVAL, *[{**t, "split": "train"} for t in TRAIN]])
    half = len(LOOP) // 2
    return add_run(store, "qa@1", "base", {
        "e1": {"text": "Norland's capital is Zed.", "findings": _findings({"hallucination"})},
        "e2": {"text": "The Amazon.", "findings": _findings({"hallucination"})},
        "e3": {"text": "teh sun is out.", "findings": _findings(
            {"misspelling"}, misspelling={"spans": [[0, 3]], "message": "'teh' -> 'the'",
                                          "evidence": {"corrections": {"teh": "the"}}})},
        "e4": {"text": "Mountains mountains mountains.", "findings": _findings({"repetition"})},
        "t7": {"text": LOOP, "findings": _findings(
            {"repetition"}, repetition={"spans": [[half + 1, len(LOOP)]]})},
    })


def test_picks_similar_rows_weights_categories_and_guards(store, run, tmp_path):
    out = tmp_path / "s.jsonl"
    res = suggest(store, run, per_failure=2, out=out)
    by_cat = res.per_category
    # the most failing categories get 2 per failure, misspelling (half their rate) gets 1
    assert {c: v["per_failure"] for c, v in by_cat.items()} == {
        "hallucination": 2, "misspelling": 1, "repetition": 2}
    assert {c: v["failures"] for c, v in by_cat.items()} == {
        "hallucination": 2, "misspelling": 1, "repetition": 2}
    assert all(v["covered"] == v["failures"] for v in by_cat.values())
    rows = {s.pool_row: s for s in res.rows}
    assert "t2" not in rows  # the near-duplicate of e1 ...
    assert res.dropped == 1 and by_cat["hallucination"]["dropped"] == 1  # ... reported
    # e1 (capital of Norland) gets the other capital question, e2 (river) the river question
    cap, river = rows["t1"], rows["t3"]
    assert "e1" in cap.source_item_ids and "e2" in river.source_item_ids
    assert cap.category == river.category == "hallucination"
    assert cap.similarity > 0.3 and f"{run}:e1" in cap.source_output_ids
    assert any(f["item_id"] == "e1" for f in cap.provenance["failures"])
    # e3 (misspelling, weather) gets the weather-station row
    assert rows["t6"].category == "misspelling" and rows["t6"].source_item_ids == ["e3"]
    # every eval item stays out, and rows are unique
    assert not {s.pool_row for s in res.rows} & {"e1", "e2", "e3", "e4"}
    assert len(rows) == len(res.rows)


def test_repairs_misspelling_and_loop(store, run):
    res = suggest(store, run, per_failure=2)
    rows = {s.pool_row: s for s in res.rows}
    # t4's reference carried the misspelling the model made on e3: corrected
    t4 = rows["t4"]
    assert t4.repaired and "teh" not in t4.target and "and the snow" in t4.target
    assert t4.provenance["spelling_fixed"] == ["teh"]
    # t7 had no reference; the model's looping output on it, with the copy cut, is the target
    t7 = rows["t7"]
    assert t7.repaired and t7.target == "The sky is blue because air scatters blue light."
    assert t7.provenance["repair"] == ["loop removed"] and "t7" in t7.source_item_ids
    assert not rows["t1"].repaired


def test_jsonl_and_store_hold_chat_messages(store, run, tmp_path):
    res = suggest(store, run, per_failure=2, out=tmp_path / "{set_id}.jsonl")
    assert res.path == str(tmp_path / f"{res.set_id}.jsonl")
    lines = [json.loads(x) for x in open(res.path, encoding="utf-8")]
    assert len(lines) == len(res.rows) > 0
    for rec, s in zip(lines, res.rows, strict=True):
        assert list(rec) == ["messages"]
        assert [m["role"] for m in rec["messages"]] == ["user", "assistant"]
        assert rec["messages"][1]["content"] == s.target
    t6 = next(r for r, s in zip(lines, res.rows, strict=True) if s.pool_row == "t6")
    assert t6["messages"][0]["content"] == "Summarise the text.\n\nRain fell on the weather station."
    assert load_suggestions(store, res.set_id) == lines == load_suggestions(store, "latest")
    st = sq.get_set(store, res.set_id[:5])
    assert (st["n_suggestions"], st["n_dropped_contaminated"]) == (len(lines), 1)
    db_rows = sq.set_rows(store, res.set_id)
    assert set(db_rows.pool_row) == {s.pool_row for s in res.rows}
    assert all(json.loads(p)["failures"] for p in db_rows.provenance)


def test_max_caps_across_categories(store, run):
    full = suggest(store, run, per_failure=2)
    capped = suggest(store, run, per_failure=2, max_examples=3)
    assert len(capped.rows) == 3 < len(full.rows)
    assert capped.set_id != full.set_id


def test_pool_file_guard_and_formats(store, run, tmp_path):
    pool = tmp_path / "pool.jsonl"
    rows = [
        {"id": "p1", "instruction": "what is the capital of norland", "output": "Vell"},  # dup
        {"id": "p2", "messages": [{"role": "user", "content": "What is the capital city of Eastmark?"},
                                  {"role": "assistant", "content": "Brill."}]},
        {"id": "p3", "prompt": "Which is the longest river of Osterra?", "response": "The Lune."},
        {"id": "p4", "instruction": "Norland capital", "input": "quiz", "output": "Vell"},
    ]
    pool.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = suggest(store, run, pool=pool, per_failure=2)
    picked = {s.pool_row for s in res.rows}
    assert "p1" not in picked and res.dropped >= 1
    assert {"p2", "p3"} <= picked
    p2 = next(s for s in res.rows if s.pool_row == "p2")
    assert p2.messages[-1] == {"role": "assistant", "content": "Brill."}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "output": "no prompt"}\nnot json\n')
    with pytest.raises(WorkbenchError) as err:
        load_pool_file(bad)
    problems = " | ".join(err.value.problems)
    assert "bad.jsonl:1: needs 'messages'" in problems and "bad.jsonl:2: malformed JSON" in problems


def test_no_pool_is_a_clear_error(store):
    add_suite(store, "s@1", [{"item_id": "x", "prompt": "p"}])
    r = add_run(store, "s@1", "m", {"x": {"findings": [_f("repetition", True)]}})
    with pytest.raises(SuggestError, match="no train split"):
        suggest(store, r)


def test_sample_pool_for_replay(store, run):
    got = sample_pool(store, "qa@1", 10, exclude=["t1"])
    ids = {g["id"] for g in got}
    assert ids == {"t3", "t4", "t5", "t6"}  # t2 is contaminated, t7 has no reference
    assert all(g["messages"][-1]["role"] == "assistant" for g in got)
    assert [g["id"] for g in sample_pool(store, "qa@1", 2, seed=3)] == \
        [g["id"] for g in sample_pool(store, "qa@1", 2, seed=3)]


def test_helpers():
    assert corrections_from({"corrections": {"teh": "the"}}, None) == {"teh": "the"}
    assert corrections_from([{"word": "recieve", "suggestion": "receive"}], "") == {
        "recieve": "receive"}
    assert corrections_from({"suggestions": ["the"]}, None, "teh cat", [[0, 3]]) == {"teh": "the"}
    assert corrections_from(None, "misspelled: 'recieve' -> 'receive'") == {"recieve": "receive"}
    assert corrections_from(None, "teh (did you mean the?)") == {"teh": "the"}
    assert apply_corrections("Teh cat saw teh dog; tehran", {"teh": "the"}) == (
        "The cat saw the dog; tehran", ["teh"])
    assert apply_corrections("We met Vell. Vell said hi", {"vell": "well"}) == (
        "We met Vell. Well said hi", ["vell"])
    assert apply_corrections("Vell", {"Vell": "Well"}) == ("Well", ["Vell"])
    assert remove_spans("go on and on and on.", [[5, 19]]) == "go on."
    docs = ["the capital of Westmark", "a red colour"]
    sim = similarity_matrix(["capital of Norland"], docs, "tfidf")
    assert sim[0, 0] > 0.2 and sim[0, 1] == 0.0
    hybrid = similarity_matrix(["capital of Norland"], docs)
    fz = similarity_matrix(["capital of Norland"], docs, "fuzz")
    assert hybrid == pytest.approx((sim + fz) / 2) and hybrid[0, 0] > hybrid[0, 1]
    assert similarity_matrix(["x y"], ["x y z"], "fuzz")[0, 0] == pytest.approx(1.0)
    hits = near_duplicates(["What is the capital of Norland ?", "Name a colour."],
                           ["what is the capital of norland?"], threshold=90)
    assert [h[0] for h in hits] == [0]
    # a templated prompt about another entity is a different question, however high the ratio
    ev = ["What is the Tour river known for?", "Where does the Gafy river flow?"]
    tx = ["What is the Toul river known for?", "what is the tour river known for",
          "Known for what is the Tour river?"]
    assert [h[0] for h in near_duplicates(tx, ev)] == [1, 2]
    assert [h[0] for h in near_duplicates(tx, ev, min_overlap=0.0)] == [0, 1, 2]
    assert PoolRow("1", "Do it.", "with care").text == "Do it.\n\nwith care"


def test_cli_summary_json_and_default_export(store, run, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli("suggest", run, "--db", store.path, "--per-failure", "2")
    assert res.exit_code == 0, res.output
    for word in ("hallucination", "misspelling", "repetition", "dropped 1", "set id:", "repaired"):
        assert word in res.output
    files = list(tmp_path.glob("suggestions-*.jsonl"))
    assert len(files) == 1 and files[0].read_text().count("\n") > 0
    res = cli("suggest", run, "--db", store.path, "--json", "--max", "2",
              "--out", str(tmp_path / "x.jsonl"))
    d = json.loads(res.stdout)
    assert d["n_suggestions"] == 2 and len(d["rows"]) == 2 and d["dropped"] >= 0
    assert d["path"] == str(tmp_path / "x.jsonl")


def test_cut_off_train_output_is_completed_from_its_reference(store):
    add_suite(store, "s@1", [
        {"item_id": "e1", "prompt": "List the planets of the inner solar system."},
        {"item_id": "t1", "prompt": "Which planets of the solar system are giants?", "split": "train",
         "reference": "Jupiter, Saturn, Uranus and Neptune."},
        {"item_id": "t2", "prompt": "List the moons of Mars.", "split": "train"},  # no reference
    ])
    run = add_run(store, "s@1", "m", {
        "e1": {"text": "Mercury, Venus, Earth and", "finish_reason": "length",
               "findings": [_f("length", True)]},
        "t1": {"text": "Jupiter, Saturn,", "finish_reason": "length",
               "findings": [_f("length", True)]},
        "t2": {"text": "Phobos and Deimos and Phobos", "finish_reason": "length",
               "findings": [_f("length", True)]},
    })
    res = suggest(store, run, per_failure=3)
    assert [s.pool_row for s in res.rows] == ["t1"]  # t2: cut off and no reference to finish it
    s = res.rows[0]
    assert s.target == "Jupiter, Saturn, Uranus and Neptune." and s.repaired
    assert s.provenance["repair"] == ["completed from reference"]
    assert s.provenance["replaces_output"] == f"{run}:t1"
    assert {"e1", "t1"} <= set(s.source_item_ids)
    assert res.config["pool_without_target"] == 1


def test_findings_of_the_real_checks_drive_the_repairs(store):
    """The built-in misspelling and repetition checks' evidence and spans, end to end."""
    from workbench_checks.misspelling import MisspellingCheck
    from workbench_checks.repetition import RepetitionCheck

    from workbench.check.checks import Record
    from workbench.check.runner import run_checks

    add_suite(store, "mill@1", [
        {"item_id": "e1", "prompt": "Describe the old mill by the river."},
        {"item_id": "t1", "prompt": "What is the mill on the Lune like?", "split": "train",
         "reference": "The mill on the Lune is beatiful and very old."},
        {"item_id": "t2", "prompt": "Explain what the mill grinds.", "split": "train"},
    ])
    texts = {"e1": "The old mill is beatiful and quiet.",
             "t2": "The mill grinds wheat into flour. " * 3}
    records = [Record(id=k, prompt="", output=v) for k, v in texts.items()]
    report = run_checks(records, [MisspellingCheck(), RepetitionCheck()])
    outputs: dict[str, dict] = {k: {"text": v, "findings": []} for k, v in texts.items()}
    for f in report.findings:
        outputs[f.record_id]["findings"].append({
            "check": f.check, "category": f.category, "flagged": f.flagged,
            "spans": [list(s) for s in f.spans], "message": f.message, "evidence": f.evidence})
    run = add_run(store, "mill@1", "m", outputs)
    res = suggest(store, run, per_failure=2)
    rows = {s.pool_row: s for s in res.rows}
    assert rows["t1"].target == "The mill on the Lune is beautiful and very old."
    assert rows["t1"].provenance["spelling_fixed"] == ["beatiful"]
    assert rows["t2"].target == "The mill grinds wheat into flour."
    assert rows["t2"].provenance["repair"] == ["loop removed"]


def test_cli_user_errors_exit_2(store, run, cli, tmp_path):
    res = cli("suggest", run, "--db", store.path, "--pool", str(tmp_path / "none.jsonl"))
    assert res.exit_code == 2 and "pool file not found" in res.output
    res = cli("suggest", run, "--db", store.path, "--similarity", "bm25")
    assert res.exit_code == 2 and "unknown similarity" in res.output
    res = cli("suggest", run, "--db", store.path, "--out", str(tmp_path / "no" / "x.jsonl"))
    assert res.exit_code == 2 and "directory does not exist" in res.output


def test_cli_lists_and_shows_sets(store, run, cli, tmp_path):
    res = suggest(store, run, per_failure=2, out=tmp_path / "a.jsonl")
    listed = json.loads(cli("suggestions", "--db", store.path, "--json").stdout)
    assert [s["set_id"] for s in listed] == [res.set_id]
    shown = json.loads(cli("suggestions", res.set_id[:6], "--db", store.path, "--json").stdout)
    assert len(shown["rows"]) == len(res.rows)
    assert shown["rows"][0]["messages"][-1]["role"] == "assistant"
    out = cli("suggestions", "latest", "--db", store.path).output
    assert res.set_id in out and "t4" in out and "yes" in out


def test_a_loop_that_ran_out_of_tokens_is_cut_back_to_one_copy(store):
    from workbench_checks.repetition import RepetitionCheck

    from workbench.check.checks import Record

    text = "Bread is made from flour and water. " * 4 + "Bread is made fr"
    f = next(iter(RepetitionCheck().run([Record(id="t1", prompt="", output=text)])))
    assert f.flagged
    add_suite(store, "b@1", [{"item_id": "e1", "prompt": "How is cake made?"},
                             {"item_id": "t1", "prompt": "How is bread made?", "split": "train"}])
    run = add_run(store, "b@1", "m", {"t1": {"text": text, "finish_reason": "length", "findings": [
        {"check": "repetition", "category": "repetition", "spans": [list(s) for s in f.spans]},
        {"check": "length", "category": "length"}]}})
    (s,) = suggest(store, run).rows
    assert s.target == "Bread is made from flour and water." and s.repaired


def test_a_run_without_failures_gives_an_empty_set(store, cli, tmp_path):
    add_suite(store, "s@1", [{"item_id": "e1", "prompt": "Hi?"},
                             {"item_id": "t1", "prompt": "Hello?", "reference": "Hello.",
                              "split": "train"}])
    run = add_run(store, "s@1", "m", {"e1": {"findings": [_f("repetition", False)]}})
    res = suggest(store, run, out=tmp_path / "e.jsonl")
    assert res.rows == [] and res.per_category == {} and res.dropped == 0
    assert (tmp_path / "e.jsonl").read_text() == ""
    assert sq.get_set(store, res.set_id)["n_suggestions"] == 0
    out = cli("suggest", run, "--db", store.path, "--out", str(tmp_path / "f.jsonl")).output
    assert "nothing to suggest" in out


def test_train_outputs_without_findings_are_not_targets(store):
    add_suite(store, "s@1", [
        {"item_id": "e1", "prompt": "Name a river and a lake."},
        {"item_id": "t1", "prompt": "Name a river.", "reference": "The Lune.", "split": "train"},
        {"item_id": "t2", "prompt": "Name a lake.", "split": "train"}])
    run = add_run(store, "s@1", "m", {
        "e1": {"findings": [_f("hallucination", True)]},
        "t1": {}, "t2": {"text": "Lake Teal.", "findings": [_f("hallucination", False)]}})
    res = suggest(store, run)
    # t2 has no reference and its unflagged output is no evidence of a right answer
    assert [(s.pool_row, s.target) for s in res.rows] == [("t1", "The Lune.")]


def test_a_wrong_answer_no_check_flags_is_a_failure_too(store):
    """e1 answers wrongly (answer metric 0) with no finding flagged: it still gets suggestions,
    under the category metric:answer; a metric that is not pass/fail is not read as one."""
    add_suite(store, "qa@2", [*EVAL, *[{**t, "split": "train"} for t in TRAIN]])
    run = add_run(store, "qa@2", "base", {
        "e1": {"text": "Norland's capital is Dorn.", "findings": _findings(set()),
               "metrics": {"answer": 0.0, "bleu": 0.0}},
        "e2": {"text": "The Lune.", "findings": _findings(set()),
               "metrics": {"answer": 1.0, "bleu": 0.4}},
    })
    res = suggest(store, run, per_failure=2)
    assert set(res.per_category) == {"metric:answer"}
    assert res.per_category["metric:answer"]["failures"] == 1
    assert res.rows and all(s.category == "metric:answer" for s in res.rows)
    assert all("e1" in s.source_item_ids for s in res.rows)


def test_missing_finding_fields_stay_none_beside_metric_failures(store):
    """A misspelling finding without a message next to a metric failure: the union of both
    must not turn the missing message into NaN (the correction parser reads it as text)."""
    add_suite(store, "qa@3", [*EVAL, *[{**t, "split": "train"} for t in TRAIN]])
    run = add_run(store, "qa@3", "base", {
        "e3": {"text": "teh sun is out.", "findings": _findings(
            {"misspelling"}, misspelling={"spans": [[0, 3]], "message": None})},
        "e1": {"text": "Norland's capital is Dorn.", "findings": _findings(set()),
               "metrics": {"answer": 0.0}},
    })
    res = suggest(store, run, per_failure=1)
    assert set(res.per_category) == {"misspelling", "metric:answer"}


SHOUT_PLUGIN = '''
from workbench import Check, Repair, hookimpl


class Shouting(Check):
    name = "shouting"
    category = "shouting"

    def run(self, records):
        for r in records:
            yield self.finding(r, flagged=r.output.isupper(), score=1.0,
                               evidence={"calm": r.output.capitalize()})

    def repair(self, finding, record):
        return Repair(finding.evidence["calm"], note="calmed down")

    def target_repair(self, failures):
        def fix(text):
            return Repair(text.replace("!", "."), provenance={"bangs": True}) if "!" in text else None
        return fix


class Broken(Check):
    name = "broken"
    category = "broken"

    def run(self, records):
        return []

    def repair(self, finding, record):
        raise RuntimeError("no idea")


@hookimpl
def register_checks(register):
    register(Shouting)
    register(Broken)
'''


def test_a_third_party_check_supplies_the_repair(store, tmp_path, capsys):
    """suggest knows no category: a plugin's own repair mends the outputs its check flagged,
    its target fix reaches every target; a repair that raises mends nothing (and says so)."""
    from workbench.plugins import get_plugins

    (tmp_path / "plugs").mkdir()
    (tmp_path / "plugs" / "shout.py").write_text(SHOUT_PLUGIN)
    get_plugins([tmp_path / "plugs"])
    add_suite(store, "loud@1", [
        {"item_id": "e1", "prompt": "Greet the river folk."},
        {"item_id": "t1", "prompt": "Greet the mountain folk.", "split": "train"},
        {"item_id": "t2", "prompt": "Greet the river people.", "split": "train"},
        {"item_id": "t3", "prompt": "Greet the folk of the river!", "split": "train",
         "reference": "Hello, river folk!"},
    ])
    shout = {"check": "shouting", "category": "shouting", "evidence": {"calm": "Hello there."}}
    run = add_run(store, "loud@1", "m", {
        "e1": {"text": "HELLO RIVER FOLK", "findings": [
            {**shout, "evidence": {"calm": "Hello river folk."}}]},
        "t1": {"text": "HELLO THERE", "findings": [shout]},
        "t2": {"text": "HELLO PEOPLE", "findings": [
            {**shout, "evidence": {"calm": "Hello people."}},
            {"check": "broken", "category": "broken"}]},
    })
    rows = {s.pool_row: s for s in suggest(store, run, per_failure=3).rows}
    assert rows["t1"].target == "Hello there." and rows["t1"].repaired
    assert rows["t1"].provenance["repair"] == ["calmed down"]
    assert "t2" not in rows  # the broken check could not mend its finding
    assert "'broken' could not repair: RuntimeError: no idea" in capsys.readouterr().err
    assert rows["t3"].target == "Hello, river folk." and rows["t3"].provenance["bangs"] is True
    assert rows["t3"].repaired and "repair" not in rows["t3"].provenance


def test_cli_suggest_loads_the_checks_that_repair_from_a_plugins_dir(store, tmp_path, cli):
    (tmp_path / "plugs").mkdir()
    (tmp_path / "plugs" / "shout.py").write_text(SHOUT_PLUGIN)
    add_suite(store, "loud@1", [{"item_id": "e1", "prompt": "Greet the river folk."},
                                {"item_id": "t1", "prompt": "Greet the mountain folk.", "split": "train"}])
    run = add_run(store, "loud@1", "m", {
        k: {"text": "HELLO", "findings": [{"check": "shouting", "category": "shouting",
                                           "evidence": {"calm": "Hello."}}]} for k in ("e1", "t1")})
    args = ["suggest", run, "--db", store.path, "--json", "--out", tmp_path / "x.jsonl"]
    assert json.loads(cli(*args).stdout)["n_suggestions"] == 0  # no check to mend t1's output
    got = json.loads(cli(*args, "--force", "--plugins-dir", tmp_path / "plugs").stdout)
    assert [r["target"] for r in got["rows"]] == ["Hello."]
