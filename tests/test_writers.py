"""Writers: atomic outputs, CSV that a spreadsheet cannot run, permissions like a plain open()."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as arrow_csv
import pytest

from checks import writers
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


_WRITE_PARQUET = """
import sys
import numpy as np, pandas as pd
from checks.writers import atomic_write_frame
rows = 250_000
frame = pd.DataFrame({"user_id": np.arange(1, rows + 1, dtype="int32"), "total_spend": np.arange(rows, dtype="int64") % 977,
                      "source_file": pd.Categorical.from_codes(np.arange(rows) % 3, categories=["a.csv", "b.csv", "c.csv"])})
atomic_write_frame(sys.argv[1], frame, categoricals_as_text=True)
"""


def test_a_parquet_file_is_the_same_bytes_whatever_the_machine_s_core_count(tmp_path):
    written = {}
    for threads in (2, 8):
        path = tmp_path / f"{threads}.parquet"
        environment = {**os.environ, "POLARS_MAX_THREADS": str(threads)}
        subprocess.run([sys.executable, "-c", _WRITE_PARQUET, str(path)], env=environment, check=True, capture_output=True)
        written[threads] = path.read_bytes()
    assert written[2] == written[8]
    assert pd.read_parquet(tmp_path / "8.parquet")["source_file"].tolist()[:4] == ["a.csv", "b.csv", "c.csv", "a.csv"]


def _mixed_frame(rows: int = 50, seed: int = 3) -> pd.DataFrame:
    """Every column type an output holds: integers, integral and fractional floats with gaps, text with
    gaps and empty cells, categoricals, nullable integers and booleans."""
    rng = np.random.default_rng(seed)
    spend = rng.integers(-500, 5_000, rows)
    names = np.array(["delta0.csv", "delta1.csv", "", "delta 2.csv", "ünïcode.csv"])
    return pd.DataFrame(
        {
            "user_id": np.arange(1, rows + 1, dtype="int64"),
            "spend": spend,
            "platform_spend": np.where(rng.random(rows) < 0.2, np.nan, spend.astype("float64")),
            "share": np.round(rng.random(rows), 3),
            "source_file": pd.array(np.where(rng.random(rows) < 0.1, None, names[rng.integers(0, 5, rows)]), dtype="str"),
            "kind": pd.Categorical(names[rng.integers(0, 2, rows)]),
            "source_row": pd.array(np.where(rng.random(rows) < 0.2, None, rng.integers(2, 900, rows)), dtype="Int64"),
            "matches": rng.random(rows) < 0.5,
        }
    )


def _arrow_csv(frame: pd.DataFrame) -> bytes:
    """The reference: Arrow's own CSV writer, unquoted, with missing and empty text both written as nothing."""
    buffer = io.BytesIO()
    buffer.write((",".join(frame.columns) + "\n").encode())
    options = arrow_csv.WriteOptions(include_header=False, quoting_style="none")
    arrow_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), buffer, write_options=options)
    return buffer.getvalue()


def test_csv_cells_read_as_arrow_writes_them(tmp_path):
    frame = _mixed_frame()
    assert atomic_write_frame(tmp_path / "out.csv", frame).read_bytes() == _arrow_csv(frame)


@pytest.mark.parametrize("chunk_rows", [1, 7, 31, 1000])
def test_rows_are_written_in_the_order_given_whatever_the_chunks(tmp_path, monkeypatch, chunk_rows):
    monkeypatch.setattr(writers, "_CHUNK_ROWS", chunk_rows)
    frame = _mixed_frame()
    assert atomic_write_frame(tmp_path / "all.csv", frame).read_bytes() == _arrow_csv(frame)
    rows = np.random.default_rng(chunk_rows).permutation(len(frame))[:31]
    written = atomic_write_frame(tmp_path / "rows.csv", frame, rows=rows)
    assert written.read_bytes() == _arrow_csv(frame.iloc[rows])
    parquet = atomic_write_frame(tmp_path / "rows.parquet", frame, rows=rows)
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), frame.iloc[rows].reset_index(drop=True))


