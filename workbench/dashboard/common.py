"""What every page shares: which database, a read-only Store, paging, small formatting helpers."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import streamlit as st

from ..errors import WorkbenchError
from ..store import Store, default_db_path, queries
from .render import CSS

DB_KEY = "wb_db"


def db_path() -> str:
    """The database: session state (set by the app from ``-- --db PATH``), else $WORKBENCH_DB."""
    path = st.session_state.get(DB_KEY)
    if path:
        return str(path)
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    known, _ = parser.parse_known_args(sys.argv[1:])
    path = known.db or os.environ.get("WORKBENCH_DB") or default_db_path()
    st.session_state[DB_KEY] = path
    return path


def get_store() -> Store:
    """A read-only Store on the dashboard's database (raises StoreError if it does not exist).

    Read-only with short connections: a run writing to the same file keeps working, and the
    dashboard's reads retry while a write holds the lock.
    """
    return Store(db_path(), read_only=True, lock_timeout=15.0)


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ("__list__", *(_freeze(v) for v in value))
    if isinstance(value, dict):
        return ("__dict__", *sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and value and value[0] == "__list__":
        return [_thaw(v) for v in value[1:]]
    if isinstance(value, tuple) and value and value[0] == "__dict__":
        return {k: _thaw(v) for k, v in value[1:]}
    return value


@st.cache_data(ttl=600, max_entries=300, show_spinner=False)
def _cached_call(path: str, version: tuple, name: str, args: tuple, kwargs: tuple,
                 _fn: Callable[..., Any]) -> Any:
    # `name` stands for `_fn` in the cache key (a leading underscore keeps it out of hashing)
    store = Store(path, read_only=True, lock_timeout=15.0)
    return _fn(store, *_thaw(args), **_thaw(kwargs))


class Reader:
    """Runs read queries for a page, cached until the database changes.

    Every widget change reruns the page; without a cache each rerun would recount a million
    rows. The key includes ``queries.data_version``, so new rows from a running job show up
    on the next rerun (the Refresh button).
    """

    def __init__(self, store: Store):
        self.store = store
        self.version = queries.data_version(store)

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        name = f"{fn.__module__}.{fn.__qualname__}"
        return _cached_call(self.store.path, self.version, name, _freeze(list(args)),
                            _freeze(kwargs), _fn=fn)


def get_reader() -> Reader:
    """A Reader on the dashboard's database; stops the page with one message if unreadable."""
    try:
        return Reader(get_store())  # reads the data version: a missing or locked file fails here
    except WorkbenchError as exc:
        st.error(str(exc))
        st.stop()
        raise  # st.stop raises; this keeps type checkers sure we never return None


def page_header(title: str, caption: str | None = None) -> None:
    st.html(CSS)
    st.title(title)
    if caption:
        st.caption(caption)


def pager(total: int, key: str, sizes: tuple[int, ...] = (10, 25, 50, 100),
          default_size: int = 25) -> tuple[int, int]:
    """Page size and page number widgets; returns (limit, offset) for the query.

    The page number is clamped rather than bounded by the widget, so narrowing the filters
    below the current page shows the last page instead of raising.
    """
    cols = st.columns([1, 1, 3])
    size = cols[0].selectbox("Per page", sizes, index=sizes.index(default_size),
                             key=f"{key}_size")
    pages = max(1, -(-total // size))
    page = int(cols[1].number_input(f"Page (of {pages:,})", min_value=1, value=1, step=1,
                                    key=f"{key}_page"))
    page = min(page, pages)
    first = (page - 1) * size
    cols[2].markdown(
        f"<div style='padding-top:2rem'>{first + 1 if total else 0}–{min(first + size, total)}"
        f" of {total:,}</div>", unsafe_allow_html=True)  # numbers only, no user text
    return size, first


def fmt_metrics(metrics: Any) -> str:
    """Metrics dict as 'k=v, k=v' (floats rounded)."""
    if not isinstance(metrics, dict) or not metrics:
        return ""
    parts = []
    for k, v in sorted(metrics.items()):
        if isinstance(v, float):
            v = round(v, 4)
        if isinstance(v, (dict, list)):
            continue
        parts.append(f"{k}={v}")
    return ", ".join(parts)


def refresh_button() -> None:
    """New rows written by a running job appear on the next rerun; this button is one."""
    if st.sidebar.button("Refresh", key="wb_refresh", help="Reload from the database"):
        st.rerun()
    st.sidebar.text(f"Database: {db_path()}")
