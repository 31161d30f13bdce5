"""Great Expectations: the contract's suite run through one Checkpoint over every table, and its Data Docs.

``run_suites`` (``run.py``) is the stage. The suite is read from ``expectations/<table>.json``
(``suite.py``); the GX project is ``gx/`` (stores and Data Docs under ``gx/uncommitted/``). Each
table is validated as its own validation definition, named for the table, in one Checkpoint run.
Only ``gx.py`` imports great_expectations, lazily: importing this package does not.

At scale GX never sees a full table: the suite's figures (row count, sums, each expectation's
unexpected and missing counts) are computed once per table (``evidence.py`` in Polars on the run's
computing form, whatever the contract's types; ``spark.py`` in Spark SQL), GX validates a small
evidence frame (the first rows plus the first unexpected rows of every expectation, in table order,
typed as the files wrote them), and its results are completed with the full table's figures
(``figures.py``) before they are stored and rendered (``docs.py``), so the validation results and Data
Docs read as for the whole table. An expectation the fast path cannot compute sends that table
through GX whole. ``results.py`` holds the results as data.
"""
from __future__ import annotations

from checks.suites.run import run_suites

__all__ = ["run_suites"]
