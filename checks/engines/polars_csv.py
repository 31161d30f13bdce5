"""Reading a delta CSV with Polars: integers straight from the file where it can, text then cast where it cannot.

Shared by the Polars engine and the DuckDB engine (which sinks these scans to Parquet). A file these
readers cannot read as the pandas path would raises ``NeedsPandasPath``: the caller hands it to
the pandas path, which has the last word.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import polars as pl

from checks.engines import _frames
from checks.model import empty_failures
from checks.encoding import INTEGER_PATTERN, default_encoding
from checks.rules import IS_INTEGER

# The first customer's columns: the form this module's fast path is written for (checks.rules.first_customer_rules).
COLUMNS = default_encoding().contract.names

ROW = "row"  # each row's line number in its file (the header is line 1)
_PYTHON_INTEGER = re.compile(INTEGER_PATTERN)
_WINDOW = 2**20  # bytes ``has_blanks`` searches at a time


class NeedsPandasPath(Exception):
    """This file has something only the pandas path reads exactly as the reference does."""


def read_typed(path: Path, header: _frames.Header) -> pl.DataFrame:
    """The file's cells as integers (null where a cell is not an integer literal), without line numbers: they
    are 2, 3, ... in order, numbered by ``with_rows`` for a file that needs them.

    Parsing integers straight from the CSV is about twice as fast as reading text and casting it,
    and gives the same cells except that it also takes a number after spaces or tabs (" 15"), which
    the text pass refuses; it errors on any other non-integer, or one beyond the type. So a file
    without a space or a tab is read straight, as Int32 and if that errors as Int64, and any file
    both error on is read as text and cast to Int64. The Polars engine's ``_narrowed`` settles each
    column's type.
    """
    if not has_blanks(path):
        # Int32 first: most columns fit, and the file is then never held at twice the size.
        for dtype in (pl.Int32, pl.Int64):
            try:
                return _scan(path, header, dtype, rows=False).collect(engine="streaming")
            except pl.exceptions.PolarsError:
                pass  # a value beyond the type, or a cell that is no integer: the text read finds it
    return scan_typed(path, header).collect(engine="streaming").drop(ROW)


def with_rows(typed: pl.DataFrame) -> pl.DataFrame:
    """``typed`` read without its line numbers, with them (the header is line 1)."""
    return typed.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))


def has_blanks(path: Path) -> bool:
    """Whether the file holds a space or a tab anywhere (then it is read as text: see ``read_typed``)."""
    import mmap

    with path.open("rb") as handle:
        if handle.seek(0, 2) == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            # Window by window, so that the second search reads from the cache (a quarter less time than two passes).
            return any(
                data.find(b" ", start, start + _WINDOW) >= 0 or data.find(b"\t", start, start + _WINDOW) >= 0
                for start in range(0, len(data), _WINDOW)
            )


def scan_integers(path: Path, header: _frames.Header) -> pl.LazyFrame:
    return _scan(path, header, pl.Int64)


def scan_typed(path: Path, header: _frames.Header) -> pl.LazyFrame:
    """The file's cells cast to Int64 (null where a cell is not an integer literal), with its line numbers."""
    return scan_text(path, header).select(ROW, *[pl.col(column).cast(pl.Int64, strict=False) for column in COLUMNS])


def scan_text(path: Path, header: _frames.Header) -> pl.LazyFrame:
    return _scan(path, header, pl.String)


def _scan(path: Path, header: _frames.Header, dtype: type[pl.DataType], *, rows: bool = True) -> pl.LazyFrame:
    """Every cell of the file's body read as ``dtype``, with its line number (the header is line 1) unless not ``rows``."""
    scan = pl.scan_csv(
        path,
        has_header=False,
        skip_rows=1,
        schema={name: dtype for name in header.names},
        row_index_name=ROW if rows else None,
        row_index_offset=2,
        encoding="utf8",
    )
    return scan.select(pl.col(ROW).cast(pl.Int64), *COLUMNS) if rows else scan.select(COLUMNS)


def text_failures(path: Path, header: _frames.Header, typed: pl.DataFrame, name: str) -> pd.DataFrame:
    """Pandera's text pass, run only on the rows with a cell that did not cast."""
    suspect_rows = typed.filter(pl.any_horizontal(pl.col(column).is_null() for column in COLUMNS))[ROW]
    if suspect_rows.is_empty():
        return empty_failures()
    text = scan_text(path, header).filter(pl.col(ROW).is_in(suspect_rows.implode())).collect()
    if text.select(pl.all_horizontal(pl.col(column).is_null() for column in COLUMNS)).to_series().any():
        raise NeedsPandasPath  # a blank line: pandas skips it and renumbers the rows after it
    # Polars reads an empty or missing cell as null; pandas reads it as "".
    text = text.with_columns(pl.col(column).fill_null("") for column in COLUMNS)
    from checks.engines.polars_schemas import delta_schemas
    from pandera.errors import SchemaErrors

    try:
        delta_schemas(default_encoding())[0].validate(text.select(COLUMNS), lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        raise NeedsPandasPath  # a cell that matches the pattern but not int64: the pandas path decides
    rows = text[ROW].gather(cases["index"]).to_list()
    values = cases["failure_case"].to_list()
    if any(_PYTHON_INTEGER.match(value) for value in values):
        raise NeedsPandasPath  # e.g. "5\n": Python's ``$`` matches before a final newline, Rust's does not
    if len(cases) != typed.null_count().sum_horizontal().item():
        raise NeedsPandasPath  # a cell that did not cast yet is no text failure: an integer beyond int64
    return _frames.validation_failures(name, rows, cases["column"].to_list(), [IS_INTEGER] * len(rows), values)
