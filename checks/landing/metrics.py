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
    # A key appears once per delta (the contract's primary key); should it not, its newest row counts.
    incoming = incoming.sort_values(_VERSION, kind="stable").groupby(level=0).last()
    known = incoming.index.isin(table.index)
    before = table.reindex(incoming.index)
    newer = incoming[_VERSION].to_numpy() > before[_VERSION].fillna(np.iinfo(np.int64).min).to_numpy()
    updated = known & newer
    taken = incoming[~known | updated]
    added = int((taken[_AMOUNT] - before.loc[taken.index, _AMOUNT].fillna(0)).sum())
    after = pd.concat([table.drop(index=incoming.index[updated]), taken])
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
