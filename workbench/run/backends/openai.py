"""Generation on an OpenAI-compatible server: vLLM's or SGLang's ``serve``, llama.cpp's server,
TGI, or any endpoint speaking ``/v1/completions`` and ``/v1/chat/completions``.

``--model NAME=openai:MODEL@BASE_URL`` (e.g. ``openai:Qwen/Qwen2.5-0.5B-Instruct@http://localhost:8000/v1``)
runs a custom suite there instead of loading weights here: prompts rendered from the suite's
template go to ``/v1/completions``; chat items (``messages``, or ``chat_template: true``) go to
``/v1/chat/completions`` and the server applies the model's chat template. Outputs are cached,
checked, stored and compared exactly as local ones.

The model's identity (its cache and run key) is the endpoint, the served model name and what
``/v1/models`` says of it (``root``, ``max_model_len``): serving other weights under the same
name at the same address is not seen, so give a new name or use ``--new-run`` then.
Requests run ``batch_size`` at a time; each sample carries its own seed, (seed, sample, prompt)
as in the local engine, so a server that honours ``seed`` (vLLM does) gives the same samples
again. $OPENAI_API_KEY is sent as a bearer token when set.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigError, ModelLoadError, WorkbenchError
from ..models import LoadedModel

PREFIX = "openai:"
TIMEOUT_S = float(os.environ.get("WORKBENCH_OPENAI_TIMEOUT", "600"))


def is_spec(spec: str) -> bool:
    return spec.startswith(PREFIX)


def parse_spec(spec: str) -> tuple[str, str]:
    """``openai:MODEL@BASE_URL`` -> (MODEL, BASE_URL without a trailing slash)."""
    body = spec[len(PREFIX):]
    model, sep, url = body.rpartition("@")
    if not sep or not model or not url.startswith(("http://", "https://")):
        raise ConfigError(f"bad model spec {spec!r}: expected openai:MODEL@http://HOST:PORT/v1")
    return model, url.rstrip("/")


class TranscriptRenderer:
    """Stands in for a tokenizer's chat template: the server applies the real one, and what is
    kept here (the rendered prompt checks read and the cache key hashes) is a plain transcript
    of the messages."""

    chat_template = "server-side"
    bos_token_id = None

    def apply_chat_template(self, messages: Sequence[Mapping[str, str]], tokenize: bool = False,
                            add_generation_prompt: bool = True) -> str:
        text = "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages)
        return text + ("<|assistant|>\n" if add_generation_prompt else "")


RETRIES = int(os.environ.get("WORKBENCH_OPENAI_RETRIES", "4"))
SERVED_CONCURRENCY = 16  # requests in flight when --batch-size is not given
# Answers worth asking again: rate limits and a server that is busy, restarting or overloaded.
RETRY_CODES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


def _backoff(attempt: int, retry_after: str | None = None) -> float:
    """Seconds before try ``attempt + 1``: the server's Retry-After when it gives one (capped),
    else 0.5, 1, 2, 4, 8 s with up to 25% jitter."""
    if retry_after:
        try:
            return min(float(retry_after), 30.0)
        except ValueError:
            pass
    base = min(0.5 * 2**attempt, 8.0)
    return base * (1 + 0.25 * random.random())


def _request(url: str, payload: dict[str, Any] | None = None, *, retries: int = 0,
             key_env: str = DEFAULT_KEY_ENV) -> dict[str, Any]:
    """POST ``payload`` (GET when None) and read the JSON answer. A 429, a 5xx, a timeout or a
    refused or dropped connection is tried again ``retries`` times with backoff; then, or on
    any other error, a one-line WorkbenchError (ModelLoadError when the server is unreachable)."""
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if key := os.environ.get(key_env):
        headers["Authorization"] = f"Bearer {key}"
    for attempt in range(retries + 1):
        last = attempt == retries
        req = urllib.request.Request(url, data=data, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                return json.loads(resp.read().decode())
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            if exc.code in RETRY_CODES and not last:
                time.sleep(_backoff(attempt, exc.headers.get("Retry-After")))
                continue
            try:
                detail = json.loads(body).get("error", body)
                detail = detail.get("message", detail) if isinstance(detail, dict) else detail
            except (ValueError, AttributeError):
                detail = body
            tried = f" (after {attempt + 1} tries)" if attempt else ""
            raise WorkbenchError(f"{url}: HTTP {exc.code}{tried}: {str(detail)[:300]}") from None
        except (urllib.error.URLError, OSError) as exc:
            if not last:
                time.sleep(_backoff(attempt))
                continue
            reason = getattr(exc, "reason", exc)
            tried = f" (after {attempt + 1} tries)" if attempt else ""
            raise ModelLoadError(f"cannot reach the server at {url}{tried}: {reason}") from None
        except ValueError:
            raise WorkbenchError(f"{url}: the server's answer is not JSON") from None
    raise AssertionError("unreachable")


@dataclass
class ServedModel(LoadedModel):
    """A model behind an OpenAI-compatible endpoint, used where a LoadedModel is: no weights
    here (``model`` is None), a transcript renderer for a tokenizer."""

    served: str = ""
    base_url: str = ""
    key_env: str = DEFAULT_KEY_ENV
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def max_length(self) -> int | None:
        v = self.info.get("max_model_len")
        return v if isinstance(v, int) and v > 0 else None

    def generate(self, prompts: Sequence[Any], config: Any, batch_size: int,
                 on_batch: Callable[[list[int], list[Any]], None] | None,
                 samples: Sequence[int] | None) -> list[Any]:
        """One output per prompt, ``batch_size`` requests in flight (see the module doc)."""
        from ..generation import prompt_seed

        results: list[Any] = [None] * len(prompts)
        pending_idx: list[int] = []
        pending_out: list[Any] = []

        def one(i: int) -> Any:
            sample = samples[i] if samples is not None else 0
            greedy = config.greedy or (sample == 0 and config.first == "greedy")
            return self._complete(prompts[i], config, greedy,
                                  prompt_seed(config.seed, prompts[i], sample))

        pool = ThreadPoolExecutor(max_workers=max(1, batch_size))
        try:
            for i, out in zip(range(len(prompts)), pool.map(one, range(len(prompts))),
                              strict=True):
                results[i] = out
                pending_idx.append(i)
                pending_out.append(out)
                if on_batch is not None and len(pending_idx) >= batch_size:
                    on_batch(list(pending_idx), list(pending_out))
                    pending_idx.clear()
                    pending_out.clear()
        except BaseException:
            # a failed request ends the run: the requests not yet sent are dropped, not sent
            # to a server that is failing (those in flight finish; what was answered is kept)
            pool.shutdown(wait=True, cancel_futures=True)
            if on_batch is not None and pending_idx:
                on_batch(pending_idx, pending_out)
            raise
        pool.shutdown(wait=True)
        if on_batch is not None and pending_idx:
            on_batch(pending_idx, pending_out)
        return results

    def _complete(self, prompt: Any, config: Any, greedy: bool, seed: int) -> Any:
        from ..generation import GenOutput

        payload: dict[str, Any] = {
            "model": self.served, "max_tokens": config.max_new_tokens,
            "temperature": 0.0 if greedy else config.temperature,
            "top_p": 1.0 if greedy else config.top_p, "seed": seed, "n": 1,
        }
        if config.stop:
            payload["stop"] = list(config.stop)
        chat = not isinstance(prompt, str)
        if chat:
            payload["messages"] = [dict(m) for m in prompt]
        else:
            payload["prompt"] = prompt
        t0 = time.perf_counter()
        resp = _request(f"{self.base_url}/{'chat/completions' if chat else 'completions'}",
                        payload, retries=RETRIES, key_env=self.key_env)
        try:
            choice = resp["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise WorkbenchError(f"{self.base_url}: an answer without choices: "
                                 f"{json.dumps(resp)[:200]}") from None
        usage = resp.get("usage") or {}
        reason = choice.get("finish_reason")
        stop_reason = choice.get("stop_reason")
        # vLLM names the stop string that ended a completion in ``stop_reason``; servers that
        # do not cannot tell a stop string from the end of the answer: "eos" then
        finish = ("length" if reason == "length"
                  else "stop" if isinstance(stop_reason, str) else "eos")
        return GenOutput(text=text or "", tokens_in=int(usage.get("prompt_tokens") or 0),
                         tokens_out=int(usage.get("completion_tokens") or 0),
                         finish_reason=finish,  # type: ignore[arg-type]
                         latency_s=round(time.perf_counter() - t0, 6))


def lmeval_client(spec: str, concurrency: int, model_args: str | None) -> tuple[str, str]:
    """(lm-eval backend, model_args) of lm-eval's own ``local-completions`` client on
    ``openai:MODEL@URL``, which scores an lm-eval suite's loglikelihood requests there (its
    generate_until requests go through ``ServedModel``: ``lmeval/served.py``): one prompt per
    request (not every server takes a list of prompts), ``concurrency`` requests in flight,
    prompts sent as text. ``model_args`` given by the user replace the derived ones."""
    served, url = parse_spec(spec)
    args = model_args or (f"model={served},base_url={url}/completions,"
                          f"num_concurrent={max(1, concurrency)},max_retries={RETRIES},"
                          "tokenized_requests=False")
    return "local-completions", args


def identify(spec: str, key_env: str | None = None) -> str:
    """The fingerprint of a served model: endpoint, name and what ``/v1/models`` says of it."""
    return connect(spec, "served", key_env=key_env).fingerprint


def connect(spec: str, name: str, key_env: str | None = None) -> ServedModel:
    """Check that the server serves MODEL and describe it; ModelLoadError in one line if not.
    ``key_env`` names the environment variable whose value is sent as the bearer token
    (default $OPENAI_API_KEY)."""
    served, url = parse_spec(spec)
    key_env = key_env or DEFAULT_KEY_ENV
    listing = _request(f"{url}/models", key_env=key_env)
    entries = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(entries, list):
        raise ModelLoadError(f"{url}/models: not an OpenAI-compatible model list")
    found = next((e for e in entries if isinstance(e, dict) and e.get("id") == served), None)
    if found is None:
        names = ", ".join(str(e.get("id")) for e in entries if isinstance(e, dict))
        raise ModelLoadError(f"the server at {url} does not serve {served!r} (it serves: "
                             f"{names or 'nothing'})")
    info = {k: found.get(k) for k in ("root", "max_model_len", "owned_by", "parent")}
    key = json.dumps({"url": url, "model": served, **info}, sort_keys=True, default=str)
    fp = "served-" + hashlib.sha256(key.encode()).hexdigest()[:40]
    return ServedModel(name=name, spec=spec, model=None, tokenizer=TranscriptRenderer(),
                       fingerprint=fp, base=spec, kind="served", device="remote", dtype=None,
                       meta={"endpoint": url, **info}, served=served, base_url=url, info=info,
                       backend="openai",
                       key_env=key_env)
