"""Writing outputs atomically: a temp file in the target folder, fsynced, then renamed over the target.

A crash leaves either the old file or the new one, never half of one. Frames go out through Arrow
without copying their columns: CSV formatted by Polars, Parquet by Polars when pandas reads the file
back as it was, by pandas (pyarrow) otherwise. A table rendered as text for its file is handed over a
block of rows at a time (``atomic_write_blocks``: CSV by Polars, Parquet by Arrow), so that only a block
of its text is ever held.
"""
from __future__ import annotations

import functools
import os
import secrets
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

# Rows per CSV chunk: about 45 MB of 21 columns in flight at most. Half of 2**19: writing discrepancies.csv at
# 10 M users (1.9 M rows, while the diagnosis searches) held 60 MiB less, for the same CPU (1.4-1.7 s either way).
_CHUNK_ROWS = 1 << 18


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named first and created inside ``try``: an interrupt (a signal raises between any two steps) right after the
    # file exists still removes it. 0o666 less the umask: the permissions a plain open() would give.
    temporary_path = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        os.close(os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        yield temporary_path
        with open(temporary_path, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary_path, path)
    finally:
        temporary_path.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_frame(
    path: str | Path,
    frame: pd.DataFrame,
    *,
    rows: np.ndarray | None = None,
    categoricals_as_text: bool = False,
    numbers: Collection[str] = (),
) -> Path:
    """Write a frame as CSV or Parquet, chosen by the file suffix.

    ``rows`` (positions) writes only those rows, in that order, gathered a chunk at a time in Arrow
    rather than as a pandas frame. With ``categoricals_as_text``, a Parquet file holds a categorical of text as the
    text it stands for (pandas reads it back as text), as CSV always does. ``numbers`` names the text columns that hold
    numbers (an exact decimal, an optional integer, an amount in words' units): a CSV writes their cells as they are,
    as it writes a number column's, never as a formula made harmless (``-5.25``, not ``'-5.25``).
    """
    path = _output_path(path)
    with atomic_path(path) as temporary:
        if path.suffix == ".parquet":
            _write_parquet(frame, temporary, rows, categoricals_as_text=categoricals_as_text)
        else:
            _write_csv(frame, temporary, rows, numbers)
    _release_arrow_memory()
    return path


def _output_path(path: str | Path) -> Path:
    """``path`` of a table's output, refused unless it is a CSV or a Parquet file (by its suffix)."""
    path = Path(path)
    if path.suffix not in (".csv", ".parquet"):
        raise ValueError(f"unsupported output format: {path.suffix}")
    return path


def _release_arrow_memory() -> None:
    """Give back the pages Arrow's pool (mimalloc) kept from a write: a write on a thread otherwise leaves about
    100 MiB resident through the diagnosis's peak (10 M users). Arrow is not imported for it."""
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()


class PendingWrites:
    """Frames being written, one after another, by a background thread (``write_frames``); a write gives its path, or
    its paths by name where it writes several files at once."""

    def __init__(self, futures: dict[str, Future[Path | Mapping[str, Path]]]) -> None:
        self._futures = futures

    def wait(self) -> dict[str, Path]:
        """The paths written, by name, once every write has ended; the first error raised if any failed.

        A failed write left its old file (or none) and no temporary file, like ``atomic_write_frame``.
        """
        futures_wait(self._futures.values())
        written: dict[str, Path] = {}
        for name, future in self._futures.items():
            paths = future.result()
            written.update(paths if isinstance(paths, Mapping) else {name: paths})
        return written


def write_frames(targets: Mapping[str, tuple[str | Path, pd.DataFrame]]) -> PendingWrites:
    """Start writing each ``name: (path, frame)`` atomically on one background thread and return at once.

    The formatting runs in Arrow and Polars, which release the GIL, so the caller's next stage runs
    meanwhile. The frames must not change until ``wait()`` returns (the pipeline never mutates a frame);
    call ``wait()`` on every path out, errors included, so that no write outlives its process.
    """
    return start_writing({name: functools.partial(atomic_write_frame, path, frame) for name, (path, frame) in targets.items()})


def start_writing(writes: Mapping[str, Callable[[], Path | Mapping[str, Path]]]) -> PendingWrites:
    """Run each ``name: write`` (atomic writes returning their paths), one after another, on one background thread."""
    futures: dict[str, Future] = {name: Future() for name in writes}
    threading.Thread(target=_write_each, args=(writes, futures), name=_WRITER_THREAD).start()
    return PendingWrites(futures)


# The writer threads' name. The command line leaves with ``os._exit``, which would cut a write short and leave its
# temporary file, so it first joins every thread of that name (``wait_for_writes``): an interrupt can land before the
# caller holds its ``PendingWrites``, even while ``start_writing`` runs, and a thread once started is found by name.
_WRITER_THREAD = "write frames"


def _write_each(writes: Mapping[str, Callable[[], Path | Mapping[str, Path]]], futures: Mapping[str, Future]) -> None:
    for name, write in writes.items():
        try:
            futures[name].set_result(write())
        except BaseException as error:  # noqa: BLE001  handed to whoever waits, as an executor would
            futures[name].set_exception(error)


def wait_for_writes() -> None:
    """Let every write this process started end: its file renamed into place, or its temporary file removed."""
    for thread in threading.enumerate():
        if thread.name == _WRITER_THREAD:
            thread.join()


# Readers of outputs written elsewhere than their path says (an output folder at a URI, ``checks.engines.spark_files``).
_ELSEWHERE: list[Callable[[Path], bytes | None]] = []


@contextmanager
def written_elsewhere(read: Callable[[Path], bytes | None]) -> Iterator[None]:
    """While inside, ``read_output`` asks ``read`` for an output missing at its path (None: not one ``read`` knows)."""
    _ELSEWHERE.append(read)
    try:
        yield
    finally:
        _ELSEWHERE.remove(read)


def read_output(path: str | Path) -> bytes:
    """An output's bytes, from its path or from where it was written in its stead (``written_elsewhere``)."""
    path = Path(path)
    if not path.exists():
        for read in _ELSEWHERE:
            data = read(path)
            if data is not None:
                return data
    return path.read_bytes()


# --- CSV ------------------------------------------------------------------------------------------------


def _write_csv(frame: pd.DataFrame, path: Path, rows: np.ndarray | None, numbers: Collection[str] = ()) -> None:
    """CSV through Arrow and Polars (three times faster than Arrow's writer on 10 M rows), quoted only where needed.

    Cells read as they always have: numbers as Arrow prints them (``1234`` for a float 1234.0), missing
    and empty text as nothing, text that could run as a formula neutralised. Column types Arrow or
    Polars cannot take (mixed Python objects, dates) go through pandas. A table without rows is its header line,
    written without Polars (Spark's driver writes an empty failures.csv: Polars' import alone is 22-34 MiB there).
    """
    names = [str(name) for name in frame.columns]
    if (len(frame) if rows is None else len(rows)) == 0 and names and all(names):
        path.write_bytes(_header_line(names))
        return
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError):  # e.g. a repeated name
        table = None
    if table is None or len(set(names)) < len(names) or not all(_csv_ready_type(field.type) for field in table.schema):
        chosen = frame if rows is None else frame.iloc[rows]
        neutralise_formulas(chosen, numbers=numbers).to_csv(path, index=False, lineterminator="\n")
        return
    if rows is not None:
        rows = np.asarray(rows, dtype="int64")
    size = table.num_rows if rows is None else len(rows)
    with open(path, "wb") as sink:
        csv = _CsvChunks(sink, numbers)
        # In chunks, so that gathered rows and formatted text stay bounded whatever the table's size.
        for start in range(0, max(size, 1), _CHUNK_ROWS):
            csv.write(table.slice(start, _CHUNK_ROWS) if rows is None else table.take(pa.array(rows[start:start + _CHUNK_ROWS])))


