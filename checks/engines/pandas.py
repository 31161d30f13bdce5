"""The pandas engine: the reference path of ``checks.pipeline``, which the other engines must match."""
from __future__ import annotations

from checks.feed import read_table
from checks.pipeline import check_feed_folder

NAME = "pandas"

__all__ = ["NAME", "check_feed_folder", "read_table"]
