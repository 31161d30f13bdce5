"""Diagnosis: each planted fault is named with its kind, its file and its dollars; the real case in full.

Planted faults (tests/faults.py), each on a generated feed: a file never ingested (two different
files), a file cut short (two files), batch_id compared as text, files loaded in a wrong order with
last-file-wins, no dedup at all, extra older rows, dropped users, strangers, changed values.
Differential: seeded random feeds with a random fault plus noise, diagnosed by this module and by
the reference implementation (``tests/reference``), must give equal JSON, frames and examples.
"""
from __future__ import annotations

import json
import re
from decimal import ROUND_DOWN, Decimal

import numpy as np
import pandas as pd
import pytest

from checks.cli import main
from checks.contract import Column
from checks.dedup import deduplicate
from checks.encoding import Codec, Dictionary
from checks.diagnose import KINDS, diagnose
from checks.feed import read_table
from checks.sample import COLUMNS
from checks.model import Delta
from checks.sample import generate_feed, write_feed
from checks.sample_accounts import CONTRACT_PATH as ACCOUNTS_CONTRACT
from checks.sample_accounts import generate_accounts_case
from tests import faults

FEED = generate_feed(1500, 5, seed=31)
EXPECTED_TOTAL = int(deduplicate(FEED)["total_spend"].sum())


def _changed_users(platform: pd.DataFrame) -> int:
    """Users whose rows on the platform are not exactly their latest row, computed without the library."""
    expected = deduplicate(FEED).loc[:, list(COLUMNS)]
    both = expected.merge(platform, how="outer", indicator=True)
    return both.loc[both["_merge"].ne("both"), "user_id"].nunique()


CASES = [
    ("file_not_ingested", "delta2.csv", faults.without_file(FEED, 2)),
    ("file_not_ingested", "delta4.csv", faults.without_file(FEED, 4)),
    ("file_partially_ingested", "delta1.csv", faults.truncated(FEED, 1, 120)),
    ("file_partially_ingested", "delta3.csv", faults.truncated(FEED, 3, 300)),
    ("wrong_dedup_order", None, faults.string_dedup(FEED)),
    ("wrong_dedup_order", None, faults.last_file_wins(FEED, [0, 1, 3, 2, 4])),
    ("duplicate_rows", None, faults.not_deduplicated(FEED)),
    ("duplicate_rows", "delta0.csv", faults.with_duplicates(FEED, 25, seed=3)),
    ("missing_users", None, faults.dropped(FEED, 40, seed=3)),
    ("unexpected_users", None, faults.with_strangers(FEED, 9, seed=3)),
    ("value_drift", None, faults.drifted(FEED, 11, seed=3)),
]


@pytest.mark.parametrize(("kind", "file", "platform"), CASES, ids=[f"{k}-{f}" for k, f, _ in CASES])
def test_a_single_fault_is_named_with_its_file_and_its_dollars(kind, file, platform):
    diagnosis = diagnose(FEED, platform)
    gap = EXPECTED_TOTAL - int(platform["total_spend"].sum())
    assert diagnosis.gap == gap
    assert [cause.kind for cause in diagnosis.root_causes] == [kind]
    cause = diagnosis.root_causes[0]
    assert cause.file == file
    assert cause.revenue_gap == gap
    assert cause.users == _changed_users(platform)
    assert cause.share_of_gap == pytest.approx(1.0)
    assert diagnosis.unexplained_users == 0
    assert str(cause.users) in cause.evidence.replace(",", "")


def test_two_files_never_ingested_are_two_causes_that_add_up():
    platform = faults.loaded(deduplicate([delta for delta in FEED if delta.number not in (1, 3)]))
    diagnosis = diagnose(FEED, platform)
    assert {(cause.kind, cause.file) for cause in diagnosis.root_causes} == {
        ("file_not_ingested", "delta1.csv"),
        ("file_not_ingested", "delta3.csv"),
    }
    assert sum(cause.revenue_gap for cause in diagnosis.root_causes) == diagnosis.gap
    assert sum(cause.share_of_gap for cause in diagnosis.root_causes) == pytest.approx(1.0)


def test_a_file_appended_to_the_table_instead_of_merged_is_named():
    # Before: "1,250 users appear more than once" and no file: the extra row is the older one for the users delta3.csv
    # updates last, and delta3.csv's own for those a later file updates again.
    appended = next(delta for delta in FEED if delta.number == 3).frame
    platform = faults.appended(FEED, 3)
    diagnosis = diagnose(FEED, platform)
    (cause,) = diagnosis.root_causes
    assert (cause.kind, cause.file, cause.details) == ("duplicate_rows", "delta3.csv", {"appended": "delta3.csv"})
    assert cause.users == appended["user_id"].nunique() and cause.revenue_gap == diagnosis.gap
    assert "each holds its row of delta3.csv beside another" in cause.evidence


def test_an_insert_that_skips_the_keys_the_table_holds_is_told_as_the_first_row_kept():
    # Each user's first row kept (ON CONFLICT DO NOTHING), with users new in delta1 updated in delta3. Before: "the
    # last file loaded wins, with files loaded in the order delta2, delta3, delta4, delta1, delta0", which also fits.
    feed = faults.with_new_users(FEED, 1, 3, 30)
    platform = faults.loaded(faults.stack_feed(feed).drop_duplicates("user_id", keep="first"))
    diagnosis = diagnose(feed, platform)
    (cause,) = diagnosis.root_causes
    assert (cause.kind, cause.details["order"]) == ("wrong_dedup_order", [f"delta{number}.csv" for number in (4, 3, 2, 1, 0)])
    assert "keeping the first row each user got instead of its latest" in cause.evidence
    assert (cause.revenue_gap, diagnosis.unexplained_users) == (diagnosis.gap, 0)


def test_a_load_order_that_also_fixes_a_cut_file_s_last_key_is_the_one_cause():
    # delta4 loaded before delta3, and delta4's last row is a user delta3 also holds: cutting that row alone fixes
    # that user, so the files-first search takes the cut before the order; the order alone explains every user.
    feed = faults.shared_key_last(FEED, 4, 3)
    platform = faults.last_file_wins(feed, [0, 1, 2, 4, 3])
    diagnosis = diagnose(feed, platform)
    assert [(cause.kind, cause.details.get("order")) for cause in diagnosis.root_causes] == [
        ("wrong_dedup_order", ["delta0.csv", "delta1.csv", "delta2.csv", "delta4.csv", "delta3.csv"])
    ]
    cause = diagnosis.root_causes[0]
    expected = deduplicate(feed).loc[:, list(COLUMNS)].merge(platform, how="outer", indicator=True)
    assert cause.users == expected.loc[expected["_merge"].ne("both"), "user_id"].nunique()
    assert cause.revenue_gap == diagnosis.gap
    assert cause.share_of_gap == pytest.approx(1.0)
    assert diagnosis.unexplained_users == 0
    users = f"{diagnosis.reconciliation.user_count:,}"
    assert f"agrees with the platform for {users} of {users}" in cause.evidence
    _assert_same_diagnosis(feed, platform)


def test_faults_together_are_separated_and_the_rest_left_unexplained():
    platform = faults.without_file(FEED, 3).reset_index(drop=True)
    platform = platform.drop(index=range(10))  # users dropped on top of the missing file
    platform.loc[100:104, "total_spend"] += 50  # values changed
    platform.loc[200:202, "batch_id"] += 7  # a batch nobody sent, with other values kept: unexplained
    diagnosis = diagnose(FEED, platform)
    kinds = {cause.kind for cause in diagnosis.root_causes}
    assert {"file_not_ingested", "missing_users", "value_drift"} <= kinds
    main = diagnosis.root_causes[0]
    assert (main.kind, main.file) == ("file_not_ingested", "delta3.csv")
    explained = sum(cause.revenue_gap for cause in diagnosis.root_causes)
    assert explained + diagnosis.unexplained_gap == diagnosis.gap
    assert 0 < diagnosis.unexplained_users <= 3
    dollars = [cause.absolute_gap for cause in diagnosis.root_causes]
    assert dollars == sorted(dollars, reverse=True)


def test_gaps_that_cancel_out_are_still_attributed():
    platform = faults.drifted(FEED, 20, seed=8).reset_index(drop=True)
    up = platform.index[:10]
    platform.loc[up, "total_spend"] -= 2 * (platform.loc[up, "total_spend"] - deduplicate(FEED).set_index("user_id").loc[platform.loc[up, "user_id"], "total_spend"].to_numpy())
    diagnosis = diagnose(FEED, platform)
    assert diagnosis.root_causes[0].kind == "value_drift"
    assert diagnosis.root_causes[0].share_of_gap == pytest.approx(1.0)


# --- what a load did to the values: each mechanism planted on one delta's load ---------------------------

MECHANISMS = [
    ("swap", faults.swapped("count_saved_items", "loyalty_credits"), "columns_swapped", ["count_saved_items", "loyalty_credits"], None),
    ("cents as dollars", faults.scaled("total_spend", 100), "scaled", ["total_spend"], ("factor", 100)),
    ("dollars as cents", faults.scaled("total_spend", 0.01), "scaled", ["total_spend"], ("factor", 0.01)),
    ("milli-units", faults.scaled("total_spend", 1000), "scaled", ["total_spend"], ("factor", 1000)),
    ("any factor", faults.scaled("loyalty_credits", 7), "scaled", ["loyalty_credits"], ("factor", 7)),
    ("tens", faults.rounded("total_spend", 10), "rounded", ["total_spend"], ("precision", -1)),
    ("hundreds", faults.rounded("total_spend", 100), "rounded", ["total_spend"], ("precision", -2)),
    ("zeroed", faults.replaced("loyalty_credits", 0), "zeroed", ["loyalty_credits"], None),
    ("constant", faults.replaced("count_saved_items", 7), "constant", ["count_saved_items"], ("value", "7")),
    ("one row down", faults.shifted(1), "shifted_keys", ["user_id"], ("offset", 1)),
    ("two rows up", faults.shifted(-2), "shifted_keys", ["user_id"], ("offset", -2)),
]


