"""The shipped sample is exactly what the seeded generator writes, and it carries its planted fault."""
from __future__ import annotations

import filecmp

from checks.cli import main
from checks.config import load_case
from checks.crossfeed import check_feed
from checks.dedup import deduplicate
from checks.sample import generate_case
from tests.conftest import PROJECT_ROOT


def test_shipped_sample_is_reproducible(tmp_path):
    assert main(["sample", "--out", str(tmp_path)]) == 0
    shipped = PROJECT_ROOT / "data"
    for relative in ["case.toml", "platform-user-summary.csv", "customer-user-summary.csv"] + [
        f"feed/delta{number}.csv" for number in range(5)
    ]:
        assert filecmp.cmp(tmp_path / relative, shipped / relative, shallow=False), relative


def test_generated_case_has_one_planted_fault():
    case = generate_case(users=300, deltas=4, seed=5)
    assert check_feed(case.deltas).empty
    expected = deduplicate(case.deltas)
    assert case.finance_total == expected["total_spend"].sum() == case.customer["total_spend"].sum()
    without = deduplicate([delta for delta in case.deltas if delta.name != case.skipped_file])
    assert case.platform.sort_values("user_id")["batch_id"].tolist() == without["batch_id"].tolist()
    assert case.platform["total_spend"].sum() < case.finance_total


def test_case_file_paths_resolve_beside_it():
    case = load_case(PROJECT_ROOT / "data" / "case.toml")
    assert case.feed == (PROJECT_ROOT / "data" / "feed").resolve()
    assert case.platform.is_file() and case.customer.is_file()
    assert case.finance_total > 0



def test_shipped_accounts_sample_is_reproducible(tmp_path):
    assert main(["sample", "--shape", "accounts", "--out", str(tmp_path)]) == 0
    shipped = PROJECT_ROOT / "data" / "accounts"
    names = sorted(path.relative_to(shipped).as_posix() for path in shipped.rglob("*") if path.is_file())
    assert "case.toml" in names and len(names) == 8
    for relative in names:
        if relative == "case.toml":  # the contract's path is written relative to the case's folder
            def without_contract(path):
                return [line for line in path.read_text().splitlines() if not line.startswith("contract = ")]

            assert without_contract(tmp_path / relative) == without_contract(shipped / relative)
        else:
            assert filecmp.cmp(tmp_path / relative, shipped / relative, shallow=False), relative


def test_accounts_case_has_one_planted_fault_and_its_contracts_shape():
    from decimal import Decimal

    from checks.contract import load_contract
    from checks.sample_accounts import CONTRACT_PATH, generate_accounts_case

    contract = load_contract(CONTRACT_PATH)
    case = generate_accounts_case(accounts=200, files=4, seed=3)
    assert list(case.customer.columns) == list(contract.names)
    assert all(contract.file_order(name) is not None for name in case.files)
    orders = [contract.file_order(name).order for name in case.files]
    assert orders == sorted(orders) and not any(order.isdigit() for order in orders)
    # The version rises file by file; the amount never falls for an account.
    stamps = [(frame["exported_at"].min(), frame["exported_at"].max()) for frame in case.files.values()]
    assert all(high < low for (_, high), (low, _) in zip(stamps, stamps[1:]))
    assert case.finance_total == sum(Decimal(value) for value in case.customer["lifetime_value"])
    assert case.customer["referrer"].eq("").any() and set(case.customer["plan"]) <= {"basic", "plus", "pro", "enterprise"}
    skipped = case.files[case.skipped_file]
    stale = case.platform.set_index("account_id").loc[skipped["account_id"], "exported_at"]
    assert (stale < skipped.set_index("account_id")["exported_at"]).all()
    platform_total = sum(Decimal(value) for value in case.platform["lifetime_value"])
    assert platform_total < case.finance_total
