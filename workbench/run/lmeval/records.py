"""lm-eval's logged samples -> workbench items, outputs and check records.

One lm-eval *sample* is one document of one task, logged once per filter. Each document becomes
one item (``task/doc_id``) and one output:

- generate_until: the generated text (the raw response, before lm-eval's filters);
- multiple_choice: the choice with the highest loglikelihood (what ``acc`` scores);
- loglikelihood: the continuation that was scored; loglikelihood_rolling: empty text.

Per-sample metrics are keyed ``metric`` for lm-eval's default filter ("none") and
``metric,filter`` for the others (lm-eval's own naming), so GSM8K's strict and flexible matches
stay apart.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ...check.checks import Record
from ...store import output_id


def plain(v: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, tuples to lists, NaN kept as None."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)) and getattr(v, "ndim", 0) == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if hasattr(v, "tolist"):
        return plain(v.tolist())
    return str(v)


def dumps(v: Any) -> str:
    return json.dumps(plain(v), sort_keys=True, ensure_ascii=False)


def metric_key(metric: str, filter_name: str) -> str:
    return metric if filter_name in ("none", "", None) else f"{metric},{filter_name}"


@dataclass
class SampleRow:
    """One document of one task, merged over lm-eval's filters."""

    task: str
    doc_id: int
    output_type: str
    doc: dict[str, Any]
    target: Any
    arguments: list[Any]
    resps: list[Any]
    prompt: str
    text: str
    reference: str | None
    choices: list[str] | None = None
    filtered_resps: dict[str, Any] = field(default_factory=dict)
    metrics_by_filter: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_gen_toks: int | None = None

    @property
    def item_id(self) -> str:
        return f"{self.task}/{self.doc_id}"

    @property
    def metrics(self) -> dict[str, Any]:
        """Per-sample metrics, flat: ``acc``, ``exact_match,strict-match``..."""
        out: dict[str, Any] = {}
        for flt, ms in self.metrics_by_filter.items():
            for m, v in ms.items():
                out[metric_key(m, flt)] = plain(v)
        return out


def merge_samples(task_name: str, task: Any, samples: list[dict[str, Any]]) -> list[SampleRow]:
    """lm-eval's samples of one task (one per doc and filter) -> one SampleRow per doc."""
    output_type = task.get_config("output_type") if task is not None else None
    rows: dict[int, SampleRow] = {}
    for s in samples:
        doc_id = int(s["doc_id"])
        flt = s.get("filter", "none")
        row = rows.get(doc_id)
        if row is None:
            row = _new_row(task_name, task, output_type, s)
            rows[doc_id] = row
        row.filtered_resps[flt] = s.get("filtered_resps")
        row.metrics_by_filter[flt] = {m: s[m] for m in s.get("metrics", []) if m in s}
    return [rows[k] for k in sorted(rows)]


def _prompt_text(context: Any) -> str:
    """A context as text; lm-eval's ``JsonChatStr`` (chat messages kept for a server to template)
    as the transcript a served model's chat prompt is keyed by (``lmeval/served.py``)."""
    chat = getattr(context, "prompt", None)
    if isinstance(context, tuple) and isinstance(chat, str):
        from ..backends.openai import TranscriptRenderer

        try:
            return TranscriptRenderer().apply_chat_template(json.loads(chat))
        except (ValueError, TypeError, KeyError):
            return chat
    return str(context)


def _new_row(task_name: str, task: Any, output_type: str | None, s: dict[str, Any]) -> SampleRow:
    args = [list(a) if isinstance(a, (tuple, list)) else [a] for a in s.get("arguments", [])]
    resps = s.get("resps", [])
    doc = s.get("doc") or {}
    target = s.get("target")
    otype = output_type or _guess_type(args)
    prompt = _prompt_text(args[0][0]) if args and args[0] else ""
    choices: list[str] | None = None
    max_gen: int | None = None
    if otype == "generate_until":
        first = resps[0] if resps else []
        text = str(first[0]) if isinstance(first, (list, tuple)) and first else str(first or "")
        kwargs = args[0][1] if args and len(args[0]) > 1 and isinstance(args[0][1], dict) else {}
        max_gen = kwargs.get("max_gen_toks") or kwargs.get("max_new_tokens")
        reference = _first_str(target)
    elif otype == "multiple_choice":
        choices = _choices(task, doc, args)
        lls = [_ll(r) for r in resps]
        best = max(range(len(lls)), key=lambda i: lls[i]) if lls else None
        text = choices[best] if best is not None and best < len(choices) else ""
        reference = _choice_reference(target, choices)
    elif otype == "loglikelihood":
        text = str(args[0][1]) if args and len(args[0]) > 1 else ""
        reference = _first_str(target)
    else:  # loglikelihood_rolling: the document is scored, nothing is produced
        text = ""
        reference = None
    return SampleRow(
        task=task_name,
        doc_id=int(s["doc_id"]),
        output_type=otype,
        doc=doc,
        target=target,
        arguments=args,
        resps=resps,
        prompt=prompt,
        text=text,
        reference=reference,
        choices=choices,
        max_gen_toks=int(max_gen) if max_gen else None,
    )


