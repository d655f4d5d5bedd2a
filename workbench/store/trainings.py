"""Queries for training: the examples a training reads and the trainings it writes."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import NotFoundError
from .store import Store
from .values import from_json, to_json


def resolve_suggestion_set(store: Store, ref: str) -> dict[str, Any]:
    """A suggestion set row by id or unique id prefix ('latest' is the newest)."""
    from .suggestions import get_set

    return get_set(store, ref)


def suggestion_rows(store: Store, set_ids: list[str]) -> pd.DataFrame:
    """The suggestions of these sets, with the suite of the run each set was drawn from."""
    return store.query_df(
        "SELECT s.*, ss.run_id, r.suite_id FROM suggestions s"
        " JOIN suggestion_sets ss USING (set_id) LEFT JOIN runs r ON r.run_id = ss.run_id"
        " WHERE list_contains(?, s.set_id) ORDER BY s.set_id, s.suggestion_id",
        [list(set_ids)],
    )


def suite_row(store: Store, suite_id: str) -> dict[str, Any] | None:
    df = store.query_df("SELECT * FROM suites WHERE suite_id = ?", [suite_id])
    if df.empty:
        return None
    row = df.iloc[0].to_dict()
    row["config"] = from_json(row.get("config"))
    return row


def train_items(store: Store, suite_id: str) -> pd.DataFrame:
    """The suite's train-split items that have a reference answer (the replay pool)."""
    return store.query_df(
        "SELECT * FROM items WHERE suite_id = ? AND split = 'train' AND reference IS NOT NULL"
        " ORDER BY item_id",
        [suite_id],
    )


def record_trained_adapter(store: Store, model: dict[str, Any], training: dict[str, Any]) -> None:
    """Register a trained adapter and record its training in one transaction (both or neither).

    A model already registered keeps its row (and name); the training row is replaced.
    """
    row = dict(training)
    for k in ("config", "loss_curve", "metrics"):
        row[k] = to_json(row.get(k))
    cols = list(row)
    with store.transaction() as db:
        if db.execute("SELECT 1 FROM models WHERE model_id = ?", [model["model_id"]]).fetchone() is None:
            db.execute(
                "INSERT INTO models (model_id, name, spec, base, adapter, parent_id, kind, meta)"
                " VALUES (?, ?, ?, ?, ?, ?, 'adapter', ?)",
                [model["model_id"], model["name"], model["spec"], model["base"],
                 model["adapter"], model["parent_id"], to_json(model.get("meta"))],
            )
        db.execute("DELETE FROM trainings WHERE training_id = ?", [row["training_id"]])
        db.execute(
            f"INSERT INTO trainings ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [row[c] for c in cols],
        )


def list_trainings(store: Store) -> pd.DataFrame:
    """Every training, newest last, with the names of its parent and result models."""
    return store.query_df(
        "SELECT t.training_id, t.status, t.trainer, t.set_id, t.parent_model_id,"
        " p.name AS parent_name, t.result_model_id, m.name AS result_name, t.adapter_path,"
        " t.started_at, t.finished_at, t.metrics FROM trainings t"
        " LEFT JOIN models p ON p.model_id = t.parent_model_id"
        " LEFT JOIN models m ON m.model_id = t.result_model_id ORDER BY t.started_at"
    )


def get_training(store: Store, ref: str) -> dict[str, Any]:
    """A training by id, id prefix, or result model id; 'latest' is the newest."""
    if ref == "latest":
        df = store.query_df("SELECT * FROM trainings ORDER BY started_at DESC LIMIT 1")
    else:
        df = store.query_df(
            "SELECT * FROM trainings WHERE training_id LIKE ? || '%' OR result_model_id = ?"
            " ORDER BY started_at DESC LIMIT 1",
            [ref, ref],
        )
    if df.empty:
        raise NotFoundError(f"no training {ref!r} in {store.path}")
    row = df.iloc[0].to_dict()
    for k in ("config", "loss_curve", "metrics"):
        row[k] = from_json(row.get(k))
    return row
