"""Engines that check a feed folder: the same ``FeedCheck`` from pandas, Polars (the fast default), DuckDB or Spark.

Each engine is a module here implementing ``checks.engines.base.Engine``, with the capabilities it adds
declared in its ``CAPABILITIES``. Engines are imported on first use: Polars and PySpark stay out of
``checks --help``.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

from checks.errors import UsageError

if TYPE_CHECKING:
    from checks.engines.base import Engine

ENGINES: tuple[str, ...] = ("pandas", "polars", "spark", "duckdb")
DEFAULT_ENGINE = "polars"


def get_engine(name: str) -> Engine:
    """The engine called ``name`` (one of ``ENGINES``)."""
    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r} (choose one of: {', '.join(ENGINES)})")
    return cast("Engine", importlib.import_module(f"checks.engines.{name}"))
