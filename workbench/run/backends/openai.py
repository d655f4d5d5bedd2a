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


def _request(url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if key := os.environ.get("OPENAI_API_KEY"):
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        try:
            detail = json.loads(body).get("error", body)
            detail = detail.get("message", detail) if isinstance(detail, dict) else detail
        except (ValueError, AttributeError):
            detail = body
        raise WorkbenchError(f"{url}: HTTP {exc.code}: {str(detail)[:300]}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelLoadError(f"cannot reach the server at {url}: {reason}") from None
    except ValueError:
        raise WorkbenchError(f"{url}: the server's answer is not JSON") from None


@dataclass
class ServedModel(LoadedModel):
    """A model behind an OpenAI-compatible endpoint, used where a LoadedModel is: no weights
    here (``model`` is None), a transcript renderer for a tokenizer."""

    served: str = ""
    base_url: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def max_length(self) -> int | None:
        v = self.info.get("max_model_len")
        return v if isinstance(v, int) and v > 0 else None

    def generate(self, prompts: Sequence[Any], config: Any, batch_size: int,
                 on_batch: Callable[[list[int], list[Any]], None] | None,
                 samples: Sequence[int] | None) -> list[Any]:
        """One output per prompt, ``batch_size`` requests in flight (see the module doc)."""
        from ..generation import _row_seed

        results: list[Any] = [None] * len(prompts)
        pending_idx: list[int] = []
        pending_out: list[Any] = []

        def one(i: int) -> Any:
            sample = samples[i] if samples is not None else 0
            greedy = config.greedy or (sample == 0 and config.first == "greedy")
            p = prompts[i]
            seed_text = json.dumps(p, sort_keys=True)
            ids = list(hashlib.blake2b(seed_text.encode(), digest_size=16).digest())
            return self._complete(p, config, greedy, _row_seed(config.seed, ids, sample))

        with ThreadPoolExecutor(max_workers=max(1, batch_size)) as pool:
            for i, out in zip(range(len(prompts)), pool.map(one, range(len(prompts))),
                              strict=True):
                results[i] = out
                pending_idx.append(i)
                pending_out.append(out)
                if on_batch is not None and len(pending_idx) >= batch_size:
                    on_batch(list(pending_idx), list(pending_out))
                    pending_idx.clear()
                    pending_out.clear()
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
                        payload)
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


def identify(spec: str) -> str:
    """The fingerprint of a served model: endpoint, name and what ``/v1/models`` says of it."""
    return connect(spec, "served").fingerprint


def connect(spec: str, name: str) -> ServedModel:
    """Check that the server serves MODEL and describe it; ModelLoadError in one line if not."""
    served, url = parse_spec(spec)
    listing = _request(f"{url}/models")
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
                       meta={"endpoint": url, **info}, served=served, base_url=url, info=info)
