"""Reading the feed: delta ordering, CSV quirks, malformed files."""
from __future__ import annotations

import pytest

from checks.errors import BadInputError
from checks.feed import delta_number, discover_deltas, read_raw, read_table, spelled_as_contract
from checks.sample import COLUMNS
from tests.conftest import write_csv

HEADER = ",".join(COLUMNS)


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("delta0.csv", 0),
        ("delta10.csv", 10),
        ("DELTA9.CSV", 9),
        ("Delta_3.csv", 3),
        ("user-summary-delta12.csv", 12),
        ("delta.csv", None),
        ("delta1.txt", None),
        ("AIQ-user-summary.csv", None),
    ],
)
def test_delta_number(name, number):
    assert delta_number(name) == number


def test_deltas_are_ordered_numerically_not_lexicographically(tmp_path):
    for name in ["delta10.csv", "delta9.csv", "Delta2.CSV", "delta1.csv", "notes.txt", "platform.csv"]:
        (tmp_path / name).write_text(HEADER + "\n")
    assert [delta.name for delta in discover_deltas(tmp_path)] == ["delta1.csv", "Delta2.CSV", "delta9.csv", "delta10.csv"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "no delta files"),
        (["notes.txt"], "no delta files"),
        (["delta1.csv", "DELTA1.csv"], "share the number 1"),
    ],
)
def test_discover_rejects_bad_folders(tmp_path, names, message):
    for name in names:
        (tmp_path / name).write_text(HEADER + "\n")
    with pytest.raises(BadInputError, match=message):
        discover_deltas(tmp_path)


def test_discover_rejects_missing_folder(tmp_path):
    with pytest.raises(BadInputError, match="feed folder not found"):
        discover_deltas(tmp_path / "nowhere")


def test_crlf_and_bom_are_read_with_a_warning_for_the_bom(tmp_path):
    path = write_csv(tmp_path / "delta0.csv", f"{HEADER}\n1,2,3,4,5\n", newline="\r\n", bom=True)
    raw = read_raw(path)
    assert raw.frame.loc[2].tolist() == ["1", "2", "3", "4", "5"]
    assert raw.warnings == ("UTF-8 byte-order mark ignored",)


def test_header_case_is_normalised_with_a_warning(tmp_path):
    path = write_csv(tmp_path / "delta0.csv", "user_id,Total_spend,count_saved_items,loyalty_credits,batch_id\n1,2,3,4,5\n")
    raw = read_raw(path)
    assert list(raw.frame.columns) == list(COLUMNS)
    assert raw.warnings == ("column 'Total_spend' read as 'total_spend'",)


def test_columns_in_another_order_are_reordered(tmp_path):
    path = write_csv(tmp_path / "delta0.csv", "batch_id,user_id,total_spend,count_saved_items,loyalty_credits\n9,1,2,3,4\n")
    assert read_raw(path).frame.loc[2].tolist() == ["1", "2", "3", "4", "9"]


def test_row_index_is_the_file_line_number(tmp_path):
    path = write_csv(tmp_path / "delta0.csv", f"{HEADER}\n1,2,3,4,5\n2,2,3,4,5\n")
    assert read_raw(path).frame.index.tolist() == [2, 3]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"\n\n", "no header"),
        (b"user_id,total_spend,count_saved_items,loyalty_credits\n1,2,3,4\n", "missing column.*batch_id"),
        ((HEADER + ",extra\n1,2,3,4,5,6\n").encode(), "unexpected column.*'extra'"),
        ((HEADER + ",user_id\n1,2,3,4,5,6\n").encode(), "duplicate column.*user_id"),
        (("\ufeff" + HEADER).encode("utf-16"), "UTF-16"),
        (b"user_id,total_spend,count_saved_items,loyalty_credits,batch_id\n1,\xff,3,4,5\n", "not UTF-8"),
        ((HEADER + '\n1,2,3,4,"5\n').encode(), "malformed CSV"),
    ],
)
def test_read_raw_rejects_malformed_files(tmp_path, content, message):
    path = tmp_path / "delta0.csv"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=message):
        read_raw(path)


def test_read_raw_rejects_missing_file_and_folder(tmp_path):
    with pytest.raises(BadInputError, match="file not found"):
        read_raw(tmp_path / "nope.csv")
    with pytest.raises(BadInputError, match="found a folder"):
        read_raw(tmp_path)


