"""Engines that check a feed folder: the same ``FeedCheck`` from pandas, Polars (the fast default), DuckDB or Spark.

Every engine module offers the pandas path's functions with exactly its answers; only the speed
and the memory differ. An engine may hold an integer column as int32 instead of int64 when every
value of it lies within ``checks.engines.polars.NARROW_LIMIT`` (2**30): lossless, half the memory,
and the difference of any two values still fits. Everything downstream sums in int64 and writes
such a column as int64, so no answer or output depends on it.

- ``check_feed_folder(directory, *, on_file=None) -> FeedCheck``  (``checks.pipeline``)
- ``check_validations(validations) -> FeedCheck``                  (``checks.pipeline``)
- ``read_and_validate(delta_file) -> DeltaValidation``             (``checks.validate``)
- ``check_feed(deltas) -> failures``                               (``checks.crossfeed``)
- ``read_table(path, *, warn=None) -> DataFrame``                 (``checks.feed``)

An engine may add ``deduplicate_feed_folder(directory, outputs, ...)`` (DuckDB: out of core, the
table written without being held), ``discover_deltas(location)`` (Spark: its own listing),
``diagnose(deltas, platform, customer, finance_total, deduplicated=...)`` (Spark: the reconciliation
in Spark SQL, ``checks.diagnose.diagnose``'s answers; ``diagnose_on(engine)`` picks it) and
``NAME`` (the suites pick GX's Spark datasource by it).

Engines are imported on first use: Polars and PySpark stay out of ``checks --help``.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from checks.errors import UsageError

ENGINES: tuple[str, ...] = ("pandas", "polars", "spark", "duckdb")
DEFAULT_ENGINE = "polars"


def get_engine(name: str) -> ModuleType:
    """The engine module called ``name`` (one of ``ENGINES``)."""
    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r} (choose one of: {', '.join(ENGINES)})")
    return importlib.import_module(f"checks.engines.{name}")


def diagnose_on(engine: ModuleType) -> Callable[..., Any]:
    """The engine's ``diagnose`` (Spark: the reconciliation in Spark SQL), else ``checks.diagnose.diagnose``."""
    diagnose = getattr(engine, "diagnose", None)
    if diagnose is None:
        from checks.diagnose import diagnose
    return diagnose
