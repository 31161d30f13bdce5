"""The feed check as one call: discover, read, validate each delta, quarantine, check across files, deduplicate."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from checks.crossfeed import check_feed
from checks.dedup import deduplicate
from checks.feed import DeltaFile, discover_deltas
from checks.validate import Delta, DeltaValidation, collect_failures, read_and_validate


class FeedVerdict:
    """``passed`` and ``failures`` of a checked feed, for any result with ``validations``, ``feed_failures``
    and ``quarantined`` (``FeedCheck``, and the out-of-core engine's result that holds no rows)."""

    validations: Sequence
    feed_failures: pd.DataFrame
    quarantined: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.quarantined and self.feed_failures.empty

    @property
    def failures(self) -> pd.DataFrame:
        """Every failure of every file and of the feed as a whole, in one tidy frame."""
        return collect_failures(self.validations, self.feed_failures)


@dataclass(frozen=True)
class FeedCheck(FeedVerdict):
    """Everything known about a feed after its checks; ``deltas`` are the files that passed, in order."""

    validations: tuple[DeltaValidation, ...]
    feed_failures: pd.DataFrame
    deltas: tuple[Delta, ...]
    quarantined: tuple[str, ...]
    deduplicated: pd.DataFrame

    @classmethod
    def assemble(
        cls, validations: Sequence[DeltaValidation], feed_failures: pd.DataFrame, deduplicated: pd.DataFrame
    ) -> FeedCheck:
        """A FeedCheck from the per-file validations and what an engine found across the passing files."""
        return cls(
            validations=tuple(validations),
            feed_failures=feed_failures,
            deltas=passed_deltas(validations),
            quarantined=tuple(validation.name for validation in validations if validation.delta is None),
            deduplicated=deduplicated,
        )


def passed_deltas(validations: Sequence[DeltaValidation]) -> tuple[Delta, ...]:
    """The deltas that passed validation, in feed order: the only ones merged into the output."""
    return tuple(validation.delta for validation in validations if validation.delta is not None)


def check_feed_folder(
    directory: str | Path, *, on_file: Callable[[DeltaFile], None] | None = None
) -> FeedCheck:
    """Check every delta in ``directory``; files that fail are quarantined and never deduplicated."""
    validations = []
    for delta_file in discover_deltas(directory):
        if on_file is not None:
            on_file(delta_file)
        validations.append(read_and_validate(delta_file))
    return check_validations(validations)


def check_validations(validations: Sequence[DeltaValidation]) -> FeedCheck:
    """Cross-file checks and dedup over already validated deltas (feed order)."""
    deltas = passed_deltas(validations)
    return FeedCheck.assemble(validations, check_feed(deltas), deduplicate(deltas))
