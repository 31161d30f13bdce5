"""The diagnosis's results: the kinds of root cause, one ``RootCause`` per explanation, the ``Diagnosis``."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from checks.reconcile import Reconciliation
from checks.wording import SHARE_OF_DOLLARS_OFF, SHARE_OF_GAP, SHARE_OF_KEYS, Words, default_words

FILE_NOT_INGESTED = "file_not_ingested"
FILE_PARTIALLY_INGESTED = "file_partially_ingested"
WRONG_DEDUP_ORDER = "wrong_dedup_order"
DUPLICATE_ROWS = "duplicate_rows"
MISSING_USERS = "missing_users"
UNEXPECTED_USERS = "unexpected_users"
VALUE_DRIFT = "value_drift"
QUARANTINED_FILE_LOADED = "quarantined_file_loaded"
KINDS: tuple[str, ...] = (
    FILE_NOT_INGESTED,
    FILE_PARTIALLY_INGESTED,
    WRONG_DEDUP_ORDER,
    DUPLICATE_ROWS,
    MISSING_USERS,
    UNEXPECTED_USERS,
    VALUE_DRIFT,
    QUARANTINED_FILE_LOADED,
)
EXAMPLES_PER_CAUSE = 5
# Each root cause as people say it (``cause_label``: ``{key}`` and ``{keys}`` in the feed's words); the identifiers stay
# in JSON and CSV.
CAUSE_WORDS = {
    FILE_NOT_INGESTED: "file never loaded",
    FILE_PARTIALLY_INGESTED: "file only partly loaded",
    WRONG_DEDUP_ORDER: "wrong row kept per {key}",
    DUPLICATE_ROWS: "{keys} loaded more than once",
    MISSING_USERS: "{keys} missing from the table",
    UNEXPECTED_USERS: "{keys} the feed never sent",
    VALUE_DRIFT: "values changed after loading",
    QUARANTINED_FILE_LOADED: "quarantined file loaded",
}


def cause_label(kind: str, words: Words) -> str:
    """A root cause's kind as people say it, in the feed's words: "wrong row kept per account"."""
    label = CAUSE_WORDS.get(kind)
    return kind.replace("_", " ") if label is None else label.format(key=words.key_word, keys=words.keys)


# A hypothesis may break at most this share of the users it explains (users that already agreed).
MAX_BROKEN_SHARE = 0.01

# What a load did to the values of the rows it kept (``value_drift``), and the parameter each one names.
COLUMNS_SWAPPED = "columns_swapped"
SCALED = "scaled"
ROUNDED = "rounded"
TRUNCATED = "truncated"
ZEROED = "zeroed"
NULLED = "nulled"
CONSTANT = "constant"
FILLED = "filled"
SHIFTED_KEYS = "shifted_keys"
TIMEZONE_SHIFT = "timezone_shift"
KEYS_REWRITTEN = "keys_rewritten"
TEXT_REWRITTEN = "text_rewritten"
ACCUMULATED = "accumulated"
NOT_UPDATED = "not_updated"
UNEXPLAINED = "unexplained"
MECHANISMS: dict[str, str | None] = {
    COLUMNS_SWAPPED: None,
    SCALED: "factor",
    ROUNDED: "precision",
    TRUNCATED: "precision",
    ZEROED: None,
    NULLED: None,
    CONSTANT: "value",
    FILLED: "value",
    SHIFTED_KEYS: "offset",
    TIMEZONE_SHIFT: "hours",
    KEYS_REWRITTEN: "rewrite",
    TEXT_REWRITTEN: "rewrite",
    ACCUMULATED: None,
    NOT_UPDATED: None,
    UNEXPLAINED: None,
}


@dataclass(frozen=True)
class Mechanism:
    """What a load did to some values: its name (``MECHANISMS``), the columns it touched, its parameter's value
    (a factor, a precision in decimals, a constant as the file writes it, an offset in rows, hours), and for
    ``shifted_keys`` the order the offset counts in ("file" or "key")."""

    name: str
    columns: tuple[str, ...]
    value: Any = None
    order: str | None = None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"mechanism": self.name, "columns": list(self.columns)}
        parameter = MECHANISMS[self.name]
        if parameter is not None:
            found[parameter] = self.value
        if self.order is not None:
            found["order"] = self.order
        return found


@dataclass(frozen=True)
class RootCause:
    """One explanation: what happened, to which file, how many users and dollars it accounts for."""

    kind: str
    file: str | None
    users: int
    revenue_gap: int
    share_of_gap: float
    evidence: str
    examples: pd.DataFrame = field(repr=False, compare=False)
    absolute_gap: int = 0
    # Facts the reports use (rows in the file, rows kept, users also in later files, the load order).
    details: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # What the load did to the values (``value_drift`` only).
    mechanism: Mechanism | None = None

    def to_dict(self, amount: Callable[[int], Any] = int) -> dict[str, Any]:
        found = {
            "kind": self.kind,
            "file": self.file,
            "users": self.users,
            "revenue_gap": amount(self.revenue_gap),
            "share_of_gap": round(self.share_of_gap, 6),
            "evidence": self.evidence,
        }
        return found if self.mechanism is None else found | self.mechanism.to_dict()


@dataclass(frozen=True)
class Diagnosis:
    """The reconciliation, the root causes ordered by dollars explained, and what is left unexplained."""

    reconciliation: Reconciliation
    root_causes: tuple[RootCause, ...]
    unexplained_users: int
    unexplained_gap: int
    unexplained_share: float
    finance_total: int | None
    files: tuple[str, ...]
    # The lineage of the platform rows of the users ``reconciliation.users`` lists (``checks.lineage.lineage_of``).
    lineage: pd.DataFrame = field(repr=False, compare=False)
    # How many of all the platform's rows each delta file is the source of (None: no file), in feed order.
    lineage_counts: dict[str | None, int] = field(default_factory=dict, repr=False, compare=False)
    # The feed's words and value formats (its contract's): amounts below are in the amount column's computing form.
    words: Words = field(default_factory=default_words, repr=False, compare=False)

    @property
    def totals_differ(self) -> bool:
        """Whether the platform's total is off the feed's (never without an amount): values a load changed without
        moving it (a plan upper-cased, a count zeroed) leave no total to correct."""
        return self.words.has_amount and self.gap != 0

    @property
    def dollars_moved(self) -> bool:
        """Whether some key's dollars differ: each cause's share is then of the gap in dollars (``Engine.share``), else
        of the keys that differ (values a load changed without moving an amount)."""
        return self.gap != 0 or self.unexplained_gap != 0 or any(cause.absolute_gap for cause in self.root_causes)

    @property
    def share_basis(self) -> str:
        """What each cause's share is of (``Words.share``): ``SHARE_OF_GAP``, the net gap, where every key's dollars that
        differ pull the total one way; ``SHARE_OF_DOLLARS_OFF``, each key's dollars off whichever way, where some pull it
        up and others down (rows loaded twice beside a file never loaded: $41,751 short and $16,152 over are 72 % and
        28 % of the $57,903 off, not of the $25,599 gap); ``SHARE_OF_KEYS``, the keys that differ, where no dollars
        moved."""
        if not self.dollars_moved:
            return SHARE_OF_KEYS
        parts = sum(cause.absolute_gap for cause in self.root_causes) + abs(self.unexplained_gap)
        return SHARE_OF_GAP if parts == abs(self.gap) else SHARE_OF_DOLLARS_OFF

    @property
    def discrepancy(self) -> bool:
        return self.reconciliation.discrepant_users > 0

    @property
    def expected_total(self) -> int:
        return self.reconciliation.expected_total

    @property
    def platform_total(self) -> int:
        return self.reconciliation.platform_total

    @property
    def gap(self) -> int:
        return self.reconciliation.gap

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts in units of the amount column (``amount_column``), an int for an integer amount,
        the exact decimal as text for a decimal one ("1234.50")."""
        reconciliation, amount = self.reconciliation, self.words.plain_amount
        totals: dict[str, Any] = {
            "expected": amount(reconciliation.expected_total),
            "platform": amount(reconciliation.platform_total),
        }
        if reconciliation.customer_total is not None:
            totals["customer"] = amount(reconciliation.customer_total)
        if self.finance_total is not None:
            totals["finance"] = amount(self.finance_total)
        totals |= {
            "gap": amount(reconciliation.gap),
            "discrepant_users": reconciliation.discrepant_users,
            "unexplained_users": self.unexplained_users,
            "unexplained_gap": amount(self.unexplained_gap),
            "unexplained_share": round(self.unexplained_share, 6),
            "share_of": self.share_basis,  # what each share_of_gap divides: the gap, the dollars off either way, the keys
            "amount_column": self.words.encoding.contract.shape.amount,
        }
        return {
            "totals": totals,
            "classes": {
                summary.name: {"users": summary.users, "revenue_gap": amount(summary.revenue_gap)}
                for summary in reconciliation.classes
            },
            "root_causes": [cause.to_dict(amount) for cause in self.root_causes],
        }
