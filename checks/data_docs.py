"""Making the Great Expectations Data Docs site self-contained: local assets, no URL fetched at page load.

Stock Data Docs pages load jQuery, Bootstrap, Font Awesome, bootstrap-table and Vega from public
CDNs and a logo whose URL carries the context id. This module rewrites the HTML that GX built so
that every page uses copies installed with the package's dependencies (xstatic-jquery,
xstatic-bootstrap, fontawesomefree) and a small local stand-in for bootstrap-table that renders the
index lists as plain rows. It does not import great_expectations.
"""
from __future__ import annotations

import importlib
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from checks.errors import SuiteError

VENDOR_DIR = Path("static") / "vendor"
_MARKER = "checks-assets-v1"

# Where each asset comes from: (python package, folder inside it), copied under static/vendor/<name>.
_ASSET_SOURCES = {
    "jquery": ("xstatic.pkg.jquery", "data"),
    "bootstrap": ("xstatic.pkg.bootstrap", "data"),
    "fontawesome": ("fontawesomefree", "static/fontawesomefree"),
}
_ASSET_FILES = {
    "jquery": ("jquery.min.js",),
    "bootstrap": ("css/bootstrap.min.css", "js/bootstrap.bundle.min.js"),
    "fontawesome": (
        "css/all.min.css",
        "webfonts/fa-solid-900.woff2",
        "webfonts/fa-solid-900.ttf",
        "webfonts/fa-regular-400.woff2",
        "webfonts/fa-regular-400.ttf",
        "webfonts/fa-brands-400.woff2",
        "webfonts/fa-brands-400.ttf",
        "webfonts/fa-v4compatibility.woff2",
        "webfonts/fa-v4compatibility.ttf",
    ),
}

# CDN asset (matched by the end of its URL) -> local file under static/vendor, or None to drop it.
# Popper comes inside bootstrap.bundle; the datepicker, filter-control and dark-theme assets only
# serve bootstrap-table's filters, which the local stand-in does not offer; no page of our suite
# draws a Vega chart.
_CDN_ASSETS: tuple[tuple[str, str | None], ...] = (
    ("jquery-3.7.1.min.js", "jquery/jquery.min.js"),
    ("bootstrap/4.3.1/js/bootstrap.min.js", "bootstrap/js/bootstrap.bundle.min.js"),
    ("bootstrap/4.3.1/css/bootstrap.min.css", "bootstrap/css/bootstrap.min.css"),
    ("font-awesome/6.6.0/css/all.min.css", "fontawesome/css/all.min.css"),
    ("bootstrap-table@1.19.1/dist/bootstrap-table.min.js", "checks-table.js"),
    ("bootstrap-table@1.19.1/dist/bootstrap-table.min.css", "checks-table.css"),
)

_EXTERNAL_TAG = re.compile(
    r"""<(script|link)\b[^>]*?\b(?:src|href)=["'](https?://[^"']+)["'][^>]*>(?:\s*</script>)?""",
    re.IGNORECASE,
)
_EXTERNAL_IMG = re.compile(r"""<img\b[^>]*?\bsrc=["']https?://[^"']*?([\w-]+\.png)[^"']*["'][^>]*>""", re.IGNORECASE)
_EXTERNAL_CSS_URL = re.compile(r"""url\(\s*['"]?https?://[^)]*\)""", re.IGNORECASE)
_EXTERNAL_ANCHOR = re.compile(r"""<a\b([^>]*?)\shref=["']https?://[^"']*["']([^>]*)>""", re.IGNORECASE)
_FOOTER = re.compile(r"<footer>.*?</footer>", re.IGNORECASE | re.DOTALL)
_ANY_URL = re.compile(r"https?://[^\s\"'<>)]+", re.IGNORECASE)

