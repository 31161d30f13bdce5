"""Reconciling the platform's loaded table (and the customer's export) with the deduplicated feed, user by user.

Every user lands in exactly one class; the per-user spend gaps of all classes add up to the
total gap (expected total minus platform total). Everything is a hash merge on ``user_id``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from checks.sample import COLUMNS
from checks.model import SOURCE_FILE, SOURCE_ROW, Delta, stack_feed

# The classes, column names and result types are the production ones: only the algorithm is the reference.
from checks.reconcile import (  # noqa: E402
    MATCH,
    STALE,
    UNKNOWN_BATCH,
    MISSING,
    UNEXPECTED,
    DUPLICATED,
    VALUE_DRIFT,
    PLATFORM_ROW,
    PLATFORM_ROWS,
    SPEND_GAP,
    EXAMPLES_PER_CLASS,
    CLASSES,
    compared,
    ClassSummary,
    Reconciliation,
)
from checks.contract import default_contract  # noqa: E402

VALUES = compared(default_contract().shape)


def reconcile(
    expected: pd.DataFrame,
    platform: pd.DataFrame,
    customer: pd.DataFrame | None = None,
    *,
    feed: Sequence[Delta],
) -> Reconciliation:
    """Classify every user of the expected and platform tables; ``feed`` tells stale from unknown batches."""
    platform_rows = _platform_per_user(platform)
    users = _prefixed(expected, "expected_").merge(platform_rows, on="user_id", how="outer", sort=True)
    users[PLATFORM_ROWS] = users[PLATFORM_ROWS].fillna(0).astype("int64")
    users["class"], users["detail"] = _classify(users, _known_pairs(users, feed))
    expected_spend = users["expected_total_spend"].fillna(0).astype("int64")
    users[SPEND_GAP] = expected_spend - users["platform_spend_sum"].fillna(0).astype("int64")
    users = users.drop(columns="platform_spend_sum")

    customer_total = None
    if customer is not None:
        users = _with_customer(users, customer)
        customer_total = int(customer["total_spend"].sum())

    return Reconciliation(
        users=users,
        classes=tuple(_summarise(users, name) for name in CLASSES),
        expected_total=int(expected["total_spend"].sum()),
        platform_total=int(platform["total_spend"].sum()),
        customer_total=customer_total,
        user_count=len(users),
    )


def _prefixed(expected: pd.DataFrame, prefix: str) -> pd.DataFrame:
    columns = [*COLUMNS, *[c for c in (SOURCE_FILE, SOURCE_ROW) if c in expected.columns]]
    frame = expected.loc[:, columns]
    return frame.rename(columns={column: prefix + column for column in VALUES})


def _platform_per_user(platform: pd.DataFrame) -> pd.DataFrame:
    """The platform's first row per user (by file line), how many rows it holds, and their total spend."""
    rows = platform.loc[:, list(COLUMNS)].assign(**{PLATFORM_ROW: platform.index.to_numpy()})
    grouped = rows.groupby("user_id", sort=False)
    first = rows.drop_duplicates("user_id", keep="first").set_index("user_id")
    first = first.rename(columns={column: "platform_" + column for column in VALUES})
    first[PLATFORM_ROWS] = grouped.size()
    first["platform_spend_sum"] = grouped["total_spend"].sum()
    return first.reset_index()


def _known_pairs(users: pd.DataFrame, feed: Sequence[Delta]) -> np.ndarray:
    """Whether each user's platform batch_id is one the feed holds for that user."""
    pairs = stack_feed(feed).loc[:, ["user_id", "batch_id"]].drop_duplicates()
    pairs = pairs.rename(columns={"batch_id": "platform_batch_id"})
    probe = users.loc[:, ["user_id", "platform_batch_id"]].dropna().astype("int64")
    found = probe.merge(pairs, on=["user_id", "platform_batch_id"], how="left", indicator=True)
    known = pd.Series(False, index=users.index)
    known.loc[probe.index] = found["_merge"].eq("both").to_numpy()
    return known.to_numpy()


def _classify(users: pd.DataFrame, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    in_expected = users["expected_batch_id"].notna().to_numpy()
    count = users[PLATFORM_ROWS].to_numpy()
    same = np.ones(len(users), dtype=bool)
    for column in VALUES:
        same &= (users["expected_" + column] == users["platform_" + column]).fillna(False).to_numpy()
    expected_batch = users["expected_batch_id"].to_numpy(dtype="float64", na_value=np.nan)
    platform_batch = users["platform_batch_id"].to_numpy(dtype="float64", na_value=np.nan)
    same_batch = expected_batch == platform_batch
    conditions = [
        count > 1,
        count == 0,
        ~in_expected,
        same,
        same_batch,
        known & (platform_batch < expected_batch),
    ]
    classes = np.select(conditions, [DUPLICATED, MISSING, UNEXPECTED, MATCH, VALUE_DRIFT, STALE], UNKNOWN_BATCH)
    detail = np.where(
        classes == UNKNOWN_BATCH, np.where(platform_batch > expected_batch, "ahead", "unknown"), ""
    )
    return classes.astype(object), detail.astype(object)


def _with_customer(users: pd.DataFrame, customer: pd.DataFrame) -> pd.DataFrame:
    """Add the customer's row per user and whether it agrees with the expected row."""
    rows = customer.loc[:, list(COLUMNS)].drop_duplicates("user_id", keep="first")
    rows = rows.rename(columns={column: "customer_" + column for column in VALUES})
    # Users only the customer holds are neither expected nor loaded; the totals still count them.
    merged = users.merge(rows, on="user_id", how="left")
    in_expected = merged["expected_batch_id"].notna()
    in_customer = merged["customer_batch_id"].notna()
    agrees = pd.Series(True, index=merged.index)
    for column in VALUES:
        agrees &= (merged["expected_" + column] == merged["customer_" + column]).fillna(False)
    merged["customer_class"] = np.select(
        [in_expected & in_customer & agrees, in_expected & in_customer, in_expected],
        ["match", "differs", "missing"],
        "not expected",
    ).astype(object)
    return merged


def _summarise(users: pd.DataFrame, name: str) -> ClassSummary:
    members = users[users["class"].eq(name)]
    # The largest gaps first: they are the examples a person wants to see.
    order = members[SPEND_GAP].abs().sort_values(ascending=False, kind="stable").index[:EXAMPLES_PER_CLASS]
    return ClassSummary(
        name=name,
        users=len(members),
        revenue_gap=int(members[SPEND_GAP].sum()),
        examples=members.loc[order].reset_index(drop=True),
    )
