"""A feed of another shape, under its contract: a string key, a timestamp version, an exact decimal amount, a fixed
set of values, a nullable column, files named by date (``checks.sample_accounts``). Faults planted in its cells,
across its files and in its platform table give the same answers on every engine that reads any contract.

Planted faults (the tests assert against these):
- ``BAD_CELLS``: one cell per rule of the contract, each with the line, column, check and value it fails with;
- ``FEED_FAULTS``: a version that goes back in time, an amount that falls, a (key, version) pair in two files;
- ``PLATFORM_FAULTS``: a file never loaded, a file cut short, keys dropped, rows loaded twice, an amount changed.
- ``MEMBERS_CONTRACT``: a feed without an amount (an integer key, a floating number, a boolean, a date), whose
  platform table lacks the last file's last row: one member holds an older row.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from checks.cli import main
from checks.contract import load_contract
from checks.encoding import NULL, Encoding
from checks.engines import get_engine
from checks.feed import discover_deltas
from checks.model import DeltaFile, written_name_clashes
from checks.rules import BATCH_MONOTONIC, PAIR_UNIQUE
from checks.sample_accounts import CONTRACT_PATH, generate_accounts_case
from checks.wording import Words, agreeing
from tests.conftest import PROJECT_ROOT
from tests.frames import assert_same_rows

ENGINES = ("pandas", "polars", "duckdb")
CASE = generate_accounts_case(accounts=300, files=5, seed=21)
NAMES = list(CASE.files)
HEADER = "account_id,plan,referrer,orders,lifetime_value,exported_at"
GOOD = "AC-000001,basic,,3,10.50,2026-01-01T02:00:00Z"

# (cells of the row replaced, column, check, value as written)
BAD_CELLS = [
    ({"account_id": "X-1"}, "account_id", "pattern", "X-1"),
    ({"account_id": ""}, "account_id", "required", ""),
    ({"plan": "gold"}, "plan", "invalidValues", "gold"),
    ({"orders": "1.5"}, "orders", "is_integer", "1.5"),
    ({"orders": "-1"}, "orders", "greater_than_or_equal_to(0)", "-1"),
    ({"lifetime_value": "1.234"}, "lifetime_value", "is_decimal", "1.234"),
    ({"lifetime_value": "-1.00"}, "lifetime_value", "greater_than_or_equal_to(0)", "-1.00"),
    ({"exported_at": "yesterday"}, "exported_at", "is_timestamp", "yesterday"),
    ({"exported_at": "2026-02-30T00:00:00Z"}, "exported_at", "is_timestamp", "2026-02-30T00:00:00Z"),
    ({"exported_at": ""}, "exported_at", "required", ""),
]


def encoding() -> Encoding:
    return Encoding.of(load_contract(CONTRACT_PATH))


def _row(**cells: str) -> str:
    values = dict(zip(HEADER.split(","), GOOD.split(",")))
    return ",".join({**values, **cells}.values())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("cells", "column", "check", "value"), BAD_CELLS)
def test_a_cell_that_breaks_the_contract_is_listed_as_written(tmp_path, engine, cells, column, check, value):
    path = tmp_path / "accounts_2026-01-01.csv"
    path.write_text(f"{HEADER}\n{GOOD.replace('AC-000001', 'AC-000002')}\n{_row(**cells)}\n")
    validation = get_engine(engine).read_and_validate(DeltaFile(path, "2026-01-01"), encoding=encoding())
    assert not validation.passed
    failures = validation.failures[["row", "column", "check", "value"]].astype(object).values.tolist()
    assert failures == [[3, column, check, value]]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_empty_cell_of_an_optional_column_passes_and_a_repeated_key_fails(tmp_path, engine):
    path = tmp_path / "accounts_2026-01-01.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{_row(account_id='AC-000009', referrer='')}\n{GOOD}\n")
    validation = get_engine(engine).read_and_validate(DeltaFile(path, "2026-01-01"), encoding=encoding())
    assert validation.failures[["row", "column", "check"]].values.tolist() == [
        [2, "account_id", "field_uniqueness"], [4, "account_id", "field_uniqueness"]
    ]


def _write(files: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in files.items():
        frame.to_csv(folder / name, index=False)
    return folder


def _feed_faults() -> dict[str, tuple[dict[str, pd.DataFrame], str, str]]:
    """Each fault: the files, the check it breaks and words its failure's value holds."""
    back_in_time = dict(CASE.files)
    frame = back_in_time[NAMES[2]].copy()
    frame.loc[0, "exported_at"] = "2026-01-01T01:00:00Z"
    back_in_time[NAMES[2]] = frame
    falls = dict(CASE.files)
    frame = falls[NAMES[3]].copy()
    frame.loc[0, "lifetime_value"] = "0.01"
    falls[NAMES[3]] = frame
    repeated = dict(CASE.files)
    updated_later = repeated[NAMES[0]]["account_id"].isin(repeated[NAMES[1]]["account_id"])
    first = repeated[NAMES[0]][updated_later].iloc[[0]]  # not its account's latest row: no tie in the dedup
    repeated[NAMES[2]] = pd.concat([repeated[NAMES[2]], first], ignore_index=True)
    return {
        "version back in time": (back_in_time, BATCH_MONOTONIC, "2026-01-01T01:00:00Z <= "),
        "amount falls": (falls, "lifetime_value_never_decreases", "0.01 < "),
        "pair in two files": (repeated, PAIR_UNIQUE, f"account_id {first['account_id'].iloc[0]}, exported_at "),
    }


