"""A contract with text columns read in Spark: each file's cells checked there (a pattern by Python's ``re``, allowed
and missing values, lengths, nullValues), its texts numbered and coded in Spark in the order the default engine's
dictionary gives them, and the files Spark leaves to the pandas path (a quote, bytes that are no UTF-8) read there.

Every test compares with the pandas reference under its own encoding: the codes must come out the same without the
two runs sharing a dictionary."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from checks.contract import load_contract
from checks.encoding import Encoding
from checks.engines import get_engine
from checks.engines.spark_deltas import SparkTable
from checks.engines.spark_dictionary import SparkDictionary
from checks.sample_accounts import CONTRACT_PATH
from tests.test_contract_shapes import CASE, HEADER, NAMES
from tests.test_engines import assert_same_feed_check

pytestmark = pytest.mark.slow

# Beyond the shipped contract's pattern and plans: lengths of a referrer, missing values and nullValues of a plan.
EXTRA_RULES = {
    "referrer": {"logicalTypeOptions": {"minLength": 9, "maxLength": 11}},
    "plan": {"quality": [
        {"metric": "missingValues", "arguments": {"missingValues": ["n/a"]}, "mustBe": 0},
        {"metric": "nullValues", "mustBe": 0},
    ]},
}


def _contract(folder: Path) -> Path:
    document = yaml.safe_load(CONTRACT_PATH.read_text())
    for item in document["schema"][0]["properties"]:
        for key, value in EXTRA_RULES.get(item["name"], {}).items():
            if isinstance(value, dict):
                item[key] = {**item.get(key, {}), **value}
            else:
                item[key] = [*item.get(key, []), *value]
    path = folder / "contract.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _lines(frame: pd.DataFrame) -> list[str]:
    return [",".join(frame.columns), *(",".join(row) for row in frame.astype(str).itertuples(index=False))]


def _set(lines: list[str], line: int, column: str, value: str) -> None:
    cells = lines[line - 1].split(",")
    cells[HEADER.split(",").index(column)] = value
    lines[line - 1] = ",".join(cells)


# (file, line, column, cell): what each file of the planted feed holds beside the sample's rows.
PLANTED = [
    (NAMES[1], 4, "plan", "gold"),  # not an allowed plan
    (NAMES[1], 5, "plan", "n/a"),  # a missing value
    (NAMES[1], 6, "plan", ""),  # required, nullValues and a missing value at once
    (NAMES[1], 7, "account_id", "X-1"),  # breaks the key's pattern
    (NAMES[1], 8, "account_id", "AC-\u0663\u0664\u0665\u0666\u0667\u0668"),  # Arabic-Indic digits: \d by Python's re
    (NAMES[1], 9, "referrer", "AC-1"),  # shorter than 9
    (NAMES[1], 10, "referrer", "AC-123456789"),  # longer than 11
    (NAMES[2], 5, "plan", '"pro"'),  # a quoted cell: the pandas path reads the file
    (NAMES[3], 3, "referrer", "AC-\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"),  # a text beyond ASCII, within the lengths
]


def _feed(folder: Path, *, invalid_utf8: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = {name: _lines(frame) for name, frame in CASE.files.items()}
    for name, line, column, cell in PLANTED:
        _set(lines[name], line, column, cell)
    for name, text in lines.items():
        data = ("\n".join(text) + "\n").encode()
        if invalid_utf8 and name == NAMES[4]:
            data = data.replace(b"basic", b"bas\xffic", 1)
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def pandas_reads(spark_engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the Spark engine hands to the pandas path."""
    read: list[str] = []
    original = spark_engine._read_and_validate_pandas

    def reading(delta_file, encoding=None):
        read.append(Path(delta_file.path).name)
        return original(delta_file, encoding)

    monkeypatch.setattr(spark_engine, "_read_and_validate_pandas", reading)
    return read


def test_text_rules_are_checked_in_spark_as_pandas_checks_them(spark_engine, pandas_reads: list[str], tmp_path: Path) -> None:
    contract = load_contract(_contract(tmp_path))
    feed = _feed(tmp_path / "feed")
    reference = get_engine("pandas").check_feed_folder(feed, encoding=Encoding.of(contract))
    spark = spark_engine.check_feed_folder(feed, encoding=Encoding.of(contract))
    assert_same_feed_check(spark, reference)
    failures = reference.failures
    found = set(map(tuple, failures[failures["file"] == NAMES[1]][["row", "column", "check"]].astype(object).values.tolist()))
    assert found >= {
        (4, "plan", "invalidValues"), (5, "plan", "missingValues"), (6, "plan", "required"), (6, "plan", "missingValues"),
        (6, "plan", "nullValues"), (7, "account_id", "pattern"), (9, "referrer", "min_length(9)"),
        (10, "referrer", "max_length(11)"),
    }
    assert pandas_reads == [NAMES[2]]  # the quoted cell; the rest Spark read and checked itself


