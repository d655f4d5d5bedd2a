"""The dashboard's entry point: `streamlit run app.py -- --db PATH` (what `workbench dashboard`
runs). It only sets the page up and routes; each page is its own module beside this file."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from workbench.dashboard.common import db_path

HERE = Path(__file__).parent

st.set_page_config(page_title="workbench", layout="wide")
db_path()  # resolve --db / $WORKBENCH_DB once per session, before any page reads it

page = st.navigation([
    st.Page(HERE / "overview.py", title="Overview", default=True),  # served at /
    st.Page(HERE / "failures.py", title="Failures", url_path="failures"),
    st.Page(HERE / "item.py", title="Item", url_path="item"),
    st.Page(HERE / "compare.py", title="Compare", url_path="compare"),
    st.Page(HERE / "suggestions.py", title="Suggestions & trainings", url_path="suggestions"),
])
page.run()