def _platform_total(platform: pd.DataFrame) -> int:
    return int(platform["total_spend"].sum())


def _mechanism_of(cause: dict) -> tuple:
    parameter = next(((name, cause[name]) for name in ("factor", "precision", "value", "offset", "hours", "rewrite") if name in cause), None)
    return cause["mechanism"], cause["columns"], parameter


@pytest.mark.parametrize(("name", "change", "mechanism", "columns", "parameter"), MECHANISMS, ids=[case[0] for case in MECHANISMS])
def test_a_load_that_changed_values_is_named_with_its_mechanism_file_and_dollars(name, change, mechanism, columns, parameter):
    platform = faults.loaded_with(FEED, 3, change)
    payload = diagnose(FEED, platform).to_dict()
    (cause,) = payload["root_causes"]
    assert cause["kind"] == "value_drift" and cause["file"] == "delta3.csv"
    assert _mechanism_of(cause) == (mechanism, columns, parameter)
    assert cause["users"] == _changed_users(platform)
    assert cause["revenue_gap"] == EXPECTED_TOTAL - _platform_total(platform)
    assert payload["totals"]["unexplained_users"] == 0


@pytest.mark.parametrize("changed_file", [0, 1])
@pytest.mark.parametrize(("name", "change", "mechanism", "columns", "parameter"), MECHANISMS, ids=[case[0] for case in MECHANISMS])
def test_a_missed_file_and_a_changed_load_each_keep_their_users_and_dollars(name, change, mechanism, columns, parameter, changed_file):
    """delta2 never loaded, so its users fall back to older rows, some of them in the file whose load changed
    them: the missed file keeps all its users and dollars, the change the users it changed and its dollars."""
    missed = faults.without_file(FEED, 2)
    platform = faults.loaded_with(FEED, changed_file, change, without=2)
    both = missed.merge(platform, how="outer", indicator=True)
    changed = both.loc[both["_merge"].ne("both"), "user_id"].nunique()
    causes = {cause["kind"]: cause for cause in diagnose(FEED, platform).to_dict()["root_causes"]}
    assert set(causes) == {"file_not_ingested", "value_drift"}
    assert (causes["file_not_ingested"]["file"], causes["file_not_ingested"]["users"]) == ("delta2.csv", _changed_users(missed))
    assert causes["file_not_ingested"]["revenue_gap"] == EXPECTED_TOTAL - _platform_total(missed)
    drift = causes["value_drift"]
    assert (drift["file"], _mechanism_of(drift)) == (f"delta{changed_file}.csv", (mechanism, columns, parameter))
    assert (drift["users"], drift["revenue_gap"]) == (changed, _platform_total(missed) - _platform_total(platform))


def test_a_changed_base_file_is_not_taken_for_a_file_never_loaded():
    """delta0's load scaled by 100, delta4 never loaded, a few users dropped or changed on top: dropping delta0
    (every user's first row) lets one user agree but leaves 65 users the platform shows without any row, and a
    file the platform never read cannot be the only source of rows it holds."""
    feed = generate_feed(int(np.random.default_rng(14).integers(50, 700)), 5, seed=14)
    causes = diagnose(feed, _random_change(feed, 14)).to_dict()["root_causes"]
    assert [(cause["kind"], cause["file"]) for cause in causes if cause["kind"] != "value_drift"] == [
        ("file_not_ingested", "delta4.csv"), ("missing_users", None),
    ]
    assert ("scaled", 100, "delta0.csv") in [(cause.get("mechanism"), cause.get("factor"), cause["file"]) for cause in causes]


def test_values_shifted_in_key_order_are_named_with_their_offset():
    platform = faults.keys_shifted(FEED, 1)
    (cause,) = diagnose(FEED, platform).to_dict()["root_causes"]
    assert (cause["mechanism"], cause["offset"], cause["order"], cause["file"]) == ("shifted_keys", 1, "key", None)
    assert (cause["users"], cause["revenue_gap"]) == (_changed_users(platform), EXPECTED_TOTAL - _platform_total(platform))


def test_two_loads_with_two_mechanisms_are_two_causes():
    feed = [
        Delta(delta.name, delta.number, faults.rounded("total_spend", 10)(delta.frame.copy())) if delta.number == 4 else delta
        for delta in FEED
    ]
    platform = faults.loaded_with(feed, 3, faults.scaled("total_spend", 100))
    causes = diagnose(FEED, platform).to_dict()["root_causes"]
    assert [(cause["file"], _mechanism_of(cause)) for cause in causes] == [
        ("delta3.csv", ("scaled", ["total_spend"], ("factor", 100))),
        ("delta4.csv", ("rounded", ["total_spend"], ("precision", -1))),
    ]
    assert sum(cause["revenue_gap"] for cause in causes) == EXPECTED_TOTAL - _platform_total(platform)


def test_two_columns_changed_by_one_load_are_two_causes_for_the_same_users():
    def both(frame: pd.DataFrame) -> pd.DataFrame:
        return faults.replaced("loyalty_credits", 0)(faults.scaled("total_spend", 100)(frame))

    platform = faults.loaded_with(FEED, 3, both)
    causes = {cause["mechanism"]: cause for cause in diagnose(FEED, platform).to_dict()["root_causes"]}
    assert set(causes) == {"scaled", "zeroed"}
    assert causes["scaled"]["revenue_gap"] == EXPECTED_TOTAL - _platform_total(platform)
    assert causes["zeroed"]["revenue_gap"] == 0 and causes["zeroed"]["users"] <= causes["scaled"]["users"]


@pytest.mark.parametrize(("name", "platform", "mechanism", "file"), [
    # Before: "no known change of a load reproduces them".
    ("added up", lambda: faults.accumulated(FEED, "total_spend"), "accumulated", None),
    ("not updated", lambda: faults.not_updated(FEED, 3, "total_spend"), "not_updated", "delta3.csv"),
])
def test_a_column_added_up_over_the_files_or_left_as_it_was_is_named(name, platform, mechanism, file):
    platform = platform()
    (cause,) = diagnose(FEED, platform).to_dict()["root_causes"]
    assert (cause["kind"], cause["mechanism"], cause["columns"], cause["file"]) == ("value_drift", mechanism, ["total_spend"], file)
    assert cause["revenue_gap"] == EXPECTED_TOTAL - _platform_total(platform) and cause["users"] == _changed_users(platform)


def test_random_changes_are_unexplained_drift():
    (cause,) = diagnose(FEED, faults.drifted(FEED, 11, seed=3)).to_dict()["root_causes"]
    assert (cause["kind"], cause["mechanism"], cause["columns"]) == ("value_drift", "unexplained", [])


# The second shape (contracts/account-balances.yaml): string keys, an exact decimal amount, a timestamp version.
ACCOUNTS = generate_accounts_case(accounts=300, files=5, seed=21)
ACCOUNT_FILES = list(ACCOUNTS.files)