FEED_FAULTS = _feed_faults()


@pytest.mark.parametrize("fault", list(FEED_FAULTS))
def test_faults_across_the_files_are_found_alike_by_every_engine(tmp_path, fault):
    files, check, words = FEED_FAULTS[fault]
    folder = _write(files, tmp_path / "feed")
    results = {engine: get_engine(engine).check_feed_folder(folder, encoding=encoding()) for engine in ENGINES}
    reference = results["pandas"].feed_failures
    assert check in set(reference["check"]) and reference["value"].str.contains(words, regex=False).any()
    for engine, result in results.items():
        pd.testing.assert_frame_equal(result.feed_failures, reference, obj=engine)
        # Values alike; Polars holds a column as int32 where every value fits.
        assert_same_rows(result.deduplicated, results["pandas"].deduplicated, obj=engine, check_dtype=False)


def test_files_named_by_date_are_read_in_date_order(tmp_path):
    folder = _write(dict(reversed(list(CASE.files.items()))), tmp_path / "feed")
    assert [delta.name for delta in discover_deltas(folder, load_contract(CONTRACT_PATH))] == NAMES


def _latest(frames: list[pd.DataFrame]) -> pd.DataFrame:
    stacked = pd.concat(frames, ignore_index=True)
    return stacked.sort_values("exported_at", kind="stable").drop_duplicates("account_id", keep="last")


