"""lm-eval suites: tasks run through lm-eval on the tiny model, every sample stored and checked."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench.errors import SuiteError, WorkbenchError
from workbench.run.lmeval import (
    LmEvalBackendError,
    lmeval_suite,
    parse_suite_ref,
    run_lmeval_suite,
)
from workbench.run.lmeval.tasks import LmEvalDatasetError, resolve_local_paths, resolve_specs
from workbench.run.suites import load_suite
from workbench.store import Store
from workbench.store.lmeval import run_samples

ROOT = Path(__file__).resolve().parents[2]
TASK_DIR = ROOT / "suites" / "lm-eval"
DEMO = ROOT / "suites" / "lm-eval-demo.yaml"
TASKS = ["workbench_qa", "workbench_commonsense_mc"]
LIMIT = 4


def _loaded(model_dir: Path, name: str = "tiny") -> SimpleNamespace:
    """What workbench.run.models.load_model hands over: model, tokenizer, fingerprint, name."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    return SimpleNamespace(
        model=model,
        tokenizer=tok,
        fingerprint=f"fp-{name}",
        name=name,
        spec=str(model_dir),
        base=str(model_dir),
        adapter=None,
        kind="full",
    )


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return _loaded(tiny_model_dir)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, loaded):
    """The shipped demo suite run once, from a working directory far from the task files."""
    import os

    work = tmp_path_factory.mktemp("elsewhere")
    store = Store(work / "wb.duckdb")
    old = os.getcwd()
    os.chdir(work)
    try:
        run = run_lmeval_suite(store, loaded, load_suite(DEMO), limit=LIMIT, bootstrap_iters=100)
    finally:
        os.chdir(old)
    return store, run


# -- suites ------------------------------------------------------------------------------------
def test_suite_ref_names_tasks_and_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text("task: x\n")
    suite = parse_suite_ref("lm-eval:arc_easy,./t.yaml")
    assert suite is not None and suite.source == "lm-eval"
    assert suite.spec.lm_eval.tasks == ["arc_easy", str(tmp_path / "t.yaml")]
    assert suite.name == "lm-eval:arc_easy,t"
    assert parse_suite_ref("suites/demo.yaml") is None
    with pytest.raises(WorkbenchError, match="no lm-eval task"):
        parse_suite_ref("lm-eval:")
    again = lmeval_suite(["arc_easy", "./t.yaml"])
    assert again.fingerprint == suite.fingerprint


def test_demo_suite_file_is_an_lmeval_suite():
    suite = load_suite(DEMO)
    assert suite.source == "lm-eval" and suite.spec.lm_eval.tasks == TASKS
    names, dirs = resolve_specs(
        suite.spec.lm_eval.tasks, suite.spec.lm_eval.include_path, DEMO.parent
    )
    assert names == TASKS and dirs == [TASK_DIR]


def test_task_given_as_file_or_directory():
    names, dirs = resolve_specs(["lm-eval/workbench_qa.yaml"], [], TASK_DIR.parent)
    assert (names, dirs) == (["workbench_qa"], [TASK_DIR])
    names, dirs = resolve_specs(["lm-eval"], [], TASK_DIR.parent)
    assert sorted(names) == sorted(TASKS) and dirs == [TASK_DIR]
    with pytest.raises(SuiteError, match="task file not found"):
        resolve_specs(["lm-eval/nope.yaml"], [], TASK_DIR.parent)


def test_relative_data_files_resolve_against_the_task_yaml(tmp_path):
    (tmp_path / "d.jsonl").write_text("{}\n")
    cfg = {
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": "d.jsonl", "train": "/abs/x.jsonl"}},
    }
    out = resolve_local_paths(cfg, tmp_path)
    assert out["dataset_kwargs"]["data_files"] == {
        "test": str(tmp_path / "d.jsonl"),
        "train": "/abs/x.jsonl",
    }


def test_validate_reports_lmeval_problems(tmp_path):
    from workbench.run.lmeval import lmeval_problems

    assert lmeval_problems(load_suite(DEMO)) == []
    (tmp_path / "t.yaml").write_text((TASK_DIR / "workbench_qa.yaml").read_text())
    (tmp_path / "s.yaml").write_text(
        "name: s\nlm_eval:\n  tasks: [workbench_qa, ./nope.yaml]\n  include_path: [.]\n"
    )
    (tmp_path / "s2.yaml").write_text("name: s\nlm_eval:\n  tasks: [t.yaml]\n")
    assert lmeval_problems(load_suite(tmp_path / "s.yaml")) == [
        f"{tmp_path / 's.yaml'}: lm-eval task file not found: {tmp_path / 'nope.yaml'}"
    ]
    [msg] = lmeval_problems(load_suite(tmp_path / "s2.yaml"))
    assert "lm-eval task 'workbench_qa': data file not found: qa.jsonl" in msg


