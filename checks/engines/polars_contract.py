"""The Polars engine on contracts of any shape: each file read as text by Polars and parsed into the computing form
(``checks.encoding``) with vectorised expressions, every contract rule (``checks.rules``) one expression over it.

Written to agree with the pandas reference (``checks.validate``, ``checks.feed.read_table``) on every file it
passes, never to word a failure: when any cell breaks a rule, or the file holds what Polars might read otherwise
than pandas (no usual header, a blank line, a short or long row), the reference reads the file again and has the
last word. A column whose cells this module cannot parse exactly as ``Codec.parse`` does (a floating number, a
timestamp in a form other than the usual ones) is parsed by ``Codec.parse`` itself, on that column only.
"""
from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from checks.encoding import NULL, USUAL_TIMESTAMPS, Codec, Encoding
from checks.engines import _frames
from checks.feed import read_table as _read_table_reference
from checks.model import Delta, DeltaFile, empty_failures
from checks.peak import trim_heaps
from checks.results import DeltaValidation
from checks.rules import text_rules, value_rules
from checks.validate import read_and_validate as _read_and_validate_reference

# Bytes of a file read and parsed at a time (about 150,000 lines of the second sample): a block's text takes about twice
# its bytes in Polars, and Polars still parses a block on every core.
_BLOCK_BYTES = 16 * 2**20
# Columns of a block parsed at a time, one a core (one more was no faster, and left 30 MB more resident at 1 M accounts).
_COLUMN_THREADS = os.cpu_count() or 1


class _Reference(Exception):
    """This file is the reference's to read: a failing cell, or something Polars may read otherwise."""


def read_and_validate(delta_file: DeltaFile, encoding: Encoding) -> DeltaValidation:
    """``checks.validate.read_and_validate`` on Polars: the same validation for a delta that passes, the reference's
    for one that does not."""
    try:
        header, stored, rows = _read_stored(delta_file.path, encoding, rules=True)
        if rows == 0:
            raise _Reference  # not_empty, as the reference words it
        if _values_break(stored, encoding):
            raise _Reference
    except _Reference:
        return _read_and_validate_reference(delta_file, encoding)
    frame = _to_pandas(stored, rows)
    return DeltaValidation(
        name=delta_file.name, number=delta_file.number, delta=Delta.validated(delta_file.name, delta_file.number, frame),
        failures=empty_failures(), warnings=header.warnings, rows=rows,
    )


def read_table(path: str | Path, encoding: Encoding, *, warn: Callable[[str], None] | None = None) -> pd.DataFrame:
    """``checks.feed.read_table`` on Polars: the table in computing form; any bad cell is the reference's to word."""
    path = Path(path)
    try:
        header, stored, rows = _read_stored(path, encoding)
    except _Reference:
        return _read_table_reference(path, encoding, warn=warn)
    if warn is not None:
        for note in header.warnings:
            warn(f"{path.name}: {note}")
    return _to_pandas(stored, rows)


def _read_stored(path: Path, encoding: Encoding, *, rules: bool = False) -> tuple[_frames.Header, dict[str, np.ndarray], int]:
    """The file's columns in computing form and its row count, read and parsed a block of lines at a time (the text of
    a 10 M-row table held whole took 1.2 GB); with ``rules``, ``_Reference`` when a cell breaks a text rule.

    Strings are coded block after block, in file order: the dictionary numbers them as a whole read would."""
    names = encoding.contract.names
    header = _frames.read_header(path, names)
    if header is None:
        raise _Reference
    blocks: list[dict[str, pl.Series]] = []
    # Blocks being parsed, oldest first: each one's columns and the check of its text rules.
    pending: list[tuple[dict[str, Future[pl.Series]], Future[None] | None]] = []
    size = path.stat().st_size
    with ThreadPoolExecutor(max_workers=_COLUMN_THREADS, thread_name_prefix="parse columns") as columns:
        for text, block_bytes in _texts(path, header, names):
            if not blocks and not pending:
                _expect_texts(text, encoding, blocks_in_file=size / block_bytes)
            if len(pending) == 2:  # two blocks in flight at most: the older one is done before a third starts
                blocks.append(_settle(*pending.pop(0)))
            checked = columns.submit(_check_text_rules, text, encoding) if rules else None
            pending.append((_parsing(text, encoding, columns, after=pending[-1][0] if pending else None), checked))
        blocks += [_settle(*block) for block in pending]
    rows = sum(len(block[names[0]]) for block in blocks)
    # Column by column, each block's part let go once copied: one column's copy at a time on top of the blocks.
    stored = {name: _column([block.pop(name) for block in blocks], encoding.codecs[name]) for name in names}
    # The memory the block threads freed, given back: glibc keeps a heap per thread and returns little of it by itself
    # (reading 1 M accounts' tables and feed peaked at 640 MB untrimmed, 580-600 trimmed, 490 without threads).
    trim_heaps()
    return header, stored, rows