def _platform_faults() -> dict[str, tuple[pd.DataFrame, str, str | None]]:
    """Each platform table, the root cause the diagnosis must name, and the file it must name."""
    frames = list(CASE.files.values())
    cut = frames[3].iloc[: len(frames[3]) // 3]
    expected = _latest(frames)
    drifted = expected.copy()
    drifted.loc[drifted.index[:7], "lifetime_value"] = "1.00"
    return {
        "file never loaded": (_latest(frames[:2] + frames[3:]), "file_not_ingested", NAMES[2]),
        "file cut short": (_latest(frames[:3] + [cut] + frames[4:]), "file_partially_ingested", NAMES[3]),
        "keys dropped": (expected.iloc[9:], "missing_users", None),
        "rows loaded twice": (pd.concat([expected, frames[0].iloc[:5]], ignore_index=True), "duplicate_rows", None),
        "amount changed": (drifted, "value_drift", None),
    }


PLATFORM_FAULTS = _platform_faults()


@pytest.mark.parametrize("fault", list(PLATFORM_FAULTS))
def test_the_diagnosis_of_another_shape_names_the_fault_alike_on_every_engine(tmp_path, fault, capsys):
    platform, kind, file = PLATFORM_FAULTS[fault]
    feed = _write(CASE.files, tmp_path / "feed")
    platform.to_csv(tmp_path / "platform.csv", index=False)
    answers = {}
    for engine in ENGINES:
        code = main(["diagnose", "--feed", str(feed), "--platform", str(tmp_path / "platform.csv"),
                     "--contract", str(CONTRACT_PATH), "--engine", engine, "--json"])
        answers[engine] = (code, json.loads(capsys.readouterr().out))
    assert answers["polars"] == answers["pandas"]
    code, diagnosis = answers["pandas"]
    assert code == 1
    causes = diagnosis["root_causes"]
    assert causes[0]["kind"] == kind and (file is None or causes[0]["file"] == file), causes
    totals = diagnosis["totals"]
    assert totals["amount_column"] == "lifetime_value"
    # Decimal amounts are exact text, and the gaps add up to the cent.
    assert Decimal(totals["gap"]) == Decimal(totals["expected"]) - Decimal(totals["platform"])
    explained = sum((Decimal(cause["revenue_gap"]) for cause in causes), Decimal(totals["unexplained_gap"]))
    assert explained == Decimal(totals["gap"])


def test_checks_run_on_the_shipped_sample_of_another_shape(tmp_path):
    case = Path(__file__).resolve().parent.parent / "data" / "accounts" / "case.toml"
    code = main(["run", "--case", str(case), "--out", str(tmp_path / "out"), "--gx-dir", str(tmp_path / "gx"), "--json"])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert code == 1
    assert summary["feed"]["lifetime_value"] == str(CASE_TOTAL)
    (cause,) = summary["diagnosis"]["root_causes"]
    assert cause["kind"] == "file_not_ingested" and cause["file"] == "accounts_2026-01-04.csv"
    suites = {table["table"]: table for table in summary["suites"]["tables"]}
    assert suites["deduplicated"]["success"] and suites["customer"]["success"] and not suites["platform"]["success"]
    pages = (tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site" / "validations").rglob("*platform*.html")
    assert "Data asset: account_balances: platform" in next(pages).read_text()
    written = pd.read_csv(tmp_path / "out" / "deduplicated.csv", dtype=str, keep_default_na=False)
    assert written["account_id"].str.match(r"^AC-\d{6}$").all()
    assert written["exported_at"].str.endswith("Z").all()
    assert sum(map(Decimal, written["lifetime_value"])) == CASE_TOTAL


CASE_TOTAL = Decimal("3795795.75")  # data/accounts/case.toml's finance_total, the customer's own sum


@pytest.mark.parametrize("engine", ENGINES)
def test_an_empty_cell_of_an_optional_integer_column_stays_empty_in_every_output(tmp_path, engine):
    # The first customer's contract with loyalty_credits optional: its empty cell is held as NULL, never printed.
    sample = PROJECT_ROOT / "data"
    contract = (PROJECT_ROOT / "contracts" / "user-summary.yaml").read_text()
    required = "{name: loyalty_credits, logicalType: integer, required: true,"
    assert required in contract
    (tmp_path / "contract.yaml").write_text(contract.replace(required, required.replace("true", "false")))
    feed = tmp_path / "feed"
    feed.mkdir()
    for delta in sorted((sample / "feed").glob("delta*.csv")):
        (feed / delta.name).write_bytes(delta.read_bytes())
    last = sorted(feed.glob("delta*.csv"))[-1]
    header, first, *rest = last.read_text().splitlines()
    key, spend, saved, _, version = first.split(",")
    last.write_text("\n".join([header, f"{key},{spend},{saved},,{version}", *rest]) + "\n")
    out = tmp_path / "out"
    code = main(["run", "--feed", str(feed), "--contract", str(tmp_path / "contract.yaml"), "--engine", engine,
                 "--platform", str(sample / "platform-user-summary.csv"), "--out", str(out), "--gx-dir", str(tmp_path / "gx")])
    assert code == 1  # the sample's planted fault, nothing else
    assert (out / "failures.csv").read_text().splitlines() == ["file,row,column,check,value"]
    written = pd.read_csv(out / "deduplicated.csv", dtype=str, keep_default_na=False).set_index("user_id")
    assert written.loc[key, "loyalty_credits"] == ""
    users = pd.read_csv(out / "discrepancies.csv", dtype=str, keep_default_na=False).set_index("user_id")
    assert users.loc[key, "expected_loyalty_credits"] == ""
    for output in out.glob("*.*"):
        if output.suffix in (".csv", ".md", ".json"):
            assert str(NULL) not in output.read_text(), output.name


@pytest.mark.parametrize("engine", ENGINES)
def test_a_negative_decimal_is_written_as_the_number_it_is(tmp_path, engine):
    # Numbers written as text (a decimal amount, a gap in money) are numbers: never quoted as a spreadsheet formula.
    contract = CONTRACT_PATH.read_text()
    minimum = "        logicalTypeOptions: {minimum: 0}\n        customProperties:\n          - {property: checks.role, value: amount}"
    assert minimum in contract
    (tmp_path / "contract.yaml").write_text(contract.replace(minimum, minimum.split("\n", 1)[1]))
    files = {name: frame.copy() for name, frame in CASE.files.items()}
    first, *later = files.values()
    updated = set().union(*(set(frame["account_id"]) for frame in later))
    key = next(account for account in first["account_id"] if account not in updated)
    first.loc[first["account_id"] == key, "lifetime_value"] = "-5.25"
    platform = CASE.platform.copy()
    platform.loc[platform["account_id"] == key, "lifetime_value"] = "7.00"
    platform.to_csv(tmp_path / "platform.csv", index=False)
    out = tmp_path / "out"
    main(["run", "--feed", str(_write(files, tmp_path / "feed")), "--contract", str(tmp_path / "contract.yaml"),
          "--engine", engine, "--platform", str(tmp_path / "platform.csv"), "--out", str(out), "--gx-dir", str(tmp_path / "gx")])
    written = pd.read_csv(out / "deduplicated.csv", dtype=str, keep_default_na=False).set_index("account_id")
    assert written.loc[key, "lifetime_value"] == "-5.25"
    users = pd.read_csv(out / "discrepancies.csv", dtype=str, keep_default_na=False).set_index("account_id")
    assert users.loc[key, ["expected_lifetime_value", "platform_lifetime_value", "spend_gap"]].tolist() == ["-5.25", "7.00", "-12.25"]


def test_a_contract_column_an_output_would_write_under_its_own_name_is_refused(tmp_path, capsys):
    # ``customer_class`` is the per-user table's own column (the customer's class): a contract column ``class`` would
    # be written there too, and one of the two lost. Refused when the contract is read, before anything else.
    contract = CONTRACT_PATH.read_text()
    assert "- name: plan\n" in contract
    (tmp_path / "contract.yaml").write_text(contract.replace("- name: plan\n", "- name: class\n"))
    code = main(["run", "--feed", str(_write(CASE.files, tmp_path / "feed")), "--contract", str(tmp_path / "contract.yaml"),
                 "--out", str(tmp_path / "out"), "--gx-dir", str(tmp_path / "gx")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1
    assert "properties[class]" in error and "'customer_class'" in error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("names", "key", "clashes"),
    [
        (("account_id", "plan", "orders", "exported_at"), "account_id", {}),
        (("id", "class", "row", "rows", "detail", "v"), "id", {"class": "customer_class", "row": "platform_row", "rows": "platform_rows"}),
        (("class", "v"), "class", {"class": "class"}),  # the key is written as itself, beside the user's class
        (("id", "source_file", "v"), "id", {"source_file": "source_file"}),  # the deduplicated table's lineage
    ],
)
def test_the_names_an_output_gives_its_own_columns_are_the_ones_that_clash(names, key, clashes):
    assert written_name_clashes(names, key) == clashes


def test_what_people_read_names_the_feeds_keys_in_its_own_words(tmp_path):
    # The contract's key is an "account" (its businessName): the report and both emails speak of accounts, and of the
    # amount's own word, never of the first customer's users and spend.
    import re

    CASE.platform.to_csv(tmp_path / "platform.csv", index=False)
    CASE.customer.to_csv(tmp_path / "customer.csv", index=False)
    out = tmp_path / "out"
    code = main(["run", "--feed", str(_write(CASE.files, tmp_path / "feed")), "--contract", str(CONTRACT_PATH),
                 "--platform", str(tmp_path / "platform.csv"), "--customer", str(tmp_path / "customer.csv"),
                 "--out", str(out), "--gx-dir", str(tmp_path / "gx")])
    assert code == 1
    pages = {name: (out / name).read_text() for name in ("incident.md", "email-engineer.md", "email-customer.md")}
    pages["incident.html"] = (tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site" / "incident.html").read_text()
    for name, text in pages.items():
        text = text.replace("stale-users-by-batch", "")  # a chart's file name
        assert not re.search(r"\b[Uu]sers?\b|\bspend\b", text), (name, re.search(r".{40}\b[Uu]sers?\b.{40}|.{40}\bspend\b.{20}", text))
    assert "## Accounts by class" in pages["incident.md"] and "| | total lifetime value |" in pages["incident.md"]
    assert re.search(r"Impact: [\d,]+ of [\d,]+ accounts", pages["email-engineer.md"])


@pytest.mark.parametrize(("number", "text"), [(0, "0 accounts"), (1, "1 account"), (2500, "2,500 accounts")])
def test_a_number_of_keys_takes_the_singular_for_one(number, text):
    from checks.wording import Words

    assert Words.of(encoding()).count(number) == text


@pytest.mark.parametrize(
    ("kind", "label"),
    [("wrong_dedup_order", "wrong row kept per account"), ("duplicate_rows", "accounts loaded more than once"),
     ("file_not_ingested", "file never loaded"), ("a_new_kind", "a new kind")],
)
def test_a_root_cause_is_named_in_the_feeds_words(kind, label):
    from checks.diagnose import cause_label
    from checks.wording import Words

    assert cause_label(kind, Words.of(encoding())) == label


def test_the_deduplicated_table_is_rendered_a_block_at_a_time_and_written_as_it_would_be_whole(tmp_path, monkeypatch):
    """A contract's table is decoded to text a block of rows at a time (a 10 M-account table rendered whole held 1.4 GB
    while written): every block no larger than ``BLOCK_ROWS``, the files those of the table decoded whole."""
    import checks.results as results
    import checks.writers as writers

    folder = _write(CASE.files, tmp_path / "feed")
    the_encoding = encoding()
    table = get_engine("polars").check_feed_folder(folder, encoding=the_encoding).deduplicated
    monkeypatch.setattr(writers, "BLOCK_ROWS", 70)
    rendered = []
    decode = Encoding.decode
    monkeypatch.setattr(Encoding, "decode", lambda self, frame: rendered.append(len(frame)) or decode(self, frame))
    paths = results.write_deduplicated_files([tmp_path / "blocks.csv", tmp_path / "blocks.parquet"], table, the_encoding)
    assert len(rendered) > 1 and max(rendered) <= 70 and sum(rendered) == len(table)
    whole = decode(the_encoding, table)
    assert paths[0].read_bytes() == results.write_deduplicated(tmp_path / "whole.csv", whole, the_encoding).read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(paths[1]), pd.read_parquet(results.write_deduplicated(tmp_path / "whole.parquet", whole, the_encoding)))


def test_the_per_user_table_is_rendered_a_block_at_a_time_and_written_as_it_would_be_whole(tmp_path, monkeypatch):
    import checks.writers as writers
    from checks.diagnose import diagnose
    from checks.discrepancies import write_discrepancies

    the_encoding = encoding()
    engine = get_engine("polars")
    feed = engine.check_feed_folder(_write(CASE.files, tmp_path / "feed"), encoding=the_encoding)
    CASE.platform.to_csv(tmp_path / "platform.csv", index=False)
    found = diagnose(feed.deltas, engine.read_table(tmp_path / "platform.csv", the_encoding), deduplicated=feed.deduplicated, encoding=the_encoding)
    users = found.reconciliation.users
    whole = write_discrepancies(users, found.lineage, found.words, tmp_path / "whole.csv").read_bytes()
    monkeypatch.setattr(writers, "BLOCK_ROWS", 7)
    blocks = write_discrepancies(users, found.lineage, found.words, tmp_path / "blocks.csv").read_bytes()
    assert whole.count(b"\n") > 8 and blocks == whole


@pytest.mark.parametrize(
    ("count", "without_row", "said"),
    [
        (1, 0, "1 account whose latest row is further down the file holds an older row,"),
        (2, 0, "2 accounts whose latest row is further down the file hold an older row,"),
        (1, 1, "1 account whose latest row is further down the file has no row at all"),
        (3, 1, "3 accounts whose latest row is further down the file lack their latest row: 2 hold an older row and 1 has no row at all"),
        (3, 2, "lack their latest row: 1 holds an older row and 2 have no row at all"),
    ],
)
def test_an_evidence_sentence_agrees_with_the_number_it_counts(count, without_row, said):
    from checks.diagnose import FILE_PARTIALLY_INGESTED
    from checks.diagnose.sentences import simulation_sentence

    no_examples = pd.DataFrame()
    sentence = simulation_sentence(FILE_PARTIALLY_INGESTED, {"kept": 79, "total": 80}, "f.csv", count, 0, 1, 1, no_examples,
                                   without_row, Words.of(encoding()))
    assert said in sentence


@pytest.mark.parametrize(
    ("count", "extra", "said"),
    [(1, 1, ["1 account of the feed is absent", "1 account appears more than once on the platform (1 extra row)",
             "1 account holds a row", "1 account on the platform should not be there (1 of their rows matches no"]),
     (2, 3, ["2 accounts of the feed are absent", "2 accounts appear more than once on the platform (3 extra rows)",
             "2 accounts hold a row", "2 accounts on the platform should not be there (3 of their rows match no"])],
)
def test_every_evidence_sentence_takes_the_singular_for_one(count, extra, said):
    from checks.diagnose import WRONG_DEDUP_ORDER
    from checks.diagnose.sentences import duplicate_sentence, missing_sentence, simulation_sentence, unexpected_sentence

    words, no_examples = Words.of(encoding()), pd.DataFrame({"account_id": pd.Series([], dtype="int64")})
    sentences = " ".join([
        missing_sentence(count, 0, no_examples, words),
        duplicate_sentence(count, extra, 0, no_examples, words),
        simulation_sentence(WRONG_DEDUP_ORDER, {"rule": "string"}, None, count, 0, 1, 1, pd.DataFrame(), 0, words),
        unexpected_sentence(count, extra, 0, no_examples, words),
    ])
    assert [phrase for phrase in said if phrase not in sentences] == []


@pytest.mark.parametrize(
    ("number", "verb", "agreed"),
    [(1, "hold", "holds"), (2, "hold", "hold"), (0, "are", "are"), (1, "are", "is"), (1, "match", "matches"), (1, "have", "has")],
)
def test_a_verb_agrees_with_a_number(number, verb, agreed):
    assert agreeing(number, verb) == agreed


# A feed without an amount: an integer key, a floating number, a boolean, a date and a timestamp version.
MEMBERS_CONTRACT = r"""apiVersion: v3.1.0
kind: DataContract
id: members
name: Members
version: 1.0.0
status: active
schema:
  - name: members
    physicalType: table
    customProperties:
      - {property: checks.files, value: 'snap-(?P<order>\d+)\.csv'}
    properties:
      - {name: member, logicalType: integer, primaryKey: true, required: true}
      - {name: score, logicalType: number, required: true}
      - {name: active, logicalType: boolean, required: true}
      - {name: signup, logicalType: date, required: true}
      - name: seen_at
        logicalType: timestamp
        required: true
        customProperties:
          - {property: checks.role, value: version}
"""


def _members_files(members: int = 60, files: int = 4, updated: int = 20, seed: int = 5) -> dict[str, pd.DataFrame]:
    """Every member in the first file, ``updated`` of them again in each later one, a day later each time."""
    rng = np.random.default_rng(seed)
    keys = rng.choice(np.arange(100_000, 999_999), size=members, replace=False)
    feed = {}
    for number in range(1, files + 1):
        chosen = keys if number == 1 else rng.choice(keys, size=updated, replace=False)
        feed[f"snap-{number}.csv"] = pd.DataFrame({
            "member": chosen,
            "score": [f"{score:.3f}" for score in rng.uniform(0, 100, len(chosen))],
            "active": rng.choice(["true", "false"], len(chosen)),
            "signup": [f"2025-{month:02d}-{day:02d}" for month, day in zip(rng.integers(1, 13, len(chosen)), rng.integers(1, 29, len(chosen)))],
            "seen_at": f"2026-02-{number:02d}T07:15:00Z",
        })
    return feed


def test_a_feed_without_an_amount_is_told_in_keys_never_in_dollars(tmp_path, monkeypatch, capsys):
    # Planted fault: the last file's last row never reached the platform, so one member holds an older row.
    from checks.contract_suite import suite_path

    (tmp_path / "contract.yaml").write_text(MEMBERS_CONTRACT)
    assert main(["contract", "suite", str(tmp_path / "contract.yaml"), "--out", str(tmp_path / "expectations")]) == 0
    monkeypatch.setattr("checks.suites.run.contract_suite_path", lambda contract: suite_path(contract, tmp_path / "expectations"))
    files = _members_files()
    last = list(files)[-1]
    cut = {**files, last: files[last].iloc[:-1]}
    _latest_by_member(list(cut.values())).to_csv(tmp_path / "platform.csv", index=False)
    _latest_by_member(list(files.values())).to_csv(tmp_path / "customer.csv", index=False)
    out, gx = tmp_path / "out", tmp_path / "gx"
    capsys.readouterr()
    code = main(["run", "--feed", str(_write(files, tmp_path / "feed")), "--contract", str(tmp_path / "contract.yaml"),
                 "--platform", str(tmp_path / "platform.csv"), "--customer", str(tmp_path / "customer.csv"),
                 "--out", str(out), "--gx-dir", str(gx)])
    terminal = capsys.readouterr().out
    assert code == 1
    pages = {name: (out / name).read_text() for name in ("incident.md", "email-engineer.md", "email-customer.md", "email-engineer.eml", "email-customer.eml")}
    pages["incident.html"] = (gx / "uncommitted" / "data_docs" / "local_site" / "incident.html").read_text()
    pages["terminal"] = terminal
    pages.update({chart.name: chart.read_text() for chart in out.glob("*.svg")})  # keys by cause and by file, not dollars
    assert "Members that differ by root cause" in pages["gap-by-root-cause.svg"]
    for name, text in pages.items():
        assert not re.search(r"\$|np\.float64|total amount|revenue|of the gap", text), (name, re.search(r".{60}(\$|np\.float64|total amount|revenue|of the gap).{20}", text))
    assert "deduplicated: 60 members\n" in terminal
    assert "1 member whose latest row is further down the file holds an older row" in pages["incident.md"]
    assert "(1 member, 100.0% of the members that differ)" in terminal
    assert "## Totals" not in pages["incident.md"] and "| members who | members |\n|---|---:|\n" in pages["incident.md"]
    assert "so 1 customer still showed older figures" in pages["email-customer.md"]
    assert pages["email-customer.md"].startswith("**Subject:** The difference in your figures\n")
    # A floating number as the file wrote it, in the examples of the incident.
    (member,) = files[last]["member"].iloc[[-1]]
    row = next(line for line in pages["incident.md"].splitlines() if line.startswith(f"| {member} |"))
    assert f"| {float(files[last]['score'].iloc[-1])!r}, " in row
    summary = json.loads((out / "summary.json").read_text())
    assert summary["diagnosis"]["totals"]["amount_column"] is None


def _latest_by_member(frames: list[pd.DataFrame]) -> pd.DataFrame:
    stacked = pd.concat(frames, ignore_index=True)
    return stacked.sort_values("seen_at", kind="stable").drop_duplicates("member", keep="last")


def test_an_example_row_s_cells_from_the_files_are_escaped_where_people_read_them():
    # A text cell holding "|" split the Markdown table of examples; "<" and "*" are a page's markup.
    import html

    from checks.report import _examples_rows, _md

    the_encoding = encoding()
    codes = {name: the_encoding.codecs[name].dictionary.encode(np.array([text], dtype=object))[0]
             for name, text in (("account_id", "AC-000001"), ("plan", "basic"), ("referrer", "=x|<b>*y*"))}
    stored = {"plan": codes["plan"], "referrer": codes["referrer"], "orders": 3, "lifetime_value": 1050, "exported_at": 0}
    example = pd.DataFrame([{"account_id": codes["account_id"], **{f"platform_{name}": value for name, value in stored.items()},
                             **{f"expected_{name}": value for name, value in stored.items()}}])
    words = Words.of(the_encoding)
    _, (markdown,) = _examples_rows(example, _md, words)
    assert markdown[1] == r"basic, =x\|&lt;b&gt;\*y\*, 3, 10.50, 1970-01-01T00:00:00Z"
    _, (page,) = _examples_rows(example, html.escape, words)
    assert page[1] == "basic, =x|&lt;b&gt;*y*, 3, 10.50, 1970-01-01T00:00:00Z"