# -- running on the tiny model -----------------------------------------------------------------
def test_every_sample_lands_in_the_store(demo_run):
    store, run = demo_run
    assert run.tasks == sorted(TASKS) and run.n_outputs == 2 * LIMIT
    out = store.run_outputs(run.run_id)
    assert sorted(out.item_id) == sorted(f"{t}/{i}" for t in TASKS for i in range(LIMIT))
    items = store.suite_items(run.suite_id)
    assert len(items) == 2 * LIMIT

    data = {
        json.loads(line)["question"]: json.loads(line)
        for f in ("qa.jsonl", "commonsense_mc.jsonl")
        for line in (TASK_DIR / f).read_text().splitlines()
    }
    samples = run_samples(store, run.run_id).set_index("item_id")
    for row in out.itertuples():
        s = samples.loc[row.item_id]
        meta = json.loads(items.set_index("item_id").loc[row.item_id, "meta"])
        doc = data[meta["doc"]["question"]]
        assert row.rendered_prompt == f"Question: {doc['question']}\nAnswer:"
        metrics = json.loads(row.metrics)
        if s.task == "workbench_qa":
            assert s.output_type == "generate_until" and set(metrics) == {"exact_match"}
            assert row.reference == doc["answer"] == s.target
            assert row.text == s.resps[0][0]  # the raw generation, before filters
            assert row.finish_reason in ("stop", "length") and row.tokens_out >= 0
        else:
            assert s.output_type == "multiple_choice" and set(metrics) == {"acc", "acc_norm"}
            lls = [r[0][0] for r in s.resps]
            assert len(lls) == len(doc["choices"])
            assert row.text == doc["choices"][lls.index(max(lls))]
            assert row.reference == doc["choices"][doc["label"]]
            # per-sample correctness is kept: acc says whether the chosen answer is the target
            assert metrics["acc"] == float(row.text == row.reference)
            assert not isinstance(row.finish_reason, str)


def test_generated_answers_go_through_the_checks(demo_run):
    store, run = demo_run
    findings = store.run_findings(run.run_id)
    assert len(findings) == run.n_findings > 0
    assert set(findings.item_id) == {f"workbench_qa/{i}" for i in range(LIMIT)}


def test_task_metrics_land_on_the_run(demo_run):
    store, run = demo_run
    got = store.get_run(run.run_id)
    assert got["status"] == "finished" and got["suite_source"] == "lm-eval"
    m = got["metrics"]
    for key in (
        "workbench_qa/exact_match",
        "workbench_qa/exact_match_stderr",
        "workbench_commonsense_mc/acc",
        "workbench_commonsense_mc/acc_stderr",
        "workbench_commonsense_mc/acc_norm",
    ):
        assert key in m
    out = store.run_outputs(run.run_id)
    mc = [
        json.loads(x)["acc"]
        for i, x in zip(out.item_id, out.metrics, strict=True)
        if i.startswith("workbench_commonsense_mc/")
    ]
    assert m["workbench_commonsense_mc/acc"] == pytest.approx(sum(mc) / len(mc))


