"""Validating new delta files against the history already on disk (what ``checks validate`` does)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from checks.encoding import Encoding, default_encoding
from checks.engines.base import Capability, Engine, check_contract, discover_on, supports
from checks.errors import BadInputError
from checks.feed import delta_number, discover_deltas, is_uri, order_key
from checks.model import Delta, DeltaFile, empty_failures
from checks.results import DeltaValidation, collect_failures


@dataclass(frozen=True)
class HistoryValidation:
    """The new files' validations and the feed-wide checks of history plus the new files."""

    validations: tuple[DeltaValidation, ...]
    history: tuple[Delta, ...]
    feed_failures: pd.DataFrame
    skipped_history: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return all(validation.passed for validation in self.validations) and self.feed_failures.empty

    @property
    def failures(self) -> pd.DataFrame:
        return collect_failures(self.validations, self.feed_failures)

    def to_dict(self) -> dict[str, Any]:
        from checks.output import failures_to_records

        return {
            "passed": self.passed,
            "files": [validation.summary() for validation in self.validations],
            "history": [delta.name for delta in self.history],
            "skipped_history": list(self.skipped_history),
            "failures": failures_to_records(self.failures),
        }


def validate_against_history(
    files: list[Path], history_dir: Path | None, *, engine: Engine | None = None, encoding: Encoding | None = None
) -> HistoryValidation:
    """Validate each file against the contract (``encoding``'s; default: the first customer's); then run the
    feed-wide checks on the valid history plus the valid new files."""
    engine = engine or _pandas_engine()
    encoding = encoding or default_encoding()
    with_encoding = check_contract(engine, encoding)
    new_files = [_as_delta_file(path, encoding) for path in files]
    validations = tuple(engine.read_and_validate(delta_file, **with_encoding) for delta_file in new_files)
    history: list[Delta] = []
    skipped: list[str] = []
    if history_dir is not None:
        new_paths = {delta_file.path.resolve() for delta_file in new_files}
        new_numbers = {delta_file.number: delta_file for delta_file in new_files}
        # An engine may list the folder itself (Spark: s3a:// and other URIs).
        own = supports(engine, Capability.OWN_LISTING)
        for delta_file in discover_on(engine)(history_dir, encoding.contract) if own else discover_deltas(history_dir, encoding.contract):
            if delta_file.path.resolve() in new_paths:
                continue
            if delta_file.number in new_numbers:
                raise BadInputError(
                    f"history already has delta number {delta_file.number} ({delta_file.name})",
                    file=new_numbers[delta_file.number].path,
                )
            validation = engine.read_and_validate(delta_file, **with_encoding)
            if validation.delta is None:
                skipped.append(delta_file.name)
            else:
                history.append(validation.delta)
    new_deltas = [validation.delta for validation in validations if validation.delta is not None]
    feed = sorted([*history, *new_deltas], key=lambda delta: order_key(delta.number))
    feed_failures = engine.check_feed(feed, **with_encoding) if feed else empty_failures()
    return HistoryValidation(
        validations=validations, history=tuple(history), feed_failures=feed_failures, skipped_history=tuple(skipped)
    )


def _pandas_engine() -> Engine:
    from checks.engines import get_engine

    return get_engine("pandas")


def _as_delta_file(path: Path, encoding: Encoding) -> DeltaFile:
    if not is_uri(path) and not path.is_file():  # a URI is for the engine to open, and to report
        raise BadInputError("file not found" if not path.exists() else "expected a CSV file", file=path)
    number = delta_number(path.name, encoding.contract)
    if number is None:
        raise BadInputError(f"not a delta file name (the contract's pattern: {encoding.contract.files.pattern})", file=path)
    return DeltaFile(path=path, number=number)