def test_spark_codes_texts_in_the_order_the_driver_would(spark_engine, pandas_reads: list[str], tmp_path: Path) -> None:
    """Tables first, then the files in turn, each of its own encoding: the same texts under the same codes."""
    contract = load_contract(_contract(tmp_path))
    feed = _feed(tmp_path / "feed")
    CASE.platform.to_csv(tmp_path / "platform.csv", index=False)
    CASE.customer.iloc[::-1].to_csv(tmp_path / "customer.csv", index=False)  # its keys in another order
    read = {}
    for name in ("pandas", "spark"):
        engine, encoding = get_engine(name), Encoding.of(contract)
        tables = [engine.read_table(tmp_path / table, encoding=encoding) for table in ("platform.csv", "customer.csv")]
        check = engine.check_feed_folder(feed, encoding=encoding)
        read[name] = (encoding, tables, check)
    (reference, tables, check), (spark, spark_tables, spark_check) = read["pandas"], read["spark"]
    for column in ("account_id", "plan", "referrer"):
        assert isinstance(spark.codecs[column].dictionary, SparkDictionary)  # held in Spark
        assert spark.codecs[column].dictionary.texts().equals(reference.codecs[column].dictionary.texts()), column
    assert all(isinstance(table, SparkTable) for table in spark_tables)  # read in Spark, not by the pandas path
    for mine, expected in zip(spark_tables, tables):
        pd.testing.assert_frame_equal(mine.frame, expected, check_dtype=False)
    assert_same_feed_check(spark_check, check)
    assert pandas_reads == [NAMES[2]]


def test_a_file_with_bytes_that_are_no_utf8_is_the_pandas_path_s(spark_engine, pandas_reads: list[str], tmp_path: Path) -> None:
    contract = load_contract(_contract(tmp_path))
    feed = _feed(tmp_path / "feed", invalid_utf8=True)
    try:
        reference = get_engine("pandas").check_feed_folder(feed, encoding=Encoding.of(contract))
    except Exception as error:  # noqa: BLE001 - then Spark fails alike
        with pytest.raises(type(error), match=None) as raised:
            spark_engine.check_feed_folder(feed, encoding=Encoding.of(contract))
        assert str(raised.value) == str(error)
    else:
        assert_same_feed_check(spark_engine.check_feed_folder(feed, encoding=Encoding.of(contract)), reference)
    assert NAMES[4] in pandas_reads


def test_a_text_rule_and_a_value_rule_of_one_name_failing_in_one_file_are_both_passes(
    spark_engine, pandas_reads: list[str], tmp_path: Path
) -> None:
    """``invalidValues`` on a text column (the text pass) and on an integer column (the value pass): the failures'
    lines are typed as the pandas path types them when both passes failed, whatever the checks are called."""
    path = _contract(tmp_path)
    document = yaml.safe_load(path.read_text())
    (orders,) = [item for item in document["schema"][0]["properties"] if item["name"] == "orders"]
    orders["quality"] = [{"metric": "invalidValues", "arguments": {"validValues": list(range(100))}, "mustBe": 0}]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    feed = _feed(tmp_path / "feed")
    lines = (feed / NAMES[3]).read_text().splitlines()
    _set(lines, 4, "plan", "gold")  # the text pass
    _set(lines, 5, "orders", "150")  # the value pass, under the same check name
    (feed / NAMES[3]).write_text("\n".join(lines) + "\n")
    contract = load_contract(path)
    reference = get_engine("pandas").check_feed_folder(feed, encoding=Encoding.of(contract))
    failures = reference.failures[reference.failures["file"] == NAMES[3]]
    assert set(zip(failures["column"], failures["check"])) >= {("plan", "invalidValues"), ("orders", "invalidValues")}
    assert_same_feed_check(spark_engine.check_feed_folder(feed, encoding=Encoding.of(contract)), reference)
    assert NAMES[3] not in pandas_reads  # checked in Spark


def _accounts_case(folder: Path, *, accounts: int = 120, seed: int = 13) -> Path:
    """The second sample (a file never loaded) in ``folder``, under the shipped contract: its case file."""
    from checks.sample_accounts import generate_accounts_case, write_accounts_case

    return write_accounts_case(generate_accounts_case(accounts=accounts, files=4, seed=seed), folder)


