"""Reading the feed: finding delta files in numeric order and reading CSV tables as text.

Nothing here coerces a value: cells stay strings until validation decides what they are.
Row numbers are file line numbers (the header is line 1), as a spreadsheet shows them.
"""
from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from checks.contract import DEFAULT_CURRENCY, Column, Contract, default_contract
from checks.encoding import INTEGER_PATTERN, Codec, Encoding, default_encoding  # noqa: F401  (engines read the pattern here)
from checks.errors import BadInputError
from checks.model import DeltaFile, RawTable
from checks.rules import BOM_IGNORED, column_renamed

# A scheme of two letters at least: "C:/" is a drive, not a URI.
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")
_ONLY_ON_SPARK = "a location with a scheme (s3a://, hdfs://, file://) is read by --engine spark only; give a local path"

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def delta_number(file_name: str, contract: Contract | None = None) -> int | str | None:
    """Where a delta file stands in its feed, by its name and the contract's ``checks.files`` pattern: the
    ``order`` group as a number when it is all digits (``Delta10.CSV`` -> 10), else as text
    (``accounts_2026-01-03.csv`` -> ``"2026-01-03"``); None if the file is no delta."""
    found = (contract or default_contract()).file_order(file_name)
    if found is None:
        return None
    return int(found.order) if found.numeric else found.order


def order_key(number: int | str) -> tuple[int, int | str]:
    """A sort key for delta numbers: numbers in numeric order (``delta10`` after ``delta9``), then text in text order."""
    return (0, number) if isinstance(number, int) else (1, number)


def discover_deltas(directory: str | Path, contract: Contract | None = None) -> list[DeltaFile]:
    """Every delta file in ``directory``, ordered by its name's ``order`` group, never lexicographically by name."""
    if is_uri(directory):
        raise BadInputError(_ONLY_ON_SPARK, file=directory)
    directory = Path(directory)
    if not directory.exists():
        raise BadInputError("feed folder not found", file=directory)
    if not directory.is_dir():
        raise BadInputError("feed must be a folder of delta CSV files", file=directory)
    return order_deltas(directory, [path for path in directory.iterdir() if path.is_file()], contract)


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


def order_deltas(directory: str | Path, files: Iterable[Path], contract: Contract | None = None) -> list[DeltaFile]:
    """The delta files among the ``files`` of a feed folder, in feed order (an engine may list the folder itself)."""
    contract = contract or default_contract()
    deltas = []
    for path in files:
        number = delta_number(path.name, contract)
        if number is not None:
            deltas.append(DeltaFile(path=path, number=number))
    if not deltas:
        raise BadInputError(
            f"no delta files (names matching the contract's pattern {contract.files.pattern}) in the feed folder", file=directory
        )
    deltas.sort(key=lambda delta: order_key(delta.number))
    for previous, current in zip(deltas, deltas[1:]):
        if previous.number == current.number:
            raise BadInputError(
                f"two delta files share the number {current.number}: {previous.name} and {current.name}",
                file=directory,
            )
    return deltas


def read_raw(path: str | Path, *, columns: tuple[str, ...] | None = None, ignore_extra: bool = False) -> RawTable:
    """Read a CSV file as strings, checking that its header names exactly ``columns``.

    A UTF-8 byte-order mark is dropped and a header in another letter case is normalised,
    each with a warning; CRLF line endings are read as they are (the customer's exports use them).
    With ``ignore_extra`` (a loaded table, not a delta), columns beyond ``columns`` are dropped with a
    warning naming them; a missing column is an error either way.
    """
    path = Path(path)
    columns = default_contract().names if columns is None else columns
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

    header = _header(path, text)
    normalised = spelled_as_contract(header, columns)
    extra = [name for name in normalised if name not in columns] if ignore_extra else []
    _check_header(path, [name for name in normalised if name not in extra], columns)
    for original, name in zip(header, normalised):
        if original != name and name not in extra:
            notes.append(column_renamed(original, name))
    if extra:
        notes.append(f"column(s) {', '.join(map(repr, extra))} ignored: not among the compared columns ({', '.join(columns)})")

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
    except (pd.errors.ParserError, ValueError, csv.Error) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise BadInputError(f"malformed CSV: {first_line}", file=path) from error
    frame.columns = normalised
    frame = frame[list(columns)]
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return RawTable(name=path.name, frame=frame, warnings=tuple(notes))


