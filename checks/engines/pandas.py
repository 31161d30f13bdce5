"""The pandas engine: the reference path of ``checks.pipeline``, which the other engines must match."""
from __future__ import annotations

from checks.crossfeed import check_feed
from checks.engines.base import Capability
from checks.feed import read_table
from checks.pipeline import check_feed_folder, check_validations
from checks.validate import read_and_validate

NAME = "pandas"
CAPABILITIES: frozenset[Capability] = frozenset({Capability.ANY_CONTRACT})

__all__ = ["CAPABILITIES", "NAME", "check_feed", "check_feed_folder", "check_validations", "read_and_validate", "read_table"]