@pytest.mark.parametrize("bad_value", ["1.5", "abc", "", "1e3", " 7"])
def test_read_table_rejects_non_integer_cells(tmp_path, bad_value):
    path = write_csv(tmp_path / "platform.csv", f"{HEADER}\n1,2,3,4,5\n2,{bad_value},3,4,5\n")
    with pytest.raises(BadInputError, match=r"1 non-integer value\(s\); first .* at row 3") as error:
        read_table(path)
    assert error.value.column == "total_spend"


def test_read_table_gives_int64_columns(tmp_path):
    path = write_csv(tmp_path / "platform.csv", f"{HEADER}\n1,-2,3,4,5\n")
    table = read_table(path)
    assert table.dtypes.astype(str).tolist() == ["int64"] * 5
    assert table["total_spend"].tolist() == [-2]


def test_reading_never_modifies_the_input(tmp_path):
    path = write_csv(tmp_path / "delta0.csv", "User_ID,total_spend,count_saved_items,loyalty_credits,batch_id\n1,2,3,4,5\n", newline="\r\n", bom=True)
    before = path.read_bytes()
    read_raw(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # pandas would take a first long row as an index column and shift every value.
        ("1,2,3,4,5,6\n2,2,3,4,5\n", r"row 2: row has more fields than the header \(5\)"),
        ("1,2,3,4,5\n2,2,3,4,5,6\n", r"Expected 5 fields in line 3, saw 6"),
    ],
)
def test_a_row_with_more_fields_than_the_header_is_bad_input(tmp_path, body, message):
    path = write_csv(tmp_path / "delta0.csv", f"{HEADER}\n{body}")
    with pytest.raises(BadInputError, match=message):
        read_raw(path)


def test_a_short_row_leaves_empty_cells_for_validation_to_report(tmp_path):
    path = write_csv(tmp_path / "delta0.csv", f"{HEADER}\n1,2,3,4\n")
    assert read_raw(path).frame.loc[2, "batch_id"] == ""


@pytest.mark.parametrize("location", ["s3a://bucket/feed", "hdfs://namenode:8020/feed", "file:///srv/feed"])
def test_a_uri_is_refused_off_spark_with_one_clear_line(location):
    from pathlib import Path

    for read in (discover_deltas, read_table, read_raw):
        with pytest.raises(BadInputError, match=r"--engine spark only"):
            read(Path(location))  # Path folds s3a:// into s3a:/, as the command line hands it over


def test_a_windows_drive_is_not_a_uri():
    from checks.feed import is_uri

    assert not is_uri("C:/feeds/delta0.csv") and is_uri("s3a:/bucket/feed") and not is_uri("feeds/s3a:/x")


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
@pytest.mark.parametrize(
    ("header", "row", "ignored"),
    [
        (f"{HEADER},loaded_at", "1,2,3,4,5,2026-11-02", ["'loaded_at'"]),
        (f"source_file,{HEADER},source_row", "delta0.csv,1,2,3,4,5,2", ["'source_file'", "'source_row'"]),  # deduplicated.csv
    ],
)
def test_a_table_with_extra_columns_is_read_with_a_warning_naming_them(tmp_path, engine, header, row, ignored):
    from checks.engines import get_engine

    path = write_csv(tmp_path / "platform.csv", f"{header}\n{row}\n")
    said: list[str] = []
    table = get_engine(engine).read_table(path, warn=said.append)
    assert list(table.columns) == list(COLUMNS) and table.iloc[0].tolist() == [1, 2, 3, 4, 5]
    assert len(said) == 1 and said[0].startswith("platform.csv: column(s) ") and "ignored" in said[0]
    assert all(name in said[0] for name in ignored)


@pytest.mark.parametrize("engine", ["pandas", "polars"])
def test_a_table_missing_a_column_stays_bad_input_whatever_it_adds(tmp_path, engine):
    from checks.engines import get_engine

    path = write_csv(tmp_path / "platform.csv", "user_id,total_spend,count_saved_items,batch_id,loaded_at\n1,2,3,5,x\n")
    with pytest.raises(BadInputError, match="missing column\\(s\\): loyalty_credits"):
        get_engine(engine).read_table(path, warn=lambda _: None)