class _CsvChunks:
    """A CSV written a chunk of rows at a time (an Arrow table each, the same columns), the header before the first."""

    def __init__(self, sink: BinaryIO, numbers: Collection[str] = ()) -> None:
        self._sink, self._numbers, self._header = sink, numbers, True

    def write(self, chunk: pa.Table) -> None:
        import polars as pl
        import pyarrow as pa

        names = chunk.column_names
        cells = pa.table([_csv_column(column, number=name in self._numbers) for name, column in zip(names, chunk.columns)], names=names)
        # Where no cell can need quotes, Polars is told so: it then checks no text cell for them (half the time).
        quoting = "never" if _needs_no_quotes(cells) else "necessary"
        # Large batches keep Polars from coming back to Python (and its lock) every thousand rows.
        pl.from_arrow(cells).write_csv(self._sink, include_header=self._header, batch_size=1 << 16, quote_style=quoting)
        self._header = False

    def close(self) -> None:
        """Nothing to end: a CSV is whole after its last chunk."""


# What makes Polars quote a text cell or a name (``quote_style="necessary"``): a separator, a quote, a line break.
_QUOTED_CHARACTERS = ',"\r\n'


def _needs_no_quotes(cells: pa.Table) -> bool:
    """Whether Polars would quote nothing of the table: two columns at least (a lone empty cell is quoted), names
    that are neither empty nor hold a character needing quotes, numbers, and text only in dictionaries (a few names
    checked, not every cell) none of whose values holds such a character."""
    import pyarrow.compute as pc
    import pyarrow.types as types

    names = cells.column_names
    if len(names) < 2 or not all(names) or any(set(name) & set(_QUOTED_CHARACTERS) for name in names):
        return False
    for column in cells.columns:
        kind = column.type
        if types.is_integer(kind) or types.is_boolean(kind) or types.is_null(kind):
            continue
        if not types.is_dictionary(kind):
            return False
        for chunk in column.chunks:
            if pc.any(pc.match_substring_regex(chunk.dictionary, f"[{_QUOTED_CHARACTERS}]")).as_py():
                return False
    return True