# How far a loaded table's number may lie from the contract's grid (whole units, or the decimal's scale) and still be
# read as the grid's value, relative to the value: a binary float's noise (2311.53 written as 2311.530000000001, 4e-16
# off), not a digit of its own (2311.5300001, 4e-11 off).
FLOAT_NOISE = 1e-12
_FLOAT_TEXT = re.compile(r"[+-]?\d+\.\d+")  # as a float is written: digits, a point, digits (no exponent, no space)
# A date a warehouse exported as a timestamp at midnight (2026-03-04 00:00:00, ...T00:00:00.000Z).
_MIDNIGHT = re.compile(r"(\d{4}-\d{2}-\d{2})[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?")
# A number a spreadsheet or report exported with thousands separators: 5,842.03, 1,234,567.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# A moment a warehouse exported with UTC as a word (BigQuery's CSV: 2026-01-01 02:00:34 UTC, or with a fraction).
_UTC_WORD = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) ?UTC")
# A boolean a database or spreadsheet exported as a number, a letter or a word: 1/0 (a TINYINT), t/f (PostgreSQL),
# yes/no; in any letter case.
_FLAGS = {"1": 1, "0": 0, "t": 1, "f": 0, "yes": 1, "no": 0}


def _read_export_forms(
    stored: pd.DataFrame, bad_cells: pd.DataFrame, encoding: Encoding, warn: Callable[[str], None] | None, name: str
) -> pd.DataFrame:
    """The bad cells left once the values a table's export wrote in another form of their type are read (into
    ``stored``, in place; ``warn`` told per column): numbers written through a binary float (13.0 for 13,
    2311.530000000001 for 2311.53, no further off than ``FLOAT_NOISE``), amounts written with their currency, dates
    written as timestamps at midnight, moments with UTC as a word, and booleans written as 1/0, t/f or yes/no.
    A platform's export is a finding for the diagnosis, not a reason to stop it; any other cell is still bad input."""
    left = []
    for column, cells in bad_cells.groupby("column", sort=False):
        codec = encoding.codecs[str(column)]
        for form in _EXPORT_FORMS:
            read = form(codec, cells["value"].astype(str).reset_index(drop=True))
            if read is None:
                continue
            near, values, words = read
            if near.any():
                stored.loc[cells["row"].to_numpy()[near], column] = values[near]
                if warn is not None:
                    first = cells["value"].iloc[int(np.flatnonzero(near)[0])]
                    said = codec.render(values[near][:1])[0]
                    warn(f"{name}: column {column!r}: {int(near.sum()):,} value(s) written {words}, read as the contract's "
                         f"{codec.column.logical_type} (first {first!r} as {said})")
            cells = cells[~near]
        left.append(cells)
    return pd.concat(left, ignore_index=True) if left else bad_cells


ExportForm = tuple[np.ndarray, np.ndarray, str]


def _at_midnight(codec: Codec, texts: pd.Series) -> ExportForm | None:
    """Dates written as timestamps at midnight."""
    if codec.column.logical_type != "date":
        return None
    days = pd.to_datetime(texts.str.extract(f"^{_MIDNIGHT.pattern}$")[0], format="%Y-%m-%d", errors="coerce")
    return days.notna().to_numpy(), days.to_numpy(dtype="datetime64[D]").astype(np.int64), "as a timestamp at midnight"


