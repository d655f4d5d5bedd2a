"""Custom and lm-eval suites on an OpenAI-compatible server (a fake one, served here from a
thread)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from workbench_testing.runs import colour_suite

from workbench.store import Store


class FakeServer(BaseHTTPRequestHandler):
    """/v1/models, /v1/completions and /v1/chat/completions: greedy answers echo the prompt's
    last words; sampled answers name their seed. Every request is kept in ``requests``."""

    requests: list[dict] = []
    fail_with: list[int] = []  # status codes answered (and popped) before the next real answer
    auth: list[str | None] = []  # the Authorization header of every request
    tokenizer = None  # what loglikelihood (echo) requests are tokenized with

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, obj: dict) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [
                {"id": "tiny-chat", "root": "/models/tiny", "max_model_len": 2048}]})
        else:
            self._send(404, {"error": {"message": "no such route"}})

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).auth.append(self.headers.get("Authorization"))
        if type(self).fail_with:
            code = type(self).fail_with.pop(0)
            self._send(code, {"error": {"message": f"busy ({code})"}})
            return
        type(self).requests.append({"path": self.path, **req})
        if req.get("model") != "tiny-chat":
            self._send(404, {"error": {"message": f"model {req.get('model')} not found"}})
            return
        if req.get("echo"):  # lm-eval's loglikelihood request: each prompt token's logprob
            ids = type(self).tokenizer(req["prompt"], add_special_tokens=False).input_ids
            lps = [None] + [-0.1 - ids[i] % 5 for i in range(1, len(ids))] + [-0.1]
            self._send(200, {"choices": [{"index": 0, "text": req["prompt"] + "x", "logprobs": {
                "token_logprobs": lps, "top_logprobs": [None] + [{"t": v} for v in lps[1:]]}}]})
            return
        chat = self.path.endswith("/chat/completions")
        prompt = req["messages"][-1]["content"] if chat else req["prompt"]
        text = ("answer: " + " ".join(prompt.split()[-2:]) if req["temperature"] == 0
                else f"sample {req['seed'] % 1000}")
        stop_reason = None
        for s in req.get("stop") or []:
            if s in text:
                text, stop_reason = text[:text.index(s)], s
        choice = {"finish_reason": "stop", "stop_reason": stop_reason}
        choice.update({"message": {"role": "assistant", "content": text}} if chat
                      else {"text": text})
        self._send(200, {"choices": [choice], "usage": {"prompt_tokens": len(prompt.split()),
                                                        "completion_tokens": len(text.split())}})


@pytest.fixture
def server():
    FakeServer.requests, FakeServer.fail_with, FakeServer.auth = [], [], []
    FakeServer.tokenizer = None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeServer)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def _suite(d: Path, chat: bool, gen: str = "  max_new_tokens: 8\n") -> Path:
    return colour_suite(d, "remote", chat, gen)


@pytest.mark.parametrize("chat", [False, True])
def test_custom_suite_on_a_served_model(tmp_path, cli, server, chat):
    suite, db = _suite(tmp_path / "s", chat), tmp_path / "a.duckdb"
    args = ["run", "--model", f"srv=openai:tiny-chat@{server}", "--suite", str(suite),
            "--db", str(db), "--json"]
    res = cli(*args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["generated"] == 5 and out["n_outputs"] == 5
    outs = Store(db).run_outputs(out["run_id"])
    assert sorted(outs.text) == [f"answer: {i} please" for i in range(5)]
    paths = {r["path"] for r in FakeServer.requests}
    assert paths == {"/v1/chat/completions" if chat else "/v1/completions"}
    assert all(r["temperature"] == 0 and r["max_tokens"] == 8 for r in FakeServer.requests)
    if chat:  # the server applies the chat template: the messages travel as they are
        assert FakeServer.requests[0]["messages"][-1]["role"] == "user"
    assert set(outs.tokens_out) == {3} and set(outs.finish_reason) == {"eos"}
    # unchanged: reported again, nothing sent
    n = len(FakeServer.requests)
    again = json.loads(cli(*args).stdout)
    assert again["reused"] and again["run_id"] == out["run_id"] and len(FakeServer.requests) == n


def test_samples_and_stop_strings_on_a_served_model(tmp_path, cli, server):
    gen = "  max_new_tokens: 8\n  temperature: 0.8\n  samples: 3\n  first: greedy\n  stop: [' please']\n"
    suite, db = _suite(tmp_path / "s", False, gen), tmp_path / "a.duckdb"
    res = cli("run", "--model", f"srv=openai:tiny-chat@{server}", "--suite", str(suite),
              "--db", str(db), "--json", "--batch-size", "2")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["samples_generated"] == 15
    store = Store(db)
    outs = store.run_outputs(out["run_id"])
    assert set(outs.finish_reason) == {"stop"} and "answer: 0" in set(outs.text)
    seeds = [r["seed"] for r in FakeServer.requests if r["temperature"] > 0]
    assert len(seeds) == 10 and len(set(seeds)) == 10  # one seed per sample
    assert len(store.run_samples(out["run_id"])) == 10
    inc = store.run_findings(out["run_id"])
    assert set(inc[inc.check_name == "inconsistency"].item_id) == {f"q{i}" for i in range(5)}


def test_served_model_errors_are_one_line(tmp_path, cli, server):
    suite = _suite(tmp_path / "s", False)
    res = cli("run", "--model", f"srv=openai:other@{server}", "--suite", str(suite),
              "--db", str(tmp_path / "a.duckdb"))
    assert res.exit_code == 2 and "does not serve 'other'" in res.output
    assert "tiny-chat" in res.output and "Traceback" not in res.output
    res = cli("run", "--model", "srv=openai:tiny-chat@http://127.0.0.1:9/v1", "--suite",
              str(suite), "--db", str(tmp_path / "a.duckdb"))
    assert res.exit_code == 2 and "cannot reach the server" in res.output
    res = cli("run", "--model", "srv=openai:tiny-chat", "--suite", str(suite))
    assert res.exit_code == 2 and "openai:MODEL@http" in res.output
    assert not (tmp_path / "a.duckdb").exists()


def test_backend_openai_with_base_url_and_an_api_key_from_a_named_variable(
        tmp_path, cli, server, monkeypatch):
    monkeypatch.setenv("MY_SERVER_KEY", "sk-test-123")
    suite, db = _suite(tmp_path / "s", False), tmp_path / "a.duckdb"
    res = cli("run", "--backend", "openai", "--base-url", server, "--api-key-env",
              "MY_SERVER_KEY", "--model", "srv=tiny-chat", "--suite", str(suite), "--db",
              str(db), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["generated"] == 5
    assert set(FakeServer.auth) == {"Bearer sk-test-123"}
    # the same model as the spec form: the run is found again, nothing is generated
    again = cli("run", "--model", f"srv=openai:tiny-chat@{server}", "--suite", str(suite),
                "--db", str(db), "--json", "--api-key-env", "MY_SERVER_KEY", "--backend",
                "openai", "--base-url", server)
    assert json.loads(again.stdout)["run_id"] == out["run_id"]
    bad = cli("run", "--backend", "openai", "--model", "srv=tiny-chat", "--suite", str(suite))
    assert bad.exit_code == 2 and "--base-url" in bad.output
    bad = cli("run", "--base-url", server, "--model", "srv=tiny-chat", "--suite", str(suite))
    assert bad.exit_code == 2 and "--base-url goes with --backend openai" in bad.output


def test_busy_answers_are_retried_with_backoff_then_fail_in_one_line(
        tmp_path, cli, server, monkeypatch):
    from workbench.run.backends import openai

    monkeypatch.setattr(openai, "RETRIES", 3)
    monkeypatch.setattr(openai, "_backoff", lambda attempt, retry_after=None: 0.01)
    suite, db = _suite(tmp_path / "s", False), tmp_path / "a.duckdb"
    FakeServer.fail_with = [503, 429, 502]  # three busy answers, then the server recovers
    res = cli("run", "--model", f"srv=openai:tiny-chat@{server}", "--suite", str(suite),
              "--db", str(db), "--json", "--batch-size", "1")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["generated"] == 5 and len(FakeServer.requests) == 5
    # a server that stays busy: the run fails in one line, what was answered is kept
    FakeServer.fail_with = [503] * 50
    res = cli("run", "--model", f"srv=openai:tiny-chat@{server}", "--suite",
              str(_suite(tmp_path / "u", False, "  max_new_tokens: 7\n")), "--db", str(db),
              "--batch-size", "1")
    assert res.exit_code != 0
    assert "HTTP 503 (after 4 tries)" in res.output and "Traceback" not in res.output
    # a client error is not retried, and the prompts not yet sent are dropped (one request
    # may already be in flight): retried, the first prompt alone would take four answers;
    # not dropped, every prompt would take one
    FakeServer.fail_with = [400] * 5
    res = cli("run", "--model", f"srv=openai:tiny-chat@{server}", "--suite",
              str(_suite(tmp_path / "t", False, "  max_new_tokens: 9\n")), "--db", str(db),
              "--batch-size", "1")
    assert res.exit_code != 0 and "HTTP 400:" in res.output and len(FakeServer.fail_with) >= 3


def test_backoff_honours_retry_after_and_grows():
    from workbench.run.backends.openai import _backoff

    assert _backoff(0, "2") == 2.0 and _backoff(5, "120") == 30.0
    waits = [_backoff(a) for a in range(6)]
    assert 0.5 <= waits[0] <= 0.625 and 8.0 <= waits[5] <= 10.0
    assert all(b >= a * 0.8 for a, b in zip(waits, waits[1:], strict=False))


# -- lm-eval suites on a served model ------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]
QA = "lm-eval:suites/lm-eval/workbench_qa.yaml"
MC = "lm-eval:suites/lm-eval/workbench_commonsense_mc.yaml"


def test_an_lm_eval_suite_generates_through_the_openai_backend(tmp_path, cli, server,
                                                                monkeypatch):
    """generate_until requests go out as workbench's own (per-item seed, its parameters), keyed
    by the served model's id; a second run is answered from the store."""
    from workbench.run.backends.openai import connect
    from workbench.run.generation import GenerationConfig, prompt_seed
    from workbench.run.run_identity import cache_key

    monkeypatch.chdir(ROOT)  # the task YAML's data paths
    db = tmp_path / "a.duckdb"
    args = ["run", "--model", f"srv=openai:tiny-chat@{server}", "--suite", QA, "--limit", "3",
            "--db", str(db), "--json"]
    res = cli(*args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["generate_until"] == {"cached": 0, "generated": 3} and out["generated"] == 3
    reqs = FakeServer.requests
    assert len(reqs) == 3 and {r["path"] for r in reqs} == {"/v1/completions"}
    gen = GenerationConfig(max_new_tokens=16, stop=["\n", "Question:"])
    assert all(r["temperature"] == 0 and r["max_tokens"] == 16 and r["n"] == 1
               and r["stop"] == gen.stop and r["seed"] == prompt_seed(gen.seed, r["prompt"])
               for r in reqs)
    store = Store(db)
    run = store.get_run(out["run_id"])
    assert run["gen_config"]["backend"] == "local-completions"  # as lm-eval's client recorded it
    fp = connect(f"openai:tiny-chat@{server}", "x").fingerprint
    assert out["model_id"] == fp
    outs = store.run_outputs(out["run_id"])
    assert list(outs.cache_key) == [
        cache_key(fp, p, {**gen.sample_identity(0), "dtype": None}) for p in outs.rendered_prompt]
    assert all(t.startswith("answer: ") for t in outs.text)
    assert list(outs.tokens_out) == [len(t.split()) for t in outs.text]  # the server's usage
    again = json.loads(cli(*args).stdout)
    assert again["generate_until"] == {"cached": 3, "generated": 0} and len(reqs) == 3
    assert list(store.run_outputs(again["run_id"]).cache_key) == list(outs.cache_key)


def test_loglikelihoods_on_a_served_model_go_to_lm_evals_client(tmp_path, cli, server,
                                                                 monkeypatch, tiny_tokenizer):
    monkeypatch.chdir(ROOT)
    db = tmp_path / "a.duckdb"
    # lm-eval's client counts context tokens with a tokenizer: derived from the served name
    # (here none can be loaded) unless --model-args names one
    res = cli("run", "--model", f"srv=openai:tiny-chat@{server}", "--suite", MC, "--limit", "2",
              "--db", str(db))
    assert res.exit_code != 0 and "local-completions client" in res.output
    assert "Traceback" not in res.output and not FakeServer.requests
    tiny_tokenizer.save_pretrained(tmp_path / "tok")
    FakeServer.tokenizer = tiny_tokenizer
    res = cli("run", "--model", f"srv=openai:tiny-chat@{server}", "--suite", MC, "--limit", "2",
              "--db", str(db), "--json", "--model-args",
              f"model=tiny-chat,base_url={server}/completions,tokenizer={tmp_path / 'tok'},"
              "tokenizer_backend=huggingface,tokenized_requests=False")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["generate_until"] == {"cached": 0, "generated": 0} and out["n_outputs"] == 2
    reqs = FakeServer.requests
    assert len(reqs) == 8 and all(r["echo"] and r["logprobs"] == 1 for r in reqs)  # 4 choices
    outs = Store(db).run_outputs(out["run_id"])
    assert all(json.loads(m)["acc"] in (0.0, 1.0) for m in outs.metrics)


def test_a_chat_templated_lm_eval_suite_on_a_served_model_sends_messages(tmp_path, server,
                                                                         monkeypatch):
    """The server applies the chat template: the messages go to /v1/chat/completions, keyed by
    the transcript a custom suite's chat item on the served model is keyed by."""
    from workbench.run.backends.openai import TranscriptRenderer, connect, lmeval_client
    from workbench.run.generation import GenerationConfig
    from workbench.run.lmeval import lmeval_suite, run_lmeval_suite
    from workbench.run.run_identity import cache_key

    monkeypatch.chdir(ROOT)
    spec = f"openai:tiny-chat@{server}"
    suite = lmeval_suite([str(ROOT / "suites/lm-eval/workbench_qa.yaml")])
    suite.spec.chat_template, suite.spec.system = True, "Answer briefly."
    loaded = connect(spec, "srv")
    backend, args = lmeval_client(spec, 2, None)
    store = Store(tmp_path / "a.duckdb")
    run = run_lmeval_suite(store, loaded, suite, backend=backend, model_args=args, limit=2,
                           bootstrap_iters=0, progress=False)
    assert run.summary["generate_until"] == {"cached": 0, "generated": 2}
    reqs = FakeServer.requests
    assert {r["path"] for r in reqs} == {"/v1/chat/completions"}
    assert [m["role"] for m in reqs[0]["messages"]] == ["system", "user"]
    assert reqs[0]["messages"][0]["content"] == "Answer briefly."
    outs = store.run_outputs(run.run_id)
    assert all(t.startswith("answer: ") for t in outs.text)
    gen = {**GenerationConfig(max_new_tokens=16, stop=["\n", "Question:"]).sample_identity(0),
           "dtype": None}
    sent = {TranscriptRenderer().apply_chat_template(r["messages"]) for r in reqs}
    assert set(outs.rendered_prompt) == sent and len(sent) == 2
    assert list(outs.cache_key) == [cache_key(loaded.fingerprint, p, gen)
                                    for p in outs.rendered_prompt]