# A stand-in for bootstrap-table: GX's index page builds its lists by calling
# $(table).bootstrapTable({columns, data, sortName, sortOrder, rowAttributes, ...}).
_TABLE_JS = """\
/* checks: offline stand-in for bootstrap-table in GX Data Docs; renders the rows GX passes. */
(function ($) {
  "use strict";
  function sortKey(options) {
    var column = (options.columns || []).find(function (c) { return c.field === options.sortName; });
    return (column && column.sortName) || options.sortName;
  }
  $.fn.bootstrapTable = function (options) {
    if (typeof options !== "object") { return this; }  /* methods: clearFilterControl, resetSearch */
    var columns = options.columns || [];
    var rows = (options.data || []).slice();
    var key = sortKey(options);
    if (key) {
      rows.sort(function (a, b) { return a[key] < b[key] ? -1 : (a[key] > b[key] ? 1 : 0); });
      if (options.sortOrder === "desc") { rows.reverse(); }
    }
    var rowAttributes = window[options.rowAttributes];
    if (options.toolbar) { $(options.toolbar).hide(); }
    return this.each(function () {
      var table = $(this);
      var head = $("<tr>");
      columns.forEach(function (c) { head.append($("<th>").text(c.title || c.field)); });
      var body = $("<tbody>");
      rows.forEach(function (row, index) {
        var tr = $("<tr>");
        if (typeof rowAttributes === "function") { tr.attr(rowAttributes(row, index)); }
        columns.forEach(function (c) {
          var cell = $("<td>").html(row[c.field] === undefined ? "" : String(row[c.field]));
          if (c.align) { cell.css("text-align", c.align); }
          tr.append(cell);
        });
        body.append(tr);
      });
      table.empty().addClass("table table-hover checks-table").append($("<thead>").append(head), body);
      table.on("click", "tr[data-href]", function (event) {
        if (!$(event.target).closest("a").length) { window.location = $(this).data("href"); }
      });
    });
  };
})(jQuery);
"""
_TABLE_CSS = """\
/* checks: styles for the offline bootstrap-table stand-in. */
.checks-table tbody tr[data-href] { cursor: pointer; }
.checks-table td, .checks-table th { vertical-align: middle; }
"""


def make_self_contained(site_dir: Path, pages: Iterable[Path]) -> None:
    """Copy the local assets into ``site_dir`` (once) and rewrite ``pages`` and GX's stylesheets to load nothing remote."""
    site_dir = Path(site_dir)
    _install_assets(site_dir)
    for page in pages:
        page = Path(page)
        if page.exists():
            _rewrite_page(site_dir, page)
    # GX copies its stylesheets on every build; the dark theme's logo is a remote image.
    for sheet in (site_dir / "static" / "styles").glob("*.css"):
        css = sheet.read_text(encoding="utf-8")
        if _EXTERNAL_CSS_URL.search(css):
            _write_text(sheet, _EXTERNAL_CSS_URL.sub("none", css))


def external_urls(site_dir: Path) -> list[tuple[Path, str]]:
    """Every http(s) URL left in the site's HTML pages, as (page, url): the offline check."""
    found = []
    for page in sorted(Path(site_dir).rglob("*.html")):
        found.extend((page, url) for url in _ANY_URL.findall(page.read_text(encoding="utf-8")))
    return found


# What a browser would fetch: src/href attributes and CSS url(); a licence comment or an XML namespace is not fetched.
_REMOTE_REFERENCE = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])(https?:)?//""", re.IGNORECASE
)


def remote_references(site_dir: Path) -> list[tuple[Path, str]]:
    """Every reference to the network in the site's pages, stylesheets and images, as (file, text around it)."""
    found = []
    for path in sorted(Path(site_dir).rglob("*")):
        if path.suffix.lower() in (".html", ".css", ".svg", ".js") and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found.extend((path, text[match.start():match.end() + 40]) for match in _REMOTE_REFERENCE.finditer(text))
    return found


_NUMBER_BADGE = re.compile(r'(<span class="badge badge-secondary" >)(\d{4,})(</span>)')
_UNEXPECTED_COUNTS = re.compile(r"(\d{4,})( unexpected values found\. [\d.]+% of )(\d{4,})( total rows)")


def group_digits(page: Path) -> None:
    """Rewrite a Data Docs page so that whole numbers in statements (33904525, "1841 unexpected values found") read
    with thousands separators, every digit kept; example rows (user ids, batch ids) are left as they are."""
    page = Path(page)
    if not page.exists():
        return
    html = page.read_text(encoding="utf-8")
    grouped = _NUMBER_BADGE.sub(lambda match: f"{match.group(1)}{int(match.group(2)):,}{match.group(3)}", html)
    grouped = _UNEXPECTED_COUNTS.sub(
        lambda match: f"{int(match.group(1)):,}{match.group(2)}{int(match.group(3)):,}{match.group(4)}", grouped
    )
    if grouped != html:
        _write_text(page, grouped)


