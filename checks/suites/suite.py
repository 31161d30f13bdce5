"""The suite as declared in ``expectations/`` and the tables it validates: loading, check names, the columns GX may see."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from checks.contract import Contract
from checks.contract_suite import latest_column
from checks.encoding import Encoding, default_encoding
from checks.errors import BadInputError, SuiteError
from checks.feed import column_differences
from checks.model import LINEAGE_COLUMNS


# Suite parameter -> the expectation ("check" in its meta) skipped when the parameter is not given.
_OPTIONAL_PARAMETERS = {"finance_total": "revenue_total"}
# Expectations that GX accepts but cannot run on pandas: they report failure without raising.
_NOT_ON_PANDAS = frozenset({"unexpected_rows_expectation"})
PARTIAL_UNEXPECTED = 20


@dataclass(frozen=True)
class TableNames:
    """The names a run's tables are validated by, from the feed's contract."""

    columns: tuple[str, ...]  # the contract's, in its order
    key: str
    version: str
    latest: str  # the helper column: each key's largest version across the feed
    key_word: str  # what people call a key ("user")

    @classmethod
    def of(cls, contract: Contract) -> TableNames:
        return cls(contract.names, contract.key.name, contract.version_column.name, latest_column(contract),
                   contract.key.business_name or contract.key.name)

    @property
    def latest_statement(self) -> str:
        """How Data Docs state the batch-currency expectation, without the helper column it compares with."""
        return f"must be each {self.key_word}'s latest in the feed"

    @property
    def result_format(self) -> dict[str, Any]:
        return {"result_format": "SUMMARY", "unexpected_index_column_names": [self.key], "partial_unexpected_count": PARTIAL_UNEXPECTED}


def load_suite_json(path: Path) -> dict:
    """The suite as declared in version control: a name and a list of expectations, each with a check name."""
    path = Path(path)
    try:
        declared = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        # A contract's suite is generated from it (``checks.contract_suite``): say how, for a feed new here.
        raise SuiteError(
            "expectation suite file not found: generate it from the feed's contract with `checks contract suite CONTRACT`",
            file=path,
        ) from error
    except (OSError, json.JSONDecodeError) as error:
        raise SuiteError(f"cannot read the expectation suite: {error}", file=path) from error
    if not isinstance(declared, dict) or not isinstance(declared.get("expectations"), list) or not declared.get("name"):
        raise SuiteError("expectation suite must be an object with a name and a list of expectations", file=path)
    for number, expectation in enumerate(declared["expectations"], start=1):
        if not isinstance(expectation, dict) or not expectation.get("type"):
            raise SuiteError(f"expectation {number} has no type", file=path)
        if expectation["type"] in _NOT_ON_PANDAS:
            raise SuiteError(
                f"expectation {number} ({expectation['type']}) does not run on pandas in GX 1.x; "
                "it would report failure without checking anything",
                file=path,
            )
    return declared


def prepare_table(name: str, frame: pd.DataFrame, latest_batch: pd.Series, names: TableNames | None = None) -> pd.DataFrame:
    """The frame GX validates: the contract's columns as given, plus each key's latest version in the feed.

    GX resolves column names case-insensitively, so an ``Amount`` column would silently pass
    for ``amount``; any column set other than exactly the contract's (lineage columns aside) is
    refused here. Column order is left to the suite's ordered-list expectation.
    """
    names = names or TableNames.of(default_encoding().contract)
    columns = table_columns(name, frame, names)
    latest = frame[names.key].map(latest_batch)
    latest = latest.astype("Int64") if pd.api.types.is_integer_dtype(latest_batch.dtype) else latest
    table = declared_types_of(frame.loc[:, columns])
    return table.assign(**{names.latest: latest.to_numpy()}).reset_index(drop=True)


def typed_table(frame: pd.DataFrame, latest_batch: pd.Series, encoding: Encoding) -> tuple[pd.DataFrame, pd.Series]:
    """A table and the feed's latest versions in computing form (``checks.encoding``) as the typed values GX
    reads: datetimes, text, decimals as floats (GX takes 26 ms a row over an exact decimal column)."""
    if encoding.plain:
        return frame, latest_batch
    shape = encoding.contract.shape
    latest = pd.Series(typed_values(encoding, shape.version, latest_batch.to_numpy()),
                       index=typed_values(encoding, shape.key, latest_batch.index.to_numpy()))
    return encoding.typed(frame, exact_decimals=False), latest


def typed_values(encoding: Encoding, column: str, values: np.ndarray) -> Any:
    """One column's computing form as GX reads it (``Encoding.held_as_itself``: a required integer column as it is)."""
    if encoding.held_as_itself(column):
        return values
    return encoding.typed_column(column, values, exact_decimals=False)


def declared_types_of(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with int32 columns as int64: an engine holds an int64 column as int32 when every value fits
    (losslessly), and GX must see, and report, the type the file had."""
    narrowed = [column for column in frame.columns if frame[column].dtype == np.int32]
    return frame.astype(dict.fromkeys(narrowed, "int64")) if narrowed else frame


def table_columns(name: str, frame: pd.DataFrame, names: TableNames) -> list:
    """The table's columns without lineage; BadInputError unless they are exactly the contract's (any order)."""
    columns = [column for column in frame.columns if column not in LINEAGE_COLUMNS]
    parts = column_differences([str(column) for column in columns], names.columns)
    if parts:
        unexpected = [column for column in columns if column not in names.columns]
        casefolded = {column.casefold() for column in names.columns}
        if any(str(column).casefold() in casefolded for column in unexpected):
            parts.append("column names are case-sensitive (GX would match them case-insensitively)")
        raise BadInputError(f"table {name!r}: " + "; ".join(parts))
    return columns


def refuse_unknown_columns(name: str, expectations: list[dict], columns: list) -> None:
    """GX would resolve ``Amount`` in a suite to ``amount`` silently; a name must match exactly."""
    for expectation in expectations:
        kwargs = expectation.get("kwargs", {})
        for key in ("column", "column_A", "column_B"):
            column = kwargs.get(key)
            if isinstance(column, str) and column not in columns:
                raise SuiteError(
                    f"table {name!r}: expectation {expectation['type']} could not be evaluated: "
                    f"no column {column!r} (column names are case-sensitive)"
                )


def expectations_to_run(declared: dict, parameters: Mapping[str, Any]) -> tuple[list[dict], tuple[str, ...]]:
    skip = {check for parameter, check in _OPTIONAL_PARAMETERS.items() if parameters.get(parameter) is None}
    expectations = [
        expectation for expectation in declared["expectations"] if check_name(expectation) not in skip
    ]
    return expectations, tuple(sorted(skip))


def check_name(expectation: Mapping[str, Any]) -> str:
    meta = expectation.get("meta") or {}
    return str(meta.get("check") or expectation.get("type"))


def resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"$PARAMETER"}:
        return parameters.get(value["$PARAMETER"])
    return value