def test_same_numbers_as_lm_eval_run_directly(demo_run, tiny_model_dir, monkeypatch):
    """lm_eval.simple_evaluate on the same checkpoint, its own way (cwd = the task dir)."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    store, run = demo_run
    fresh = _loaded(tiny_model_dir)
    monkeypatch.chdir(TASK_DIR)  # plain lm-eval reads data_files relative to the cwd
    direct = lm_eval.simple_evaluate(
        model=HFLM(pretrained=fresh.model, tokenizer=fresh.tokenizer, batch_size=8, device="cpu"),
        tasks=TASKS,
        task_manager=TaskManager(include_path=".", include_defaults=False),
        limit=LIMIT,
        bootstrap_iters=100,
        log_samples=True,
    )
    assert run.results == {k: {m: v for m, v in r.items()} for k, r in direct["results"].items()}
    stored = store.get_run(run.run_id)["metrics"]
    assert (
        stored["workbench_qa/exact_match"] == direct["results"]["workbench_qa"]["exact_match,none"]
    )
    for metric in ("acc", "acc_stderr", "acc_norm", "acc_norm_stderr"):
        assert (
            stored[f"workbench_commonsense_mc/{metric}"]
            == direct["results"]["workbench_commonsense_mc"][f"{metric},none"]
        )
    # and sample by sample
    out = store.run_outputs(run.run_id).set_index("item_id")
    for task in TASKS:
        for s in direct["samples"][task]:
            per = json.loads(out.loc[f"{task}/{s['doc_id']}", "metrics"])
            assert per == {m: s[m] for m in s["metrics"]}


def test_fewshot_and_limit_override(tmp_path, loaded):
    store = Store(tmp_path / "wb.duckdb")
    suite = lmeval_suite([str(TASK_DIR / "workbench_commonsense_mc.yaml")])
    run = run_lmeval_suite(store, loaded, suite, limit=2, num_fewshot=1, bootstrap_iters=0)
    prompts = list(store.run_outputs(run.run_id).rendered_prompt)
    assert len(prompts) == 2 and all(p.count("Question:") == 2 for p in prompts)
    assert store.get_run(run.run_id)["gen_config"]["num_fewshot"] == 1
    # the same run again is answered from lm-eval's request cache: nothing reaches the model
    assert run.summary["cached"] == 0
    again = run_lmeval_suite(store, loaded, suite, limit=2, num_fewshot=1, bootstrap_iters=0)
    assert again.run_id != run.run_id and again.summary["cached"] == 2
    assert list(store.run_outputs(again.run_id).metrics) == list(
        store.run_outputs(run.run_id).metrics
    )


def test_chat_template_and_system_come_from_the_suite(tmp_path, loaded):
    suite = lmeval_suite([str(TASK_DIR / "workbench_qa.yaml")], limit=1)
    suite.spec.chat_template, suite.spec.system = True, "Answer briefly."
    store = Store(tmp_path / "wb.duckdb")
    run = run_lmeval_suite(store, loaded, suite, bootstrap_iters=0, progress=False)
    [prompt] = store.run_outputs(run.run_id).rendered_prompt
    # the tiny tokenizer's chat template (workbench.demo.tiny.CHAT_TEMPLATE), applied by lm-eval
    assert prompt == (
        "Answer briefly.\n\n### Instruction:\nQuestion: What is 2 + 3?\nAnswer:\n\n### Response:\n"
    )


def test_runner_dispatches_lmeval_suites(tmp_path, loaded):
    """runner.run_suite hands an lm-eval suite over; checks=[] runs no check."""
    from workbench.run.runner import run_suite

    store = Store(tmp_path / "wb.duckdb")
    suite = lmeval_suite([str(TASK_DIR / "workbench_qa.yaml")], limit=2)
    res = run_suite(store, loaded, suite, checks=[], progress=False)
    assert res.summary["source"] == "lm-eval" and res.summary["items"] == 2
    assert res.summary["generated"] == 2 and res.summary["findings"] == {}
    assert len(store.run_outputs(res.run_id)) == 2 and store.run_findings(res.run_id).empty
    with pytest.raises(WorkbenchError, match="only the eval split"):
        run_suite(store, loaded, suite, split="train")


@pytest.mark.slow
def test_flipped_items_between_two_models(tmp_path, loaded, tiny_adapter_dir):
    """Per-sample correctness lets compare say which items flipped between two checkpoints."""
    from peft import PeftModel

    from workbench.compare.compare import compare_runs

    tuned = _loaded(Path(loaded.spec), name="tuned")
    tuned.model = PeftModel.from_pretrained(tuned.model, tiny_adapter_dir).merge_and_unload()
    tuned.fingerprint = "fp-tuned"
    store = Store(tmp_path / "wb.duckdb")
    suite = lmeval_suite([str(TASK_DIR / "workbench_commonsense_mc.yaml")])
    a = run_lmeval_suite(store, loaded, suite, limit=8, bootstrap_iters=0)
    b = run_lmeval_suite(store, tuned, suite, limit=8, bootstrap_iters=0)
    assert a.suite_id == b.suite_id and a.run_id != b.run_id
    cmp = compare_runs(store, a.run_id, b.run_id)
    changes = cmp.items("acc")
    assert len(changes) == 8
    acc = {
        r: {
            i: json.loads(m)["acc"]
            for i, m in zip(store.run_outputs(r).item_id, store.run_outputs(r).metrics, strict=True)
        }
        for r in (a.run_id, b.run_id)
    }
    for ch in changes:
        was, now = acc[a.run_id][ch.item_id], acc[b.run_id][ch.item_id]
        expected = {
            (0, 1): "fixed",
            (1, 0): "regressed",
            (0, 0): "still_failing",
            (1, 1): "still_passing",
        }[(int(was), int(now))]
        assert ch.transition == expected


# -- errors ------------------------------------------------------------------------------------
def test_hub_dataset_offline_is_one_clear_line(tmp_path, loaded):
    (tmp_path / "arc_copy.yaml").write_text(
        "task: arc_copy\ndataset_path: allenai/ai2_arc\ndataset_name: ARC-Easy\n"
        "output_type: multiple_choice\ntest_split: test\ndoc_to_text: '{{question}}'\n"
        "doc_to_target: 0\ndoc_to_choice: '{{choices.text}}'\nmetric_list:\n  - metric: acc\n"
    )
    store = Store(tmp_path / "wb.duckdb")
    with pytest.raises(LmEvalDatasetError) as err:
        run_lmeval_suite(store, loaded, lmeval_suite([str(tmp_path / "arc_copy.yaml")]))
    msg = str(err.value)
    assert "\n" not in msg
    assert "'allenai/ai2_arc'" in msg and "hub" in msg and "dataset_path: json" in msg
    assert store.list_runs().empty  # nothing half-written
    # `workbench run` finds this out before it loads the checkpoint
    from workbench.run.lmeval import run_lmeval_spec

    suite = lmeval_suite([str(tmp_path / "arc_copy.yaml")])
    with pytest.raises(LmEvalDatasetError):
        run_lmeval_spec(store, suite, "m", "spec", load=lambda: pytest.fail("model loaded"))


def test_missing_local_data_file_is_clear(tmp_path, loaded):
    (tmp_path / "t.yaml").write_text(
        "task: local_missing\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        "    test: nothere.jsonl\ntest_split: test\noutput_type: generate_until\n"
        "doc_to_text: '{{q}}'\ndoc_to_target: '{{a}}'\nmetric_list:\n  - metric: exact_match\n"
    )
    with pytest.raises(LmEvalDatasetError, match="local_missing"):
        run_lmeval_suite(Store(":memory:"), loaded, lmeval_suite([str(tmp_path / "t.yaml")]))


def test_unknown_task_name_suggests_close_names(loaded, monkeypatch):
    import workbench.run.lmeval.tasks as lt

    # lm-eval's own ~15k task files are left out of the index here: they take seconds to scan
    real = lt._manager
    monkeypatch.setattr(lt, "_manager", lambda dirs, include_defaults: real(dirs, False))
    suite = lmeval_suite(["workbench_qa", "workbench_qq"], [str(TASK_DIR)])
    with pytest.raises(SuiteError, match=r"unknown lm-eval task 'workbench_qq'.*workbench_qa"):
        run_lmeval_suite(Store(":memory:"), loaded, suite)


# -- lm-eval's own backends --------------------------------------------------------------------
def test_backend_passthrough_stores_samples(tmp_path):
    """--backend NAME builds lm-eval's own model from model_args; samples are still stored."""
    store = Store(tmp_path / "wb.duckdb")
    suite = load_suite(DEMO)
    run = run_lmeval_suite(
        store, None, suite, backend="dummy", model_args="", limit=3, bootstrap_iters=0
    )
    out = store.run_outputs(run.run_id)
    assert len(out) == 6
    qa = out[out.item_id.str.startswith("workbench_qa/")]
    assert set(qa.text) == {"lol"}  # what lm-eval's dummy model generates
    got = store.get_run(run.run_id)
    assert got["gen_config"]["backend"] == "dummy" and got["model_name"] == "dummy"
    assert "workbench_qa/exact_match" in got["metrics"]
    assert set(store.run_findings(run.run_id).item_id) == set(qa.item_id)
    assert len(run_samples(store, run.run_id)) == 6


