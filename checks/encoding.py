"""The form every stage computes on: each contract column as int64 (float64 for a floating number), decoded only at the edges.

Stages compare, sort, sum and index columns as NumPy arrays, whatever the customer's shape; this
module is the one place that knows how each logical type maps to integers and back, exactly:

| logical type | held as |
|---|---|
| integer | the value |
| number, ``decimal(p,s)`` | the value times 10**s (exact: sums reach the last decimal); p <= 18 |
| number (floating) | float64 |
| date | days since 1970-01-01 |
| timestamp | microseconds since 1970-01-01T00:00:00Z (a time without an offset is read as UTC) |
| boolean | 0 or 1 |
| string | a code from a ``Dictionary`` shared by every frame of one run, in first-seen order |

An empty cell of a column that may be empty is ``NULL`` (the smallest int64; NaN for floats).
"""
from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from checks.contract import Column, Contract
from checks.ids import consecutive
from checks.peak import trim_heaps

NULL = np.iinfo(np.int64).min
INTEGER_PATTERN = r"^[+-]?[0-9]+$"
_INT64_SAFE_DIGITS = 18  # every literal of up to 18 digits fits in int64
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_FLOAT_PATTERN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_BOOLEAN_PATTERN = r"^(?i:true|false)$"


def exact_decimal(units: Any, column: Column | None) -> Decimal:
    """A value of ``column`` in computing form (an exact decimal's: a count of 10**-scale units) as the exact Decimal
    it stands for: 1050 at scale 2 is 10.50; an integer (no decimal column, or none) as itself."""
    scale = column.decimal[1] if column is not None and column.decimal else 0
    return Decimal(int(units)).scaleb(-scale)


@dataclass(frozen=True)
class TimestampForm:
    """One of the usual forms of a timestamp cell, which engines parse natively (any other form of
    ``_TIMESTAMP_PATTERN`` is ``Codec.parse``'s): its regular expression, and its spelling for Polars and for Spark."""

    pattern: str
    strftime: str
    java: str


# Whole seconds up to 59 only: a second above 59 (a leap second) pandas, Polars and Spark read otherwise.
USUAL_TIMESTAMPS = (
    TimestampForm(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9]Z$", "%Y-%m-%dT%H:%M:%SZ", "yyyy-MM-dd'T'HH:mm:ss'Z'"),
    TimestampForm(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-5][0-9]$", "%Y-%m-%d %H:%M:%S", "yyyy-MM-dd HH:mm:ss"),
    TimestampForm(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9]$", "%Y-%m-%dT%H:%M:%S", "yyyy-MM-dd'T'HH:mm:ss"),
)
_MICROSECONDS_PER_DAY = 86_400_000_000