def test_a_delta_with_an_extra_column_stays_bad_input(tmp_path):
    path = write_csv(tmp_path / "delta0.csv", f"{HEADER},loaded_at\n1,2,3,4,5,x\n")
    with pytest.raises(BadInputError, match="unexpected column\\(s\\): 'loaded_at'"):
        read_raw(path)


@pytest.mark.parametrize(
    ("literal", "fits"),
    [
        ("9223372036854775807", True), ("9223372036854775808", False), ("-9223372036854775808", True),
        ("-9223372036854775809", False), ("0" * 6000 + "7", True), ("-" + "0" * 5000, True), ("9" * 5000, False),
        ("+" + "9" * 19, False), ("+" + "1" * 19, True),
    ],
)
def test_fits_int64_never_converts_a_huge_literal(literal, fits):
    from checks.encoding import fits_int64

    assert fits_int64(literal) is fits


def test_a_stray_carriage_return_in_the_header_is_one_clear_error(tmp_path):
    path = tmp_path / "platform.csv"
    path.write_bytes(HEADER.replace(",", ",\r", 1).encode() + b"\n1,2,3,4,5\n")
    with pytest.raises(BadInputError, match="malformed CSV header: new-line character seen in unquoted field"):
        read_table(path)


@pytest.mark.parametrize(
    ("header", "columns", "names"),
    [
        (["USER_ID", " batch_id "], ("user_id", "batch_id"), ["user_id", "batch_id"]),
        (["Client ID", " client id "], ("Client ID",), ["Client ID", "Client ID"]),  # twice: the header check says so
        (["ACCOUNT", "Extra Col"], ("Account",), ["Account", "extra col"]),  # a name the contract has not: lower case
        (["ID", "id", "Id"], ("ID", "id"), ["ID", "id", "id"]),  # two columns a letter case apart: each matched exactly
    ],
)
def test_a_header_name_is_read_as_the_contract_spells_it(header, columns, names):
    assert spelled_as_contract(header, columns) == names


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
def test_a_contract_column_with_capitals_and_spaces_is_found_in_any_letter_case(tmp_path, engine):
    from checks.contract import load_contract
    from checks.encoding import Encoding
    from checks.engines import get_engine
    from checks.model import DeltaFile
    from checks.sample_accounts import CONTRACT_PATH

    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACT_PATH.read_text().replace("- name: account_id\n", "- name: Account ID\n"))
    encoding = Encoding.of(load_contract(contract))
    rows = "AC-000001,basic,,3,10.50,2026-01-01T02:00:00Z\nAC-000002,pro,AC-000001,1,2.00,2026-01-01T03:00:00Z\n"
    (tmp_path / "accounts_2026-01-01.csv").write_text("account id,plan,referrer,orders,lifetime_value,exported_at\n" + rows)
    validation = get_engine(engine).read_and_validate(DeltaFile(tmp_path / "accounts_2026-01-01.csv", 0), encoding=encoding)
    assert validation.passed and validation.warnings == ("column 'account id' read as 'Account ID'",)
    assert list(validation.delta.frame.columns) == list(encoding.contract.names)
    (tmp_path / "platform.csv").write_text("Account ID,plan,referrer,orders,lifetime_value,exported_at\n" + rows)
    table = get_engine(engine).read_table(tmp_path / "platform.csv", encoding=encoding)
    assert list(table.columns) == list(encoding.contract.names) and len(table) == 2


def test_a_table_s_numbers_written_through_a_float_are_read_as_the_contract_s_with_a_warning(tmp_path):
    # A platform's export through floats (13.0, 2311.530000000001) stopped the diagnosis as bad input (exit 2).
    from checks.contract import parse_contract
    from checks.encoding import Encoding
    from checks.sample_accounts import CONTRACT_PATH

    path = write_csv(tmp_path / "platform.csv", f"{HEADER}\n1,2728.0,3,4,5\n2,7.000000000001,3,4.0,5\n")
    told: list[str] = []
    table = read_table(path, warn=told.append)
    assert table["total_spend"].tolist() == [2728, 7] and table["loyalty_credits"].tolist() == [4, 4]
    assert told == [
        "platform.csv: column 'total_spend': 2 value(s) written through a binary float, read as the contract's integer (first '2728.0' as 2728)",
        "platform.csv: column 'loyalty_credits': 1 value(s) written through a binary float, read as the contract's integer (first '4.0' as 4)",
    ]
    encoding = Encoding.of(parse_contract(CONTRACT_PATH.read_text()))
    accounts = write_csv(tmp_path / "accounts.csv", "account_id,plan,referrer,orders,lifetime_value,exported_at\n"
                         "AC-000001,pro,,4,2311.530000000001,2026-01-03T02:42:18Z\n")
    assert read_table(accounts, encoding)["lifetime_value"].tolist() == [231153]  # cents of decimal(12,2)
    for beyond in ("2311.531", "2311.5300001"):  # a third decimal, and more than a float's noise: bad input
        write_csv(accounts, accounts.read_text().replace("2311.530000000001", beyond).replace("2311.531", beyond))
        with pytest.raises(BadInputError, match="invalid number"):
            read_table(accounts, encoding)