def test_a_run_on_text_columns_keeps_every_table_in_spark_and_writes_what_the_default_engine_writes(
    spark_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from checks.config import load_case
    from checks.engines.spark_deltas import SparkDelta
    from checks.engines.spark_users import SparkUsers
    from tests.test_engines import assert_runs_write_the_same

    case_file = _accounts_case(tmp_path / "case")
    # No delta, table or listed user is collected to the driver, nor a table for the suites: every one stays in Spark.
    for held in (SparkDelta, SparkTable, SparkUsers):
        monkeypatch.setattr(held, "frame", property(lambda self: pytest.fail(f"{type(self).__name__} collected")))
    monkeypatch.setattr("checks.engines.spark_suites.collected", lambda table: pytest.fail("a table collected for the suites"))
    # Nor the texts of a dictionary: the driver says only the few it is asked for.
    monkeypatch.setattr(SparkDictionary, "texts", lambda self: pytest.fail("every text of a dictionary collected"))
    summary = assert_runs_write_the_same(load_case(case_file), "spark", tmp_path)
    assert summary["diagnosis"]["root_causes"][0]["kind"] == "file_not_ingested"
    parquet = {name: pd.read_parquet(tmp_path / name / "out" / "deduplicated.parquet") for name in ("polars", "spark")}
    pd.testing.assert_frame_equal(parquet["spark"], parquet["polars"])
    assert b"AC-" in (tmp_path / "spark" / "out" / "deduplicated.csv").read_bytes()


def test_a_platform_s_texts_outside_the_contract_fail_its_suite_in_spark_as_by_default(spark_engine, tmp_path: Path) -> None:
    from checks.config import load_case
    from tests.test_engines import assert_runs_write_the_same
    from tests.test_spark_typed import edit

    case_file = _accounts_case(tmp_path / "case")
    platform = case_file.parent / "platform-accounts.csv"
    edit(platform, 2, "plan", "PRO")  # upper-cased by a load
    edit(platform, 3, "account_id", "=AC 3")  # rewritten, and a formula to a spreadsheet
    summary = assert_runs_write_the_same(load_case(case_file), "spark", tmp_path)
    (platform_suite,) = [table for table in summary["suites"]["tables"] if table["table"] == "platform"]
    outcomes = {outcome["check"]: outcome for outcome in platform_suite["outcomes"]}
    assert (outcomes["plan_invalidValues"]["success"], outcomes["plan_invalidValues"]["unexpected_count"]) == (False, 1)
    assert (outcomes["account_id_pattern"]["success"], outcomes["account_id_pattern"]["unexpected_count"]) == (False, 1)
    assert b"'=AC 3" in (tmp_path / "spark" / "out" / "discrepancies.csv").read_bytes()


def test_a_spark_dictionary_numbers_codes_and_says_texts_as_the_driver_s(spark_engine) -> None:
    import numpy as np
    import pyarrow as pa

    from checks.encoding import Dictionary

    spark, driver = SparkDictionary(), Dictionary()
    lines = pa.table({"text": ["b", None, "a", "b", "c"], "line": [2, 3, 4, 5, 6]})
    spark.learn(spark_engine.session().createDataFrame(lines), "text", "line")
    driver.encode(np.array(["b", None, "a", "b", "c"], dtype=object))
    later = np.array(["d", "a", None, "e", "d"], dtype=object)  # a file the pandas path reads on the driver
    assert spark.encode(later).tolist() == driver.encode(later).tolist()
    assert spark.size == driver.size == 5
    assert spark.decode(np.array([4, 0, 3])).tolist() == ["e", "b", "d"]
    assert spark.decode_arrow(np.array([1, -(2**63)]), empty=None).to_pylist() == ["a", None]
    copy = spark.copy()
    assert copy.encode(np.array(["f"], dtype=object)).tolist() == [5] and spark.size == 5  # the copy grows alone
    picked = spark.picked("contains", "^[a-c]$", failing=True).toArrow().column(0).to_pylist()
    assert sorted(picked) == [3, 4]  # d and e fail the pattern
    assert sorted(spark.picked("in", ("a", "e", None), failing=False).toArrow().column(0).to_pylist()) == [1, 4]


def test_a_spark_dictionary_s_plan_grows_with_its_files_not_with_their_combinations(spark_engine) -> None:
    """Each file's texts are a part of their own (checkpointed): the frame's plan is the union of the parts, where a
    part planned against the whole dictionary before it doubled the plan with every file."""
    import pyarrow as pa

    dictionary, lengths = SparkDictionary(), {}
    for file in range(1, 11):
        lines = pa.table({"text": [f"t{file}", f"t{file + 1}", "t1"], "line": [2, 3, 4]})
        dictionary.learn(spark_engine.session().createDataFrame(lines), "text", "line")
        lengths[file] = len(dictionary.frame()._jdf.queryExecution().logical().toString())
    assert dictionary.size == 11
    assert lengths[10] < 3 * lengths[5]  # about twice: a part more per file (doubling per file: 32 times)