def _with_utc_as_a_word(codec: Codec, texts: pd.Series) -> ExportForm | None:
    """Timestamps written with UTC as a word, read as those moments (microseconds, as every timestamp is held)."""
    if codec.column.logical_type != "timestamp":
        return None
    parts = texts.str.extract(f"^{_UTC_WORD.pattern}$")
    moments = pd.to_datetime(parts[0] + "T" + parts[1], format="ISO8601", errors="coerce")
    near = moments.notna().to_numpy()
    values = np.where(near, moments.to_numpy(dtype="datetime64[us]").astype(np.int64), 0)
    return near, values, "with UTC as a word"


def _through_a_float(codec: Codec, texts: pd.Series) -> ExportForm | None:
    """Exact numbers written through a binary float: within ``FLOAT_NOISE`` of the contract's grid."""
    scale = _scale(codec.column)
    if scale is None:
        return None
    floats = pd.to_numeric(texts.where(texts.str.fullmatch(_FLOAT_TEXT.pattern)), errors="coerce").to_numpy(dtype="float64")
    grid = np.round(floats * 10**scale)
    near = np.isfinite(floats) & (np.abs(floats * 10**scale - grid) <= FLOAT_NOISE * np.maximum(np.abs(grid), 1))
    near &= np.abs(np.nan_to_num(grid)) < 2**53  # exact in a float, so exact as an integer
    return near, np.where(near, np.nan_to_num(grid), 0).astype("int64"), "through a binary float"


def _with_thousands_separators(codec: Codec, texts: pd.Series) -> ExportForm | None:
    """Exact numbers written with commas between groups of three digits, read without them. With three decimals or
    more a single group (``1,500``) may be a decimal comma: read only where some cell of the column shows the grouping
    for certain (a point after the groups, or two groups)."""
    scale = _scale(codec.column)
    if scale is None:
        return None
    grouped = texts.str.fullmatch(_GROUPED.pattern).to_numpy(dtype=bool)
    if scale >= 3 and not (texts[grouped].str.contains(".", regex=False) | texts[grouped].str.count(",").gt(1)).any():
        return None
    values, valid = codec.parse(texts.str.replace(",", "", regex=False))
    near = grouped & valid
    return near, np.where(near, values, 0).astype("int64"), "with thousands separators"


def _with_the_currency(codec: Codec, texts: pd.Series) -> ExportForm | None:
    """Amounts written with the contract's currency before their digits (a spreadsheet's currency format: $2,311.53,
    -$12.50, EUR 12.50), read without it (and without thousands separators grouped as ``_GROUPED`` groups them)."""
    column = codec.column
    if column.role != "amount" or _scale(column) is None:
        return None
    currency = column.currency or DEFAULT_CURRENCY
    parts = texts.str.extract(rf"^([+-]?)\s*{re.escape(currency)}\s*([+-]?[\d,.]+)$")
    signed = parts[0].fillna("") + parts[1].fillna("")
    grouped = signed.str.fullmatch(_GROUPED.pattern)
    values, valid = codec.parse(signed.where(~grouped, signed.str.replace(",", "", regex=False)))
    near = parts[1].notna().to_numpy() & valid
    return near, np.where(near, values, 0).astype("int64"), f"with the currency ({currency})"


def _as_a_flag(codec: Codec, texts: pd.Series) -> ExportForm | None:
    """Booleans written as 1/0, t/f or yes/no (``_FLAGS``), read as true and false."""
    if codec.column.logical_type != "boolean":
        return None
    values = texts.str.lower().map(_FLAGS)
    return values.notna().to_numpy(), values.fillna(0).to_numpy(dtype="int64"), "as 1/0, t/f or yes/no"


def _scale(column: Column) -> int | None:
    """The decimals of an exact number column (0 for an integer one); None for any other column."""
    if column.logical_type == "integer":
        return 0
    return column.decimal[1] if column.logical_type == "number" and column.decimal is not None else None


# The forms of a value a table's export may write, each tried on the cells the ones before left.
_EXPORT_FORMS = (_at_midnight, _with_utc_as_a_word, _through_a_float, _with_thousands_separators, _with_the_currency, _as_a_flag)


