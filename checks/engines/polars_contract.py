"""The Polars engine on contracts of any shape: each file read as text by Polars and parsed into the computing form
(``checks.encoding``) with vectorised expressions, every contract rule (``checks.rules``) one expression over it.

Written to agree with the pandas reference (``checks.validate``, ``checks.feed.read_table``) on every file it
passes, never to word a failure: when any cell breaks a rule, or the file holds what Polars might read otherwise
than pandas (no usual header, a blank line, a short or long row), the reference reads the file again and has the
last word. A column whose cells this module cannot parse exactly as ``Codec.parse`` does (a floating number, a
timestamp in a form other than the usual ones) is parsed by ``Codec.parse`` itself, on that column only.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from checks.encoding import NULL, Codec, Encoding
from checks.engines import _frames
from checks.feed import read_table as _read_table_reference
from checks.model import Delta, DeltaFile, empty_failures
from checks.results import DeltaValidation
from checks.rules import text_rules, value_rules
from checks.validate import read_and_validate as _read_and_validate_reference

_ROW = "row"
# Timestamp forms parsed here (the sample's and the usual exports'); any other form goes to ``Codec.parse``, and
# so does a second above 59 (a leap second, which pandas and Polars read otherwise).
_TIMESTAMP_FORMS = (
    (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9]Z$", "%Y-%m-%dT%H:%M:%SZ"),
    (r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-5][0-9]$", "%Y-%m-%d %H:%M:%S"),
    (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9]$", "%Y-%m-%dT%H:%M:%S"),
)


class _Reference(Exception):
    """This file is the reference's to read: a failing cell, or something Polars may read otherwise."""


def read_and_validate(delta_file: DeltaFile, encoding: Encoding) -> DeltaValidation:
    """``checks.validate.read_and_validate`` on Polars: the same validation for a delta that passes, the reference's
    for one that does not."""
    try:
        header, text = _read_text(delta_file.path, encoding)
        if text.height == 0:
            raise _Reference  # not_empty, as the reference words it
        stored = _parsed(text, encoding)
        _check_rules(text, stored, encoding)
    except _Reference:
        return _read_and_validate_reference(delta_file, encoding)
    frame = _to_pandas(stored, encoding)
    return DeltaValidation(
        name=delta_file.name, number=delta_file.number, delta=Delta(name=delta_file.name, number=delta_file.number, frame=frame),
        failures=empty_failures(), warnings=header.warnings, rows=text.height,
    )


def read_table(path: str | Path, encoding: Encoding, *, warn: Callable[[str], None] | None = None) -> pd.DataFrame:
    """``checks.feed.read_table`` on Polars: the table in computing form; any bad cell is the reference's to word."""
    path = Path(path)
    try:
        header, text = _read_text(path, encoding)
        stored = _parsed(text, encoding)
    except _Reference:
        return _read_table_reference(path, encoding, warn=warn)
    if warn is not None:
        for note in header.warnings:
            warn(f"{path.name}: {note}")
    return _to_pandas(stored, encoding)


def _read_text(path: Path, encoding: Encoding) -> tuple[_frames.Header, pl.DataFrame]:
    """The file's cells as text (null for an empty cell) in the contract's column order, with line numbers."""
    names = encoding.contract.names
    header = _frames.read_header(path, names)
    if header is None:
        raise _Reference
    try:
        text = pl.read_csv(
            path, has_header=False, skip_rows=1, schema={name: pl.String for name in header.names},
            row_index_name=_ROW, row_index_offset=2, encoding="utf8",
        ).select(_ROW, *[pl.col(name).replace("", None) for name in names])  # a quoted "" is empty too
    except pl.exceptions.PolarsError as error:
        raise _Reference from error  # a long row, bytes that are no UTF-8...
    # A blank line (pandas skips it and numbers the rows after it otherwise) or a short row (Polars fills it with
    # nulls): the last column empty, where it may be, is the one trace of either a cheap check can see.
    if text.select(pl.col(names[-1]).is_null().any()).item():
        raise _Reference
    return header, text


def _parsed(text: pl.DataFrame, encoding: Encoding) -> pl.DataFrame:
    """Every column in computing form (int64, ``NULL`` for an empty cell; a floating column's float64 bits);
    ``_Reference`` when a cell holds no literal of its type, or is empty where it must be filled."""
    columns = {}
    for name in encoding.contract.names:
        codec = encoding.codecs[name]
        cells = text[name]
        values = _parse_column(cells, codec)
        if values is None:  # a form this module does not parse: Codec.parse decides, on this column
            parsed, valid = codec.parse(pd.Series(cells.fill_null("").to_numpy(), dtype=object))
            if not valid.all():
                raise _Reference
            values = pl.Series(name, parsed.view(np.int64) if parsed.dtype == np.float64 else parsed)
        elif values.null_count() != cells.null_count() or (codec.column.required and cells.null_count()):
            raise _Reference  # a cell that is no literal, or an empty one that must be filled
        columns[name] = values.fill_null(NULL).cast(pl.Int64).alias(name)
    return pl.DataFrame(columns).with_columns(text[_ROW])