def test_an_empty_frame_is_its_header(tmp_path):
    frame = _mixed_frame().iloc[:0]
    assert atomic_write_frame(tmp_path / "empty.csv", frame).read_text() == ",".join(frame.columns) + "\n"
    assert atomic_write_frame(tmp_path / "none.csv", _mixed_frame(), rows=np.array([], dtype=int)).read_text().count("\n") == 1


@pytest.mark.parametrize("names", [["a", "b"], ["a\rb", "c"], ["a,b", 'x"y', " s", "é"], ["a\nb"], ["#x", "=1"]])
def test_a_header_without_rows_is_written_as_polars_writes_it(tmp_path, names):
    import polars as pl

    frame = pd.DataFrame({name: pd.Series([], dtype="int64") for name in names})
    expected = io.BytesIO()
    pl.from_pandas(frame).write_csv(expected)
    assert atomic_write_frame(tmp_path / "empty.csv", frame).read_bytes() == expected.getvalue()


def test_a_header_without_rows_needs_no_polars(tmp_path):
    code = (
        "import sys, pandas as pd; from checks.writers import atomic_write_frame; "
        f"atomic_write_frame({str(tmp_path / 'f.csv')!r}, pd.DataFrame({{'user_id': [], 'check': []}})); "
        "print('polars' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


@pytest.mark.parametrize(
    "cells, expected",
    [
        (["=1+2", "plain"], ["'=1+2", "plain"]),
        (["+1", "-1", "@SUM(A1)", "\tx"], ["'+1", "'-1", "'@SUM(A1)", "'\tx"]),
        (["ok=", "a-b", None, ""], ["ok=", "a-b", "", ""]),
        (["ü=", "=ü"], ["ü=", "'=ü"]),
        (["=x", "'=x", "", "=x"], ["'=x", "'=x", "", "'=x"]),  # a quoted cell meets one quoted already
    ],
)
def test_text_cells_never_start_a_formula(tmp_path, cells, expected):
    """Arrow-backed text (the 10 M-row path) gets the same treatment as the pandas neutraliser."""
    frame = pd.DataFrame({"cell": pd.array(cells, dtype="str"), "number": np.arange(len(cells)) - 1})
    lines = atomic_write_frame(tmp_path / "cells.csv", frame).read_text().splitlines()[1:]
    assert [line.rsplit(",", 1)[0].strip('"') for line in lines] == expected
    assert [int(line.rsplit(",", 1)[1]) for line in lines] == list(frame["number"])  # -1 stays a number


def test_text_needing_quotes_is_quoted_like_pandas(tmp_path):
    frame = pd.DataFrame({"cell": pd.array(["a,b", 'say "hi"', "two\nlines", None], dtype="str"), "n": [1, 2, 3, 4]})
    written = atomic_write_frame(tmp_path / "quoted.csv", frame).read_text()
    assert written == frame.to_csv(index=False, lineterminator="\n")
    assert pd.read_csv(tmp_path / "quoted.csv")["cell"].iloc[:3].tolist() == ["a,b", 'say "hi"', "two\nlines"]


def test_mixed_python_objects_go_through_pandas(tmp_path):
    frame = pd.DataFrame({"file": ["delta0.csv", "delta1.csv"], "row": pd.array([3, "x"], dtype=object), "value": ["=1", "2"]})
    assert atomic_write_frame(tmp_path / "failures.csv", frame).read_text().splitlines() == ["file,row,value", "delta0.csv,3,'=1", "delta1.csv,x,2"]


@pytest.mark.parametrize("frame", [_mixed_frame(), _mixed_frame()[["user_id", "spend", "share", "source_file", "matches"]]])
def test_parquet_reads_back_as_the_frame_was(tmp_path, frame):
    """Plain columns go through Polars, the rest through pandas; either way pandas reads back the same frame."""
    pd.testing.assert_frame_equal(pd.read_parquet(atomic_write_frame(tmp_path / "t.parquet", frame)), frame)


def test_a_failed_frame_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = atomic_write_text(tmp_path / "out.csv", "old\n")

    def fail(column, **_):
        raise OSError("disk full")

    monkeypatch.setattr(writers, "_csv_column", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_frame(target, _mixed_frame())
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_a_formula_that_collides_with_a_neutralised_one_stays_two_cells(tmp_path):
    frame = pd.DataFrame({"cell": pd.array(["=x", "'=x", "=x", ""], dtype="str")})
    assert atomic_write_frame(tmp_path / "c.csv", frame).read_text().splitlines() == ["cell", "'=x", "'=x", "'=x", ""]


def test_frames_written_in_the_background_are_all_there_after_wait(tmp_path):
    frame = _mixed_frame()
    pending = writers.write_frames({"csv": (tmp_path / "t.csv", frame), "parquet": (tmp_path / "t.parquet", frame)})
    written = pending.wait()
    assert written == {"csv": tmp_path / "t.csv", "parquet": tmp_path / "t.parquet"}
    assert written["csv"].read_bytes() == _arrow_csv(frame)
    pd.testing.assert_frame_equal(pd.read_parquet(written["parquet"]), frame)


def test_a_background_write_error_is_raised_by_wait_after_the_other_writes(tmp_path):
    frame = _mixed_frame()
    pending = writers.write_frames({"bad": (tmp_path / "t.xlsx", frame), "good": (tmp_path / "t.csv", frame)})
    with pytest.raises(ValueError, match="unsupported output format"):
        pending.wait()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["t.csv"]  # finished, and no temp file


def test_repeated_column_names_are_written_as_they_are(tmp_path):
    frame = pd.DataFrame([[1, "=a"], [3, "b"]], columns=["n", "n"])
    assert atomic_write_frame(tmp_path / "twice.csv", frame).read_text() == "n,n\n1,'=a\n3,b\n"


def _polars_default_csv(frame: pd.DataFrame) -> bytes:
    """The CSV as written before Polars was told when no cell needs quotes: every cell checked ("necessary")."""
    import polars as pl

    table = pa.Table.from_pandas(frame, preserve_index=False)
    cells = pa.table([writers._csv_column(column) for column in table.columns], names=table.column_names)
    return pl.from_arrow(cells).write_csv(None, include_header=True).encode()


@pytest.mark.parametrize(
    "names, quoted",
    [
        (["delta0.csv", "delta1.csv"], False),
        (["stale", "unknown_batch", "not expected", " lead", "é€", "#c", "=x", "tab\tx"], False),
        (["delta0.csv", ""], False),  # an empty name is written as a missing cell
        (["a,b", "plain"], True),
        (['say "hi"', "plain"], True),
        (["two\nlines", "plain"], True),
        (["cr\rx", "plain"], True),
    ],
)
def test_dictionary_text_and_integers_are_written_byte_for_byte_as_before(tmp_path, names, quoted):
    rng = np.random.default_rng(len(names))
    codes = rng.integers(-1, len(names), 300)
    frame = pd.DataFrame(
        {
            "source_file": pd.Categorical.from_codes(codes, categories=names),
            "source_row": np.concatenate([[0, -1, 2**53 + 1, -(2**63), 2**63 - 1], rng.integers(-(2**62), 2**62, 295)]),
            "spend": np.concatenate([[0, -1, 2**31 - 1, -(2**31)], rng.integers(-5000, 5000, 296)]).astype("int32"),
            "rows": pd.array(np.where(codes < 0, None, rng.integers(0, 9, 300)), dtype="Int64"),
            "class": pd.Categorical.from_codes(rng.integers(0, 2, 300), categories=["match", "stale"]),
        }
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    cells = pa.table([writers._csv_column(column) for column in table.columns], names=table.column_names)
    assert writers._needs_no_quotes(cells) is not quoted
    assert atomic_write_frame(tmp_path / "out.csv", frame).read_bytes() == _polars_default_csv(frame)
    rows = rng.permutation(len(frame))[:77]
    assert atomic_write_frame(tmp_path / "rows.csv", frame, rows=rows).read_bytes() == _polars_default_csv(frame.iloc[rows])


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"file": pd.Categorical(["a", "b"])}),  # one column: a lone empty cell would be quoted
        pd.DataFrame({"file": pd.Categorical(["a", None]), "spend": [1.5, np.nan]}),  # floats are written as text
        pd.DataFrame({"file": pd.Categorical(["a", "b"]), "note": pd.array(["x", None], dtype="str")}),  # plain text
        pd.DataFrame({"file": pd.Categorical(["a", "b"]), "a,b": [1, 2]}),  # a name needing quotes
    ],
)
def test_text_outside_dictionaries_is_still_checked_for_quotes(tmp_path, frame):
    table = pa.Table.from_pandas(frame, preserve_index=False)
    cells = pa.table([writers._csv_column(column) for column in table.columns], names=table.column_names)
    assert not writers._needs_no_quotes(cells)
    assert atomic_write_frame(tmp_path / "out.csv", frame).read_bytes() == _polars_default_csv(frame)


