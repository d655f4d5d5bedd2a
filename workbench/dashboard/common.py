"""What every page shares: which database, a read-only Store, paging, small formatting helpers."""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

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


def write(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """The dashboard's only write (a reviewer's verdict): ``fn(store, *args, **kwargs)`` on a
    writable Store, one short transaction that waits for a running job's write to finish.
    Shows the error and returns False when it fails."""
    try:
        fn(Store(db_path(), lock_timeout=15.0), *args, **kwargs)
    except WorkbenchError as exc:
        st.error(f"could not record it: {exc}")
        return False
    return True


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


# -- state in the URL ------------------------------------------------------------------------
# Every filter of a page lives in the query string (?f_run=...&f_category=...), so a view can be
# bookmarked and shared, and other pages can link to it. On a page's first run a widget's value
# comes from the URL; afterwards the widget's value is written back to the URL on every run.

TRUE = ("1", "true", "yes", "on")


def from_url(key: str, default: Any, options: Sequence[Any] | None = None) -> None:
    """Seed the widget ``key`` from the URL before it is drawn (only when it has no value yet).

    The value takes the type of ``default`` (list, bool, int or str); a value that is not among
    ``options`` is ignored. Widgets seeded this way must not be given a default of their own.
    """
    if key in st.session_state:
        return
    value = default
    qp = st.query_params
    if key in qp:
        known = None if options is None else {str(o): o for o in options}
        if isinstance(default, list):
            raw = [v for v in qp.get_all(key) if v != ""]
            value = [known[v] for v in raw if v in known] if known is not None else raw
        elif isinstance(default, bool):
            value = qp[key].strip().lower() in TRUE
        elif isinstance(default, int):
            try:
                value = int(qp[key])
            except ValueError:
                value = default
            if known is not None and value not in known.values():
                value = default
        else:
            raw = qp[key]
            value = (known.get(raw, default) if known is not None else raw)
    st.session_state[key] = value


def to_url(key: str, value: Any, default: Any) -> None:
    """Write a widget's value to the URL (removed when it is the default)."""
    if value == default or value is None or value == "" or value == []:
        if key in st.query_params:
            del st.query_params[key]
        return
    if isinstance(value, bool):
        want: str | list[str] = "1" if value else "0"
    elif isinstance(value, (list, tuple)):
        want = [str(v) for v in value]
    else:
        want = str(value)
    current = st.query_params.get_all(key) if isinstance(want, list) else st.query_params.get(key)
    if current != want:
        st.query_params[key] = want


def url_widget(make: Callable[..., Any], key: str, default: Any, *args: Any,
               options: Sequence[Any] | None = None, **kwargs: Any) -> Any:
    """Draw a keyed widget whose value lives in the URL: ``make(*args, key=key, **kwargs)``."""
    from_url(key, default, options)
    value = make(*args, key=key, **kwargs)
    to_url(key, value, default)
    return value


def page_link(page: str, **params: Any) -> str:
    """A relative link to a dashboard page with its state: page_link('item', item='q1')."""
    clean: list[tuple[str, str]] = []
    for k, v in params.items():
        if v is None or v == "" or v == []:
            continue
        for one in (v if isinstance(v, (list, tuple)) else [v]):
            clean.append((k, str(one)))
    query = urlencode(clean)
    return page + (f"?{query}" if query else "")


def link_html(page: str, text: str, **params: Any) -> str:
    """An escaped <a> to a page of the dashboard (same tab)."""
    href = html.escape(page_link(page, **params), quote=True)
    return f'<a href="{href}" target="_self">{html.escape(str(text))}</a>'


def item_link(item_id: Any, suite_id: Any = None, text: str | None = None) -> str:
    return link_html("item", str(item_id) if text is None else text, item=str(item_id),
                     suite=suite_id if isinstance(suite_id, str) else None)


def run_link(run_id: Any, text: str | None = None) -> str:
    """A run links to the Failures page filtered on it."""
    return link_html("failures", str(run_id)[:10] if text is None else text, f_run=str(run_id))


def pager(total: int, key: str, sizes: tuple[int, ...] = (10, 25, 50, 100),
          default_size: int = 25, where: Any = None) -> tuple[int, int]:
    """Page size and page number widgets (kept in the URL); returns (limit, offset).

    The page number is clamped rather than bounded by the widget, so narrowing the filters
    below the current page shows the last page instead of raising, and the box then shows the
    page actually shown.
    """
    where = where or st
    cols = where.columns([1, 1, 3])
    size = url_widget(cols[0].selectbox, f"{key}_size", default_size, "Per page", sizes,
                      options=sizes)
    pages = max(1, -(-total // size))
    page_key = f"{key}_page"
    from_url(page_key, 1)
    if int(st.session_state[page_key] or 1) > pages or int(st.session_state[page_key] or 1) < 1:
        st.session_state[page_key] = max(1, min(int(st.session_state[page_key] or 1), pages))
    page = int(cols[1].number_input(f"Page (of {pages:,})", min_value=1, step=1, key=page_key))
    page = max(1, min(page, pages))
    to_url(page_key, page, 1)
    first = (page - 1) * size
    pager_note(cols[2], total, first, size)
    return size, first


def pager_note(where: Any, total: int, first: int, size: int) -> None:
    where.markdown(
        f"<div style='padding-top:2rem'>{first + 1 if total else 0}–{min(first + size, total)}"
        f" of {total:,}</div>", unsafe_allow_html=True)  # numbers only, no user text


def bottom_pager(total: int, key: str, first: int, size: int) -> None:
    """Previous / next buttons under a page of results (the numbered box is at the top)."""
    pages = max(1, -(-total // size))
    page = first // size + 1
    if pages <= 1:
        return
    def go(to: int) -> None:  # a callback runs before the next run draws the page box
        st.session_state[f"{key}_page"] = to

    cols = st.columns([1, 1, 3])
    cols[0].button("‹ Previous page", key=f"{key}_prev", disabled=page <= 1,
                   on_click=go, args=(page - 1,))
    cols[1].button("Next page ›", key=f"{key}_next", disabled=page >= pages,
                   on_click=go, args=(page + 1,))
    cols[2].markdown(f"<div style='padding-top:0.5rem'>page {page:,} of {pages:,}</div>",
                     unsafe_allow_html=True)  # numbers only


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_text(value: Any) -> str:
    """``value`` as literal text inside Streamlit Markdown: every character Markdown reads
    (links, images, emphasis, HTML, emoji shortcodes, LaTeX) backslash-escaped, so an untrusted
    category or metric name like ``![x](http://host/y.png)`` is shown, never fetched."""
    return _MD_SPECIAL.sub(r"\\\1", str(value))


def fmt_p(p: Any) -> str:
    """A p-value as the CLI prints it: '<0.001' below a thousandth, else three decimals."""
    if p is None or p != p:
        return "–"
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number rounded for reading: ints as they are, floats to ``digits`` significant places."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def human(name: str) -> str:
    """A column or field name for people: 'n_outputs' -> 'outputs', 'finish_reason' -> 'finish
    reason'."""
    name = str(name)
    for prefix in ("n_",):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.replace("_", " ")


def fmt_metrics(metrics: Any) -> str:
    """Metrics dict as 'k: v · k: v' (names made readable, floats rounded)."""
    if not isinstance(metrics, dict) or not metrics:
        return ""
    parts = []
    for k, v in sorted(metrics.items()):
        if isinstance(v, (dict, list)):
            continue
        parts.append(f"{human(k)}: {fmt_num(v)}")
    return " · ".join(parts)


def refresh_button() -> None:
    """New rows written by a running job appear on the next rerun; this button is one."""
    if st.sidebar.button("Refresh", key="wb_refresh", help="Reload from the database"):
        st.rerun()
    st.sidebar.text(f"Database: {db_path()}")
