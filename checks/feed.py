"""Reading the feed: finding delta files in numeric order and reading CSV tables as text.

Nothing here coerces a value: cells stay strings until validation decides what they are.
Row numbers are file line numbers (the header is line 1), as a spreadsheet shows them.
"""
from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from checks.errors import BadInputError
from checks.model import COLUMNS, DeltaFile, RawTable
from checks.rules import BOM_IGNORED, INTEGER_PATTERN, column_renamed

# A scheme of two letters at least: "C:/" is a drive, not a URI.
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")
_ONLY_ON_SPARK = "a location with a scheme (s3a://, hdfs://, file://) is read by --engine spark only; give a local path"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INT64_SAFE_DIGITS = 18  # every literal of up to 18 digits fits in int64
_DELTA_NAME = re.compile(r"delta[_-]?(\d+)\.csv$", re.IGNORECASE)
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def delta_number(file_name: str) -> int | None:
    """The number in a delta file name (``Delta10.CSV`` -> 10), or None if it is not a delta."""
    match = _DELTA_NAME.search(file_name)
    return int(match.group(1)) if match else None


def discover_deltas(directory: str | Path) -> list[DeltaFile]:
    """Every delta file in ``directory``, ordered by the number in its name, never lexicographically."""
    if is_uri(directory):
        raise BadInputError(_ONLY_ON_SPARK, file=directory)
    directory = Path(directory)
    if not directory.exists():
        raise BadInputError("feed folder not found", file=directory)
    if not directory.is_dir():
        raise BadInputError("feed must be a folder of delta CSV files", file=directory)
    return order_deltas(directory, [path for path in directory.iterdir() if path.is_file()])


def is_uri(path: str | Path) -> bool:
    """Whether ``path`` is a URI (``s3a://...``, ``file:///...``; ``Path`` folds ``//`` to ``/``) rather than a local path."""
    return _URI.match(str(path)) is not None


def location(path: str | Path) -> str:
    """``path`` as written, a URI unfolded: ``Path`` folds ``s3a://b/k`` into ``s3a:/b/k`` (Hadoop reads the former)."""
    text = str(path)
    if not is_uri(text):
        return text
    scheme, rest = text.split(":", 1)
    rest = rest.lstrip("/")
    return f"file:///{rest}" if scheme.lower() == "file" else f"{scheme}://{rest}"


def order_deltas(directory: str | Path, files: Iterable[Path]) -> list[DeltaFile]:
    """The delta files among the ``files`` of a feed folder, ordered by number (an engine may list the folder itself)."""
    deltas = []
    for path in files:
        number = delta_number(path.name)
        if number is not None:
            deltas.append(DeltaFile(path=path, number=number))
    if not deltas:
        raise BadInputError("no delta files (named like delta0.csv, delta1.csv, ...) in the feed folder", file=directory)
    deltas.sort(key=lambda delta: delta.number)
    for previous, current in zip(deltas, deltas[1:]):
        if previous.number == current.number:
            raise BadInputError(
                f"two delta files share the number {current.number}: {previous.name} and {current.name}",
                file=directory,
            )
    return deltas