def test_a_categorical_of_text_can_go_to_parquet_as_its_text(tmp_path):
    """``categoricals_as_text``: the file of a categorical is that of its text, byte for byte; without it the categorical
    reads back as one."""
    rng = np.random.default_rng(5)
    names = ["delta0.csv", "delta 1.csv", "ünïcode.csv"]
    codes = rng.integers(0, len(names), 400)
    categorical = pd.DataFrame({
        "user_id": np.arange(400, dtype="int32"),
        "source_file": pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype="str")),
    })
    text = categorical.assign(source_file=pd.array(np.array(names, dtype=object)[codes], dtype="str"))
    written = atomic_write_frame(tmp_path / "categorical.parquet", categorical, categoricals_as_text=True).read_bytes()
    assert written == atomic_write_frame(tmp_path / "text.parquet", text).read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "categorical.parquet"), text.astype({"user_id": "int64"}))
    kept = pd.read_parquet(atomic_write_frame(tmp_path / "kept.parquet", categorical))
    assert isinstance(kept["source_file"].dtype, pd.CategoricalDtype)


@pytest.mark.parametrize("through_pandas", [False, True])
def test_numbers_held_as_text_are_written_as_numbers(tmp_path, through_pandas):
    amount = pd.array(["-5.25", "", "+1.00"], dtype="str")
    frame = pd.DataFrame({"key": ["-x", "y", "z"], "amount": amount})
    if through_pandas:  # a column of mixed Python objects sends the whole frame through pandas
        frame["mixed"] = pd.Series([1, "a", 2.5], dtype=object)
    lines = atomic_write_frame(tmp_path / "out.csv", frame, numbers=["amount"]).read_text().splitlines()
    assert [line.split(",")[:2] for line in lines[1:]] == [["'-x", "-5.25"], ["y", ""], ["z", "+1.00"]]


