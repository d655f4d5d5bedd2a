"""A run's export as a parquet file, written a chunk of outputs at a time: one row group per
chunk of ``export_chunks``, all under the run's one schema (``export_schema``), so memory holds
one chunk, never the whole run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Store


def write_parquet(store: Store, run_id: str, path: Path) -> int:
    """Write the run's export rows to ``path`` (parquet); returns the number of outputs. The
    caller names the path (a temporary file that :func:`workbench.safe_write.safe_output`
    renames into place)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .runs import export_chunks, export_schema

    schema = export_schema(store, run_id)
    n = 0
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in export_chunks(store, run_id):
            # metrics as JSON text: their keys vary by run (see export_schema)
            chunk["metrics"] = [json.dumps(m, ensure_ascii=False) for m in chunk["metrics"]]
            writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
            n += len(chunk)
    return n