class Dictionary:
    """Strings to codes and back, shared by every frame one run reads, so that equal text gets equal codes.

    Codes are given in the order texts are first seen. Each cell is found by two 64-bit hashes of its text
    (Polars'): the first keyed into a hash index kept for the whole run and grown as new texts arrive
    (pandas' hash tables, ``_HashIndex``), so that a file costs a pass over its own cells, never one over every text seen
    before (Arrow's ``index_in`` rebuilt a table of the whole dictionary per file: most of reading 10 M
    accounts; pandas' factorizer copied every code's hash at each call, quadratic when a file comes a block at a
    time); the second, kept per code, checks every cell's code. Should two texts share a first hash
    (about once in 400,000 runs of 10 M distinct texts), the check sees it and the dictionary looks texts up
    exactly, as Arrow's ``index_in``, for the rest of the run.
    """

    def __init__(self) -> None:
        self._chunks: list[Any] = []  # the texts in code order (pyarrow large_string arrays), as they arrived
        self._texts: Any = None  # ``_chunks`` as one array, once asked for; None when stale
        self._index: _HashIndex | None = None  # the first hash's table (hash to code); None until built
        self._checks = np.zeros(0, dtype=np.uint64)  # each code's second hash, in its first ``_size`` places
        self._exact = False  # a first hash was shared: look texts up exactly from then on
        self._size = 0  # how many texts have codes
        self._expected = 0  # how many texts the hash table is sized for when next built (``expect``)
        self._passing: dict[tuple[str, Any], np.ndarray] = {}  # ``passing``'s answers for the texts as they stand

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_index": None, "_checks": np.zeros(0, dtype=np.uint64)}  # rebuilt where needed

    @property
    def size(self) -> int:
        """How many texts have codes (0 to ``size - 1``)."""
        return self._size

    def copy(self) -> Dictionary:
        """A dictionary that starts with this one's texts and codes and grows on its own (its lookup built when first
        needed): texts coded with it are never added here."""
        copy = Dictionary()
        if self._size:
            copy._chunks, copy._size = [self.texts()], self._size
        copy._exact = self._exact
        return copy

    def release_lookup(self) -> None:
        """Give back the hash table's memory (hundreds of MB at 10 M texts) once every file is read; it is built again
        from the texts should more come."""
        self._index, self._checks = None, np.zeros(0, dtype=np.uint64)

    def expect(self, count: int) -> None:
        """Size the hash table, when it is next built, for about ``count`` more texts than the dictionary holds: built for
        one block's texts instead, it grew by doubling and placed every text again at each step (1.4 of 3.5 CPU-s to
        code 10 M new keys 150,000 at a time)."""
        if self._index is None:
            self._expected = max(self._expected, self._size + count)

    @property
    def expecting(self) -> bool:
        """Whether ``expect`` would size anything: the hash table is yet to be built."""
        return self._index is None

    def encode(self, texts: np.ndarray) -> np.ndarray:
        """The code of each of ``texts`` (objects, None for no text; ``NULL`` there), the new ones added."""
        import polars as pl
        import pyarrow as pa

        series = pl.Series(pa.array(texts, type=pa.large_string(), from_pandas=True), dtype=pl.String)
        return self.encode_series(series).fill_null(NULL).to_numpy()

    def encode_series(self, texts: Any) -> Any:
        """The code of each of ``texts`` (a Polars String Series; an Int64 Series, null where the text is), known texts
        looked up, new ones numbered in the order they first appear."""
        import polars as pl

        if self._exact:
            return pl.Series(texts.name, self._encode_exact(texts), dtype=pl.Int64)
        if self._index is None:
            self._build_index(len(texts))
        missing = texts.is_null().to_numpy()
        any_missing = bool(missing.any())
        keys, start = self._key(texts), self._size
        if any_missing:  # filled cells only looked up (6 M of a 10 M-row table's referrers are empty)
            codes = np.full(len(keys), -1, dtype=np.int64)
            codes[~missing] = self._index.lookup(keys[~missing])
        else:
            codes = self._index.lookup(keys)
        added = self._number_new(keys, codes, missing if any_missing else None)
        checks = self._check(texts)
        first = _first_appearances(codes, start, added)
        # Every cell a new text (a first file's key): its checks are kept as they are and compared with nothing but
        # themselves, so neither picked out nor compared (0.2 of 2.1 CPU-s to code a 10 M-row table's new keys).
        every_cell_new = len(first) == len(texts)
        if len(first):
            self._keep_checks(start, checks if every_cell_new else checks[first])
        found = codes[~missing] if any_missing else codes
        if not every_cell_new and not np.array_equal(self._checks[found], checks[~missing] if any_missing else checks):
            self._checks = self._checks[:start]  # two texts shared a first hash
            self._index, self._exact = None, True
            return self.encode_series(texts)
        if len(first):
            self._add((texts if every_cell_new else texts.gather(first)).to_arrow())
        encoded = pl.Series(texts.name, codes, dtype=pl.Int64)
        return encoded.set(pl.Series(missing), None) if any_missing else encoded

    def append(self, texts: Any) -> None:
        """Give ``texts`` (distinct, none known yet: a pyarrow string array) the next codes, in their order, without a
        hash table (hundreds of MB at 10 M texts): the one the run had is let go, and built again only should a later
        file be coded here (``encode_series``). For texts another process has told apart already (Spark)."""
        if len(texts):
            self._add(texts)
            self._index, self._checks = None, np.zeros(0, dtype=np.uint64)

    def _number_new(self, keys: np.ndarray, codes: np.ndarray, missing: np.ndarray | None) -> int:
        """Give the cells no code was found for (-1 in ``codes``, ``missing`` aside) new codes from ``_size`` on, in
        the order their first hashes first appear, and add those hashes to the index: how many were added."""
        import pandas._libs.hashtable as hashtable

        unknown = codes < 0
        if missing is not None:
            unknown &= ~missing
        rows = np.flatnonzero(unknown)
        if len(rows) == 0:
            return 0
        new_keys = hashtable.Int64Vector()  # the block's own table of its new hashes: small, first-seen order
        codes[rows] = hashtable.Int64HashTable(len(rows)).get_labels(keys[rows].view(np.int64), new_keys, self._size, -1)
        added = new_keys.to_array().view(np.uint64)
        self._index.insert(added, np.arange(self._size, self._size + len(added), dtype=np.int64))
        return len(added)

    def _keep_checks(self, start: int, checks: np.ndarray) -> None:
        """``checks`` as the second hashes of the codes from ``start`` on, in a buffer that doubles as it fills (a copy of
        every code's hash per block was quadratic in the texts)."""
        end = start + len(checks)
        if end > len(self._checks):
            grown = np.empty(max(end, 2 * len(self._checks)), dtype=np.uint64)
            grown[:start] = self._checks[:start]
            self._checks = grown
        self._checks[start:end] = checks

    @staticmethod
    def _key(texts: Any) -> np.ndarray:
        """The first hash of each text, the hash table's key."""
        return texts.hash(0x5EED).to_numpy()

    @staticmethod
    def _check(texts: Any) -> np.ndarray:
        """The second hash of each text, kept per code to check the first."""
        return texts.hash(0xC0DE).to_numpy()

    def _build_index(self, size_hint: int) -> None:
        """The first hash's table of every text seen so far (after unpickling: the dictionary travels without it)."""
        import polars as pl

        size = max(size_hint, self._size, self._expected, 1)
        self._index = _HashIndex(size)
        # The checks' buffer sized as the table: grown by doubling from one block's, it was copied at each step and
        # ended up to twice the texts' size (10 M new keys: 19 M places, 150 MB).
        self._checks = np.empty(size, dtype=np.uint64)
        if self._size:
            known = pl.Series(self.texts())
            self._index.insert(self._key(known), np.arange(self._size, dtype=np.int64))
            self._checks[:self._size] = self._check(known)

    def _encode_exact(self, texts: Any) -> Any:
        """``encode_series`` by Arrow's ``index_in`` over the whole dictionary (a pyarrow int64 array): exact, slower."""
        import pyarrow as pa
        import pyarrow.compute as pc

        texts = texts.to_arrow().cast(pa.large_string())
        if self._size == 0:
            new, found = texts, pa.nulls(len(texts), pa.int64())
        else:
            found = pc.index_in(texts, value_set=self.texts()).cast(pa.int64())
            new = texts.filter(pc.and_(pc.is_null(found), pc.is_valid(texts)))
        if len(new) == 0:
            return found
        encoded = pc.dictionary_encode(new)  # the new texts numbered in first-seen order
        start = self._size
        self._add(encoded.dictionary)
        added = pc.add(pc.index_in(texts, value_set=encoded.dictionary).cast(pa.int64()), start)
        return pc.coalesce(found, added)

    def _add(self, texts: Any) -> None:
        import pyarrow as pa

        self._chunks.append(texts.cast(pa.large_string()))
        self._size += len(texts)
        self._texts, self._passing = None, {}

    def texts(self) -> Any:
        """Every text in code order (a pyarrow large_string array)."""
        import pyarrow as pa

        if self._texts is None:
            self._texts = pa.concat_arrays(self._chunks) if self._chunks else pa.array([], type=pa.large_string())
            self._chunks = [self._texts]
        return self._texts

    def passing(self, test: str, argument: Any) -> np.ndarray:
        """Per code, whether its text is ``"in"`` a set (a tuple) or ``"contains"`` a match of a regular expression, as
        GX tests a text column: pandas' ``isin`` and ``str.contains`` on its Arrow-backed texts (Arrow's RE2 where it
        answers as Python's ``re`` would, ``re`` otherwise). Once per dictionary as it stands, however many tables ask."""
        key = (test, argument)
        if key not in self._passing:
            texts = pd.Series(pd.array(self.texts(), dtype="str"))
            found = texts.isin(argument) if test == "in" else texts.str.contains(argument, regex=True)
            self._passing[key] = found.to_numpy(dtype=bool)
        return self._passing[key]

    def decode_arrow(self, codes: np.ndarray, *, empty: str | None = "") -> Any:
        """The texts of ``codes`` as one Arrow array, ``NULL`` as ``empty``: no Python string per value."""
        import pyarrow as pa
        import pyarrow.compute as pc

        null = codes == NULL
        if self.size == 0:
            return pa.array([empty] * len(codes), type=pa.large_string())
        if consecutive(codes) and codes[0] >= 0:  # a deduplicated table's key, every code in turn: the texts, no copy
            return self.texts().slice(int(codes[0]), len(codes))
        if not null.any():  # a key's codes: no copy of every text to put back what is already there
            return self.texts().take(pa.array(codes))
        if empty is None:  # a masked code takes a null
            return self.texts().take(pa.array(np.where(null, 0, codes), mask=null))
        taken = self.texts().take(pa.array(np.where(null, 0, codes)))
        return pc.if_else(pa.array(null), pa.scalar(empty, pa.large_string()), taken)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """The texts of ``codes`` as objects, ``NULL`` as an empty text: a Python string for each of these codes only,
        never for the whole dictionary (10 M of them took 0.8 GB to word one example)."""
        return self.decode_arrow(np.asarray(codes)).to_numpy(zero_copy_only=False)


