"""Storage: the only package that speaks SQL."""

from .store import DEFAULT_DB, Store, default_db_path, from_json, new_id, output_id, to_json

__all__ = ["DEFAULT_DB", "Store", "default_db_path", "from_json", "new_id", "output_id",
           "to_json"]