def present_helper_column(page: Path, column: str, *, described_as: str, statement: str) -> None:
    """Rewrite a validation page so that ``column``, which the suite adds beside a table's own, is not shown as the table's.

    The ordered column list drops it (expected and observed), the section of its expectations is headed
    ``described_as`` (in the page's table of contents too), and the statements that name it read as ``statement``.
    """
    page = Path(page)
    if not page.exists():
        return
    html = page.read_text(encoding="utf-8")
    name = re.escape(column)
    badge = rf'<span class="badge badge-secondary" >{name}</span>'
    html = re.sub(rf",\s*{badge}", "", html)
    html = re.sub(rf",\s*(&#39;|'){name}(&#39;|')", "", html)
    # A statement that names the column beside another: "Values in <batch_id> and <helper> must always be equal."
    html = re.sub(rf"Values in (<span[^>]*>[^<]*</span>) and {badge} must always be equal\.", rf"\1 {statement}.", html)
    # The section of the column's own expectations, and its entry in the table of contents.
    html = re.sub(rf"(<h5 class=\"m-0\" >\s*){name}(\s*</h5>)", rf"\1{described_as}\2", html)
    html = re.sub(rf"(ge-navigation-sidebar-link[^>]*>\s*){name}(\s*</a>)", rf"\1{described_as}\2", html)
    if column in html:
        raise SuiteError(f"Data Docs page still shows the helper column {column}: GX's page layout changed", file=page)
    _write_text(page, html)


def offline_html(html: str, static_prefix: str) -> str:
    """``html`` with CDN assets pointed at ``static_prefix``/vendor, and remote images, links and footer removed."""
    vendor = f"{static_prefix}vendor/"

    def local_tag(match: re.Match[str]) -> str:
        kind, url = match.group(1).lower(), match.group(2)
        for suffix, local in _CDN_ASSETS:
            if url.split("?")[0].endswith(suffix) and local is not None:
                if kind == "script":
                    return f'<script src="{vendor}{local}"></script>'
                return f'<link rel="stylesheet" href="{vendor}{local}">'
        return ""  # an unknown remote asset is dropped rather than fetched

    html = _EXTERNAL_TAG.sub(local_tag, html)
    html = _EXTERNAL_IMG.sub(
        lambda match: f'<img src="{static_prefix}images/{match.group(1)}" alt="Great Expectations" '
        'style="width: auto; height: 50px">',
        html,
    )
    html = _EXTERNAL_CSS_URL.sub("none", html)
    html = _FOOTER.sub("", html)
    return _EXTERNAL_ANCHOR.sub(r"<a\1\2>", html)


