"""Tests for checks.data_docs: the Data Docs site works offline and fetches nothing, checked in headless Chromium,
and shows large dollar sums in every digit."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from checks.data_docs import external_urls, offline_html, remote_references
from checks.feed import read_table

PROJECT_GX = Path(__file__).resolve().parent.parent / "gx"
PLATFORM_TOTAL = 29_162_044
FINANCE_TOTAL = 33_904_525
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

STOCK_HEAD = """<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css">
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js"></script>
<style>.navbar-brand a { background: url('https://example.invalid/full_logo_dark.png') 0 0 no-repeat; }</style>
<img class="NO-CACHE" src="https://example.invalid/logo-long.png?d=1&dataContextId=abc" alt="x"/>
<footer><p>newsletter <a href="https://example.invalid/newsletter">Subscribe</a></p></footer>
<a href="https://example.invalid">Great Expectations</a>"""


def test_offline_html_points_assets_at_local_copies_and_drops_the_rest():
    html = offline_html(STOCK_HEAD, "../static/")
    assert "http" not in html
    assert "dataContextId" not in html
    for local in ("vendor/jquery/jquery.min.js", "vendor/bootstrap/css/bootstrap.min.css",
                  "vendor/fontawesome/css/all.min.css", "vendor/checks-table.js", "images/logo-long.png"):
        assert f"../static/{local}" in html
    assert "vega" not in html and "<footer>" not in html
    assert ">Great Expectations</a>" in html


@pytest.mark.parametrize(
    ("text", "remote"),
    [
        ("a { background: url('https://example.invalid/logo.png') }", True),
        ('<img src="//example.invalid/x.png">', True),
        ('<link href="https://example.invalid/x.css">', True),
        ("@import 'https://example.invalid/x.css';", True),
        ('<svg xmlns="http://www.w3.org/2000/svg"></svg>', False),
        ("/*! Bootstrap (https://getbootstrap.com/) */", False),
        ('<a href="index.html">', False),
    ],
)
def test_remote_references_are_what_a_browser_would_fetch(tmp_path, text, remote):
    (tmp_path / "page.css").write_text(text)
    assert bool(remote_references(tmp_path)) is remote


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed")
    return found


def _browse(chromium: str, page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """Open ``page`` in headless Chromium with every network route blocked."""
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=5000", *extra, page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def real_case_docs(johnnys_jeans, tmp_path_factory):
    from checks.dedup import latest_batches
    from checks.pipeline import check_feed_folder
    from checks.suites import run_suites

    gx_dir = tmp_path_factory.mktemp("docs") / "gx"
    gx_dir.mkdir()
    shutil.copy(PROJECT_GX / "great_expectations.yml", gx_dir)
    feed = check_feed_folder(johnnys_jeans)
    tables = {
        "deduplicated": feed.deduplicated,
        "platform": read_table(johnnys_jeans / "AIQ-user-summary.csv"),
        "customer": read_table(johnnys_jeans / "Johnny-user-summary.csv"),
    }
    latest = latest_batches(feed.deltas)
    run = run_suites(tables, latest_batch=latest, finance_total=FINANCE_TOTAL, expected_users=latest.size,
                     gx_dir=gx_dir)
    return run, tables


@pytest.mark.slow
def test_site_has_no_remote_url(real_case_docs):
    run, _ = real_case_docs
    site = run.docs_index.parent
    assert run.docs_index == site / "index.html"
    assert external_urls(site) == []
    assert remote_references(site) == []  # stylesheets and images too
    assert (site / "static" / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.woff2").stat().st_size > 0


@pytest.mark.slow
def test_index_and_platform_page_render_offline_in_chromium(real_case_docs, tmp_path):
    chromium = _chromium()
    run, tables = real_case_docs
    site = run.docs_index.parent
    platform_pages = sorted(site.glob("validations/*/*/*/*platform.html"))
    assert len(platform_pages) == 1

    index_dom = _browse(chromium, run.docs_index, tmp_path, "--dump-dom").stdout.decode()
    # The list is built by script: present only if the local jQuery and table script ran.
    # (the raw page carries the rows only as script data; rendered rows carry data-href)
    link = Path(os.path.relpath(platform_pages[0], site)).as_posix()
    assert f'data-href="{link}"' in index_dom
    assert index_dom.count('class="clickable-row" data-href="validations/') == len(run.results)

    page_dom = _browse(chromium, platform_pages[0], tmp_path, "--dump-dom").stdout.decode()
    observed = int(tables["platform"]["total_spend"].sum())
    assert observed == PLATFORM_TOTAL
    assert str(observed) in page_dom.replace(",", "")
    assert str(FINANCE_TOTAL) in page_dom.replace(",", "")
    assert "latest batch_id in feed" in page_dom  # the stale rows, listed by user_id

    screenshot = tmp_path / "platform.png"
    _browse(chromium, platform_pages[0], tmp_path, f"--screenshot={screenshot}", "--window-size=1400,1400")
    data = screenshot.read_bytes()
    assert data.startswith(_PNG_MAGIC) and len(data) > 20_000


# GX prints an observed number to 10 significant digits: 11-digit dollar sums are where it rounds.
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?[eE][+-]?\d+")
_SPEND_SCALE = 10_000_019  # turns the sample's dollars into sums of 11 and more digits, not round ones


def _rendered_row(page_html: str, wording: str) -> tuple[str, str]:
    """(expectation text, observed value) of the expectation row on a validation page whose text has ``wording``."""
    rows = [row for row in re.findall(r"<tr\b.*?</tr>", page_html, re.DOTALL) if wording in row]
    assert len(rows) == 1, f"{len(rows)} rows with {wording!r}"
    cells = re.findall(r"<td\b[^>]*>(.*?)</td>", rows[0], re.DOTALL)
    cells = [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]
    return cells[-2], cells[-1]


@pytest.mark.slow
@pytest.mark.parametrize("whole_table", [False, True], ids=["figures", "whole-table"])
def test_a_large_spend_sum_and_its_bounds_show_every_digit(sample_case, tmp_path, whole_table):
    from checks.dedup import latest_batches
    from checks.suites import run_suites

    platform = sample_case.platform.assign(total_spend=sample_case.platform["total_spend"] * _SPEND_SCALE)
    if whole_table:  # a float column: the suite's fast path does not apply and GX validates the table itself
        platform = platform.assign(count_saved_items=platform["count_saved_items"].astype("float64"))
    finance_total = sample_case.finance_total * _SPEND_SCALE
    observed = int(platform["total_spend"].sum())
    assert observed >= 10**10 and observed != finance_total
    gx_dir = tmp_path / "gx"
    gx_dir.mkdir()
    shutil.copy(PROJECT_GX / "great_expectations.yml", gx_dir)
    latest = latest_batches(sample_case.deltas)
    run = run_suites({"platform": platform}, latest_batch=latest, finance_total=finance_total,
                     expected_users=latest.size, gx_dir=gx_dir)

    (page,) = run.docs_index.parent.glob("validations/*/*/*/*platform.html")
    expectation, shown = _rendered_row(page.read_text(encoding="utf-8"), "sum must be")
    assert shown.replace(",", "") == str(observed)
    assert expectation.replace(",", "").count(f" {finance_total} ") == 2  # both bounds, without ".0"
    assert _SCIENTIFIC.findall(expectation + " " + shown) == []
