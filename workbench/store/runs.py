"""Read queries about one run for `workbench show` and `workbench export`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from .store import Store
from .values import from_json


def flagged_outputs(store: Store, run_id: str, limit: int = 5) -> list[dict[str, Any]]:
    """Up to ``limit`` flagged outputs (highest score first) with their flagged findings."""
    if limit <= 0:
        return []
    top = store.query_df(
        "SELECT o.output_id, o.item_id, o.text, o.rendered_prompt AS prompt, o.finish_reason,"
        " max(f.score) AS top_score FROM findings f JOIN outputs o USING (output_id)"
        " WHERE f.run_id = ? AND f.flagged GROUP BY ALL ORDER BY top_score DESC, o.item_id"
        " LIMIT ?",
        [run_id, int(limit)],
    )
    if top.empty:
        return []
    found = store.query_df(
        "SELECT output_id, check_name, category, score, severity, message FROM findings"
        " WHERE run_id = ? AND flagged AND output_id IN (SELECT unnest(?::VARCHAR[]))"
        " ORDER BY score DESC",
        [run_id, list(top.output_id)],
    )
    out = []
    for r in top.itertuples():
        fs = found[found.output_id == r.output_id]
        out.append({
            "output_id": r.output_id, "item_id": r.item_id, "prompt": r.prompt, "text": r.text,
            "finish_reason": r.finish_reason, "score": float(r.top_score),
            "categories": sorted(set(fs.category)),
            "messages": [f"{x.check_name} ({x.severity}, {x.score:.2f}): {x.message}"
                         for x in fs.itertuples()],
        })
    return out


EXPORT_CHUNK = 5_000  # outputs per chunk of a streamed export
_EXPORT_OUTPUTS = ("SELECT o.*, i.prompt, i.reference, i.context, i.tags, i.split, i.messages"
                   " FROM outputs o JOIN runs r USING (run_id)"
                   " LEFT JOIN items i ON i.suite_id = r.suite_id AND i.item_id = o.item_id")


def export_frame(store: Store, run_id: str) -> pd.DataFrame:
    """One row per output: the output, its item and a list of its findings, each with the
    reviewer's latest verdict on it ('right', 'wrong' or None), and ``missing``: the categories
    a reviewer marked as missing (errors no check flagged); with ``samples`` (every answer, the
    output first) when the run asked for several per item."""
    further = store.run_samples(run_id)
    return _export_rows(store.run_outputs(run_id), store.run_findings(run_id), further,
                        _verdicts(store, run_id), sampled=len(further) > 0)


def export_chunks(store: Store, run_id: str, size: int | None = None) -> Iterator[pd.DataFrame]:
    """``export_frame`` in chunks of at most ``size`` outputs, in item order, each read from
    the database when it is needed: an export of a large run never holds the whole run (only
    its reviewers' verdicts, which are few)."""
    size = EXPORT_CHUNK if size is None else size
    verdicts = _verdicts(store, run_id)
    sampled = _sampled(store, run_id)
    last: str | None = None
    while True:
        outs = store.query_df(
            _EXPORT_OUTPUTS + " WHERE o.run_id = ? AND (? IS NULL OR o.item_id > ?)"
            " ORDER BY o.item_id LIMIT ?",
            [run_id, last, last, int(size)],
        )
        if outs.empty:
            return
        first, end = outs.item_id.iloc[0], outs.item_id.iloc[-1]
        finds = store.query_df(
            "SELECT f.*, o.item_id FROM findings f JOIN outputs o USING (output_id)"
            " WHERE f.run_id = ? AND o.item_id BETWEEN ? AND ? ORDER BY o.item_id, f.check_name",
            [run_id, first, end],
        )
        further = store.query_df(
            "SELECT output_id, item_id, sample, text, finish_reason, tokens_out, latency_s"
            " FROM samples WHERE run_id = ? AND item_id BETWEEN ? AND ?"
            " ORDER BY item_id, sample",
            [run_id, first, end],
        )
        yield _export_rows(outs, finds, further, verdicts, sampled=sampled)
        last = end


def export_schema(store: Store, run_id: str) -> Any:
    """The Arrow schema (``pyarrow.Schema``) of a run's export rows, the same for every chunk:
    the stored columns with their database types, then the columns ``export_chunks`` builds.
    A chunk alone cannot say it (a chunk with no reference, finding or error holds only nulls),
    and a parquet file holds one schema. ``metrics`` is JSON text here: its keys vary by run
    (none at all without references, which parquet cannot hold as a struct)."""
    import pyarrow as pa

    with store.connect() as db:
        rel = db.sql(_EXPORT_OUTPUTS + " LIMIT 0")
        # newer DuckDB names it to_arrow_table; older ones return the table from arrow()
        stored = (rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()).schema
    text, texts = pa.string(), pa.list_(pa.string())
    finding = pa.struct([
        ("check", text), ("check_version", text), ("category", text), ("flagged", pa.bool_()),
        ("score", pa.float64()), ("severity", text), ("spans", pa.list_(pa.list_(pa.int64()))),
        ("message", text), ("error", text), ("verdict", text)])
    built = {"metrics": text, "tags": texts,
             "messages": pa.list_(pa.struct([("role", text), ("content", text)])),
             "findings": pa.list_(finding), "flagged": texts, "missing": texts, "samples": texts}
    names = [f.name for f in stored if f.name != "created_at"]
    names += ["findings", "flagged", "missing"] + (["samples"] if _sampled(store, run_id) else [])
    return pa.schema([(n, built[n] if n in built else stored.field(n).type) for n in names])


def _sampled(store: Store, run_id: str) -> bool:
    """Whether the run holds further samples (then every export row lists ``samples``)."""
    return bool(store.query_df("SELECT EXISTS (SELECT 1 FROM samples WHERE run_id = ?) AS s",
                               [run_id]).s.iloc[0])


def _verdicts(store: Store, run_id: str) -> tuple[dict[tuple[str, str, str], str],
                                                   dict[str, list[str]]]:
    """(the verdict on each (output, check, category), the categories marked missing per
    output)."""
    from .verdicts import run_verdicts

    verdicts = run_verdicts(store, run_id)
    judged = {(v.output_id, v.check_name, v.category): v.verdict
              for v in verdicts.itertuples() if v.verdict != "missing"}
    missing: dict[str, list[str]] = {}
    for v in verdicts.itertuples():
        if v.verdict == "missing":
            missing.setdefault(v.output_id, []).append(v.category)
    return judged, missing


def _export_rows(outs: pd.DataFrame, finds: pd.DataFrame, further: pd.DataFrame,
                 verdicts: tuple[dict[tuple[str, str, str], str], dict[str, list[str]]],
                 *, sampled: bool) -> pd.DataFrame:
    judged, missing = verdicts
    by_output: dict[str, list[dict[str, Any]]] = {}
    for f in finds.itertuples():
        by_output.setdefault(f.output_id, []).append({
            "check": f.check_name, "check_version": f.check_version, "category": f.category,
            "flagged": bool(f.flagged), "score": None if pd.isna(f.score) else float(f.score),
            "severity": f.severity, "spans": from_json(f.spans) or [], "message": f.message,
            "error": None if f.error is None or pd.isna(f.error) else f.error,
            "verdict": judged.get((f.output_id, f.check_name, f.category)),
        })
    df = outs.drop(columns=[c for c in ("created_at",) if c in outs.columns]).copy()
    df["metrics"] = [from_json(m) or {} for m in df["metrics"]] if len(df) else []
    df["messages"] = [from_json(m) for m in df["messages"]] if len(df) else []
    df["tags"] = [list(t) if t is not None else [] for t in df["tags"]] if len(df) else []
    df["findings"] = [by_output.get(o, []) for o in df["output_id"]] if len(df) else []
    df["flagged"] = [sorted({f["category"] for f in fs if f["flagged"]}) for fs in df["findings"]]
    df["missing"] = [sorted(missing.get(o, [])) for o in df["output_id"]] if len(df) else []
    if sampled:  # every row of a run with samples, also in a chunk where none has more
        texts: dict[str, list[str]] = {}
        for r in further.itertuples():
            texts.setdefault(r.output_id, []).append(r.text)
        df["samples"] = [[t, *texts.get(o, [])] for o, t in zip(df["output_id"], df["text"],
                                                                strict=True)]
    return df
