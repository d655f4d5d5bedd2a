"""The Streamlit dashboard: ``workbench dashboard`` runs ``app.py``; one module per page.

Pages read the database only through ``workbench.store.queries`` (and
``workbench.compare.compare``), with a read-only Store, so a run can keep writing while the dashboard is open.
"""

from __future__ import annotations

from pathlib import Path

APP_PATH = Path(__file__).with_name("app.py")

__all__ = ["APP_PATH"]
