"""Measuring a staged delta: what it brought to its feed (rows, new and updated keys, amount added, versions, nulls).

Pure functions over the deltas' frames (computing form, ``checks.encoding``); the ingest records the
result in the ledger (``checks.ledger_records.DeltaMetrics``). A delta is measured against the table
the earlier deltas of its feed built: per key, its latest version and amount.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from checks.encoding import NULL
from checks.ledger_records import Measure
from checks.model import Delta, Shape

_VERSION, _AMOUNT = "version", "amount"


def empty_table() -> pd.DataFrame:
    """The table before the feed's first delta: no key."""
    return pd.DataFrame({_VERSION: pd.Series(dtype="int64"), _AMOUNT: pd.Series(dtype="int64")})


def measure(delta: Delta, table: pd.DataFrame, shape: Shape) -> tuple[Measure, pd.DataFrame]:
    """``delta``'s figures against ``table`` (the latest version and amount per key so far), and the table after it.

    A key is new when the table lacks it, updated when the delta's version of it is newer than the
    table's; the amount added is what the new and updated keys change the table's total by. ``table``
    is not modified.
    """
    frame = delta.frame
    incoming = pd.DataFrame(
        {
            _VERSION: frame[shape.version].to_numpy(dtype="int64"),
            _AMOUNT: frame[shape.amount].to_numpy(dtype="int64") if shape.amount else np.zeros(len(frame), dtype="int64"),
        },
        index=pd.Index(frame[shape.key].to_numpy(), name="key"),
    )
    if not incoming.index.is_unique:  # the contract's key is unique per delta; should it not be, the newest row counts
        incoming = incoming.sort_values(_VERSION, kind="stable").groupby(level=0).last()
    # Positions, not labels, and int64 throughout: amounts stay exact (no NaN, no float) at millions of keys.
    positions = table.index.get_indexer(incoming.index)
    known = positions >= 0
    safe = np.where(known, positions, 0)  # -1 (unknown) would index the last row, or nothing in an empty table
    old_version = np.where(known, table[_VERSION].to_numpy()[safe] if len(table) else 0, np.iinfo(np.int64).min)
    old_amount = np.where(known, table[_AMOUNT].to_numpy()[safe] if len(table) else 0, 0)
    taken = incoming[_VERSION].to_numpy() > old_version  # new keys, and known keys with a newer version
    updated = known & taken
    added = int((incoming[_AMOUNT].to_numpy()[taken] - old_amount[taken]).sum())
    kept = np.ones(len(table), dtype=bool)
    kept[positions[updated]] = False
    after = pd.concat([table[kept], incoming[taken]])
    versions = frame[shape.version].to_numpy(dtype="int64")
    measured = Measure(
        file=delta.name,
        base=table.empty,
        rows=len(frame),
        new_keys=int((~known).sum()),
        updated_keys=int(updated.sum()),
        amount_sum=int(frame[shape.amount].sum()) if shape.amount else None,
        amount_added=added if shape.amount else None,
        version_min=int(versions.min()) if len(versions) else None,
        version_max=int(versions.max()) if len(versions) else None,
        null_shares={name: _null_share(frame[name]) for name in shape.names},
    )
    return measured, after


def _null_share(column: pd.Series) -> float:
    if not len(column):
        return 0.0
    values = column.to_numpy()
    empty = np.isnan(values) if values.dtype.kind == "f" else values == NULL
    return round(float(empty.mean()), 6)
