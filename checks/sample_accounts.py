"""A second synthetic feed of another shape, seeded: account balances declared by ``contracts/account-balances.yaml``.

Where the first sample (``checks.sample``) is all integers, this one has what other customers send:
a string key (``AC-000042``), a timestamp version (each file is one day's export), an exact decimal
amount that never falls, a column with a fixed set of values, a nullable column, and files named by
date (``accounts_2026-01-03.csv``). Its case adds the customer's export (the correct dedup), the
finance total and a platform table that never ingested one update file.

Written ``typed`` (``contracts/typed-accounts.yaml``), the same accounts have no text column: the key is the account's
number, the plan its place in ``PLANS``, the referrer its number; two columns more say whether the account is active
(a boolean) and when it was opened (a date, unknown for every seventh account).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from checks.contract import CONTRACTS_DIR

CONTRACT_PATH = CONTRACTS_DIR / "account-balances.yaml"
TYPED_CONTRACT_PATH = CONTRACTS_DIR / "typed-accounts.yaml"
COLUMNS: tuple[str, ...] = ("account_id", "plan", "referrer", "orders", "lifetime_value", "exported_at")
PLANS: tuple[str, ...] = ("basic", "plus", "pro", "enterprise")
_FIRST_DAY = date(2026, 1, 1)


@dataclass(frozen=True)
class AccountsCase:
    """The feed as text frames by file name (feed order), the two tables, and finance's exact total."""

    files: dict[str, pd.DataFrame]
    platform: pd.DataFrame
    customer: pd.DataFrame
    finance_total: Decimal
    skipped_file: str


def generate_accounts_case(accounts: int = 1000, files: int = 5, *, seed: int = 7) -> AccountsCase:
    """A valid feed: the first file holds every account, each later day's file updates a quarter of them."""
    if accounts < 1 or files < 2:
        raise ValueError("an accounts case needs at least one account and two files")
    rng = np.random.default_rng(seed)
    ids = np.array([f"AC-{number:06d}" for number in rng.choice(10 * accounts, size=accounts, replace=False) + 1])
    cents = rng.integers(0, 500_000, size=accounts, dtype="int64")
    orders = rng.integers(0, 20, size=accounts, dtype="int64")
    plans = rng.integers(0, len(PLANS), size=accounts)
    referrers = np.where(rng.random(accounts) < 0.6, "", np.char.add("AC-", rng.integers(1, 10 * accounts, size=accounts).astype(str)))
    feed: dict[str, pd.DataFrame] = {}
    for day in range(files):
        chosen = np.arange(accounts) if day == 0 else np.sort(rng.choice(accounts, size=max(1, accounts // 4), replace=False))
        if day:
            cents[chosen] += rng.integers(0, 250_000, size=len(chosen), dtype="int64")
            orders[chosen] += rng.integers(0, 5, size=len(chosen), dtype="int64")
            plans[chosen] = rng.integers(0, len(PLANS), size=len(chosen))
        name = f"accounts_{(_FIRST_DAY + timedelta(days=day)).isoformat()}.csv"
        frame = _rows(ids[chosen], plans[chosen], referrers[chosen], orders[chosen], cents[chosen], day, rng)
        feed[name] = frame
    skipped = list(feed)[int(np.random.default_rng(seed + 1).integers(1, files))]
    customer = _latest(list(feed.values())).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    platform = _latest([frame for name, frame in feed.items() if name != skipped])
    platform = platform.sample(frac=1.0, random_state=seed + 2).reset_index(drop=True)
    total = sum((Decimal(value) for value in customer["lifetime_value"]), Decimal("0.00"))
    return AccountsCase(files=feed, platform=platform, customer=customer, finance_total=total, skipped_file=skipped)


def write_accounts_case(case: AccountsCase, directory: str | Path, *, typed: bool = False) -> Path:
    """Write ``feed/``, both tables and ``case.toml`` (naming the contract) into ``directory``; ``typed``: as the typed
    contract's columns (``as_typed``)."""
    from checks.writers import atomic_write_frame, atomic_write_text

    directory = Path(directory)
    written = as_typed if typed else (lambda frame: frame)
    for name, frame in case.files.items():
        atomic_write_frame(directory / "feed" / name, written(frame))
    atomic_write_frame(directory / "platform-accounts.csv", written(case.platform))
    atomic_write_frame(directory / "customer-accounts.csv", written(case.customer))
    return atomic_write_text(
        directory / "case.toml",
        f"# Written by `checks sample --shape {'typed-accounts' if typed else 'accounts'}`: a feed of another shape, with its contract.\n"
        f"# Planted fault: the platform table never ingested {case.skipped_file}.\n"
        f'contract = "{_relative(TYPED_CONTRACT_PATH if typed else CONTRACT_PATH, directory)}"\n'
        'feed = "feed"\n'
        'platform = "platform-accounts.csv"\n'
        'customer = "customer-accounts.csv"\n'
        f'finance_total = "{case.finance_total}"\n',
    )


def as_typed(frame: pd.DataFrame) -> pd.DataFrame:
    """An accounts frame (text) in the typed contract's columns, as text."""
    number = frame["account_id"].str.removeprefix("AC-").astype("int64")
    opened = (pd.Timestamp("2019-01-01") + pd.to_timedelta(number % 2000, unit="D")).dt.strftime("%Y-%m-%d")
    return pd.DataFrame({
        "account_no": number.astype(str),
        "tier": frame["plan"].map(PLANS.index).astype(str),
        "referrer_no": frame["referrer"].str.removeprefix("AC-"),
        "orders": frame["orders"],
        "lifetime_value": frame["lifetime_value"],
        "active": np.where(number % 3 == 0, "true", "false"),
        "opened": opened.where(number % 7 != 0, ""),
        "exported_at": frame["exported_at"],
    })


def _relative(target: Path, directory: Path) -> str:
    """``target`` relative to ``directory`` when both sit in one tree (so the case moves with the project)."""
    import os

    return Path(os.path.relpath(target.resolve(), directory.resolve())).as_posix()


def _rows(ids, plans, referrers, orders, cents, day: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = len(ids)
    order = rng.permutation(rows)
    moment = pd.Timestamp(_FIRST_DAY + timedelta(days=day)) + pd.Timedelta(hours=2)
    stamps = moment + pd.to_timedelta(rng.integers(0, 3600, size=rows), unit="s")
    return pd.DataFrame(
        {
            "account_id": ids[order],
            "plan": np.asarray(PLANS)[plans[order]],
            "referrer": referrers[order],
            "orders": orders[order].astype(str),
            "lifetime_value": [f"{value // 100}.{value % 100:02d}" for value in cents[order]],
            "exported_at": stamps[order].strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )


def _latest(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Each account's row with the largest ``exported_at`` (ISO text in one format orders as time does)."""
    stacked = pd.concat(frames, ignore_index=True)
    return stacked.sort_values("exported_at", kind="stable").drop_duplicates("account_id", keep="last")[list(COLUMNS)]