def _expect_texts(block: pl.DataFrame, encoding: Encoding, *, blocks_in_file: float) -> None:
    """Tell each dictionary about how many texts the file may add (``Dictionary.expect``): its first block's distinct
    texts as many times as the file holds such blocks (at most its rows; fewer where texts repeat from block to block)."""
    for name, codec in encoding.codecs.items():
        if codec.dictionary is not None and codec.dictionary.expecting:  # no count of texts a built table ignores
            codec.dictionary.expect(round(block[name].n_unique() * blocks_in_file))


def _texts(path: Path, header: _frames.Header, names: tuple[str, ...]) -> Iterator[tuple[pl.DataFrame, int]]:
    """Each block of the file's lines as text (``_read_text``) with its size in bytes, in file order, the next block read
    on a thread while the caller parses this one (Polars lets go of the interpreter lock as it reads)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read blocks") as pool:
        pending = None
        for number, lines in enumerate(_line_blocks(path)):
            following = pool.submit(_read_text, lines, header, names, first=number == 0), len(lines)
            if pending is not None:
                yield pending[0].result(), pending[1]
            pending = following
        if pending is not None:
            yield pending[0].result(), pending[1]


def _line_blocks(path: Path) -> Iterator[bytes]:
    """The file's bytes in blocks of whole lines, about ``_BLOCK_BYTES`` each; from a block holding a quote on, the rest
    of the file as one block (a quoted cell may hold a line break, so only a file without quotes is cut anywhere).

    Cut from a map of the file: each block's bytes are copied once (reading, then joining the part line left over and
    cutting at the last line break, copied them three times: 0.37 CPU-s for a 10 M-row table's 0.55 GB, now 0.22)."""
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            return
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            start, size = 0, len(data)
            while start < size:
                end = min(start + _BLOCK_BYTES, size)
                if end < size:  # up to the last line break, or past the next one when a line is longer than a block
                    cut = data.rfind(b"\n", start, end)
                    cut = cut if cut >= 0 else data.find(b"\n", end)
                    end = size if cut < 0 else cut + 1
                if data.find(b'"', start, end) >= 0:
                    yield data[start:]
                    return
                yield data[start:end]
                _let_go(data, start, end)
                start = end


def _let_go(data: mmap.mmap, start: int, end: int) -> None:
    """Drop the mapped pages of bytes already copied from this process's resident memory (the file's whole map held
    at once counted its size in the run's peak); they stay in the page cache."""
    if hasattr(mmap, "MADV_DONTNEED"):
        aligned = start - start % mmap.PAGESIZE
        data.madvise(mmap.MADV_DONTNEED, aligned, end - aligned)


def _read_text(lines: bytes, header: _frames.Header, names: tuple[str, ...], *, first: bool) -> pl.DataFrame:
    """A block's cells as text (null for an empty cell) in the contract's column order (the header is the first
    block's first line)."""
    if not first and lines.startswith((b"\n", b"\r")):
        raise _Reference  # a blank line: pandas skips it and numbers the rows after it otherwise
    try:
        text = pl.read_csv(
            lines, has_header=False, skip_rows=1 if first else 0, schema={name: pl.String for name in header.names},
            encoding="utf8",
        ).select(pl.col(name).replace("", None) for name in names)  # a quoted "" is empty too
    except pl.exceptions.PolarsError as error:
        raise _Reference from error  # a long row, bytes that are no UTF-8...
    # A blank line (pandas skips it and numbers the rows after it otherwise) or a short row (Polars fills it with
    # nulls): the last column empty, where it may be, is the one trace of either a cheap check can see.
    if text.select(pl.col(names[-1]).is_null().any()).item():
        raise _Reference
    return text


def _parsing(
    text: pl.DataFrame, encoding: Encoding, columns: Executor, *, after: dict[str, Future[pl.Series]] | None
) -> dict[str, Future[pl.Series]]:
    """Every column of a block being put in computing form (``_parsed_column``), each on one of ``columns``' threads: a
    Series' parsing and a dictionary's lookups take one core each, and lose hold of the interpreter lock as they go.

    The next block's columns start while this one's slowest (a key's new texts) is still being coded, so that no core
    waits for it; a string column's dictionary is given a block's texts only once the block ``after``'s are coded, so
    the codes are those of a reading in file order. (Tasks start in the order given: the one waited for is running.)"""

    def parse(name: str) -> pl.Series:
        codec = encoding.codecs[name]
        if codec.dictionary is not None and after is not None:
            after[name].result()
        return _parsed_column(text[name], codec)

    return {name: columns.submit(parse, name) for name in encoding.contract.names}


def _parsed_column(cells: pl.Series, codec: Codec) -> pl.Series:
    """The column in computing form (int64, ``NULL`` for an empty cell; a floating column's float64 bits); ``_Reference``
    when a cell holds no literal of its type, or is empty where it must be filled."""
    values = _parse_column(cells, codec)
    if values is None:  # a form this module does not parse: Codec.parse decides, on this column
        parsed, valid = codec.parse(pd.Series(cells.fill_null("").to_numpy(), dtype=object))
        if not valid.all():
            raise _Reference
        values = pl.Series(cells.name, parsed.view(np.int64) if parsed.dtype == np.float64 else parsed)
    elif values.null_count() != cells.null_count() or (codec.column.required and cells.null_count()):
        raise _Reference  # a cell that is no literal, or an empty one that must be filled
    return values.fill_null(NULL).cast(pl.Int64).alias(cells.name)