def read_raw(path: str | Path, *, columns: tuple[str, ...] = COLUMNS) -> RawTable:
    """Read a CSV file as strings, checking that its header names exactly ``columns``.

    A UTF-8 byte-order mark is dropped and a header in another letter case is normalised,
    each with a warning; CRLF line endings are read as they are (the customer's exports use them).
    """
    path = Path(path)
    data = _read_bytes(path)
    notes: list[str] = []
    if data.startswith(_UTF16_BOMS):
        raise BadInputError("file is UTF-16 encoded; export it as UTF-8 CSV", file=path)
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
        notes.append(BOM_IGNORED)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInputError(f"not UTF-8 text (byte {error.start})", file=path) from error
    if not text.strip():
        raise BadInputError("file has no header and no rows", file=path)

    header = next(csv.reader(io.StringIO(text)))
    normalised = [name.strip().lower() for name in header]
    _check_header(path, normalised, columns)
    for original, name in zip(header, normalised):
        if original != name:
            notes.append(column_renamed(original, name))

    try:
        with warnings.catch_warnings():
            # pandas only warns (and drops cells) when a row has more fields than the header.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=True,
                # A row with more fields than the header must be an error, never a shifted index.
                index_col=False,
            )
    except pd.errors.ParserWarning as error:
        line = _first_long_row(text, len(header))
        raise BadInputError(f"row has more fields than the header ({len(header)})", file=path, row=line) from error
    except (pd.errors.ParserError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise BadInputError(f"malformed CSV: {first_line}", file=path) from error
    frame.columns = normalised
    frame = frame[list(columns)]
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return RawTable(name=path.name, frame=frame, warnings=tuple(notes))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a loaded table (platform's or customer's) as int64 columns; any non-integer cell is bad input."""
    raw = read_raw(path)
    typed, bad_cells = to_integers(raw.frame)
    if len(bad_cells):
        first = bad_cells.iloc[0]
        raise BadInputError(
            f"{len(bad_cells)} non-integer value(s); first {first['value']!r} at row {first['row']}",
            file=path,
            column=str(first["column"]),
        )
    return typed.astype("int64")


def to_integers(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse text cells as integers without coercion.

    Returns the frame as nullable Int64 (cells that are not integers become <NA>) and a tidy
    frame of those cells with columns ``row, column, value``.
    """
    import pyarrow as pa

    typed = {}
    bad = []
    for column in frame.columns:
        text = frame[column].astype(str)
        is_integer = text.str.fullmatch(INTEGER_PATTERN)
        longest = text.str.lstrip("+-").str.len()
        beyond = is_integer & longest.gt(_INT64_SAFE_DIGITS)
        if beyond.any():
            # Rare: a literal this long may not fit in int64; Python's ints decide exactly.
            is_integer = is_integer.copy()
            is_integer[beyond] = text[beyond].map(lambda literal: _INT64_MIN <= int(literal) <= _INT64_MAX)
        # Arrow parses the literals straight to int64 (never through float64, which loses
        # precision above 2**53); it does not take a leading "+".
        literals = text.where(is_integer).str.removeprefix("+")
        numbers = pa.array(literals, type=pa.string(), from_pandas=True).cast(pa.int64())
        typed[column] = pd.Series(
            numbers.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).array, index=frame.index, name=column
        )
        if not is_integer.all():
            offending = text[~is_integer]
            bad.append(pd.DataFrame({"row": offending.index, "column": column, "value": offending.to_numpy()}))
    typed_frame = pd.DataFrame(typed, index=frame.index)
    bad_cells = pd.concat(bad, ignore_index=True) if bad else pd.DataFrame(columns=["row", "column", "value"])
    return typed_frame, bad_cells.sort_values(["row", "column"], ignore_index=True)


def _first_long_row(text: str, fields: int) -> int | None:
    """The line number of the first row with more than ``fields`` fields (only called on that error)."""
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if len(row) > fields:
            return line
    return None


def _read_bytes(path: Path) -> bytes:
    if is_uri(path):
        raise BadInputError(_ONLY_ON_SPARK, file=path)
    if not path.exists():
        raise BadInputError("file not found", file=path)
    if path.is_dir():
        raise BadInputError("expected a CSV file, found a folder", file=path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInputError(f"cannot read file: {error.strerror}", file=path) from error
    if not data:
        raise BadInputError("empty file (0 bytes)", file=path)
    return data


def _check_header(path: Path, header: list[str], columns: tuple[str, ...]) -> None:
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise BadInputError(f"duplicate column(s) in header: {', '.join(duplicated)}", file=path)
    differences = column_differences(header, columns)
    if differences:
        raise BadInputError("; ".join(differences) + f" (expected: {', '.join(columns)})", file=path)


def column_differences(found: list[str], expected: tuple[str, ...] = COLUMNS) -> list[str]:
    """What separates ``found`` from ``expected`` as phrases (missing, then unexpected); empty when equal as sets."""
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    parts = []
    if missing:
        parts.append(f"missing column(s): {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected column(s): {', '.join(repr(name) for name in unexpected)}")
    return parts