def _rewrite_page(site_dir: Path, page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    if not _ANY_URL.search(html):
        return  # already rewritten by an earlier run
    static_prefix = Path(os.path.relpath(site_dir / "static", page.parent)).as_posix() + "/"
    _write_text(page, offline_html(html, static_prefix))


def _install_assets(site_dir: Path) -> None:
    vendor = site_dir / VENDOR_DIR
    if (vendor / _MARKER).exists():
        return
    for name, (module_name, folder) in _ASSET_SOURCES.items():
        source = _package_dir(module_name) / folder
        for relative in _ASSET_FILES[name]:
            target = vendor / name / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(source / relative, target)
            except OSError as error:
                raise SuiteError(
                    f"Data Docs asset {relative} missing from package {module_name}: {error.strerror}"
                ) from error
    _write_text(vendor / "checks-table.js", _TABLE_JS)
    _write_text(vendor / "checks-table.css", _TABLE_CSS)
    _write_text(vendor / _MARKER, "assets copied from xstatic-jquery, xstatic-bootstrap, fontawesomefree\n")


def _package_dir(module_name: str) -> Path:
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SuiteError(
            f"Data Docs need the package providing {module_name} (install the project's dependencies)"
        ) from error
    return Path(module.__file__).parent


def _write_text(path: Path, text: str) -> None:
    # Same-folder temp file then rename: a crash never leaves a half-written page.
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


_BANNER = re.compile(r"<!-- checks-banner -->.*?<!-- /checks-banner -->", re.DOTALL)
INCIDENT_LINK_TEXT = "Why the platform's table fails these expectations, and what to do: the incident page"


def link_incident(index: Path, incident_page: Path, platform_page: Path | None) -> None:
    """Link the incident page from the top of the Data Docs index and of the platform table's validation page."""
    for page in (index, platform_page):
        if page is not None and Path(page).exists():
            link_from_index(page, incident_page, INCIDENT_LINK_TEXT)


def link_from_index(index: Path, target: Path, text: str) -> None:
    """Put a link to ``target`` at the top of a Data Docs page (replacing an earlier one).

    Used to set the explanation of a failure (the incident page) beside the failing expectations.
    ``text`` is the suite's own wording, escaped all the same.
    """
    from html import escape

    index = Path(index)
    html = _BANNER.sub("", index.read_text(encoding="utf-8"))
    href = Path(os.path.relpath(target, index.parent)).as_posix()
    banner = (
        '<!-- checks-banner --><div class="alert alert-danger" role="alert" style="margin: 1em">'
        f'<a class="alert-link" href="{escape(href)}">{escape(text)}</a></div><!-- /checks-banner -->'
    )
    html, inserted = re.subn(r"(<body[^>]*>)", lambda match: match.group(1) + banner, html, count=1)
    if inserted:
        _write_text(index, html)


_PAGE_LINKS = re.compile(r"<!-- checks-pages -->.*?<!-- /checks-pages -->", re.DOTALL)


def link_pages(index: Path, pages: list[tuple[Path, str]]) -> None:
    """Put links to ``pages`` ((page, text) pairs, such as the feed's history) under the top of a Data Docs page.

    A block of its own, beside the incident banner (``link_from_index``); an earlier block is replaced.
    """
    from html import escape

    index = Path(index)
    page = _PAGE_LINKS.sub("", index.read_text(encoding="utf-8"))
    items = "".join(
        f'<li><a href="{escape(Path(os.path.relpath(target, index.parent)).as_posix())}">{escape(text)}</a></li>'
        for target, text in pages
    )
    block = f'<!-- checks-pages --><ul class="list-unstyled" style="margin: 1em">{items}</ul><!-- /checks-pages -->'
    page, inserted = re.subn(r"(<body[^>]*>)", lambda match: match.group(1) + block, page, count=1)
    if inserted:
        _write_text(index, page)


FEEDS_INDEX = "index.html"


def write_feeds_index(out_dir: Path, decisions: list[dict[str, object]]) -> Path:
    """``out_dir/index.html``: every feed's latest decision, with links to its gate.json, Data Docs and history.

    ``decisions`` are the gates' ``gate.json`` contents (``feed``, ``decision``, ``findings``, ``results``,
    ``data_docs``, ``history``, ``error``); the page loads nothing from the network.
    """
    from html import escape

    out_dir = Path(out_dir)

    def link(target: object, text: str) -> str:
        if not target:
            return ""
        href = Path(os.path.relpath(Path(str(target)), out_dir)).as_posix()
        return f'<a href="{escape(href)}">{escape(text)}</a>'

    rows = []
    for item in decisions:
        findings = item.get("findings") or []
        reason = str(item.get("error") or f"{len(findings)} finding(s)")  # type: ignore[arg-type]
        colour = {"load": "#2f855a", "refuse": "#c53030"}.get(str(item.get("decision")), "#975a16")
        links = " · ".join(
            text for text in (
                link(item.get("results"), "gate.json"), link(item.get("data_docs"), "Data Docs"), link(item.get("history"), "history"),
            ) if text
        )
        rows.append(
            f"<tr><td>{escape(str(item.get('feed')))}</td><td style=\"color:{colour}\"><b>{escape(str(item.get('decision')))}</b></td>"
            f"<td>{escape(reason)}</td><td>{links}</td></tr>"
        )
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Every feed's gate</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head><body>"
        "<h1>Every feed's latest gate decision</h1><table><thead><tr><th>feed</th><th>decision</th><th>why</th>"
        f"<th>links</th></tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>\n"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_text(out_dir / FEEDS_INDEX, page)
    return out_dir / FEEDS_INDEX