def test_vllm_backend_gets_model_args_and_the_checkpoint_id(
    tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch
):
    """No vLLM here: the backend is swapped for lm-eval's dummy model, recording its arguments."""
    from lm_eval.models.dummy import DummyLM

    import workbench.run.lmeval.runner as lme
    from workbench.run.models import load_model

    seen = []

    def fake_backend(name, model_args, batch_size=8, device=None):
        seen.append((name, model_args))
        return DummyLM()

    monkeypatch.setattr(lme, "backend_lm", fake_backend)
    store = Store(tmp_path / "wb.duckdb")
    suite = lmeval_suite([str(TASK_DIR / "workbench_qa.yaml")], limit=1)
    never = lambda: pytest.fail("the checkpoint must not be loaded")  # noqa: E731
    a = lme.run_lmeval_spec(store, suite, "base", str(tiny_model_dir), load=never, backend="vllm")
    b = lme.run_lmeval_spec(
        store, suite, "tuned", str(tiny_adapter_dir), load=never, backend="vllm"
    )
    assert seen[0] == ("vllm", f"pretrained={tiny_model_dir}")
    assert seen[1] == ("vllm", f"pretrained={tiny_model_dir},lora_local_path={tiny_adapter_dir}")
    # the same ids workbench gives these checkpoints when it loads them itself
    assert a.model_id == load_model(str(tiny_model_dir)).fingerprint
    assert b.model_id == load_model(str(tiny_adapter_dir)).fingerprint
    assert len(store.run_outputs(b.run_id)) == 1


