"""Read-only queries for the dashboard (and any other reader): every filter is a bound parameter.

Filtering, counting and paging happen in DuckDB; only one page of rows ever reaches pandas, so
the failure browser stays fast on a database with a million outputs. Functions take a Store
(usually opened ``read_only=True``) and return DataFrames or small dataclasses.

One module per kind of question: overview.py (models, runs, rates, the data version),
failures.py and filters.py (the failure browser and what its filters offer), matrix.py (runs
side by side), items.py (one item across every run), suggestions.py and trainings.py; sql.py
holds what they share.
"""

from .failures import SORTS, FailurePage, count_failures, failures_page, findings_for
from .filters import FilterOptions, filter_options
from .items import item, item_outputs, item_suggestions, item_suites, output_samples
from .matrix import metric_names, outputs_by_id, run_matrix
from .overview import category_rates, data_version, models, run_label, runs, totals
from .sql import Filter
from .suggestions import suggestion_categories, suggestion_sets, suggestions
from .trainings import loss_curves, trainings

__all__ = [
    "SORTS", "FailurePage", "Filter", "FilterOptions", "category_rates", "count_failures",
    "data_version", "failures_page", "filter_options", "findings_for", "item", "item_outputs",
    "item_suggestions", "item_suites", "loss_curves", "metric_names", "models", "output_samples",
    "outputs_by_id", "run_label", "run_matrix", "runs", "suggestion_categories",
    "suggestion_sets", "suggestions", "totals", "trainings",
]
