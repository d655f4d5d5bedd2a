"""An lm-eval suite on a served model (``openai:MODEL@URL``): generate_until requests go through
workbench's openai backend (``backends/openai.py``: its retries, backoff, concurrency and token
counts from ``usage``) and the store's output cache, under the served model's cache keys, as a
custom suite's items do; loglikelihood requests go to lm-eval's own ``local-completions`` client,
which reads the server's logprobs.

The client is built the first time a request needs it: a suite that only generates never
builds it (nor loads the tokenizer lm-eval's client loads to count context tokens).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ...errors import WorkbenchError
from .engine_lm import DEFAULT_MAX_GEN_TOKS, EngineLM, behind_cache

BACKEND = "local-completions"  # lm-eval's client, and the backend the run records


class LazyClient:
    """lm-eval's client for the served model, built on first use; until then only the cache
    hook (set by lm-eval's request cache) is kept."""

    max_length = None  # the server cuts contexts itself (its max_model_len)

    def __init__(self, build: Callable[[], Any], max_gen_toks: int = DEFAULT_MAX_GEN_TOKS):
        self.max_gen_toks = max_gen_toks  # the client's default, without building it
        self._build = build
        self._lm: Any = None
        self._hook: Any = None

    def client(self) -> Any:
        if self._lm is None:
            try:
                self._lm = self._build()
            except (OSError, ValueError, ImportError) as exc:  # e.g. a tokenizer not found
                why = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
                raise WorkbenchError(
                    f"lm-eval's {BACKEND} client (for this suite's loglikelihood requests) "
                    f"could not be built: {why}; give "
                    "--model-args with a tokenizer=... it can load") from None
            if self._hook is not None:
                self._lm.set_cache_hook(self._hook)
        return self._lm

    def set_cache_hook(self, hook: Any) -> None:
        self._hook = hook
        if self._lm is not None:
            self._lm.set_cache_hook(hook)

    def loglikelihood(self, requests: list[Any], *a: Any, **k: Any) -> list[Any]:
        return self.client().loglikelihood(requests, *a, **k)

    def loglikelihood_rolling(self, requests: list[Any], *a: Any, **k: Any) -> list[Any]:
        return self.client().loglikelihood_rolling(requests, *a, **k)

    def generate_until(self, requests: list[Any], *a: Any, **k: Any) -> list[Any]:
        return self.client().generate_until(requests, *a, **k)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.client(), name)


class ServedEngineLM(EngineLM):
    """EngineLM on a served model, which applies its own chat template: a chat-templated context
    stays the messages (lm-eval's ``JsonChatStr``, as its own client keeps it), sent to
    ``/v1/chat/completions`` and keyed by the transcript a custom suite's chat item on the
    served model is keyed by."""

    def apply_chat_template(self, chat_history: list[dict[str, str]],
                            add_generation_prompt: bool = True) -> Any:
        from lm_eval.models.api_models import JsonChatStr

        return JsonChatStr(json.dumps(chat_history, ensure_ascii=False))

    def prompt(self, context: Any) -> tuple[str, Any]:
        from lm_eval.models.api_models import JsonChatStr

        if not isinstance(context, JsonChatStr):
            return context, context
        messages = json.loads(context.prompt)
        return self.loaded.tokenizer.apply_chat_template(messages), messages

    @property
    def tokenizer_name(self) -> str:
        return f"served:{self.loaded.fingerprint}"

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return getattr(self.loaded.tokenizer, "chat_template", None)


def served_engine(loaded: Any, store: Any, model_args: str | dict[str, Any] | None,
                  concurrency: int | str, cache: str | None,
                  progress: bool = True) -> tuple[Any, LazyClient]:
    """(the EngineLM that generates on the served model ``loaded``, lm-eval's client that scores
    on it). ``concurrency`` requests are in flight at once; lm-eval's client gets its own from
    ``model_args`` (``backends.openai.lmeval_client``). With ``cache`` the client sits behind
    lm-eval's request cache and generated answers are journaled beside it."""
    from ..backends.openai import SERVED_CONCURRENCY
    from .models import backend_lm

    client = LazyClient(lambda: backend_lm(BACKEND, model_args, 1), _max_gen_toks(model_args))
    front, journal = behind_cache(client, cache)
    n = concurrency if isinstance(concurrency, int) and concurrency > 0 else SERVED_CONCURRENCY
    lm = ServedEngineLM(loaded, store, front, batch_size=n, journal=journal, progress=progress)
    return lm, client


def _max_gen_toks(model_args: str | dict[str, Any] | None) -> int:
    """The ``max_gen_toks`` lm-eval's client takes from ``model_args`` (its default else)."""
    if isinstance(model_args, dict):
        v: Any = model_args.get("max_gen_toks")
    else:
        parts = dict(p.partition("=")[::2] for p in (model_args or "").split(","))
        v = parts.get("max_gen_toks")
    try:
        return int(v) if v is not None else DEFAULT_MAX_GEN_TOKS
    except ValueError:
        return DEFAULT_MAX_GEN_TOKS
