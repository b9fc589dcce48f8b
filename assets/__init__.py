"""The chain's Dagster assets, one module a stage (logic in jobrec/)."""

import atexit
import warnings

from dagster import BetaWarning

# Known and accepted: single-run backfills (one process per backfill, the warehouse's one
# writer) and the raw files' observable multi-source are beta in Dagster 1.13. One warning per
# asset flooded every command's console.
warnings.filterwarnings(
    "ignore",
    message=r".*(`backfill_policy` of function `asset`|`multi_observable_source_asset`"
    r"|`include_sources` of function `AssetSelection.all`)",
    category=BetaWarning,
)


def _release_duckdb_at_exit() -> None:
    """DuckDB 2.0's bindings (nanobind) print ~200 lines of "leaked instance/type/function" at
    interpreter exit when its module globals outlive the binding's teardown, which happens in
    every run process (torch, pyarrow and DuckDB loaded together). Dropping the modules'
    globals first lets them be freed in order. Registered on import, so it runs after the
    handlers of everything imported later (atexit is last-in, first-out)."""
    import gc
    import sys

    for name in [n for n in sys.modules if n == "duckdb" or n.startswith(("duckdb.", "_duckdb"))]:
        sys.modules[name].__dict__.clear()
    gc.collect()


atexit.register(_release_duckdb_at_exit)