def read_table(
    path: str | Path, encoding: Encoding | None = None, *, warn: Callable[[str], None] | None = None
) -> pd.DataFrame:
    """Read a loaded table (platform's or customer's) in computing form (``checks.encoding``); any cell that is
    no value of its column's type is bad input.

    Columns beyond the contract's (a ``loaded_at``, lineage columns) are ignored; ``warn`` is told which,
    with the file's other reading notes.
    """
    encoding = encoding or default_encoding()
    raw = read_raw(path, columns=encoding.contract.names, ignore_extra=True)
    if warn is not None:
        for note in raw.warnings:
            warn(f"{raw.name}: {note}")
    stored, _, bad_cells = encoding.parse_frame(raw.frame)
    if len(bad_cells):
        bad_cells = _read_export_forms(stored, bad_cells, encoding, warn, raw.name)
    if len(bad_cells):
        first = bad_cells.iloc[0]
        column = encoding.codecs[str(first["column"])].column
        kind = "non-integer" if column.logical_type == "integer" else f"invalid {column.logical_type}"
        raise BadInputError(
            f"{len(bad_cells)} {kind} value(s); first {first['value']!r} at row {first['row']}",
            file=path,
            column=column.name,
        )
    return stored


def _header(path: Path, text: str) -> list[str]:
    """The first CSV record of ``text``; a malformed one (a stray carriage return, a quote left open) is bad input."""
    try:
        return next(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise BadInputError(f"malformed CSV header: {error}", file=path) from error


def _first_long_row(text: str, fields: int) -> int | None:
    """The line number of the first row with more than ``fields`` fields (only called on that error)."""
    try:
        for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if len(row) > fields:
                return line
    except csv.Error:
        pass  # a malformed line before the long one: the message then names no line
    return None


def refuse_missing_table(path: Path) -> None:
    """One clear line for a local table that is not there or is a folder (a URI is its engine's to open): a run
    calls it before any work, as its tables are read beside the feed and their errors would come after it."""
    if is_uri(path):
        return
    if not path.exists():
        raise BadInputError("file not found", file=path)
    if path.is_dir():
        raise BadInputError("expected a CSV file, found a folder", file=path)


def _read_bytes(path: Path) -> bytes:
    if is_uri(path):
        raise BadInputError(_ONLY_ON_SPARK, file=path)
    refuse_missing_table(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInputError(f"cannot read file: {error.strerror}", file=path) from error
    if not data:
        raise BadInputError("empty file (0 bytes)", file=path)
    return data


def spelled_as_contract(header: Sequence[str], columns: Sequence[str]) -> list[str]:
    """Each name of a file's header as the contract spells it: trimmed, and in the contract's letter case where it names
    one of its columns in another (``USER_ID`` read as ``user_id``, `` client id`` as ``Client ID``); a name the
    contract has not, trimmed and in lower case. Two columns of the contract one name apart in letter case only are
    each matched exactly."""
    by_folded: dict[str, list[str]] = {}
    for column in columns:
        by_folded.setdefault(column.lower(), []).append(column)
    names = []
    for name in header:
        trimmed = name.strip()
        matches = by_folded.get(trimmed.lower(), [])
        names.append(trimmed if trimmed in columns else matches[0] if len(matches) == 1 else trimmed.lower())
    return names


def _check_header(path: Path, header: list[str], columns: tuple[str, ...]) -> None:
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise BadInputError(f"duplicate column(s) in header: {', '.join(duplicated)}", file=path)
    differences = column_differences(header, columns)
    if differences:
        raise BadInputError("; ".join(differences) + f" (expected: {', '.join(columns)})", file=path)


def column_differences(found: list[str], expected: tuple[str, ...]) -> list[str]:
    """What separates ``found`` from ``expected`` as phrases (missing, then unexpected); empty when equal as sets."""
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    parts = []
    if missing:
        parts.append(f"missing column(s): {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected column(s): {', '.join(repr(name) for name in unexpected)}")
    return parts