def _header_line(names: list[str]) -> bytes:
    """The header as Polars writes it: a name quoted (its quotes doubled) when it holds a character of
    ``_QUOTED_CHARACTERS`` (an empty name, which Polars quotes too, is left to Polars)."""
    quoted = ('"' + name.replace('"', '""') + '"' if set(name) & set(_QUOTED_CHARACTERS) else name for name in names)
    return (",".join(quoted) + "\n").encode("utf-8")


def _csv_ready_type(kind: pa.DataType) -> bool:
    import pyarrow.types as types

    if types.is_dictionary(kind):
        return _is_text(kind.value_type)
    return types.is_integer(kind) or types.is_floating(kind) or types.is_boolean(kind) or types.is_null(kind) or _is_text(kind)


def _is_text(kind: pa.DataType) -> bool:
    import pyarrow.types as types

    return types.is_string(kind) or types.is_large_string(kind) or types.is_string_view(kind)


def _csv_column(column: pa.ChunkedArray, *, number: bool = False) -> pa.Array | pa.ChunkedArray:
    """A column's cells as the CSV holds them; a ``number``'s text as it is (an empty cell as nothing)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as types

    if types.is_floating(column.type):
        # Arrow's own text for floats (1234.0 -> "1234"), as the CSV has always had.
        return pc.cast(column, pa.large_string())
    if number and (types.is_dictionary(column.type) or _is_text(column.type)):
        return _safe_plain_text(pc.cast(column, pa.large_string()).combine_chunks(), neutralise=False)
    if types.is_dictionary(column.type) or _is_text(column.type):
        return _safe_text(column)
    return column


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_BYTES = np.frombuffer("".join(FORMULA_PREFIXES).encode("ascii"), dtype="uint8")


def _safe_text(column: pa.ChunkedArray) -> pa.Array:
    """A text column as a spreadsheet must see it: a formula prefixed with ``'``, an empty cell missing (Polars
    would quote it as ``""``).

    A dictionary column (the few file and class names repeated over millions of rows) is checked per name and
    handed to Polars without a copy of every string. Plain text is checked cell by cell from Arrow's buffers:
    encoding it as a dictionary first cost 1.8 s per 1.9 M distinct keys (the hashing, then Polars' categories).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as types

    if not types.is_dictionary(column.type):
        return _safe_plain_text(pc.cast(column, pa.large_string()).combine_chunks())
    encoded = column.unify_dictionaries().combine_chunks()
    values = pc.cast(encoded.dictionary, pa.large_string())
    indices = encoded.indices
    first = _first_bytes(values)
    empty = np.flatnonzero(first == -1)
    if len(empty):
        blank = pc.is_in(indices, value_set=pa.array(empty, type=indices.type))
        indices = pc.if_else(blank, pa.scalar(None, indices.type), indices)
    risky = np.isin(first, _FORMULA_BYTES)
    if risky.any():
        values = _quoted(values, risky)
        if pc.count_distinct(values).as_py() < len(values):  # "=x" became a "'=x" that was there already
            return pc.take(values, indices)
    return pa.DictionaryArray.from_arrays(indices, values)


def _safe_plain_text(values: pa.Array, *, neutralise: bool = True) -> pa.Array:
    """``_safe_text`` of a large_string array, cell by cell; without ``neutralise``, only an empty cell made missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    first = _first_bytes(values)
    if neutralise:
        risky = np.isin(first, _FORMULA_BYTES)
        if risky.any():
            values = _quoted(values, risky)
    empty = first == -1
    if empty.any():
        values = pc.if_else(pa.array(empty), pa.scalar(None, values.type), values)
    return values


def _quoted(values: pa.Array, risky: np.ndarray) -> pa.Array:
    """``values`` with ``'`` before each cell marked ``risky``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    quote, nothing = pa.scalar("'", values.type), pa.scalar("", values.type)
    return pc.if_else(pa.array(risky), pc.binary_join_element_wise(quote, values, nothing), values)


def _first_bytes(array: pa.Array) -> np.ndarray:
    """Each cell's first byte, -1 for an empty cell and -2 for a missing one, read from Arrow's buffers.

    The formula prefixes are ASCII, and in UTF-8 no other character starts with an ASCII byte.
    """
    validity, offsets, data = array.buffers()[:3]
    ends = np.frombuffer(offsets, dtype="int64")[array.offset:array.offset + len(array) + 1]
    starts, stops = ends[:-1], ends[1:]
    first = np.full(len(array), -1, dtype="int16")
    filled = stops > starts
    if data is not None and filled.any():
        first[filled] = np.frombuffer(data, dtype="uint8")[starts[filled]]
    if validity is not None:
        first[~np.asarray(array.is_valid(), dtype=bool)] = -2
    return first


def neutralise_formulas(frame: pd.DataFrame, *, numbers: Collection[str] = ()) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas (``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``).

    Only text columns change; numbers stay numbers, so ``-5`` in an integer column is untouched, and so is ``-5.25``
    in a column of ``numbers`` held as text.
    """
    # Columns by position: a name may repeat.
    text_columns = [
        at for at in range(frame.shape[1])
        if not pd.api.types.is_numeric_dtype(frame.iloc[:, at]) and frame.columns[at] not in numbers
    ]
    if not text_columns:
        return frame
    safe = frame.copy(deep=False)
    for at in text_columns:
        cells = safe.iloc[:, at]
        if isinstance(cells.dtype, pd.CategoricalDtype):
            # Lineage columns are categorical at scale: fix the few categories, not the 10 M cells.
            categories = cells.cat.categories.astype(str)
            risky = categories.str.startswith(FORMULA_PREFIXES)
            if risky.any():
                safe.isetitem(at, cells.cat.rename_categories(categories.where(~risky, "'" + categories)))
            continue
        risky = cells.astype(str).str.startswith(FORMULA_PREFIXES) & cells.notna()
        if risky.any():
            safe.isetitem(at, cells.astype(object).where(~risky, "'" + cells.astype(str)))
    return safe


# --- Parquet --------------------------------------------------------------------------------------------

# Rows per row group. Polars' own choice follows its thread count (100,000 rows with 2 threads, 98,040 with 3, 96,154
# with 8): the same table would be other bytes on another machine. Fixed, it is the same everywhere (and, with 2
# threads, the bytes Polars wrote before).
_PARQUET_ROW_GROUP_ROWS = 100_000


def _write_parquet(frame: pd.DataFrame, path: Path, rows: np.ndarray | None, *, categoricals_as_text: bool) -> None:
    """Polars (several times faster) when pandas reads its file back unchanged, or as text where a categorical of text
    is to be written as text; pandas otherwise, whose file carries the metadata that restores categoricals, nullable
    integers and the like."""
    if not all(_plain_dtype(dtype) or (categoricals_as_text and _text_categorical(dtype)) for dtype in frame.dtypes):
        (frame if rows is None else frame.iloc[rows]).to_parquet(path, index=False)
        return
    import polars as pl
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if rows is not None:
        table = table.take(np.asarray(rows, dtype="int64"))
    # Integers held narrow in memory (``checks.engines._frames.NARROW_LIMIT``) go out as int64, as always, and
    # categoricals as their text; streamed, so the widened columns are never held whole.
    widened = pl.from_arrow(table).lazy().with_columns(pl.col(pl.Int32).cast(pl.Int64), pl.col(pl.Categorical).cast(pl.String))
    widened.sink_parquet(path, compression="snappy", row_group_size=_PARQUET_ROW_GROUP_ROWS)


def _plain_dtype(dtype) -> bool:
    """A column whose Arrow type alone tells pandas its dtype: numpy numbers and booleans, Arrow-backed text."""
    if isinstance(dtype, np.dtype):
        return dtype.kind in "iufb"
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _text_categorical(dtype) -> bool:
    """A categorical whose categories are Arrow-backed text (Polars takes it as a Categorical)."""
    return isinstance(dtype, pd.CategoricalDtype) and _plain_dtype(dtype.categories.dtype)


# --- A table a block of rows at a time -------------------------------------------------------------------

# Rows of a table rendered as text at a time where it is written a block at a time (``atomic_write_blocks``): a 10 M-account
# deduplicated table's block is about 70 MB of text, a per-user table's 26 columns about 170 MB. A multiple of the Parquet
# row group, so that the groups are those of a whole write.
BLOCK_ROWS = 500_000


def row_blocks(rows: int) -> Iterator[slice]:
    """The rows of a table of ``rows`` rows, ``BLOCK_ROWS`` at a time, in order (one empty block for none)."""
    for start in range(0, max(rows, 1), BLOCK_ROWS):
        yield slice(start, start + BLOCK_ROWS)


# A Parquet dictionary page's size past which a row group's column is written plain: a column of distinct texts (keys,
# timestamps) gives up at once instead of hashing a whole group first. A 10 M-account table rendered as text: 3.5-3.8
# CPU-s and 319 MB with it, 4.6-5.1 CPU-s and 336 MB with Arrow's 1 MB default, 4.4-4.7 CPU-s and 291 MB by Polars.
_DICTIONARY_PAGE_BYTES = 1 << 14


def atomic_write_blocks(paths: Sequence[Path], blocks: Iterable[pa.Table], *, numbers: Collection[str] = ()) -> list[Path]:
    """Write one table, handed over a block of rows at a time (Arrow tables of the same columns, one at least), to
    each of ``paths`` (CSV or Parquet, by the suffix) at once and atomically, as ``atomic_write_frame`` would write
    it whole: only the block in hand is held, however large the table. ``numbers`` as in ``atomic_write_frame``."""
    paths = [_output_path(path) for path in paths]
    with ExitStack() as files:
        temporaries = [files.enter_context(atomic_path(path)) for path in paths]
        sinks = [files.enter_context(open(temporary, "wb")) for temporary in temporaries]
        writers = [
            _ParquetChunks(sink) if path.suffix == ".parquet" else _CsvChunks(sink, numbers)
            for path, sink in zip(paths, sinks)
        ]
        for writer in writers:
            files.callback(writer.close)  # before its file is closed, also after an error
        for block in blocks:
            for writer in writers:
                writer.write(block)
    _release_arrow_memory()
    return paths


class _ParquetChunks:
    """A Parquet file written a chunk of rows at a time by Arrow, its columns as ``_write_parquet`` writes them:
    integers as int64, a categorical as its text. Row groups of ``_PARQUET_ROW_GROUP_ROWS``, as in a whole write
    where chunks hold a multiple of it."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink, self._writer = sink, None

    def write(self, chunk: pa.Table) -> None:
        import pyarrow as pa
        import pyarrow.parquet as parquet
        import pyarrow.types as types

        fields = [
            pa.field(field.name, pa.int64() if types.is_integer(field.type) else pa.large_string() if types.is_dictionary(field.type) else field.type)
            for field in chunk.schema
        ]
        chunk = chunk.cast(pa.schema(fields)).replace_schema_metadata(None)  # no pandas metadata: read back as Polars' file
        if self._writer is None:
            self._writer = parquet.ParquetWriter(
                self._sink, chunk.schema, compression="snappy", dictionary_pagesize_limit=_DICTIONARY_PAGE_BYTES,
            )
        self._writer.write_table(chunk, row_group_size=_PARQUET_ROW_GROUP_ROWS)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
