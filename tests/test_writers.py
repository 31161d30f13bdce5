"""Writers: atomic outputs, CSV that a spreadsheet cannot run, permissions like a plain open()."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from checks.writers import atomic_path, atomic_write_frame, atomic_write_text


def test_csv_writer_neutralises_formulas_and_quotes_only_where_needed(tmp_path):
    frame = pd.DataFrame(
        {
            "user_id": [1, -2],
            "value": ["plain", '=HYPERLINK("http://x")'],
            "source_file": pd.Categorical(["@delta1.csv", "delta2.csv"]),
            "note": [None, "a,b"],
        }
    )
    path = atomic_write_frame(tmp_path / "out.csv", frame)
    assert path.read_text().splitlines() == [
        "user_id,value,source_file,note",
        "1,plain,'@delta1.csv,",
        '-2,"\'=HYPERLINK(""http://x"")",delta2.csv,"a,b"',
    ]
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = atomic_write_text(tmp_path / "summary.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_outputs_get_the_umask_permissions(tmp_path):
    path = atomic_write_text(tmp_path / "report.md", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_parquet_round_trips(tmp_path):
    frame = pd.DataFrame({"user_id": [1, 2], "source_file": ["delta0.csv", "delta1.csv"]})
    pd.testing.assert_frame_equal(pd.read_parquet(atomic_write_frame(tmp_path / "t.parquet", frame)), frame, check_dtype=False)
