"""What every page shares: which database, a read-only Store, paging, small formatting helpers."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import streamlit as st

from ..errors import WorkbenchError
from ..store import Store, default_db_path
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
    """A read-only Store on the dashboard's database; stops the page with a message if it fails.

    Read-only with short connections: a run writing to the same file keeps working, and the
    dashboard's reads retry while a write holds the lock.
    """
    try:
        store = Store(db_path(), read_only=True, lock_timeout=15.0)
        with store.connect():  # fail here, with one message, if it cannot be read at all
            pass
        return store
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
