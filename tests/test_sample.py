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