def _parse_column(cells: pl.Series, codec: Codec) -> pl.Series | None:
    """The cells in computing form, null where empty or no literal; None when ``Codec.parse`` must decide."""
    kind, column = codec.column.logical_type, codec.column
    if kind == "string":
        return _codes(cells, codec)
    if kind == "timestamp":  # every filled cell in one of the usual forms, each a literal of the type, or None
        values = _timestamps(cells)
        return None if values is None else values.alias(cells.name)
    if kind == "integer":
        values = cells.cast(pl.Int64, strict=False)
    elif kind == "number" and column.decimal is not None:
        values = _scaled(cells, column.decimal[1])
    elif kind == "date":
        values = cells.str.to_date("%Y-%m-%d", strict=False).cast(pl.Int32).cast(pl.Int64)
    elif kind == "boolean":
        values = (cells.str.to_lowercase() == "true").cast(pl.Int64)
    else:
        return None  # a floating number: float64 as pandas parses it
    matches = cells.str.contains(codec.literal)
    if matches.all():  # every filled cell a literal (an empty one is null either way): nothing to mask
        return values.alias(cells.name)
    return pl.select(pl.when(matches).then(values)).to_series().alias(cells.name)


def _scaled(cells: pl.Series, scale: int) -> pl.Series:
    """Decimal literals as int64 counts of 10**-scale (``12.5`` at scale 2 is 1250), null where they do not fit.

    Polars' decimal cast rounds a literal with more decimals than ``scale`` and takes forms such as ``1e3``: only
    cells that match the column's literal pattern are kept (``_parse_column``), and those it reads exactly, but for
    a bare sign or point that a ``decimal(p,p)`` pattern allows (null here: the reference reads that file)."""
    return cells.cast(pl.Decimal(38, scale), strict=False).to_physical().cast(pl.Int64, strict=False)


def _timestamps(cells: pl.Series) -> pl.Series | None:
    """Microseconds since 1970 (UTC), for a column whose filled cells all take one of ``_TIMESTAMP_FORMS``."""
    for pattern, form in _TIMESTAMP_FORMS:
        if cells.str.contains(pattern).all():  # empty cells aside
            moments = cells.str.to_datetime(form, time_unit="us", strict=False)
            return moments.dt.replace_time_zone(None).cast(pl.Int64)
    return None


def _codes(cells: pl.Series, codec: Codec) -> pl.Series:
    """Each cell's code in the run's dictionary (null where empty), as ``Dictionary.encode`` gives them."""
    return codec.dictionary.encode_series(cells)


def _check_rules(text: pl.DataFrame, stored: pl.DataFrame, encoding: Encoding) -> None:
    """``_Reference`` when any cell breaks one of the contract's text or value rules."""
    checks = []
    for rule in text_rules(encoding):
        cells = pl.col(rule.column)
        if rule.kind in ("literal", "required"):
            continue  # ``_parsed`` saw to them
        if rule.kind == "null_values":
            checks.append(cells.is_null().any())
        elif rule.kind == "missing_values":
            checks.append((cells.fill_null("").is_in(list(rule.argument))).any())
        elif rule.kind == "pattern":
            checks.append(cells.str.contains(rule.argument).not_().any())
        elif rule.kind == "min_length":
            checks.append((cells.str.len_chars() < rule.argument).any())
        elif rule.kind == "max_length":
            checks.append((cells.fill_null("").str.len_chars() > rule.argument).any())
        else:  # valid_values
            checks.append(cells.is_in(list(rule.argument)).not_().any())
    try:
        breaks = text.select(pl.any_horizontal(checks) if checks else pl.lit(False)).item()
    except pl.exceptions.PolarsError as error:
        raise _Reference from error  # a pattern Rust's regex engine does not take (a look-around): Python's decides
    if breaks or _values_break(stored, encoding):
        raise _Reference


def _values_break(stored: pl.DataFrame, encoding: Encoding) -> bool:
    """Whether a filled value breaks a bound, the key's uniqueness or a set of allowed values."""
    checks = []
    for rule in value_rules(encoding):
        if encoding.codecs[rule.column].dtype == "float64":
            return True  # a floating column's bounds: the reference compares them
        values = pl.col(rule.column)
        filled = values.filter(values != NULL)
        if rule.kind == "minimum":
            checks.append((filled < rule.argument).any())
        elif rule.kind == "above":
            checks.append((filled <= rule.argument).any())
        elif rule.kind == "maximum":
            checks.append((filled > rule.argument).any())
        elif rule.kind == "below":
            checks.append((filled >= rule.argument).any())
        elif rule.kind == "unique":
            checks.append(filled.is_duplicated().any())
        else:  # valid_values
            checks.append(filled.is_in(list(rule.argument)).not_().any())
    # Named apart: two rules of one column (a minimum and uniqueness) would otherwise both be named after it.
    return bool(checks) and any(stored.select(check.alias(f"rule_{index}") for index, check in enumerate(checks)).row(0))


def _to_pandas(stored: pl.DataFrame, encoding: Encoding) -> pd.DataFrame:
    """The contract's columns as int64 NumPy columns, indexed by line number as the reference's frames are."""
    columns = {name: stored[name].to_numpy() for name in encoding.contract.names}
    return pd.DataFrame(columns, index=pd.RangeIndex(2, stored.height + 2, name="row"), copy=False)
