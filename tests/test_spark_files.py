"""Spark writes an output as one file, atomically, byte for byte as ``checks.writers`` writes the same table."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from checks.writers import atomic_write_frame

pytestmark = pytest.mark.slow


def _table(users: int) -> pd.DataFrame:
    """Integer columns (negative, zero, large), a text column with quotes, commas and empty cells, a line column."""
    generator = np.random.default_rng(3)
    texts = np.array(["delta0.csv", 'say "hi"', "a,b", "", "  padded  "], dtype=object)
    return pd.DataFrame({
        "user_id": np.arange(users, dtype="int64") * 7 - 50,
        "total_spend": generator.integers(-(2**62), 2**62, users, dtype="int64"),
        "source_file": pd.array(texts[generator.integers(0, len(texts), users)].tolist(), dtype="str"),
        "source_row": np.arange(2, users + 2, dtype="int64"),
    })


@pytest.fixture
def several_partitions(spark_engine):
    """Sorts spread over four partitions, so that writing one file must keep their order."""
    spark = spark_engine.session()
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    yield spark
    spark.conf.set("spark.sql.shuffle.partitions", before)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_spark_writes_the_file_the_driver_writes(several_partitions, suffix: str, tmp_path: Path) -> None:
    from checks.engines import spark_files

    table = _table(5_000)
    shuffled = several_partitions.createDataFrame(table.sample(frac=1, random_state=1)).repartition(4).orderBy("user_id")
    write = spark_files.write_csv if suffix == ".csv" else spark_files.write_parquet
    written = write(shuffled, tmp_path / "spark" / f"deduplicated{suffix}")
    reference = atomic_write_frame(tmp_path / "driver" / f"deduplicated{suffix}", table)
    if suffix == ".csv":
        assert written.read_bytes() == reference.read_bytes()
    else:
        pd.testing.assert_frame_equal(pd.read_parquet(written), pd.read_parquet(reference))
    assert sorted(path.name for path in written.parent.iterdir()) == [written.name]  # no part folder, no .crc left
    assert oct(written.stat().st_mode & 0o777) == oct(reference.stat().st_mode & 0o777)


def test_a_failed_spark_write_leaves_the_old_file_and_nothing_else(spark_engine, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    from checks.engines import spark_files

    target = tmp_path / "deduplicated.csv"
    target.write_text("the previous run's\n")
    failing = spark_engine.session().range(10).select(F.when(F.col("id") == 7, F.raise_error("planted")).otherwise(F.col("id")).alias("id"))
    with pytest.raises(Exception, match="planted"):
        spark_files.write_csv(failing, target)
    assert target.read_text() == "the previous run's\n"
    assert [path.name for path in tmp_path.iterdir()] == [target.name]