def test_a_table_s_dates_written_as_timestamps_at_midnight_are_read_as_the_dates(tmp_path):
    from checks.contract import parse_contract
    from checks.contract_infer import infer_contract
    from checks.encoding import Encoding

    write_csv(tmp_path / "delta0.csv", "customer,balance,updated_on\nC-1,1.50,2026-03-01\nC-2,2.00,2026-03-01\n")
    encoding = Encoding.of(parse_contract(infer_contract(tmp_path).replace("new-feed", "dated").replace("feed_table", "dated")))
    platform = write_csv(tmp_path / "platform.csv", "customer,balance,updated_on\n"
                         "C-1,1.50,2026-03-01 00:00:00\nC-2,2.00,2026-03-02T00:00:00.000Z\nC-3,1.00,2026-03-03\n")
    told: list[str] = []
    table = read_table(platform, encoding, warn=told.append)
    assert encoding.written("updated_on", table["updated_on"]) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert told == ["platform.csv: column 'updated_on': 2 value(s) written as a timestamp at midnight, read as the "
                    "contract's date (first '2026-03-01 00:00:00' as 2026-03-01)"]
    write_csv(platform, platform.read_text().replace("2026-03-03\n", "2026-03-03 09:30:00\n"))
    with pytest.raises(BadInputError, match="1 invalid date value"):  # a time of day is no date
        read_table(platform, encoding)


def test_a_table_s_numbers_written_with_thousands_separators_are_read_as_the_numbers(tmp_path):
    # A spreadsheet's or a report's export ("5,842.03") stopped the diagnosis as bad input (exit 2).
    from checks.contract import parse_contract
    from checks.encoding import Encoding
    from checks.sample_accounts import CONTRACT_PATH

    path = write_csv(tmp_path / "platform.csv", f'{HEADER}\n1,"2,728",3,4,5\n2,"1,234,567",3,4,5\n3,7,3,4,5\n')
    told: list[str] = []
    assert read_table(path, warn=told.append)["total_spend"].tolist() == [2728, 1234567, 7]
    assert told == ["platform.csv: column 'total_spend': 2 value(s) written with thousands separators, read as the "
                    "contract's integer (first '2,728' as 2728)"]
    encoding = Encoding.of(parse_contract(CONTRACT_PATH.read_text()))
    accounts = write_csv(tmp_path / "accounts.csv", "account_id,plan,referrer,orders,lifetime_value,exported_at\n"
                         'AC-000001,pro,,4,"5,842.03",2026-01-03T02:42:18Z\nAC-000002,pro,,"1,004",-0.50,2026-01-03T02:42:18Z\n')
    table = read_table(accounts, encoding)
    assert table["lifetime_value"].tolist() == [584203, -50] and table["orders"].tolist() == [4, 1004]
    for misgrouped in ('"58,42.03"', '"5,842.031"', '"5.842,03"'):  # not groups of three, a third decimal, a decimal comma
        write_csv(accounts, accounts.read_text().replace('"5,842.03"', misgrouped))
        with pytest.raises(BadInputError, match="invalid number"):
            read_table(accounts, encoding)
        write_csv(accounts, accounts.read_text().replace(misgrouped, '"5,842.03"'))


