"""What an engine that keeps rows elsewhere (Spark) must answer: the interfaces in ``checks.results``, and the suites'
choice between reading a table where it is and collecting it."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest

from checks.results import FailuresElsewhere, OrderedTableElsewhere, TableElsewhere, UsersElsewhere, suites_table


@pytest.mark.parametrize("interface", [FailuresElsewhere, TableElsewhere, OrderedTableElsewhere, UsersElsewhere])
def test_an_interface_is_not_a_table_itself(interface: type) -> None:
    with pytest.raises(TypeError, match="abstract"):
        interface()


def test_spark_s_tables_answer_every_question_their_interface_asks() -> None:
    from checks.engines.spark_deltas import SparkFailures, SparkTable
    from checks.engines.spark_users import SparkUsers

    for kept, interface in ((SparkTable, OrderedTableElsewhere), (SparkUsers, UsersElsewhere), (SparkFailures, FailuresElsewhere)):
        assert issubclass(kept, interface)
        assert not kept.__abstractmethods__, kept


class _Collected(TableElsewhere):
    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    @property
    def frame(self) -> pd.DataFrame:
        return self._frame


class _Ordered(_Collected, OrderedTableElsewhere):
    def in_order(self, columns: Sequence[str]) -> Any:
        return ("read where it is", tuple(columns))


def test_the_suites_read_a_table_where_its_order_is_kept_and_collect_any_other() -> None:
    frame = pd.DataFrame({"user_id": [2, 1], "batch_id": [7, 8], "other": [0, 0]})
    assert suites_table(_Ordered(frame), ["user_id", "batch_id"]) == ("read where it is", ("user_id", "batch_id"))
    pd.testing.assert_frame_equal(suites_table(_Collected(frame), ["batch_id", "user_id"]), frame[["batch_id", "user_id"]])
    pd.testing.assert_frame_equal(suites_table(frame, ["user_id"]), frame[["user_id"]])