def _text_change(column: str, change):
    def changed(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame[column] = [change(value) for value in frame[column]]
        return frame

    return changed


def _later(hours: int):
    def change(stamp: str) -> str:
        return (pd.Timestamp(stamp) + pd.Timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")

    return change


def _swapped_text(first: str, second: str):
    """The two columns swapped in the rows where both hold a value (an empty plan would not load at all)."""

    def changed(frame: pd.DataFrame) -> pd.DataFrame:
        both = frame[first].ne("") & frame[second].ne("")
        frame.loc[both, [first, second]] = frame.loc[both, [second, first]].to_numpy()
        return frame

    return changed


ACCOUNT_MECHANISMS = [
    ("cents as dollars", _text_change("lifetime_value", lambda value: f"{Decimal(value) * 100:.2f}"), "scaled", ["lifetime_value"], ("factor", 100)),
    ("whole units", _text_change("lifetime_value", lambda value: f"{Decimal(value).quantize(Decimal(1))}"), "rounded", ["lifetime_value"], ("precision", 0)),
    # Before: "rounded to whole units", with 2032.99 in the file as 2032.00 on the platform for an example.
    ("cut to whole units", _text_change("lifetime_value", lambda value: f"{Decimal(value).quantize(Decimal(1), ROUND_DOWN)}"), "truncated",
     ["lifetime_value"], ("precision", 0)),
    ("negated", _text_change("lifetime_value", lambda value: f"{-Decimal(value):.2f}"), "scaled", ["lifetime_value"], ("factor", -1)),
    ("zeroed", _text_change("orders", lambda value: "0"), "zeroed", ["orders"], None),
    ("nulled", _text_change("referrer", lambda value: ""), "nulled", ["referrer"], None),
    ("constant", _text_change("plan", lambda value: "basic"), "constant", ["plan"], ("value", "basic")),
    # Before: "referrer was replaced by the same value, NULL, for every row", the rows with a referrer unchanged.
    ("placeholder", _text_change("referrer", lambda value: value or "NULL"), "filled", ["referrer"], ("value", "NULL")),
    # One rewrite of every value, not a constant per value ("pro" as "PRO", "plus" as "PLUS"...).
    ("upper-cased", _text_change("plan", str.upper), "text_rewritten", ["plan"], ("rewrite", "uppercase")),
    ("swap", _swapped_text("plan", "referrer"), "columns_swapped", ["plan", "referrer"], None),
    ("time zone", _text_change("exported_at", _later(2)), "timezone_shift", ["exported_at"], ("hours", 2)),
    ("one row down", faults.shifted(1, key="account_id"), "shifted_keys", ["account_id"], ("offset", 1)),
]


def _accounts_diagnosis(tmp_path, platform: pd.DataFrame, capsys) -> dict:
    feed = tmp_path / "feed"
    feed.mkdir()
    for name, frame in ACCOUNTS.files.items():
        frame.to_csv(feed / name, index=False)
    platform.to_csv(tmp_path / "platform.csv", index=False)
    code = main(["diagnose", "--feed", str(feed), "--platform", str(tmp_path / "platform.csv"),
                 "--contract", str(ACCOUNTS_CONTRACT), "--json"])
    assert code == 1
    return json.loads(capsys.readouterr().out)


def _accounts_loaded(changed: str | None = None, change=None, without: str | None = None) -> pd.DataFrame:
    """The accounts' latest rows as the platform loaded them: one file through ``change``, one file never."""
    frames = [change(frame.copy()) if name == changed else frame for name, frame in ACCOUNTS.files.items() if name != without]
    stacked = pd.concat(frames, ignore_index=True)
    return stacked.sort_values("exported_at", kind="stable").drop_duplicates("account_id", keep="last").sort_values("account_id")


def _accounts_differing(one: pd.DataFrame, other: pd.DataFrame) -> tuple[int, Decimal]:
    """Accounts whose rows differ between two tables, and the first's total less the second's."""
    both = one.merge(other, how="outer", indicator=True)
    total = sum(map(Decimal, one["lifetime_value"])) - sum(map(Decimal, other["lifetime_value"]))
    return both.loc[both["_merge"].ne("both"), "account_id"].nunique(), total


@pytest.mark.parametrize("missed", [False, True], ids=["alone", "with a missed file"])
@pytest.mark.parametrize(("name", "change", "mechanism", "columns", "parameter"), ACCOUNT_MECHANISMS, ids=[case[0] for case in ACCOUNT_MECHANISMS])
def test_another_shape_names_the_mechanism_and_keeps_each_fault_s_dollars(tmp_path, capsys, name, change, mechanism, columns, parameter, missed):
    changed, without = ACCOUNT_FILES[1], ACCOUNT_FILES[2] if missed else None
    expected, before = _accounts_loaded(), _accounts_loaded(without=without)
    platform = _accounts_loaded(changed, change, without)
    causes = {cause["kind"]: cause for cause in _accounts_diagnosis(tmp_path, platform, capsys)["root_causes"]}
    assert set(causes) == ({"file_not_ingested", "value_drift"} if missed else {"value_drift"})
    drift = causes["value_drift"]
    assert (drift["file"], _mechanism_of(drift)) == (changed, (mechanism, columns, parameter))
    # A platform row no file holds has no file to come from (it read "from nan"); an empty cell is said to be one.
    assert not any(" from nan" in cause["evidence"] or "  in the file" in cause["evidence"] for cause in causes.values())
    users, dollars = _accounts_differing(before, platform)
    assert (drift["users"], Decimal(drift["revenue_gap"])) == (users, dollars)
    if missed:
        users, dollars = _accounts_differing(expected, before)
        lost = causes["file_not_ingested"]
        assert (lost["file"], lost["users"], Decimal(lost["revenue_gap"])) == (without, users, dollars)


@pytest.mark.parametrize(
    ("column", "texts", "order"),
    [
        (Column("revision", "string"), ["r9", "r10", "r1"], [2, 1, 0]),  # dictionary codes are first-seen order
        (Column("exported_at", "timestamp"), ["2026-01-01T00:00:00Z", "1999-12-31T00:00:00Z"], [1, 0]),  # 15 digits of µs vs 16
        (Column("version", "number", decimal=(6, 2)), ["9.50", "10.25", "10.2"], [2, 1, 0]),
    ],
)
def test_versions_compared_as_text_are_compared_as_the_files_write_them(column, texts, order):
    from checks.diagnose._scan import text_order

    codec = Codec(column, Dictionary() if column.logical_type == "string" else None)
    values = codec.parse(pd.Series(texts))[0]
    keys = text_order([values[:1], values[1:]], codec.render)
    assert list(np.argsort(np.concatenate(keys), kind="stable")) == order


def test_no_discrepancy_means_no_causes():
    diagnosis = diagnose(FEED, faults.expected(FEED))
    assert not diagnosis.discrepancy and diagnosis.root_causes == ()
    assert diagnosis.to_dict()["totals"]["gap"] == 0


def test_json_shape():
    payload = diagnose(FEED, faults.without_file(FEED, 2), finance_total=EXPECTED_TOTAL).to_dict()
    assert set(payload) == {"totals", "classes", "root_causes"}
    assert {"expected", "platform", "finance", "gap"} <= set(payload["totals"])
    assert all(set(value) == {"users", "revenue_gap"} for value in payload["classes"].values())
    cause = payload["root_causes"][0]
    assert set(cause) == {"kind", "file", "users", "revenue_gap", "share_of_gap", "evidence"}
    drift = diagnose(FEED, faults.loaded_with(FEED, 3, faults.scaled("total_spend", 100))).to_dict()["root_causes"][0]
    assert set(drift) == {*cause, "mechanism", "columns", "factor"}
    assert cause["kind"] in KINDS
    json.dumps(payload)


def test_johnnys_jeans_whole_gap_is_one_missing_file(johnnys_jeans):
    from checks.pipeline import check_feed_folder

    platform = read_table(johnnys_jeans / "AIQ-user-summary.csv")
    customer = read_table(johnnys_jeans / "Johnny-user-summary.csv")
    finance = int(customer["total_spend"].sum())
    diagnosis = diagnose(check_feed_folder(johnnys_jeans).deltas, platform, customer, finance)
    assert diagnosis.gap == finance - int(platform["total_spend"].sum())
    assert diagnosis.unexplained_share < 0.001
    assert len(diagnosis.root_causes) == 1
    cause = diagnosis.root_causes[0]
    assert cause.kind == "file_not_ingested" and cause.file.startswith("delta")
    assert cause.revenue_gap == diagnosis.gap
    assert cause.users == diagnosis.reconciliation.discrepant_users
    assert not cause.examples.empty and cause.file in cause.evidence


# --- command line ------------------------------------------------------------------------------------


@pytest.fixture
def case_on_disk(tmp_path):
    write_feed(FEED, tmp_path / "feed")
    platform = tmp_path / "platform.csv"
    faults.without_file(FEED, 2).to_csv(platform, index=False)
    return tmp_path, platform


def test_cli_json_exit_1_on_a_discrepancy(case_on_disk, capsys):
    folder, platform = case_on_disk
    code = main(["diagnose", "--feed", str(folder / "feed"), "--platform", str(platform), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 1
    assert payload["root_causes"][0]["file"] == "delta2.csv"


def test_cli_exit_0_when_the_table_matches(tmp_path, capsys):
    write_feed(FEED, tmp_path / "feed")
    faults.expected(FEED).to_csv(tmp_path / "platform.csv", index=False)
    assert main(["diagnose", "--feed", str(tmp_path / "feed"), "--platform", str(tmp_path / "platform.csv")]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user_id,total_spend,count_saved_items,loyalty_credits\n1,2,3,4\n", "missing column"),
        ("user_id,total_spend,count_saved_items,loyalty_credits,batch_id,batch_id\n1,2,3,4,5,5\n", "duplicate column"),
        ("user_id,total_spend,count_saved_items,loyalty_credits,batch_id\n1,<script>alert(1)</script>,3,4,5\n", "non-integer"),
        ("user_id,total_spend,count_saved_items,loyalty_credits,batch_id\n1,\"=HYPERLINK(\"\"x\"\")\",3,4,5\n", "non-integer"),
    ],
)
def test_cli_bad_platform_table_is_exit_2_with_the_value_as_plain_text(case_on_disk, capsys, text, message):
    folder, platform = case_on_disk
    platform.write_text(text)
    code = main(["diagnose", "--feed", str(folder / "feed"), "--platform", str(platform)])
    error = capsys.readouterr().err
    assert code == 2
    assert message in error and "Traceback" not in error
    if "<script>" in text:
        assert "<script>alert(1)</script>" in error  # shown as the text it is, not interpreted


# --- the same answers as the reference implementation ------------------------------------------------


def _random_platform(feed, seed: int) -> pd.DataFrame:
    """One planted fault drawn by the seed, then a few users dropped, changed, repeated or invented on top."""
    rng = np.random.default_rng(seed)
    numbers = [delta.number for delta in feed]
    base = [
        lambda: faults.without_file(feed, int(rng.choice(numbers[1:]))),
        lambda: faults.truncated(feed, int(rng.choice(numbers)), int(rng.integers(1, 200))),
        lambda: faults.string_dedup(feed),
        lambda: faults.last_file_wins(feed, list(rng.permutation(numbers))),
        lambda: faults.not_deduplicated(feed),
        lambda: faults.expected(feed),
    ][int(rng.integers(6))]()
    table = base.reset_index(drop=True)
    table = table.drop(index=rng.choice(len(table), int(rng.integers(0, 6)), replace=False))
    changed = rng.choice(table.index, int(rng.integers(0, 6)), replace=False)
    table.loc[changed, str(rng.choice(["total_spend", "batch_id", "loyalty_credits"]))] += 3
    strangers = faults.with_strangers(feed, int(rng.integers(0, 4)), seed=seed).nlargest(3, "user_id")
    table = pd.concat([table, table.iloc[: int(rng.integers(0, 4))], strangers.iloc[: int(rng.integers(0, 3))]])
    return faults.loaded(table, seed=seed)


def _assert_same_diagnosis(feed, platform, customer=None):
    from tests.reference.diagnose import diagnose as reference

    slow = reference(feed, platform, customer, 123)
    for deduplicated in (None, deduplicate(feed)):
        _assert_same_as_reference(diagnose(feed, platform, customer, 123, deduplicated=deduplicated), slow)


def _assert_same_as_reference(fast, slow, *, check_dtype=True):
    """The same answers; the reference lists every user and every platform row, the engine the users that do
    not match (or whose customer row differs) and their platform rows, and counts the rest."""
    assert fast.to_dict() == slow.to_dict()
    users = slow.reconciliation.users
    listed = users["class"].ne("match")
    if "customer_class" in users.columns:
        listed |= users["customer_class"].ne("match")
    _assert_frames(fast.reconciliation.users, users[listed].reset_index(drop=True), check_dtype)
    assert fast.reconciliation.user_count == len(users)
    lineage = slow.lineage
    _assert_frames(fast.lineage, lineage[lineage["user_id"].isin(users.loc[listed, "user_id"])].reset_index(drop=True), check_dtype)
    counts = lineage["source_file"].value_counts(dropna=False)
    assert fast.lineage_counts == {None if pd.isna(name) else name: rows for name, rows in counts.items()}
    assert list(fast.lineage_counts) == [name for name in fast.files if name in counts] + ([None] if counts.index.isna().any() else [])
    for mine, theirs in zip(fast.reconciliation.classes, slow.reconciliation.classes, strict=True):
        _assert_frames(mine.examples, theirs.examples, check_dtype)
    for mine, theirs in zip(fast.root_causes, slow.root_causes, strict=True):
        assert mine.details == theirs.details
        _assert_frames(mine.examples, theirs.examples, check_dtype)


def _assert_frames(mine: pd.DataFrame, theirs: pd.DataFrame, check_dtype: bool) -> None:
    """Equal frames; text the engine holds as categories (a code per row) compared as the reference's text."""
    mine = mine.astype({name: theirs[name].dtype for name in mine.columns if isinstance(mine[name].dtype, pd.CategoricalDtype)})
    pd.testing.assert_frame_equal(mine, theirs, check_dtype=check_dtype)


@pytest.mark.parametrize("seed", range(24))
def test_random_faults_get_the_reference_answer(seed):
    feed = generate_feed(int(np.random.default_rng(seed).integers(50, 700)), 2 + seed % 4, seed=seed)
    customer = faults.drifted(feed, 2, seed=seed) if seed % 3 == 0 else None
    _assert_same_diagnosis(feed, _random_platform(feed, seed), customer)


def _random_change(feed, seed: int) -> pd.DataFrame:
    """A mechanism drawn by the seed on a random delta's load, with a file missed or not, and noise on top."""
    rng = np.random.default_rng(seed)
    numbers = [delta.number for delta in feed]
    change = MECHANISMS[int(rng.integers(len(MECHANISMS)))][1]
    missed = int(rng.choice(numbers[1:])) if rng.random() < 0.5 and len(numbers) > 2 else None
    changed = int(rng.choice([number for number in numbers if number != missed]))
    table = faults.loaded_with(feed, changed, change, without=missed).reset_index(drop=True)
    table = table.drop(index=rng.choice(len(table), int(rng.integers(0, 4)), replace=False))
    noisy = rng.choice(table.index, int(rng.integers(0, 4)), replace=False)
    table.loc[noisy, str(rng.choice(["total_spend", "loyalty_credits"]))] += 3
    return faults.loaded(table, seed=seed)


@pytest.mark.parametrize("seed", range(16))
def test_random_mechanisms_get_the_reference_answer(seed):
    feed = generate_feed(int(np.random.default_rng(seed).integers(50, 700)), 3 + seed % 3, seed=seed)
    _assert_same_diagnosis(feed, _random_change(feed, seed))


@pytest.mark.parametrize(("name", "change"), [case[:2] for case in MECHANISMS], ids=[case[0] for case in MECHANISMS])
def test_planted_mechanisms_get_the_reference_answer(name, change):
    _assert_same_diagnosis(FEED, faults.loaded_with(FEED, 1, change, without=2))


@pytest.mark.parametrize("case", range(len(CASES)))
def test_planted_faults_get_the_reference_answer(case):
    _assert_same_diagnosis(FEED, CASES[case][2])


def test_a_file_holding_a_user_twice_gets_the_reference_answer():
    # Validated deltas never do; the per-file shortcuts must then step aside.
    last = FEED[-1]
    older = last.frame.iloc[:30].assign(batch_id=lambda frame: frame["batch_id"] - 1)
    feed = [*FEED[:-1], Delta(last.name, last.number, pd.concat([last.frame, older]))]
    _assert_same_diagnosis(feed, faults.without_file(feed, 2))


def test_two_latest_rows_for_a_user_is_the_dedup_error():
    from checks.errors import DeduplicationError

    last = FEED[-1]
    # The last file's first row again with another spend: same user, same (largest) batch_id.
    tied = last.frame.iloc[:1].assign(total_spend=lambda frame: frame["total_spend"] + 1)
    feed = [*FEED[:-1], Delta(last.name, last.number, pd.concat([last.frame, tied]))]
    with pytest.raises(DeduplicationError, match="latest row is ambiguous"):
        diagnose(feed, faults.expected(FEED))


# --- the shortcuts for large feeds step aside when their assumptions do not hold --------------------


def _renumbered(feed, platform, users):
    """The same feed and table with every user id sent through ``users`` (a strictly increasing map)."""
    def renumber(frame):
        return frame.assign(user_id=users(frame["user_id"].to_numpy()))

    return [Delta(delta.name, delta.number, renumber(delta.frame)) for delta in feed], renumber(platform)


@pytest.mark.parametrize(
    "users",
    [lambda ids: ids * 3 + 7, lambda ids: ids * 10**12 + 5],
    ids=["ids with gaps: a lookup table", "sparse ids: binary search"],
)
def test_user_ids_with_gaps_get_the_reference_answer(users):
    feed, platform = _renumbered(FEED, faults.without_file(FEED, 3), users)
    _assert_same_diagnosis(feed, platform)


def test_positions_beyond_the_int32_limit_fall_back_to_int64(monkeypatch):
    import checks.lineage

    # With a limit of a few rows, every index and row position is "too large" for int32.
    monkeypatch.setattr(checks.lineage, "INT32_LIMIT", 7)
    users = checks.lineage.UserIndex(np.arange(1, 100, dtype="int64"))
    assert users.locate(np.array([1, 99])).dtype == np.int64
    platform = faults.truncated(FEED, 2, 200)
    _assert_same_diagnosis(FEED, platform, faults.drifted(FEED, 3, seed=1))


def test_values_too_wide_to_pack_get_the_reference_answer():
    # A spend near 2**62 leaves no room to pack three columns into one integer.
    wide = [Delta(d.name, d.number, d.frame.assign(total_spend=d.frame["total_spend"] * 2**40)) for d in FEED]
    _assert_same_diagnosis(wide, faults.last_file_wins(wide, [0, 2, 1, 3, 4]))


def test_batch_ids_too_long_for_text_keys_get_the_reference_answer():
    # Beyond 17 digits the text order is found by sorting the distinct batch_ids as strings.
    long = [Delta(d.name, d.number, d.frame.assign(batch_id=d.frame["batch_id"] * 10**15)) for d in FEED]
    _assert_same_diagnosis(long, faults.string_dedup(long))


def test_a_file_holding_a_user_twice_with_distinct_line_numbers_gets_the_reference_answer():
    last = FEED[-1]
    older = last.frame.iloc[:30].assign(batch_id=lambda frame: frame["batch_id"] - 1)
    both = pd.concat([last.frame, older], ignore_index=True)
    both.index = pd.RangeIndex(2, len(both) + 2, name="row")
    feed = [*FEED[:-1], Delta(last.name, last.number, both)]
    _assert_same_diagnosis(feed, faults.truncated(feed, 4, 260))


@pytest.mark.parametrize("stalls", [True, False])
def test_huge_pages_are_left_as_they_were_after_a_diagnosis(monkeypatch, stalls):
    import checks.pages

    multiarray = np._core.multiarray
    before = multiarray._get_madvise_hugepage()
    monkeypatch.setattr(checks.pages, "defrag_stalls", lambda: stalls)
    with checks.pages.plain_pages():
        assert multiarray._get_madvise_hugepage() == (before and not stalls)
    assert multiarray._get_madvise_hugepage() == before
    diagnose(FEED, faults.without_file(FEED, 1))
    assert multiarray._get_madvise_hugepage() == before


def test_passes_in_small_chunks_get_the_reference_answer(monkeypatch):
    import checks.lineage

    monkeypatch.setattr(checks.lineage, "CHUNK_ROWS", 64)  # many chunks per delta, a last one cut short
    _assert_same_diagnosis(FEED, faults.with_duplicates(FEED, 25, seed=3), faults.drifted(FEED, 2, seed=5))


# --- int32 frames (the engines narrow a column whose values all lie within 2**30) give the same answers ------


def _narrowed(frame: pd.DataFrame | None, columns=COLUMNS) -> pd.DataFrame | None:
    return None if frame is None else frame.astype({column: "int32" for column in columns if column in frame.columns})


@pytest.mark.parametrize("seed", range(8))
def test_int32_frames_get_the_reference_answer(seed):
    from tests.reference.diagnose import diagnose as reference

    feed = generate_feed(int(np.random.default_rng(seed).integers(50, 700)), 2 + seed % 4, seed=seed)
    platform = _random_platform(feed, seed)
    customer = faults.drifted(feed, 2, seed=seed) if seed % 2 else None
    slow = reference(feed, platform, customer, 123)
    narrow = [Delta(delta.name, delta.number, _narrowed(delta.frame)) for delta in feed]
    # Every table narrowed, or only some (a table keeps int64 where one of its values is too wide).
    for platform_table, deduplicated in ((_narrowed(platform), _narrowed(deduplicate(feed))), (platform, None)):
        fast = diagnose(narrow, platform_table, _narrowed(customer), 123, deduplicated=deduplicated)
        _assert_same_as_reference(fast, slow, check_dtype=False)


def test_int32_frames_are_not_copied_to_int64():
    # The feed's columns are read as they are: no whole-column int64 copy of a narrowed delta.
    from checks.lineage import Feed, UserIndex

    narrow = [Delta(delta.name, delta.number, _narrowed(delta.frame)) for delta in FEED]
    feed = Feed.stack(narrow, UserIndex(*[delta.frame["user_id"].to_numpy() for delta in narrow]))
    for file, delta in enumerate(narrow):
        for column in ("total_spend", "batch_id"):
            assert np.shares_memory(feed.column(file, column), delta.frame[column].to_numpy())


def test_int32_feed_and_a_platform_id_too_wide_for_int32_get_the_reference_answer():
    from tests.reference.diagnose import diagnose as reference

    platform = faults.without_file(FEED, 2)
    platform = pd.concat([platform, platform.iloc[:2].assign(user_id=[2**40, -(2**40)])], ignore_index=True)
    slow = reference(FEED, platform)
    narrow = [Delta(delta.name, delta.number, _narrowed(delta.frame)) for delta in FEED]
    for deduplicated in (None, _narrowed(deduplicate(FEED))):
        _assert_same_as_reference(diagnose(narrow, platform, deduplicated=deduplicated), slow, check_dtype=False)


def test_an_empty_platform_table_is_diagnosed_not_a_crash():
    diagnosis = diagnose(FEED, faults.expected(FEED).iloc[:0])
    assert diagnosis.platform_total == 0
    assert diagnosis.reconciliation.summary("missing").users == len(deduplicate(FEED))
    explained = sum(cause.revenue_gap for cause in diagnosis.root_causes)
    assert explained + diagnosis.unexplained_gap == diagnosis.gap > 0


def test_users_a_missed_file_leaves_without_any_row_are_not_said_to_hold_an_older_one():
    """A file holding some users' only rows: the evidence counts those users apart."""
    newcomers = FEED[2].frame.copy()
    newcomers["user_id"] += int(max(delta.frame["user_id"].max() for delta in FEED))  # users only delta2 has
    rows = pd.concat([FEED[2].frame, newcomers])
    feed = [*FEED[:2], Delta(FEED[2].name, 2, rows.set_axis(range(2, 2 + len(rows)))), *FEED[3:]]
    diagnosis = diagnose(feed, faults.without_file(feed, 2))
    cause = next(cause for cause in diagnosis.root_causes if cause.kind == "file_not_ingested")
    latest_there, none = int((deduplicate(feed)["source_file"] == "delta2.csv").sum()), len(newcomers)
    assert cause.users == latest_there
    assert (
        f"{latest_there:,} users lack their latest row: {latest_there - none:,} hold an older row instead of their "
        f"latest one in delta2.csv and {none:,} have no row at all"
    ) in cause.evidence


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_mechanisms_are_tried_on_columns_an_engine_holds_as_int32(dtype):
    """The Polars engine keeps a column as int32 where it fits; a rounding step past 2**31 must not overflow it
    (zeros are multiples of every step, so every step up to 10**15 is tried)."""
    from checks.diagnose._mechanisms import ZEROED, column_mechanisms

    expected = np.array([1, 2, 3, 4], dtype=dtype)
    platform = np.zeros(4, dtype=dtype)
    found = column_mechanisms({"spend": expected}, {"spend": platform}, {"spend": Column("spend", "integer")})
    assert [(mechanism.name, list(users)) for mechanism, users in found] == [(ZEROED, [True] * 4)]


# --- runner-up rows (what a user falls back to when the file of its pick is left out) ---------------------------


def _naive_runner_ups(feed, table, users):
    """Per user, the part and file position of its highest row outside its pick's part (a later part wins a tie)."""
    found = []
    for user in users:
        best = None
        for index, part in enumerate(feed.parts):
            if index == table.part[user]:
                continue
            versions = feed.values(part, feed.shape.version)
            for row in np.flatnonzero(part.user == user):
                candidate = (int(versions[row]), index, int(part.positions()[row]))
                if best is None or candidate[:2] >= best[:2]:
                    best = candidate
        found.append((-1, -1) if best is None else best[1:])
    return found


@pytest.mark.parametrize("seed", range(4))
def test_runner_ups_are_the_highest_rows_outside_the_pick_for_every_user_or_some(seed):
    from checks.diagnose._scan import Scan, all_rows
    from checks.lineage import Feed, UserIndex

    rng = np.random.default_rng(seed)
    # Batch ids drawn at random (ties too), so that a later file's row is not always the higher one.
    deltas = [
        Delta(delta.name, delta.number, delta.frame.assign(batch_id=rng.integers(0, 40, len(delta.frame))))
        for delta in generate_feed(120, 2 + seed, seed=seed)
    ]
    feed = Feed.stack(deltas, UserIndex(*[delta.frame["user_id"].to_numpy() for delta in deltas]))
    scan = Scan(feed, ("numeric",), all_rows(feed))
    table = scan.best()
    every = np.arange(feed.users)
    some = every[rng.random(feed.users) < 0.3]
    for users, every_user in ((every, True), (every, False), (some, False)):
        part, position = scan.runner_up(table, users, every_user=every_user)
        assert list(zip(part.tolist(), position.tolist())) == _naive_runner_ups(feed, table, users)


@pytest.mark.parametrize("slot_dtype", ["int32", "int64", "int8"])
def test_runner_ups_kept_in_the_callers_slots_are_the_same_and_leave_other_users_alone(slot_dtype):
    from checks.diagnose._scan import Scan, all_rows
    from checks.lineage import Feed, UserIndex

    rng = np.random.default_rng(7)
    deltas = [
        Delta(delta.name, delta.number, delta.frame.assign(batch_id=rng.integers(0, 40, len(delta.frame))))
        for delta in generate_feed(300, 4, seed=7)
    ]
    feed = Feed.stack(deltas, UserIndex(*[delta.frame["user_id"].to_numpy() for delta in deltas]))
    scan = Scan(feed, ("numeric",), all_rows(feed))
    table = scan.best()
    users = np.flatnonzero(rng.random(feed.users) < 0.5)
    slots = np.full(feed.users, -7, dtype=slot_dtype)  # int8 cannot hold the slots: the scan uses its own array
    part, position = scan.runner_up(table, users, slots=slots)
    assert list(zip(part.tolist(), position.tolist())) == _naive_runner_ups(feed, table, users)
    others = np.setdiff1d(np.arange(feed.users), users)
    assert (slots[others] == -7).all()


@pytest.mark.parametrize("seed", range(3))
def test_runner_ups_read_in_chunks_are_those_read_whole(seed, monkeypatch):
    """Parts read a few rows at a time (files cut short too, so that some parts' read rows are positions) give the
    runner-ups the whole parts give."""
    import checks.lineage
    from checks.diagnose._scan import Scan
    from checks.lineage import Feed, UserIndex

    rng = np.random.default_rng(seed)
    deltas = [
        Delta(delta.name, delta.number, delta.frame.assign(batch_id=rng.integers(0, 40, len(delta.frame))))
        for delta in generate_feed(200, 4, seed=seed)
    ]
    # A file holding some users twice: parts with file positions of their own.
    doubled = deltas[1].frame
    deltas[1] = Delta(deltas[1].name, deltas[1].number, pd.concat([doubled, doubled.iloc[::3]], ignore_index=True))
    feed = Feed.stack(deltas, UserIndex(*[delta.frame["user_id"].to_numpy() for delta in deltas]))
    cuts = tuple(int(rng.integers(1, feed.rows(file) + 1)) for file in range(len(feed.names)))
    scan = Scan(feed, ("numeric",), cuts)
    table = scan.best()
    every = np.arange(feed.users)
    some = every[rng.random(feed.users) < 0.4]
    for users, every_user in ((every, True), (every, False), (some, False)):
        whole = scan.runner_up(table, users, every_user=every_user)
        monkeypatch.setattr(checks.lineage, "CHUNK_ROWS", 7)
        chunked = scan.runner_up(table, users, every_user=every_user)
        monkeypatch.undo()
        assert all(np.array_equal(a, b) for a, b in zip(whole, chunked))


def _passed_and_quarantined(number: int) -> tuple[list[Delta], Delta]:
    """The feed with delta ``number`` quarantined by validation: the deltas that passed, and its readable rows."""
    return [delta for delta in FEED if delta.number != number], next(delta for delta in FEED if delta.number == number)


def _users_held_from(platform: pd.DataFrame, passed: list[Delta], quarantined: Delta) -> int:
    """Users whose platform row is not their latest validated row and holds their key at a version the quarantined
    file gave it, counted without the library."""
    expected = deduplicate(passed).loc[:, list(COLUMNS)]
    off = platform.merge(expected, how="left", indicator=True)
    off = off.loc[off["_merge"].eq("left_only"), ["user_id", "batch_id"]]
    return off.merge(quarantined.frame[["user_id", "batch_id"]]).user_id.nunique()


def test_a_quarantined_file_the_platform_loaded_anyway_is_named_with_its_users():
    # Before, these users were left unexplained: "hold a batch the feed never sent", though the feed sent it.
    passed, quarantined = _passed_and_quarantined(2)
    platform = faults.expected(FEED)  # every file loaded, the quarantined one too
    diagnosis = diagnose(passed, platform, quarantined=lambda: [quarantined])
    assert [(cause.kind, cause.file) for cause in diagnosis.root_causes] == [("quarantined_file_loaded", "delta2.csv")]
    cause = diagnosis.root_causes[0]
    assert cause.users == _users_held_from(platform, passed, quarantined) > 0
    assert cause.revenue_gap == diagnosis.gap != 0
    assert diagnosis.unexplained_users == 0
    assert f"{cause.users:,} users hold their row of delta2.csv (every one as the file wrote it)" in cause.evidence
    assert set(cause.examples["platform_file"]) == {"delta2.csv"}
    lines = cause.examples["platform_source_row"].astype(int)
    held = quarantined.frame.loc[lines.to_numpy(), "user_id"].to_numpy()
    assert (held == cause.examples["user_id"].to_numpy()).all()  # each example traced to its line of the file
    # Without the quarantined rows the same users stay unexplained: the cause comes from them.
    assert not diagnose(passed, platform).root_causes


def test_the_platform_rows_a_quarantined_file_gave_are_traced_to_its_lines():
    # They were counted, and listed in discrepancies.csv, as coming from "no delta file".
    passed, quarantined = _passed_and_quarantined(2)
    platform = faults.expected(FEED)  # every file loaded, the quarantined one too
    platform.iloc[0, platform.columns.get_loc("total_spend")] = 10**9  # and one row no file ever sent
    columns = list(COLUMNS)
    sent = pd.concat([delta.frame[columns] for delta in passed]).drop_duplicates()
    foreign = platform.merge(sent, how="left", indicator=True)
    foreign = foreign.loc[foreign["_merge"].eq("left_only"), columns]
    from_file = len(foreign.merge(quarantined.frame[columns].drop_duplicates()))
    assert 0 < from_file == len(foreign) - 1
    diagnosis = diagnose(passed, platform, quarantined=lambda: [quarantined])
    assert diagnosis.lineage_counts["delta2.csv"] == from_file and diagnosis.lineage_counts[None] == 1
    assert sum(diagnosis.lineage_counts.values()) == len(platform)
    traced = diagnosis.lineage[diagnosis.lineage["source_file"].eq("delta2.csv").fillna(False).astype(bool)]
    assert len(traced) == from_file
    lines = traced["source_row"].astype(int).to_numpy()
    assert (quarantined.frame.loc[lines, columns].to_numpy() == traced[columns].to_numpy()).all()  # each its line's row
    assert diagnosis.lineage["source_file"].isna().sum() == 1


def test_a_quarantined_file_is_read_only_when_users_are_left_unexplained():
    passed, _ = _passed_and_quarantined(2)

    def unread() -> list[Delta]:
        raise AssertionError("the quarantined file was read")

    assert not diagnose(passed, faults.expected(passed), quarantined=unread).discrepancy  # the platform skipped it too
    diagnosis = diagnose(passed, faults.without_file(passed, 3), quarantined=unread)  # a file never loaded explains all
    assert [cause.kind for cause in diagnosis.root_causes] == ["file_not_ingested"]


@pytest.mark.parametrize("quarantined_file", [2, 0], ids=["an update", "the base"])
def test_a_file_never_loaded_beside_a_quarantined_one_loaded_are_two_causes(quarantined_file):
    # With the base quarantined, users whose only other row was the base's tell nothing against delta3 never loaded:
    # before, their rows ruled that story out (left without a row) and a load order was named for a few users instead.
    passed, quarantined = _passed_and_quarantined(quarantined_file)
    platform = faults.loaded(deduplicate([delta for delta in FEED if delta.number != 3]))
    diagnosis = diagnose(passed, platform, quarantined=lambda: [quarantined])
    assert {(cause.kind, cause.file) for cause in diagnosis.root_causes} == {
        ("file_not_ingested", "delta3.csv"), ("quarantined_file_loaded", f"delta{quarantined_file}.csv"),
    }
    assert sum(cause.revenue_gap for cause in diagnosis.root_causes) == diagnosis.gap
    assert diagnosis.unexplained_users == 0
    assert sum(cause.revenue_gap for cause in diagnosis.root_causes) == diagnosis.gap


def test_keys_a_load_lower_cased_are_one_cause_not_missing_and_unknown_keys(tmp_path, capsys):
    # Before: "300 accounts missing from the table" beside "300 accounts the feed never sent".
    platform = _accounts_loaded()
    platform["account_id"] = platform["account_id"].str.lower()
    diagnosis = _accounts_diagnosis(tmp_path, platform, capsys)
    (cause,) = diagnosis["root_causes"]
    assert (cause["kind"], cause["mechanism"], cause["columns"], cause["rewrite"]) == (
        "value_drift", "keys_rewritten", ["account_id"], "lowercase"
    )
    assert cause["users"] == len(platform) and Decimal(cause["revenue_gap"]) == 0
    assert diagnosis["totals"]["unexplained_users"] == 0
    assert "account_id was lower-cased" in cause["evidence"]


def test_rows_of_a_file_a_filter_dropped_are_the_file_only_partly_loaded(tmp_path, capsys):
    # The enterprise rows of one file never reached the table. Before: "the lifetime value was not updated: it kept the
    # value of the row before" beside "exported_at was replaced by the same value, ..., for every row".
    changed = ACCOUNT_FILES[1]
    platform = _accounts_loaded(changed, lambda frame: frame[frame["plan"] != "enterprise"])
    older = _accounts_loaded(without=changed).set_index("account_id")
    dropped = ACCOUNTS.files[changed].query("plan == 'enterprise'")["account_id"]
    expected = _accounts_loaded().set_index("account_id")
    stale = [key for key in dropped if key in older.index and expected.at[key, "exported_at"] != older.at[key, "exported_at"]]
    causes = {cause["kind"]: cause for cause in _accounts_diagnosis(tmp_path, platform, capsys)["root_causes"]}
    assert "value_drift" not in causes
    lacking = causes["file_partially_ingested"]
    assert (lacking["file"], lacking["users"]) == (changed, len(stale)) and len(stale) >= 3
    assert "hold an older row instead" in lacking["evidence"]
    assert "What sets them apart from the others: every account with plan enterprise, and no other." in lacking["evidence"]


def test_keys_a_load_lower_cased_beside_a_file_never_loaded_are_two_causes(tmp_path, capsys):
    # Before: the rewrite named for the accounts whose rows agree, and the accounts whose latest row was in the file
    # never loaded "missing from the table" beside as many "the feed never sent", their dollars on neither story.
    missed = ACCOUNT_FILES[2]
    expected, platform = _accounts_loaded(), _accounts_loaded(without=missed)
    stale, gap = _accounts_differing(expected, platform)
    platform["account_id"] = platform["account_id"].str.lower()
    diagnosis = _accounts_diagnosis(tmp_path, platform, capsys)
    causes = {cause["kind"]: cause for cause in diagnosis["root_causes"]}
    assert set(causes) == {"value_drift", "file_not_ingested"}
    rewritten, never_loaded = causes["value_drift"], causes["file_not_ingested"]
    assert (rewritten["mechanism"], rewritten["rewrite"], rewritten["users"]) == ("keys_rewritten", "lowercase", len(expected))
    assert Decimal(rewritten["revenue_gap"]) == 0 and rewritten["share_of_gap"] == 0
    assert f"{stale:,} of those rows are not the account's latest" in rewritten["evidence"]
    assert (never_loaded["file"], never_loaded["users"], Decimal(never_loaded["revenue_gap"])) == (missed, stale, gap)
    assert never_loaded["share_of_gap"] == 1.0
    totals = diagnosis["totals"]
    assert (totals["discrepant_users"], totals["unexplained_users"]) == (2 * len(expected), 0)


def test_keys_rewritten_in_no_usual_way_are_paired_by_their_rows(tmp_path, capsys):
    # A digit inserted into every key: before, every account "never sent" beside four files "never loaded".
    platform = _accounts_loaded()
    platform["account_id"] = platform["account_id"].str.replace("AC-", "AC-0", regex=False)
    platform.loc[platform.index[:2], "orders"] = "777"  # two rows changed as well: paired by no row, left as they are
    diagnosis = _accounts_diagnosis(tmp_path, platform, capsys)
    causes = {cause["kind"]: cause for cause in diagnosis["root_causes"]}
    assert set(causes) == {"value_drift", "missing_users", "unexpected_users"}
    rewritten = causes["value_drift"]
    assert (rewritten["mechanism"], rewritten["rewrite"], rewritten["users"]) == ("keys_rewritten", "other", len(platform) - 2)
    assert (causes["missing_users"]["users"], causes["unexpected_users"]["users"]) == (2, 2)
    assert "account_id was rewritten" in rewritten["evidence"]
    example = re.search(r"(AC-\d+) is on the platform as (AC-\d+)", rewritten["evidence"])
    assert example and example[2] == example[1].replace("AC-", "AC-0")
    assert diagnosis["totals"]["unexplained_users"] == 0


def test_rows_alike_under_a_few_unknown_keys_are_no_rewrite(tmp_path, capsys):
    # Two accounts missing and two the feed never sent, with their rows: below MIN_PAIRS, no story about keys.
    platform = _accounts_loaded()
    platform.loc[platform.index[:2], "account_id"] = ["AC-900001", "AC-900002"]
    causes = {cause["kind"] for cause in _accounts_diagnosis(tmp_path, platform, capsys)["root_causes"]}
    assert causes == {"missing_users", "unexpected_users"}


def test_one_file_whose_keys_lost_their_leading_zeros_is_one_rewrite_of_that_file(tmp_path, capsys):
    """One update file opened and saved in a spreadsheet: its keys with leading zeros lost them, the others loaded.
    Before: "the balance was not updated" and "updated_on was replaced by the same value" for the keys that kept the
    row before, beside as many keys "the feed never sent"."""
    from checks.contract_infer import infer_contract

    rng = np.random.default_rng(8)
    keys = pd.Series([f"{number:07d}" for number in rng.choice(2_000_000, 400, replace=False)])  # half with a leading zero
    feed = tmp_path / "feed"
    feed.mkdir()
    files = [pd.DataFrame({"customer_no": keys, "balance": [f"{value:.2f}" for value in rng.uniform(1, 900, 400)],
                           "updated_on": "2026-03-01"})]
    for day in (2, 3, 4):
        chosen = keys.sample(100, random_state=day).to_numpy()
        files.append(pd.DataFrame({"customer_no": chosen, "balance": [f"{value:.2f}" for value in rng.uniform(1, 900, 100)],
                                   "updated_on": f"2026-03-0{day}"}))
    for number, frame in enumerate(files):
        frame.to_csv(feed / f"delta{number}.csv", index=False)
    contract = tmp_path / "contract.yaml"
    contract.write_text(infer_contract(feed).replace("feed_table", "balances").replace("new-feed", "balances"))
    loaded = [frame.copy() for frame in files]
    loaded[2]["customer_no"] = loaded[2]["customer_no"].str.lstrip("0")
    pd.concat(loaded).drop_duplicates("customer_no", keep="last").to_csv(tmp_path / "platform.csv", index=False)
    zeros = files[2]["customer_no"].str.startswith("0")
    stale = set(files[2]["customer_no"][zeros]) - set(files[3]["customer_no"])  # their latest row is in delta2.csv
    assert main(["diagnose", "--feed", str(feed), "--platform", str(tmp_path / "platform.csv"), "--contract", str(contract),
                 "--json"]) == 1
    diagnosis = json.loads(capsys.readouterr().out)
    (cause,) = diagnosis["root_causes"]
    assert (cause["mechanism"], cause["rewrite"], cause["file"], cause["users"]) == (
        "keys_rewritten", "leading_zeros", "delta2.csv", int(zeros.sum())
    )
    assert f"and {len(stale)} of them keep an older row under their own" in cause["evidence"]
    assert cause["revenue_gap"] == diagnosis["totals"]["gap"] and diagnosis["totals"]["unexplained_users"] == 0


def test_a_rewrite_of_one_file_s_keys_is_named_only_where_every_key_it_changes_is_held_so():
    from checks.diagnose._keys import FILE_SAMPLE, LEADING_ZEROS, file_rewrite

    keys = pd.Series([f"{number:07d}" for number in np.random.default_rng(3).choice(2_000_000, 3 * FILE_SAMPLE, replace=False)])
    stripped = keys.str.lstrip("0")
    changed = np.flatnonzero(stripped != keys)
    held = stripped[changed].sample(frac=1.0, random_state=1)  # the platform's own order
    asked = []

    def keys_at(rows):
        asked.append(None if rows is None else len(rows))
        return keys if rows is None else keys[rows]

    def every_row(rows, at):
        return np.ones(len(rows), dtype=bool)

    name, rows, at = file_rewrite(keys_at, len(keys), held, every_row)
    assert (name, list(rows)) == (LEADING_ZEROS, list(changed)) and (held.to_numpy()[at] == stripped[rows].to_numpy()).all()
    assert asked == [FILE_SAMPLE, None]  # a sample first, the whole file once the sample held
    assert file_rewrite(keys_at, len(keys), held.iloc[1:], every_row) is None  # one key it changes not held so
    assert file_rewrite(keys_at, len(keys), held, lambda rows, at: np.arange(len(rows)) > 0) is None  # one row differs
    asked.clear()
    assert file_rewrite(keys_at, len(keys), pd.Series(["x1", "x2", "x3"]), every_row) is None
    assert asked == [FILE_SAMPLE]  # a few keys never sent: no pass over the file


def test_keys_that_lost_their_leading_zeros_are_named_with_the_rows_that_changed_too(tmp_path, capsys):
    from checks.contract_infer import infer_contract

    rng = np.random.default_rng(4)
    keys = [f"{number:05d}" for number in rng.choice(30000, 60, replace=False)]  # a third with leading zeros
    feed = tmp_path / "feed"
    feed.mkdir()
    rows = []
    for number, chosen in enumerate([keys, keys[::3], keys[1::4]]):
        frame = pd.DataFrame({"customer_no": chosen, "balance": [f"{value:.2f}" for value in rng.uniform(1, 900, len(chosen))],
                              "updated_on": f"2026-03-0{number + 1}"})
        frame.to_csv(feed / f"delta{number}.csv", index=False)
        rows.append(frame)
    contract = tmp_path / "contract.yaml"
    contract.write_text(infer_contract(feed).replace("feed_table", "balances").replace("new-feed", "balances"))
    latest = pd.concat(rows).drop_duplicates("customer_no", keep="last").reset_index(drop=True)
    padded = latest["customer_no"].str.startswith("0")
    platform = latest.assign(customer_no=latest["customer_no"].str.lstrip("0").str.rjust(1, "0"))
    assert padded.sum() > 1 and (~padded).any()
    platform.loc[platform.index[padded][0], "balance"] = "12.34"  # its zeros gone, and its balance: not the same row
    platform.loc[len(platform)] = ["999999", "1.00", "2026-03-01"]  # a key no key of the feed rewrites to
    platform.to_csv(tmp_path / "platform.csv", index=False)
    assert main(["diagnose", "--feed", str(feed), "--platform", str(tmp_path / "platform.csv"), "--contract", str(contract),
                 "--json"]) == 1
    diagnosis = json.loads(capsys.readouterr().out)
    causes = {(cause["kind"], cause.get("mechanism")): cause for cause in diagnosis["root_causes"]}
    # Before: the key whose balance changed too was "missing" beside one "the feed never sent".
    assert set(causes) == {("value_drift", "keys_rewritten"), ("value_drift", "unexplained"), ("unexpected_users", None)}
    rewritten, changed = causes["value_drift", "keys_rewritten"], causes["value_drift", "unexplained"]
    assert (rewritten["rewrite"], rewritten["users"]) == ("leading_zeros", int(padded.sum()))
    assert "1 of those rows is not the customer_no's latest" in rewritten["evidence"]
    assert changed["users"] == 1 and "balance for 1 customer_no" in changed["evidence"]
    assert causes["unexpected_users", None]["users"] == 1  # 999999: no key of the feed rewrites to it
    assert diagnosis["totals"]["unexplained_users"] == 0


@pytest.mark.parametrize(("name", "kept", "said"), [
    ("a plan filtered out", lambda table: table[table["plan"] != "enterprise"], "every account with plan enterprise, and no other"),
    ("the empty referrers filtered out", lambda table: table[table["referrer"] != ""], "every account with no referrer, and no other"),
    ("the table stops", lambda table: table.iloc[:-30], "every account after {last} in account_id order, and no other"),
    ("the table starts late", lambda table: table.iloc[12:], "every account before {first} in account_id order, and no other"),
])
def test_what_every_missing_key_shares_and_no_other_does_is_said(tmp_path, capsys, name, kept, said):
    # Before: "N accounts of the feed are absent from the platform's table", and no more.
    expected = _accounts_loaded().sort_values("account_id").reset_index(drop=True)
    platform = kept(expected)
    diagnosis = _accounts_diagnosis(tmp_path, platform, capsys)
    (missing,) = [cause for cause in diagnosis["root_causes"] if cause["kind"] == "missing_users"]
    assert missing["users"] == len(expected) - len(platform)
    assert said.format(last=platform["account_id"].iloc[-1], first=platform["account_id"].iloc[0]) in missing["evidence"]


def test_a_filter_s_victim_whose_row_ends_its_file_is_not_a_file_cut_short():
    """The filter that dropped every user holding a value also took one whose row was its file's last: one cause, the
    filter, not beside it "only the first N-1 rows of delta0.csv reached the platform"."""
    feed, platform = faults.filtered_with_a_last_row(FEED, "count_saved_items")
    dropped_value = deduplicate(feed).set_index("user_id").loc[feed[0].frame["user_id"].iloc[-1], "count_saved_items"]
    diagnosis = diagnose(feed, platform, None, 1_000_000, deduplicated=deduplicate(feed))
    (cause,) = diagnosis.root_causes
    assert cause.kind == "missing_users"
    assert cause.users == int((deduplicate(feed)["count_saved_items"] == dropped_value).sum())
    assert f"every user with count_saved_items {dropped_value}, and no other" in cause.evidence
    assert diagnosis.unexplained_users == 0


def test_a_file_cut_short_beside_a_filter_stays_a_cut_where_its_users_still_have_rows():
    """A real cut (the last 40 rows of delta3: their users keep an older row) beside a filter is two causes."""
    cut = faults.truncated(FEED, 3, len(FEED[3].frame) - 40)
    value = cut["count_saved_items"].mode()[0]
    platform = cut[cut["count_saved_items"] != value]
    diagnosis = diagnose(FEED, platform, None, 1_000_000, deduplicated=deduplicate(FEED))
    kinds = {cause.kind: cause for cause in diagnosis.root_causes}
    assert set(kinds) == {"file_partially_ingested", "missing_users"}
    assert kinds["file_partially_ingested"].file == "delta3.csv"
    assert f"every user with count_saved_items {value}, and no other" in kinds["missing_users"].evidence


@pytest.mark.parametrize("plan", ["pro", "plus", "enterprise"])
def test_a_filter_on_plan_is_the_one_cause_whichever_plan_ends_a_file(tmp_path, capsys, plan):
    """The second sample: filtering out the plan "pro" took the account whose row ended accounts_2026-01-01.csv,
    which was also told as that file only partly loaded."""
    expected = _accounts_loaded().sort_values("account_id").reset_index(drop=True)
    platform = expected[expected["plan"] != plan]
    diagnosis = _accounts_diagnosis(tmp_path, platform, capsys)
    assert [cause["kind"] for cause in diagnosis["root_causes"]] == ["missing_users"]
    (missing,) = diagnosis["root_causes"]
    assert missing["users"] == len(expected) - len(platform)
    assert f"every account with plan {plan}, and no other" in missing["evidence"]


def test_missing_keys_that_share_a_value_others_hold_too_or_are_too_few_are_only_missing(tmp_path, capsys):
    expected = _accounts_loaded().sort_values("account_id").reset_index(drop=True)
    enterprise = expected.index[expected["plan"] == "enterprise"]
    for dropped in (enterprise[:-1], enterprise[-2:]):  # one enterprise account kept; two dropped, too few to tell
        platform = expected.drop(index=dropped)
        (missing,) = [cause for cause in _accounts_diagnosis(tmp_path, platform, capsys)["root_causes"]
                      if cause["kind"] == "missing_users"]
        assert missing["users"] == len(dropped) and "and no other" not in missing["evidence"]
        (tmp_path / "feed").rename(tmp_path / f"feed-{len(dropped)}")


def test_shares_are_of_the_gap_when_the_dollars_pull_one_way_and_of_the_dollars_off_when_they_pull_both():
    """A file never loaded takes dollars off; rows loaded twice add some back: the net gap is smaller than either
    cause, so each cause's share is of the dollars off either way (the sum of the causes' sizes), and the report says
    so instead of "of the gap"."""
    from checks.report import ReportNames, render_engineer_email, render_incident

    one_way = diagnose(FEED, faults.without_file(FEED, 3))
    assert one_way.share_basis == "gap" and one_way.to_dict()["totals"]["share_of"] == "gap"
    twice = faults.with_duplicates([delta for delta in FEED if delta.number != 3], 40, seed=4)
    both_ways = diagnose(FEED, twice)
    causes = both_ways.root_causes
    assert {cause.kind for cause in causes} == {"file_not_ingested", "duplicate_rows"}
    assert {np.sign(cause.revenue_gap) for cause in causes} == {-1, 1}  # the two pull the total apart
    off = sum(cause.absolute_gap for cause in causes)
    assert off > abs(both_ways.gap)
    assert both_ways.share_basis == "dollars off" and both_ways.to_dict()["totals"]["share_of"] == "dollars off"
    assert sum(cause.share_of_gap for cause in causes) == pytest.approx(1.0)
    for cause in causes:
        assert cause.share_of_gap == pytest.approx(cause.absolute_gap / off)
    incident = render_incident(both_ways, ReportNames())
    assert "explain 100.0% of the dollars off" in incident and "| share of the dollars off |" in incident
    email = render_engineer_email(both_ways, ReportNames())
    assert "% of the dollars off" in email and "% of the gap" not in email


CONTACTS_CONTRACT = r"""
apiVersion: v3.1.0
kind: DataContract
id: contacts
name: Contacts
version: 1.0.0
status: active
schema:
  - name: contacts
    physicalType: table
    customProperties:
      - {property: checks.files, value: 'contacts_(?P<order>\d+)\.csv'}
    properties:
      - {name: email, businessName: contact, logicalType: string, primaryKey: true}
      - {name: country, logicalType: string, required: true}
      - {name: phone, logicalType: string, required: true}
      - name: rev
        logicalType: integer
        required: true
        customProperties: [{property: checks.role, value: version}]
"""


def _contacts(tmp_path, rewrite) -> list[pd.DataFrame]:
    """A contacts feed of three files (300 contacts, 60 updated by each later file) and the platform's table: every
    email rewritten by ``rewrite`` and contacts_3.csv never loaded. Its files."""
    rng = np.random.default_rng(5)
    base = pd.DataFrame({
        "email": [f"User{i}@Example.com" for i in range(300)], "country": rng.choice(["US", "FR"], 300),
        "phone": [f"+1555{i:07d}" for i in rng.permutation(300)], "rev": 1,  # a row each: keys paired by rows alone
    })
    files, latest = [base], base.copy()
    for rev in (2, 3):
        update = latest.sample(60, random_state=rev).assign(rev=rev, country="DE")
        latest = pd.concat([latest, update]).drop_duplicates("email", keep="last")
        files.append(update)
    (tmp_path / "feed").mkdir()
    for number, frame in enumerate(files, start=1):
        frame.to_csv(tmp_path / "feed" / f"contacts_{number}.csv", index=False)
    loaded = pd.concat(files[:2]).drop_duplicates("email", keep="last")  # contacts_3.csv never loaded
    loaded.assign(email=rewrite(loaded["email"])).to_csv(tmp_path / "platform.csv", index=False)
    (tmp_path / "contract.yaml").write_text(CONTACTS_CONTRACT)
    return files


def _contacts_causes(tmp_path, capsys) -> list[dict]:
    code = main(["diagnose", "--feed", str(tmp_path / "feed"), "--platform", str(tmp_path / "platform.csv"),
                 "--contract", str(tmp_path / "contract.yaml"), "--json"])
    assert code == 1
    return json.loads(capsys.readouterr().out)["root_causes"]


def test_keys_a_load_lower_cased_are_searched_again_under_the_keys_sent(tmp_path, capsys):
    """Every email lower-cased by the load, and contacts_3.csv never loaded: the contacts whose latest row is in that
    file sit on the platform under a lower-cased key with an older row. Before: the rewrite named for the 240 whose
    rows agree, and 60 contacts "missing from the table" beside 60 "the feed never sent"."""
    _contacts(tmp_path, lambda emails: emails.str.lower())
    causes = {cause["kind"]: cause for cause in _contacts_causes(tmp_path, capsys)}
    assert set(causes) == {"value_drift", "file_not_ingested"}
    assert (causes["value_drift"]["rewrite"], causes["value_drift"]["users"]) == ("lowercase", 300)
    assert (causes["file_not_ingested"]["file"], causes["file_not_ingested"]["users"]) == ("contacts_3.csv", 60)
    # Shares of the 600 keys that differ (300 sent, 300 held), not of the 60 left once the rows are moved back.
    assert (causes["value_drift"]["share_of_gap"], causes["file_not_ingested"]["share_of_gap"]) == (0.5, 0.1)


def test_one_file_whose_keys_its_load_lower_cased_is_not_also_a_file_never_loaded(tmp_path, capsys):
    # contacts_3.csv loaded with its emails lower-cased, the other files as sent. Before: "email was lower-cased" beside
    # "contacts_3.csv never loaded" (which the search first took: no contact holds its row under its own email).
    files = _contacts(tmp_path, lambda emails: emails)
    loaded = [frame.copy() for frame in files]
    loaded[2]["email"] = loaded[2]["email"].str.lower()
    pd.concat(loaded).drop_duplicates("email", keep="last").to_csv(tmp_path / "platform.csv", index=False)
    (cause,) = _contacts_causes(tmp_path, capsys)
    assert (cause["rewrite"], cause["file"], cause["users"]) == ("lowercase", "contacts_3.csv", len(files[2]))
    assert f"and {len(files[2])} of them keep an older row under their own." in cause["evidence"]


def test_keys_sharing_one_version_are_never_told_as_a_filter_on_the_version(tmp_path, capsys):
    """Every email rewritten in no usual way by the load (paired by their rows), and contacts_3.csv never loaded: the
    contacts whose latest row is in that file sit on the platform under another key with an older row, so the table
    lacks their keys, and all of them hold rev 3 and no other contact does. That is one file's rows, not a filter
    between the file and the table."""
    _contacts(tmp_path, lambda emails: "x-" + emails)
    causes = _contacts_causes(tmp_path, capsys)
    assert any(cause.get("rewrite") == "other" for cause in causes)
    (missing,) = [cause for cause in causes if cause["kind"] == "missing_users"]
    assert missing["users"] == 60 and missing["file"] == "contacts_3.csv"
    assert "every contact with rev" not in missing["evidence"] and "filter" not in missing["evidence"]