def _parse_column(cells: pl.Series, codec: Codec) -> pl.Series | None:
    """The cells in computing form, null where empty or no literal; None when ``Codec.parse`` must decide."""
    kind, column = codec.column.logical_type, codec.column
    if kind == "string":
        return _codes(cells, codec)
    if kind == "timestamp":  # every filled cell in one of the usual forms, each a literal of the type, or None
        values = _timestamps(cells)
        return None if values is None else values.alias(cells.name)
    if kind == "integer":
        # Polars casts exactly the literals of ``INTEGER_PATTERN`` that fit int64 (``checks.engines.polars``'s premise):
        # no pattern to match.
        return cells.cast(pl.Int64, strict=False)
    if kind == "number" and column.decimal is not None:
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
    """Microseconds since 1970 (UTC), for a column whose filled cells all take one of ``USUAL_TIMESTAMPS``."""
    for form in USUAL_TIMESTAMPS:
        if cells.str.contains(form.pattern).all():  # empty cells aside
            # No cache of parsed texts: it cost a third more than parsing each cell, even with 3,600 distinct ones in 2.5 M.
            moments = cells.str.to_datetime(form.strftime, time_unit="us", strict=False, cache=False)
            return moments.dt.replace_time_zone(None).cast(pl.Int64)
    return None


def _codes(cells: pl.Series, codec: Codec) -> pl.Series:
    """Each cell's code in the run's dictionary (null where empty), as ``Dictionary.encode`` gives them."""
    return codec.dictionary.encode_series(cells)


def _settle(block: dict[str, Future[pl.Series]], check: Future[None] | None) -> dict[str, pl.Series]:
    """A block's columns once parsed; ``_Reference`` as soon as a cell of it breaks a rule (the rest is not read)."""
    if check is not None:
        check.result()
    return {name: parsed.result() for name, parsed in block.items()}


def _check_text_rules(text: pl.DataFrame, encoding: Encoding) -> None:
    """``_Reference`` when any cell breaks one of the contract's text rules."""
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
    if breaks:
        raise _Reference


def _values_break(columns: dict[str, np.ndarray], encoding: Encoding) -> bool:
    """Whether a filled value breaks a bound, the key's uniqueness or a set of allowed values."""
    checks, checked = [], set()
    for rule in value_rules(encoding):
        if encoding.codecs[rule.column].dtype == "float64":
            return True  # a floating column's bounds: the reference compares them
        if rule.kind == "unique" and encoding.codecs[rule.column].dictionary is not None:
            if _codes_repeat(columns[rule.column]):
                return True
            continue
        checked.add(rule.column)
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
    if not checks:
        return False
    stored = pl.DataFrame({name: columns[name] for name in checked})
    # Named apart: two rules of one column (a minimum and uniqueness) would otherwise both be named after it.
    return any(stored.select(check.alias(f"rule_{index}") for index, check in enumerate(checks)).row(0))


def _codes_repeat(codes: np.ndarray) -> bool:
    """Whether a filled dictionary code occurs twice: a flag per code (10 MB at 10 M texts) where Polars' hash table of
    the column took 0.4 GB."""
    filled = codes if codes.min(initial=0) >= 0 else codes[codes != NULL]
    seen = np.zeros(int(filled.max(initial=-1)) + 1, dtype=bool)
    seen[filled] = True
    return int(np.count_nonzero(seen)) != len(filled)


def _column(parts: list[pl.Series], codec: Codec) -> np.ndarray:
    """One column of the blocks' parts: int32 where every value lies within ``_frames.NARROW_LIMIT``, as the first customer's
    columns are held (half the memory of a 10 M-row table's codes, counts and amounts; an empty cell's ``NULL`` never
    fits), else int64."""
    narrow = codec.dtype == "int64" and any(len(part) for part in parts) and all(
        -_frames.NARROW_LIMIT <= part.min() and part.max() < _frames.NARROW_LIMIT for part in parts if len(part)
    )
    # Each part copied once, narrowed as it is (a cast then a concatenation copied it twice: 1 s of 10 M accounts).
    column = np.empty(sum(len(part) for part in parts), dtype=np.int32 if narrow else np.int64)
    at = 0
    for part in parts:
        column[at:at + len(part)] = part.to_numpy()
        at += len(part)
    return column


def _to_pandas(stored: dict[str, np.ndarray], rows: int) -> pd.DataFrame:
    """The contract's columns as NumPy columns, indexed by line number as the reference's frames are."""
    return pd.DataFrame(stored, index=pd.RangeIndex(2, rows + 2, name="row"), copy=False)