def test_a_table_s_amounts_written_with_the_currency_are_read_as_the_amounts(tmp_path):
    # A spreadsheet's currency format ("$2,311.53") stopped the diagnosis as bad input (exit 2).
    from checks.contract import parse_contract
    from checks.encoding import Encoding
    from checks.sample_accounts import CONTRACT_PATH

    encoding = Encoding.of(parse_contract(CONTRACT_PATH.read_text()))
    header = "account_id,plan,referrer,orders,lifetime_value,exported_at\n"
    rows = ['"$5,842.03"', "-$12.50", "$ 7", "2.00"]
    path = write_csv(tmp_path / "accounts.csv", header + "".join(
        f"AC-00000{number},pro,,4,{value},2026-01-03T02:42:18Z\n" for number, value in enumerate(rows)
    ))
    told: list[str] = []
    assert read_table(path, encoding, warn=told.append)["lifetime_value"].tolist() == [584203, -1250, 700, 200]
    assert told == ["accounts.csv: column 'lifetime_value': 3 value(s) written with the currency ($), read as the "
                    "contract's number (first '$5,842.03' as 5842.03)"]
    for other in ('"$58,42.03"', "€7.00", "$7.001"):  # not groups of three, another currency, a third decimal
        write_csv(path, header + f"AC-000001,pro,,4,{other},2026-01-03T02:42:18Z\n")
        with pytest.raises(BadInputError, match="invalid number"):
            read_table(path, encoding)


def test_a_table_s_moments_written_with_utc_as_a_word_are_read_as_those_moments(tmp_path):
    # BigQuery's CSV export ("2026-01-03 02:42:18 UTC") stopped the diagnosis as bad input (exit 2).
    from checks.contract import parse_contract
    from checks.encoding import Encoding
    from checks.sample_accounts import CONTRACT_PATH

    encoding = Encoding.of(parse_contract(CONTRACT_PATH.read_text()))
    header = "account_id,plan,referrer,orders,lifetime_value,exported_at\n"

    def exported(*moments: str) -> list:
        path = write_csv(tmp_path / "accounts.csv", header + "".join(
            f"AC-00000{number},pro,,4,1.00,{moment}\n" for number, moment in enumerate(moments)
        ))
        return read_table(path, encoding)["exported_at"].tolist()

    assert exported("2026-01-03 02:42:18 UTC", "2026-01-03T02:42:19UTC") == exported("2026-01-03T02:42:18Z", "2026-01-03T02:42:19Z")
    with pytest.raises(BadInputError, match="invalid timestamp"):
        exported("2026-01-03 02:42:18 CET")


FLAGS_CONTRACT = r"""
apiVersion: v3.1.0
kind: DataContract
id: flags
name: Flags
version: 1.0.0
status: active
schema:
  - name: flags
    physicalType: table
    properties:
      - {name: email, logicalType: string, primaryKey: true}
      - {name: opted_in, logicalType: boolean, required: true}
      - name: rev
        logicalType: integer
        required: true
        customProperties: [{property: checks.role, value: version}]
"""


def test_a_table_s_booleans_written_as_numbers_letters_or_words_are_read_as_true_and_false(tmp_path):
    # A platform that exported opted_in as 1/0 (a TINYINT) stopped the diagnosis: "2400 invalid boolean value(s)".
    from checks.contract import parse_contract
    from checks.encoding import Encoding

    encoding = Encoding.of(parse_contract(FLAGS_CONTRACT))
    path = write_csv(tmp_path / "platform.csv", "email,opted_in,rev\na@x,1,1\nb@x,0,1\nc@x,T,1\nd@x,No,1\ne@x,true,1\n")
    told: list[str] = []
    assert read_table(path, encoding, warn=told.append)["opted_in"].tolist() == [True, False, True, False, True]
    assert told == ["platform.csv: column 'opted_in': 4 value(s) written as 1/0, t/f or yes/no, read as the contract's "
                    "boolean (first '1' as true)"]
    write_csv(path, "email,opted_in,rev\na@x,2,1\n")
    with pytest.raises(BadInputError, match="invalid boolean"):
        read_table(path, encoding)


def test_a_single_group_with_three_decimals_or_more_may_be_a_decimal_comma_and_is_not_read(tmp_path):
    import pandas as pd

    from checks.contract import Column
    from checks.encoding import Codec
    from checks.feed import _with_thousands_separators

    codec = Codec(Column("rate", "number", decimal=(9, 3)))
    assert _with_thousands_separators(codec, pd.Series(["1,500", "2,250"])) is None  # 1.5 and 2.25 written in Europe?
    near, values, _ = _with_thousands_separators(codec, pd.Series(["1,500", "12,345.125"]))  # the second one tells
    assert near.tolist() == [True, True] and values.tolist() == [1_500_000, 12_345_125]