def _blocks(frame: pd.DataFrame, rows: int) -> list[pa.Table]:
    return [pa.Table.from_pandas(frame.iloc[start:start + rows], preserve_index=False) for start in range(0, max(len(frame), 1), rows)]


@pytest.mark.parametrize("block_rows", [1, 7, 50])
def test_a_table_written_block_by_block_is_the_table_written_whole(tmp_path, block_rows):
    """``atomic_write_blocks``: the CSV byte for byte ``atomic_write_frame``'s, the Parquet read back as the same frame
    (integers as int64, a categorical as its text), whatever the blocks."""
    frame = _mixed_frame().drop(columns=["source_row", "matches"]).assign(small=lambda f: f["user_id"].astype("int32"))
    numbers = ["share"]
    written = writers.atomic_write_blocks([tmp_path / "t.csv", tmp_path / "t.parquet"], _blocks(frame, block_rows), numbers=numbers)
    assert written == [tmp_path / "t.csv", tmp_path / "t.parquet"]
    assert written[0].read_bytes() == atomic_write_frame(tmp_path / "whole.csv", frame, numbers=numbers).read_bytes()
    expected = frame.assign(kind=frame["kind"].astype("str"), small=frame["small"].astype("int64"))
    pd.testing.assert_frame_equal(pd.read_parquet(written[1]), expected)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["t.csv", "t.parquet", "whole.csv"]  # no temp file left


