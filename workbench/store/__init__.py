"""Storage: the only package that speaks SQL."""

from .store import Store
from .values import DEFAULT_DB, default_db_path, from_json, new_id, output_id, to_json

__all__ = ["DEFAULT_DB", "Store", "default_db_path", "from_json", "new_id", "output_id",
           "to_json"]