def test_unknown_backend_is_a_user_error(tmp_path):
    with pytest.raises(LmEvalBackendError, match="no-such-backend"):
        run_lmeval_suite(
            Store(":memory:"), None, load_suite(DEMO), backend="no-such-backend", limit=1
        )


# -- the command line --------------------------------------------------------------------------
def test_cli_runs_an_lmeval_suite_file(cli, tiny_model_dir, tmp_path):
    db = tmp_path / "wb.duckdb"
    r = cli(
        "run",
        "--model",
        f"tiny={tiny_model_dir}",
        "--suite",
        DEMO,
        "--limit",
        3,
        "--db",
        db,
        "--json",
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["source"] == "lm-eval" and summary["items"] == 6 and summary["generated"] == 3
    assert "workbench_commonsense_mc/acc" in summary["metrics"]
    run = Store(db).get_run(summary["run_id"])
    assert run["gen_config"]["limit"] == 3 and run["model_name"] == "tiny"


def test_cli_lm_eval_prefix_and_backend(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    db = tmp_path / "wb.duckdb"
    r = cli(
        "run",
        "--model",
        "fake=some/model",
        "--suite",
        "lm-eval:suites/lm-eval/workbench_qa.yaml",
        "--backend",
        "dummy",
        "--model-args",
        "",
        "--limit",
        2,
        "--db",
        db,
        "--json",
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["suite"] == "lm-eval:workbench_qa" and summary["model"] == "fake"
    assert set(Store(db).run_outputs(summary["run_id"]).text) == {"lol"}


def test_cli_lmeval_options_need_an_lmeval_suite(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from workbench.cli import UserError, app

    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nitems:\n  - {id: 1, prompt: hi}\n")
    args = [
        "run",
        "--model",
        f"tiny={tiny_model_dir}",
        "--suite",
        str(suite),
        "--limit",
        "2",
        "--db",
        str(tmp_path / "wb.duckdb"),
    ]
    res = CliRunner().invoke(app, args)
    msg = str(res.exception) if isinstance(res.exception, UserError) else res.output
    assert isinstance(res.exception, UserError) or res.exit_code == 2
    assert "--limit: only for lm-eval suites" in msg


def test_workbench_qa_scores_an_answer_with_surrounding_space(monkeypatch):
    """A model answers " 5" after "Answer:": the shipped task scores it as right (surrounding
    whitespace, case and punctuation do not count), and a wrong answer still as wrong."""
    from lm_eval.tasks import TaskManager, get_task_dict

    monkeypatch.chdir(TASK_DIR)  # plain lm-eval reads data_files against the working directory
    task = get_task_dict(["workbench_qa"], TaskManager(include_path=str(TASK_DIR)))["workbench_qa"]
    doc = next(d for d in task.test_docs() if d["answer"] == "5")
    score = {a: task.process_results(doc, [a])["exact_match"]
             for a in (" 5", "5", " 5.", "5 ", "\n5\n", " 6", " 56", "5 5")}
    assert score == {" 5": 1, "5": 1, " 5.": 1, "5 ": 1, "\n5\n": 1, " 6": 0, " 56": 0, "5 5": 0}