def _guess_type(args: list[list[Any]]) -> str:
    if args and len(args[0]) > 1 and isinstance(args[0][1], dict):
        return "generate_until"
    if len(args) > 1:
        return "multiple_choice"
    return "loglikelihood" if args and len(args[0]) > 1 else "loglikelihood_rolling"


def _ll(resp: Any) -> float:
    """The loglikelihood in one MC response: [[ll, is_greedy]] (per repeat) or (ll, is_greedy)."""
    r = resp
    while isinstance(r, (list, tuple)) and r and isinstance(r[0], (list, tuple)):
        r = r[0]
    v = r[0] if isinstance(r, (list, tuple)) and r else r
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("-inf")


def _choices(task: Any, doc: dict[str, Any], args: list[list[Any]]) -> list[str]:
    if task is not None:
        try:
            ch = task.doc_to_choice(doc)
            if isinstance(ch, (list, tuple)) and len(ch) == len(args):
                return [str(c) for c in ch]
        except Exception:  # noqa: BLE001 - fall back to the continuations that were scored
            pass
    delim = task.get_config("target_delimiter") if task is not None else " "
    out = []
    for a in args:
        c = str(a[1]) if len(a) > 1 else ""
        out.append(c[len(delim) :] if delim and c.startswith(delim) else c)
    return out


def _choice_reference(target: Any, choices: list[str]) -> str | None:
    t = target[0] if isinstance(target, (list, tuple)) and target else target
    if isinstance(t, bool):
        return None
    if isinstance(t, int) and 0 <= t < len(choices):
        return choices[t]
    return None if t is None else str(t)


def _first_str(target: Any) -> str | None:
    if isinstance(target, (list, tuple)):
        target = target[0] if target else None
    return None if target is None else str(target)


def cache_key(model_key: str, row: SampleRow) -> str:
    h = hashlib.sha256(f"lm-eval\0{model_key}\0{row.output_type}\0".encode())
    h.update(dumps(row.arguments).encode())
    return h.hexdigest()


def count_tokens(tokenizer: Any, text: str) -> int | None:
    if tokenizer is None:
        return None
    try:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])
    except Exception:  # noqa: BLE001 - a backend's tokenizer may not be callable this way
        return None


def item_row(suite_id: str, row: SampleRow) -> dict[str, Any]:
    meta = {
        "task": row.task,
        "doc_id": row.doc_id,
        "output_type": row.output_type,
        "doc": plain(row.doc),
        "target": plain(row.target),
    }
    if row.choices is not None:
        meta["choices"] = row.choices
    return {
        "suite_id": suite_id,
        "item_id": row.item_id,
        "prompt": row.prompt,
        "messages": None,
        "reference": row.reference,
        "context": None,
        "tags": [row.task, row.output_type],
        "split": "eval",
        "meta": json.dumps(meta, sort_keys=True, ensure_ascii=False),
    }


def output_row(
    run_id: str, row: SampleRow, model_key: str, tokenizer: Any, answer: Any = None
) -> dict[str, Any]:
    """One output. ``answer`` (an ``engine_lm.Answer``) is workbench's engine's answer to a
    generate_until document: its cache key (the one custom suites use), token counts, finish
    reason and latency are stored; without it the key is lm-eval's request."""
    if answer is not None:
        o = answer.output
        took = {"tokens_in": o.tokens_in, "tokens_out": o.tokens_out,
                "finish_reason": o.finish_reason, "latency_s": o.latency_s,
                "cache_key": answer.key, "cached": answer.cached}
    else:
        tokens_out = finish = None
        if row.output_type == "generate_until":
            tokens_out = count_tokens(tokenizer, row.text)
            # lm-eval cuts the text at its stop strings and does not say why generation ended
            if tokens_out is not None and row.max_gen_toks and tokens_out >= row.max_gen_toks:
                finish = "length"
            elif tokens_out is not None:
                finish = "stop"
        took = {"tokens_in": count_tokens(tokenizer, row.prompt), "tokens_out": tokens_out,
                "finish_reason": finish, "latency_s": None,
                "cache_key": cache_key(model_key, row), "cached": False}
    return {
        "output_id": output_id(run_id, row.item_id),
        "run_id": run_id,
        "item_id": row.item_id,
        "text": row.text,
        "rendered_prompt": row.prompt,
        **took,
        "metrics": json.dumps(row.metrics, sort_keys=True),
    }


def sample_row(run_id: str, row: SampleRow) -> dict[str, Any]:
    return {
        "output_id": output_id(run_id, row.item_id),
        "run_id": run_id,
        "item_id": row.item_id,
        "task": row.task,
        "doc_id": row.doc_id,
        "output_type": row.output_type,
        "target": dumps(row.target),
        "arguments": dumps(row.arguments),
        "resps": dumps(row.resps),
        "filtered_resps": dumps(row.filtered_resps),
        "metrics": dumps(row.metrics_by_filter),
    }


def check_record(run_id: str, row: SampleRow, finish_reason: str | None) -> Record:
    return Record(
        id=output_id(run_id, row.item_id),
        prompt=row.prompt,
        output=row.text,
        reference=row.reference,
        finish_reason=finish_reason,  # type: ignore[arg-type]
        max_new_tokens=row.max_gen_toks,
        tags=(row.task,),
    )
