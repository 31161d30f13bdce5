"""checks: data-quality validation for customers' data feeds, each declared once in a data contract.

The names a library user needs, loaded on first use so that ``checks --help`` imports nothing heavy.
"""
from __future__ import annotations

import importlib
import os
import warnings
from typing import Any

# With PySpark installed (the spark engine), Pandera and Great Expectations import it, and PySpark warns
# on every import that it does not fully support pandas 3. Nothing here uses pyspark.pandas and the
# Spark engine hands PySpark Arrow tables, so that one message is silenced for the process, here once.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
# Polars' allocator gives freed pages back to the system after half a second (Polars sets dirty_decay_ms:500), so
# each delta's parse faulted in again the pages the previous file's had just freed: 0.5 CPU-s of the reading at
# 10 M users. Five seconds spans a feed's files; the pages go back before the diagnosis (its peak 0.5-2 % higher).
# Set before Polars is imported (it reads the variable then); a value the user set wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:5000,muzzy_decay_ms:5000")

_EXPORTS = {
    "COLUMNS": "checks.model",
    "Delta": "checks.model",
    "DeltaValidation": "checks.results",
    "FeedCheck": "checks.results",
    "discover_deltas": "checks.feed",
    "read_raw": "checks.feed",
    "read_table": "checks.feed",
    "ChecksError": "checks.errors",
    "validate_delta": "checks.validate",
    "check_feed": "checks.crossfeed",
    "deduplicate": "checks.dedup",
    "check_feed_folder": "checks.pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'checks' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
