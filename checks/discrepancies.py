"""The per-user table: every key that does not match the feed, with its rows and where they came from, written as
``discrepancies.csv`` (on a thread of its own while the root causes are searched), its values as the files wrote them.

The report attaches it to the engineer's email and names it; an engine that holds the rows (Spark) writes it there.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from checks.encoding import on_threads
from checks.ids import dense
from checks.model import CLASS, PLATFORM_ROW, PLATFORM_SOURCE_FILE, PLATFORM_SOURCE_ROW, SOURCE_FILE, SOURCE_ROW, SPEND_GAP
from checks.reconcile import MATCH, shown_columns
from checks.results import UsersElsewhere
from checks.wording import Words
from checks.writers import atomic_write_blocks, atomic_write_frame, row_blocks

if TYPE_CHECKING:
    from checks.diagnose import Diagnosis

DISCREPANCIES_CSV = "discrepancies.csv"


def discrepancies_table(diagnosis: Diagnosis) -> pd.DataFrame:
    """Every user that does not match, with its rows, largest gap first.

    Beside ``platform_row`` (the platform file's line), ``platform_source_file`` and ``platform_source_row`` say which
    delta file and line the platform's row came from. Text cells are neutralised for spreadsheets where the CSV is
    written (``checks.writers``).
    """
    return _discrepancies(diagnosis.reconciliation.users, diagnosis.lineage, diagnosis.words)


def _discrepancies(users: pd.DataFrame, lineage: pd.DataFrame | None, words: Words) -> pd.DataFrame:
    listed = _with_platform_source(users, lineage).take(discrepancy_order(users))
    return _as_written(listed, words).reset_index(drop=True)


def write_discrepancies(users: pd.DataFrame, lineage: pd.DataFrame | None, words: Words, path: Path) -> Path:
    """``discrepancies_table`` written. With nothing to render (an all-integer contract) its rows are gathered from
    the users' columns in Arrow, a chunk at a time, rather than as a pandas frame; otherwise only the users written
    are rendered as text (a tenth of the table, often). An engine that holds the rows (Spark) writes them there."""
    if isinstance(users, UsersElsewhere):
        return users.write_discrepancies(path, words)
    import pyarrow as pa

    listed, order = _with_platform_source(users, lineage), discrepancy_order(users)
    if words.encoding.plain:
        return atomic_write_frame(path, listed, rows=order)
    # The gap and the contract's numbers rendered as text stay numbers (``-12.25``, not a neutralised ``'-12.25``).
    contract_numbers = set(words.encoding.numbers_as_text(words.encoding.codecs))
    shown = shown_columns(words.encoding.contract.shape)
    numbers = [name for name in listed.columns if name == SPEND_GAP or shown.get(name) in contract_numbers]
    # Rendered a block of users at a time: the whole table as text (1.9 M accounts) held 0.7 GB while it was written.
    blocks = (pa.Table.from_pandas(_as_written(listed.take(order[rows]), words), preserve_index=False) for rows in row_blocks(len(order)))
    return atomic_write_blocks([path], blocks, numbers=numbers)[0]


class DiscrepanciesWriter:
    """``discrepancies.csv`` written on a thread of its own, started as soon as the diagnosis has listed its users and
    traced their platform rows (``start``: ``checks.diagnose.diagnose``'s ``on_listed``), so that at scale the
    formatting (seconds for millions of users, in Arrow and Polars, which release the GIL) overlaps the search for
    root causes instead of following it; started by the report otherwise. Leaving the block waits for the write."""

    def __init__(self, out_dir: str | Path) -> None:
        self.path = Path(out_dir) / DISCREPANCIES_CSV
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="discrepancies")
        self._written: Future[Path] | None = None

    def start(self, users: pd.DataFrame, lineage: pd.DataFrame | None, words: Words) -> None:
        self._written = self._pool.submit(write_discrepancies, users, lineage, words, self.path)

    def written(self, diagnosis: Diagnosis) -> Future[Path]:
        """The write of the diagnosis's table: the one started early, else one started now."""
        if self._written is None:
            self.start(diagnosis.reconciliation.users, diagnosis.lineage, diagnosis.words)
        assert self._written is not None
        return self._written

    def __enter__(self) -> DiscrepanciesWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)  # no write outlives the run, errors included


def _as_written(users: pd.DataFrame, words: Words) -> pd.DataFrame:
    """The per-user table's values as the files wrote them (keys, decimals, timestamps), the gap in the amount's
    units; for an all-integer contract, the table as it is."""
    encoding = words.encoding
    if encoding.plain:
        return users

    shown = shown_columns(encoding.contract.shape)

    def written(name: str) -> Any:
        base = shown.get(name)
        if base is not None and not encoding.held_as_itself(base):
            values = users[name].to_numpy(dtype="float64", na_value=np.nan) if users[name].dtype.kind == "f" else users[name].to_numpy()
            missing = pd.isna(values)
            stored = np.where(missing, 0, values).astype("int64")
            # One Arrow-backed text column, missing where the user has no such row: no Python string per user.
            text = pd.Series(encoding.codecs[base].render_column(stored), index=users.index)
            return text.mask(missing) if missing.any() else text
        if name == SPEND_GAP:
            return pd.Series(words.plain_amounts(users[name].to_numpy()), index=users.index)
        return users[name]

    return pd.DataFrame(on_threads(written, list(users.columns)), index=users.index)


def _with_platform_source(users: pd.DataFrame, lineage: pd.DataFrame | None) -> pd.DataFrame:
    """The per-user table with the delta file and line of each platform row (from the diagnosis's lineage) after
    ``platform_row``; the other columns are the table's own, not copies."""
    if PLATFORM_ROW not in users or lineage is None or PLATFORM_ROW not in lineage:
        return users
    rows = users[PLATFORM_ROW].to_numpy(dtype="float64", na_value=np.nan)
    found = _positions_of(lineage[PLATFORM_ROW].to_numpy(dtype="int64"), rows)
    traced = found >= 0
    at = np.where(traced, found, 0)
    # Codes and integers gathered once (millions of users at scale): no string or float per user.
    files, lines = lineage[SOURCE_FILE], lineage[SOURCE_ROW]
    if len(lineage) and isinstance(files.dtype, pd.CategoricalDtype):
        codes = np.where(traced, files.cat.codes.to_numpy()[at], -1)
        file_column = pd.Categorical.from_codes(codes, categories=files.cat.categories)
    else:
        names = files.astype(object).to_numpy()[at] if len(lineage) else np.full(len(users), None, dtype=object)
        file_column = pd.array(np.where(traced, names, None), dtype="string")
    values = lines.to_numpy(dtype="int64", na_value=0)[at] if len(lineage) else np.zeros(len(users), dtype="int64")
    missing = ~traced | (lines.isna().to_numpy()[at] if len(lineage) else True)
    source = {
        PLATFORM_SOURCE_FILE: pd.Series(file_column, index=users.index),
        PLATFORM_SOURCE_ROW: pd.Series(pd.arrays.IntegerArray(values, np.asarray(missing, dtype=bool)), index=users.index),
    }
    columns: dict[str, Any] = {}
    for name in users.columns:
        columns[name] = users[name]
        if name == PLATFORM_ROW:
            columns.update(source)
    return pd.DataFrame(columns, index=users.index, copy=False)


def _positions_of(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Where each ``wanted`` row number (NaN for none) sits among the unique ``keys``, -1 where it is absent.

    Row numbers are file lines, at most about one per user, so an array indexed by row number finds them in
    one pass, where a hash index took 0.6 s at 10 M users; sparse numbers fall back to the hash index."""
    if not keys.size or keys.min() < 0 or not dense(int(keys.max()), keys.size + wanted.size, slots_per_id=4, slack=1024):
        return pd.Index(keys).get_indexer(wanted)
    where = np.full(int(keys.max()) + 1, -1, dtype=np.int32 if keys.size < 2**31 else np.int64)
    where[keys] = np.arange(keys.size)
    row = np.nan_to_num(wanted, nan=-1.0).astype(np.int64)
    inside = (row >= 0) & (row < where.size) & (row == wanted)
    found = np.full(wanted.size, -1, dtype=np.int64)
    found[inside] = where[row[inside]]
    return found


def discrepancy_order(users: pd.DataFrame) -> np.ndarray:
    """Positions of the users that do not match, largest absolute gap first, ties in user order."""
    off = np.flatnonzero(users[CLASS].ne(MATCH).to_numpy(dtype=bool))
    size = np.abs(users[SPEND_GAP].to_numpy()[off])
    # A sort of the discrepant users' keys, not of the table; gaps under $65,536 (the usual case) sort
    # as 16-bit keys, for which numpy's stable sort is a radix sort, linear in the users.
    key = size.max(initial=0) - size
    if key.dtype.kind in "iu" and key.max(initial=0) < 1 << 16:
        key = key.astype("uint16")
    return off[np.argsort(key, kind="stable")]