def test_an_empty_table_written_block_by_block_is_its_header_and_schema(tmp_path):
    frame = _mixed_frame().iloc[:0].drop(columns=["source_row", "matches"])
    csv, parquet = writers.atomic_write_blocks([tmp_path / "e.csv", tmp_path / "e.parquet"], _blocks(frame, 10))
    assert csv.read_text() == ",".join(frame.columns) + "\n"
    assert list(pd.read_parquet(parquet).columns) == list(frame.columns)


def test_a_block_write_that_fails_leaves_the_old_files_and_no_temp_file(tmp_path):
    old = [atomic_write_text(tmp_path / "t.csv", "old"), atomic_write_text(tmp_path / "t.parquet", "old")]

    def failing():
        yield from _blocks(_mixed_frame(), 10)[:2]
        raise RuntimeError("crash mid-table")

    with pytest.raises(RuntimeError):
        writers.atomic_write_blocks(old, failing())
    assert [path.read_text() for path in old] == ["old", "old"]
    assert sorted(tmp_path.iterdir()) == sorted(old)


def test_a_write_nobody_waits_for_ends_before_the_command_line_leaves(tmp_path):
    """An interrupt can land before the caller holds its ``PendingWrites``: ``wait_for_writes`` (the command line's
    last step before ``os._exit``) still lets the write end, its file in place and no temporary file left."""
    import threading

    release = threading.Event()

    def slow_write():
        with atomic_path(tmp_path / "table.csv") as temporary:
            temporary.write_text("partial")
            release.wait(5)
            temporary.write_text("whole")
        return tmp_path / "table.csv"

    writers.start_writing({"table": slow_write})  # the PendingWrites dropped, as an interrupt would
    threading.Timer(0.2, release.set).start()
    writers.wait_for_writes()
    assert (tmp_path / "table.csv").read_text() == "whole"
    assert [path.name for path in tmp_path.iterdir()] == ["table.csv"]


def test_an_interrupt_inside_start_writing_still_lets_its_started_write_end(tmp_path, monkeypatch):
    """The window a stopped run once fell into: the write's thread had made its temporary file, the interrupt landed
    before ``start_writing`` returned, and nothing waited for the write."""
    import threading

    started = threading.Event()

    def write():
        with atomic_path(tmp_path / "table.csv") as temporary:
            started.set()
            time.sleep(0.2)
            temporary.write_text("whole")
        return tmp_path / "table.csv"

    def interrupted(self, futures):
        started.wait(5)
        raise KeyboardInterrupt

    monkeypatch.setattr(writers.PendingWrites, "__init__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writers.start_writing({"table": write})
    writers.wait_for_writes()
    assert [path.name for path in tmp_path.iterdir()] == ["table.csv"]
    assert (tmp_path / "table.csv").read_text() == "whole"


def test_an_interrupt_right_after_the_temporary_file_is_made_leaves_none(tmp_path, monkeypatch):
    made = os.open

    def open_then_interrupt(*args, **kwargs):
        os.close(made(*args, **kwargs))
        raise KeyboardInterrupt

    monkeypatch.setattr(writers.os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(tmp_path / "t.csv", "new")
    assert list(tmp_path.iterdir()) == []