def on_threads(render: Callable[[str], Any], names: Sequence[str]) -> dict[str, Any]:
    """``render`` of each column name, a column a thread (a thread a core): Arrow and Polars let go of the interpreter
    lock as they render text. A 10 M-row table of the second sample decoded so in 1.6-1.7 s, 2.4-4.1 s a column at a
    time. Columns of one dictionary may share it: once its texts are joined (``Dictionary.texts``, done as the first
    table is decoded) it is only read; two threads joining them at once would each set the same texts."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="render columns") as pool:
        return dict(zip(names, pool.map(render, names)))


# Texts per table of a ``_HashIndex``: a dictionary's first hashes split over tables of about a million each.
_TEXTS_PER_TABLE = 1 << 20


class _HashIndex:
    """A dictionary's first hashes to their codes, in pandas' hash tables (``Int64HashTable``, each hash's bits as an
    int64), one per value of the hash's top bits, each sized for its share of the texts expected.

    Why not one table: pandas builds none of more than 2 M places and grows it by placing every text again at each
    doubling, and a block's lookups sorted by table stay within a few tens of MB at a time; coding a 10 M-row table's
    new keys took 1.4-1.9 CPU-s split this way, 2.2 in one table, and looking 10 M known keys up 0.86-0.98, 1.4
    (measured alone, blocks of 300,000)."""

    def __init__(self, expected: int) -> None:
        import pandas._libs.hashtable as hashtable

        self._bits = math.ceil(math.log2(expected / _TEXTS_PER_TABLE)) if expected > _TEXTS_PER_TABLE else 0
        count = 1 << self._bits
        self._tables = [hashtable.Int64HashTable(-(-expected // count)) for _ in range(count)]

    @property
    def places(self) -> int:
        """The places of every table (how many hashes it holds before it grows, over pandas' load factor)."""
        return sum(table.get_state()["n_buckets"] for table in self._tables)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The code of each of ``keys`` (uint64), -1 where unknown."""
        if not self._bits:
            return self._tables[0].lookup(keys.view(np.int64))
        order, bounds = self._by_table(keys)
        ordered, found = keys.view(np.int64)[order], np.empty(len(keys), dtype=np.int64)
        for table, start, end in zip(self._tables, bounds[:-1], bounds[1:]):
            found[start:end] = table.lookup(ordered[start:end])
        codes = np.empty(len(keys), dtype=np.int64)
        codes[order] = found
        return codes

    def insert(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Add ``keys`` (uint64, none known yet) with their ``codes``."""
        if not self._bits:
            self._tables[0].map_keys_to_values(keys.view(np.int64), codes)
            return
        order, bounds = self._by_table(keys)
        ordered_keys, ordered_codes = keys.view(np.int64)[order], codes[order]
        for table, start, end in zip(self._tables, bounds[:-1], bounds[1:]):
            table.map_keys_to_values(ordered_keys[start:end], ordered_codes[start:end])

    def _by_table(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The keys' positions grouped by table (in their order within each), and where each table's group starts."""
        table = (keys >> np.uint64(64 - self._bits)).astype(np.uint16)
        order = np.argsort(table, kind="stable")  # a radix sort of 16-bit numbers
        bounds = np.zeros(len(self._tables) + 1, dtype=np.int64)
        np.cumsum(np.bincount(table, minlength=len(self._tables)), out=bounds[1:])
        return order, bounds


def _first_appearances(codes: np.ndarray, start: int, added: int) -> np.ndarray:
    """Where each of the ``added`` codes from ``start`` on first appears in ``codes`` (numbered in first-seen order):
    their positions, in code order."""
    if added == 0:
        return np.zeros(0, dtype=np.int64)
    if added == len(codes):  # every cell a new text (e.g. the first file's key)
        return np.arange(added)
    fresh = np.where(codes >= start, codes, start - 1)
    before = np.maximum.accumulate(np.concatenate(([start - 1], fresh[:-1])))
    return np.flatnonzero(fresh > before)


@dataclass(frozen=True)
class Codec:
    """How one column's text becomes its computing form and back."""

    column: Column
    dictionary: Dictionary | None = None

    @property
    def literal(self) -> str | None:
        """The regular expression every non-empty cell must match (None for text: any text is a string)."""
        kind = self.column.logical_type
        if kind == "integer":
            return INTEGER_PATTERN
        if kind == "number" and self.column.decimal is not None:
            precision, scale = self.column.decimal
            whole = precision - scale
            fraction = rf"(?:\.[0-9]{{0,{scale}}})?" if scale else ""
            return rf"^[+-]?0*[0-9]{{1,{whole}}}{fraction}$" if whole else rf"^[+-]?0*(?:0)?{fraction}$"
        return {"number": _FLOAT_PATTERN, "date": _DATE_PATTERN, "timestamp": _TIMESTAMP_PATTERN,
                "boolean": _BOOLEAN_PATTERN}.get(kind)

    @property
    def dtype(self) -> str:
        return "float64" if self.column.logical_type == "number" and self.column.decimal is None else "int64"

    def parse(self, text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """The column's values in computing form and a mask of the cells that hold a valid literal.

        An empty cell is valid (and ``NULL``) exactly when the column is not required; every invalid
        cell is ``NULL`` too, to be reported by the text pass.
        """
        text = text.astype(str)
        empty = text.eq("").to_numpy()
        kind = self.column.logical_type
        if kind == "string":
            values = self.dictionary.encode(np.where(empty, None, text.to_numpy(dtype=object)))
            valid = ~empty if self.column.required else np.ones(len(text), dtype=bool)
            return values, valid
        literal = self.literal
        matches = (text.str.fullmatch(literal).to_numpy(dtype=bool) if literal else True) & ~empty
        values, parsed = self._parse_literals(text, matches)
        valid = parsed | (empty & (not self.column.required))
        if self.dtype == "float64":
            values = np.where(parsed, values, np.nan)
        else:
            values = np.where(parsed, values, NULL).astype(np.int64)
        return values, valid

    def _parse_literals(self, text: pd.Series, matches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kind = self.column.logical_type
        if kind == "integer":
            return _integers(text, matches)
        if kind == "number" and self.column.decimal is not None:
            return _scaled(text, matches, self.column.decimal[1])
        if kind == "number":
            values = pd.to_numeric(text.where(matches), errors="coerce").to_numpy(dtype="float64")
            return values, matches & np.isfinite(values)
        if kind == "boolean":
            return text.str.lower().eq("true").to_numpy(dtype=np.int64), matches
        if kind == "date":
            days = pd.to_datetime(text.where(matches), format="%Y-%m-%d", errors="coerce")
            return days.to_numpy(dtype="datetime64[D]").astype(np.int64), matches & days.notna().to_numpy()
        moments = pd.to_datetime(text.where(matches), utc=True, format="ISO8601", errors="coerce")
        return moments.dt.tz_localize(None).to_numpy(dtype="datetime64[us]").astype(np.int64), matches & moments.notna().to_numpy()

    def render(self, values: np.ndarray | pd.Series) -> np.ndarray:
        """Computing form back to text as a CSV would hold it; ``NULL`` (or NaN) as an empty cell."""
        values = np.asarray(values)
        if self.dtype == "float64":
            values = values.view(np.float64) if values.dtype == np.int64 else values
            # Python floats, not numpy's: numpy 2's repr of its own is "np.float64(27.136)", not the number.
            return np.where(np.isnan(values), "", np.char.mod("%r", values.astype(object))).astype(object)
        if self.column.logical_type == "string":
            return self.dictionary.decode(values)
        return self._texts(values).to_numpy(zero_copy_only=False).astype(object, copy=False)

    def render_column(self, values: np.ndarray | pd.Series) -> Any:
        """``render`` as one Arrow-backed text column (pandas' ``str``), without a Python string per value: for whole
        tables (a 10 M-row table's four text columns as objects took 3 GB)."""
        values = np.asarray(values)
        if self.dtype == "float64":
            return pd.array(self.render(values), dtype="str")
        if self.column.logical_type == "string":
            return pd.array(self.dictionary.decode_arrow(values), dtype="str")
        return pd.array(self._texts(values), dtype="str")

    def _texts(self, values: np.ndarray) -> Any:
        """A non-string, non-floating column's values as text (an Arrow array), column-wise; ``NULL`` as empty."""
        import polars as pl
        import pyarrow as pa
        import pyarrow.compute as pc

        kind = self.column.logical_type
        null = values == NULL
        # A timestamp's fraction of a second, where one has it, is written (microseconds): exact, as it was read.
        fractions = kind == "timestamp" and bool((values[~null] % 1_000_000).any())
        if kind in ("date", "timestamp") and len(values) and not fractions:
            # An empty cell held as a filled one's value, not as 1970: the dates' span stays the column's own.
            text = _calendar_texts(np.where(null, values[np.argmin(null)], values), with_clock=kind == "timestamp")
            if text is not None:
                return pc.if_else(pa.array(null), pa.scalar("", pa.large_string()), text) if null.any() else text
        stored = pl.Series(np.where(null, 0, values), dtype=pl.Int64)
        if kind == "integer":
            text = stored.cast(pl.String)
        elif kind == "number":
            text = _decimal_texts(stored, self.column.decimal[1])
        elif kind == "boolean":
            text = pl.select(pl.when(stored == 1).then(pl.lit("true")).otherwise(pl.lit("false"))).to_series()
        elif kind == "date":
            text = stored.cast(pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d")
        elif not fractions:  # as NumPy's datetime_as_string(unit="s") wrote them, with the zone (in the form: half the time of adding it)
            text = stored.cast(pl.Datetime("us")).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:  # whole seconds as above, the others with their six digits of fraction
            moments = stored.cast(pl.Datetime("us"))
            whole = (stored % 1_000_000) == 0
            text = pl.select(
                pl.when(whole).then(moments.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).otherwise(moments.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
            ).to_series()
        return (text.scatter(np.flatnonzero(null), "") if null.any() else text).to_arrow()

    def stored(self, value: int | Decimal | float | None) -> int | float | None:
        """A bound from the contract (``minimum``, ``maximum``) in computing form."""
        if value is None:
            return None
        if self.column.decimal is not None:
            return int(Decimal(value).scaleb(self.column.decimal[1]))
        return float(value) if self.dtype == "float64" else int(value)


@dataclass(eq=False)  # one per run, hashed by identity (schemas are cached per encoding)
class Encoding:
    """Every column's codec for one run: readers encode with it, writers and reports decode with it."""

    contract: Contract
    codecs: Mapping[str, Codec] = field(default_factory=dict)

    @classmethod
    def of(cls, contract: Contract) -> Encoding:
        return cls(contract, {
            column.name: Codec(column, Dictionary() if column.logical_type == "string" else None)
            for column in contract.columns
        })

    @property
    def plain(self) -> bool:
        """Whether every column is held as itself (a required integer): nothing to encode or decode."""
        return all(self.held_as_itself(column.name) for column in self.contract.columns)

    def snapshot(self) -> Encoding:
        """This encoding with copies of its dictionaries (``Dictionary.copy``): a file read with it gets the run's codes
        for the texts the run knows, and adds no text to the run's dictionaries, which other threads may be decoding
        with meanwhile."""
        return Encoding(self.contract, {
            name: codec if codec.dictionary is None else replace(codec, dictionary=codec.dictionary.copy())
            for name, codec in self.codecs.items()
        })

    def release_lookups(self) -> None:
        """``Dictionary.release_lookup`` for every string column: the files are read, only decoding remains."""
        for codec in self.codecs.values():
            if codec.dictionary is not None:
                codec.dictionary.release_lookup()
        # A ``_HashIndex``'s tables (16 MB each at most) come from glibc's heaps, which keep them once freed: 400 MB kept
        # after reading two 10 M-row tables untrimmed, none trimmed.
        trim_heaps()

    def held_as_itself(self, name: str) -> bool:
        """Whether a column's computing form is its typed value: an integer column that is never empty (an optional
        one holds an empty cell as ``NULL``, which people and GX must see as missing)."""
        column = self.codecs[name].column
        return column.logical_type == "integer" and column.required

    def numbers_as_text(self, names: Iterable[str]) -> list[str]:
        """Of ``names`` (a decoded table's columns), the contract's numbers that ``decode`` writes as text (an exact
        decimal, an optional integer): a writer must write their cells as numbers (``checks.writers``' ``numbers``)."""
        return [
            name for name in names
            if name in self.codecs and self.codecs[name].column.logical_type in ("integer", "number")
            and not self.held_as_itself(name)
        ]

    def written(self, column: str, values: Any) -> Any:
        """Values of ``column`` in computing form as the files wrote them, for a failure's or a sentence's text: a
        column held as itself as it is (``%s`` prints it alike), any other rendered (``NULL`` as an empty cell)."""
        if self.held_as_itself(column):
            return values
        return list(self.codecs[column].render(np.asarray(values, dtype="int64")))

    def parse_frame(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """A delta or table read as text, parsed: ``stored`` (computing form, int64 with ``NULL`` for empty or
        invalid cells; a floating column's float64 bits), ``typed`` (the same as nullable columns, for the
        value checks) and ``bad`` (the invalid cells: row, column, value)."""
        stored, typed, bad = {}, {}, []
        for name in self.contract.names:
            codec = self.codecs[name]
            text = frame[name]
            values, valid = codec.parse(text)
            if codec.dtype == "float64":
                typed[name] = pd.array(values, dtype="Float64")
                stored[name] = values.view(np.int64)
            else:
                typed[name] = pd.arrays.IntegerArray(values, values == NULL)
                stored[name] = values
            if not valid.all():
                offending = text[~valid]
                bad.append(pd.DataFrame({"row": offending.index, "column": name, "value": offending.to_numpy()}))
        bad_cells = pd.concat(bad, ignore_index=True) if bad else pd.DataFrame(columns=["row", "column", "value"])
        return (
            pd.DataFrame(stored, index=frame.index),
            pd.DataFrame(typed, index=frame.index),
            bad_cells.sort_values(["row", "column"], ignore_index=True),
        )

    def typed(self, frame: pd.DataFrame, *, exact_decimals: bool = True) -> pd.DataFrame:
        """The contract's columns as typed values people and Great Expectations read: integers as they are (nullable
        where the column may be empty), decimals as exact Arrow decimals (floats with ``exact_decimals=False``),
        dates and timestamps as datetimes, strings as text; empty is missing."""
        if self.plain:
            return frame
        return frame.assign(**{
            name: self.typed_column(name, frame[name].to_numpy(), exact_decimals=exact_decimals)
            for name in self.contract.names if name in frame.columns and not self.held_as_itself(name)
        })

    def typed_column(self, name: str, values: np.ndarray, *, exact_decimals: bool = True) -> Any:
        """One column's computing form as typed values (``typed``)."""
        import pyarrow as pa

        codec = self.codecs[name]
        column, values = codec.column, np.asarray(values)
        null = values == NULL
        kind = column.logical_type
        if kind == "integer":
            return pd.arrays.IntegerArray(values.astype(np.int64, copy=False), null)
        if kind == "string":  # Arrow-backed text, as pandas would make of objects, without a Python string per value
            return pd.array(codec.dictionary.decode_arrow(values, empty=None), dtype="str")
        if codec.dtype == "float64":
            return pd.array(values.view(np.float64) if values.dtype == np.int64 else values, dtype="Float64")
        if column.decimal is not None and not exact_decimals:
            return pd.array(np.where(null, np.nan, values / 10 ** column.decimal[1]), dtype="Float64")
        if column.decimal is not None:
            precision, scale = column.decimal
            unscaled = [None if missing else exact_decimal(value, column) for value, missing in zip(values, null)]
            return pd.array(pa.array(unscaled, type=pa.decimal128(precision, scale)), dtype=pd.ArrowDtype(pa.decimal128(precision, scale)))
        if kind == "boolean":
            return pd.array(np.where(null, None, values == 1), dtype="boolean")
        # Timestamps in UTC without a zone: GX reads a zoned column through a pandas path that is deprecated.
        unit = "datetime64[D]" if kind == "date" else "datetime64[us]"
        return pd.Series(np.where(null, np.datetime64("NaT"), values.astype(unit)).astype(unit)).array

    def decode(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the contract's columns as text, as the files wrote them (an integer held as itself as int64, as
        the reference reads it, where an engine holds it narrow); other columns as they are."""
        if self.plain:
            return frame
        names = [name for name in self.codecs if name in frame.columns]
        return frame.assign(**on_threads(functools.partial(self._written_column, frame), names))

    def _written_column(self, frame: pd.DataFrame, name: str) -> Any:
        """One column of ``decode``."""
        if self.held_as_itself(name):
            return frame[name].astype("int64")
        return self.codecs[name].render_column(frame[name].to_numpy())


def _integers(text: pd.Series, matches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer literals to int64 without passing through float (which loses digits above 2**53)."""
    import pyarrow as pa

    matches = matches.copy()
    longest = text.str.lstrip("+-").str.len().to_numpy()
    beyond = matches & (longest > _INT64_SAFE_DIGITS)
    if beyond.any():  # rare: Python's ints decide exactly whether a long literal fits int64
        for position in np.flatnonzero(beyond):
            matches[position] = fits_int64(text.iloc[position])
    literals = text.where(matches).str.removeprefix("+")
    numbers = pa.array(literals, type=pa.string(), from_pandas=True).cast(pa.int64())
    return np.asarray(numbers.fill_null(NULL)).astype(np.int64, copy=False), matches


def fits_int64(literal: str) -> bool:
    """Whether an integer literal (sign and leading zeros allowed) is within int64.

    Digits are counted before ``int`` sees them: Python refuses to convert literals of over 4,300
    digits, and a cell of a million digits must be a failed cell, not a crash.
    """
    digits = literal.lstrip("+-").lstrip("0")
    if len(digits) > _INT64_SAFE_DIGITS + 1:
        return False
    value = int(digits or "0")
    return _INT64_MIN <= (-value if literal.startswith("-") else value) <= _INT64_MAX



def _scaled(text: pd.Series, matches: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Decimal literals as integers of 10**-scale units, exactly (``12.5`` at scale 2 is 1250)."""
    if text.empty:  # a delta with a header only: partition would give a frame without its three columns
        return np.zeros(0, dtype=np.int64), matches
    literal = text.where(matches, "0")
    negative = literal.str.startswith("-").to_numpy()
    parts = literal.str.lstrip("+-").str.partition(".")
    fraction = parts[2].str.ljust(scale, "0") if scale else parts[2].str.slice(0, 0)
    digits = parts[0].str.cat(fraction).str.lstrip("0").replace("", "0")
    values, fits = _integers(digits, matches)
    return np.where(negative, -values, values), fits


def _decimal_texts(counts: Any, scale: int) -> Any:
    """Counts of 10**-scale (a Polars Int64 Series) as decimal literals, as ``format(Decimal(value).scaleb(-scale), "f")``
    writes them (``1050`` at scale 2 is ``10.50``, ``-5`` is ``-0.05``), column-wise rather than value by value.

    The counts are taken as the unscaled values of Arrow decimals (each widened to 128 bits, its sign extended) that
    Polars writes as text: a fifth of the time of building each literal from its parts."""
    import polars as pl
    import pyarrow as pa

    if not scale:
        return counts.cast(pl.String)
    values = counts.to_numpy()
    unscaled = np.empty((len(values), 2), dtype=np.int64)  # little-endian 128-bit integers: low half, then high
    unscaled[:, 0] = values
    unscaled[:, 1] = values >> 63
    decimals = pa.Array.from_buffers(pa.decimal128(38, scale), len(values), [None, pa.py_buffer(unscaled)])
    return pl.from_arrow(decimals).cast(pl.String)


# Days a table of date texts may span (``_calendar_texts``): 10 bytes each, 640 KB at most; wider spans go to Polars.
_DATE_TABLE_DAYS = 1 << 16
_FIRST_DAY, _LAST_DAY = (int(np.datetime64(day, "D").astype(np.int64)) for day in ("0001-01-01", "9999-12-31"))
_ROWS_AT_A_TIME = 1 << 20  # values a pass of ``_calendar_texts`` takes at a time: its scratch arrays stay in cache
# One text of ``_calendar_texts``: the date, then (timestamps) "T", the clock and "Z".
_TIMESTAMP_TEXT = np.dtype({"names": ["date", "t", "clock", "z"], "formats": ["V10", "u1", "u8", "u1"],
                            "offsets": [0, 10, 11, 19], "itemsize": 20})


def _calendar_texts(values: np.ndarray, *, with_clock: bool) -> Any | None:
    """Days as ``YYYY-MM-DD``, or whole seconds in microseconds as ``YYYY-MM-DDTHH:MM:SSZ`` (a fraction would be dropped,
    as Polars' ``strftime`` of that form does: the caller writes those with Polars), as one Arrow array; None where the
    dates fall outside years 1-9999 or span more than ``_DATE_TABLE_DAYS`` days (Polars writes those).

    Each text is gathered from two small tables, every date of the span and every second of a day, each written once:
    10 M timestamps in 0.24 s against 1.2 s with Polars' ``strftime``, which formats every value anew."""
    import pyarrow as pa

    days = np.floor_divide(values, _MICROSECONDS_PER_DAY) if with_clock else values
    if not len(days):
        return None
    first, last = int(days.min()), int(days.max())
    if first < _FIRST_DAY or last > _LAST_DAY or last - first >= _DATE_TABLE_DAYS:
        return None
    dates = np.arange(first, last + 1).astype("datetime64[D]").astype("S10").view("V10")
    if not with_clock:
        text, width = dates[days - first], 10
    else:
        width, text = 20, np.empty(len(values), dtype=_TIMESTAMP_TEXT)
        text["t"], text["z"] = ord("T"), ord("Z")
        clocks = _clock_texts()
        for start in range(0, len(values), _ROWS_AT_A_TIME):
            at = slice(start, start + _ROWS_AT_A_TIME)
            text["date"][at] = dates[days[at] - first]
            text["clock"][at] = clocks[(values[at] - days[at] * _MICROSECONDS_PER_DAY) // 1_000_000]
    offsets = np.arange(0, width * (len(values) + 1), width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(text.view(np.uint8)))


@functools.cache
def _clock_texts() -> np.ndarray:
    """``HH:MM:SS`` of every second of a day, each as the 8 bytes of one uint64."""
    hours, rest = np.divmod(np.arange(86_400), 3600)
    minutes, seconds = np.divmod(rest, 60)
    texts = "".join(f"{hour:02d}:{minute:02d}:{second:02d}" for hour, minute, second in zip(hours, minutes, seconds))
    return np.frombuffer(texts.encode("ascii"), dtype=np.uint64)


@functools.cache
def default_encoding() -> Encoding:
    """The first customer's encoding: integers held as themselves, no dictionaries (safe to share)."""
    from checks.contract import default_contract

    return Encoding.of(default_contract())
