"""Trainings and their loss curves."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..store import Store
from .sql import Filter, filter_values, in_clause, json_or_text


def trainings(store: Store) -> pd.DataFrame:
    """Trainings with parent/result model names; config and metrics parsed."""
    df = store.query_df(
        "SELECT t.training_id, t.status, t.trainer, t.set_id, t.parent_model_id,"
        " p.name AS parent_name, t.result_model_id, m.name AS result_name, t.adapter_path,"
        " t.started_at, t.finished_at, t.config, t.metrics"
        " FROM trainings t LEFT JOIN models p ON p.model_id = t.parent_model_id"
        " LEFT JOIN models m ON m.model_id = t.result_model_id"
        " ORDER BY t.started_at, t.training_id"
    )
    df["config"] = [json_or_text(c) for c in df.config]
    df["metrics"] = [json_or_text(c) for c in df.metrics]
    return df


def loss_curves(store: Store, training_ids: Filter = None) -> pd.DataFrame:
    """Loss curves in long form: training_id, step, loss."""
    params: list[Any] = []
    where = ""
    if ids := filter_values(training_ids):
        where = " WHERE " + in_clause("training_id", ids, params)
    raw = store.query_df("SELECT training_id, loss_curve FROM trainings" + where, params)
    rows = []
    for tid, curve in zip(raw.training_id, raw.loss_curve, strict=True):
        for point in json_or_text(curve) or []:
            try:
                rows.append((tid, int(point[0]), float(point[1])))
            except (TypeError, ValueError, IndexError):
                continue
    return pd.DataFrame(rows, columns=["training_id", "step", "loss"])
