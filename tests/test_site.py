"""The static web leaderboard (``results/site/``): its rows are the Markdown pages' rows, every link
resolves inside the results folder, no network is needed, output is deterministic and stale pages go;
and in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium): pages load
without console errors, sorting and filtering work, every link answers, served from a local
http.server and opened from a file:// URL alike. A screenshot of the index is saved (its path is
printed).

Chromium missing? ``make browser`` installs it (apt-get, as root); ``make test`` does so first.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import tempfile
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit
from urllib.request import urlopen

import pytest
from test_leaderboard import REAL, TWIN, cells, golden_results, section, tables, write_store

from mer_bench.report.cells import PART_HEADERS, RANKED_HEADERS
from mer_bench.report.publish import publish
from mer_bench.report.sources import data_source_group
from mer_bench.store import ResultStore

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# As this machine's notes say: no sandbox as root, and no background connections to a closed network;
# /tmp instead of a possibly small /dev/shm in containers.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000"]
PAGES = ["index.html", "casme2.html", "megc2019.html", "compare-annotated-vs-gamdss.html",
         "compare-fixed-epochs-vs-oracle.html"]
TWIN_LABEL = data_source_group(TWIN).label
REAL_LABEL = data_source_group(REAL).label


# ---------------------------------------------------------------------------------------------
# Reading the generated HTML


class Page(HTMLParser):
    """A generated page as data: its tables (rows of cell texts, attributes and links), every URL it
    names, its element ids and its filter choices."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.urls: list[str] = []
        self.ids: set[str] = set()
        self.sections: list[str] = []  # ids of the protocol sections, in order
        self.filters: dict[str, list[str]] = {}
        self._open: list[dict] = []
        self._body = ""
        self._row: dict | None = None
        self._cell: dict | None = None
        self._select: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
            if tag == "section":
                self.sections.append(attributes["id"])
        for name in ("href", "src"):
            if name in attributes:
                self.urls.append(attributes[name])
        if tag == "table":
            self._open.append({"headers": [], "rows": [], "references": [], "section": (self.sections or [""])[-1]})
        elif tag == "tbody":
            self._body = attributes.get("class") or "rows"
        elif tag == "tr" and self._open:
            self._row = {"cells": [], "class": attributes.get("class") or "",
                         "filters": json.loads(attributes["data-filters"]) if "data-filters" in attributes else None}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"text": "", "sort": attributes.get("data-sort"), "links": []}
        elif tag == "a" and self._cell is not None:
            self._cell["links"].append(attributes["href"])
        elif tag == "select":
            self._select = attributes["data-filter"]
            self.filters[self._select] = []
        elif tag == "option" and self._select is not None:
            self.filters[self._select].append(attributes["value"])

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            table = self._open[-1]
            if self._body == "":
                table["headers"] = [cell["text"] for cell in self._row["cells"]]
            else:
                table["references" if self._body == "references" else "rows"].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._body = ""
        elif tag == "table":
            self.tables.append(self._open.pop())
        elif tag == "select":
            self._select = None


def read_page(site: Path, name: str) -> Page:
    return Page((site / name).read_text(encoding="utf-8"))


def texts(rows: list[dict], count: int | None = None) -> list[list[str]]:
    return [[cell["text"] for cell in row["cells"][:count]] for row in rows]


def markdown_rows(table: list[str]) -> list[list[str]]:
    return [cells(line) for line in table[2:]]


def site_files(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted((root / "site").rglob("*"))
            if path.is_file()}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A results folder holding the golden records and everything published from them (read-only)."""
    root = tmp_path_factory.mktemp("site") / "results"
    write_store(golden_results(), root)
    store = ResultStore(root)
    publish(store.load_all(), root, records_dir=store.records_dir)
    return root


@pytest.fixture
def published_copy(published: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(published, tmp_path / "results"))


# ---------------------------------------------------------------------------------------------
# The generated files


def test_the_site_has_an_index_a_page_per_family_and_per_comparison(published: Path) -> None:
    assert sorted(site_files(published)) == sorted(
        [f"site/{page}" for page in PAGES] + ["site/assets/site.css", "site/assets/site.js"])
    index = (published / "LEADERBOARD.md").read_text()
    assert "[site/index.html](site/index.html)" in index, "the Markdown index points at the site"


def test_family_tables_show_the_markdown_rows_in_the_same_order(published: Path) -> None:
    for family, protocols in (("casme2", ["casme2-3class", "casme2-5class", "casme2-3class-megc"]),
                              ("megc2019", ["megc2019-3class"])):
        markdown = (published / "leaderboards" / f"{family}.md").read_text()
        page = read_page(published / "site", f"{family}.html")
        main = [table for table in page.tables if table["headers"][0] == "rank"]
        assert [table["section"].split("--")[0] for table in main] == protocols
        for table in main:
            protocol = table["section"].split("--")[0]
            expected = markdown_rows(tables(section(markdown, protocol))[0])
            assert table["headers"] == [*RANKED_HEADERS, "confusion", "records"]
            shown = texts(table["rows"] + table["references"], len(RANKED_HEADERS))
            assert shown == [row[:len(RANKED_HEADERS)] for row in expected], protocol
    megc = read_page(published / "site", "megc2019.html")
    (parts,) = [table for table in megc.tables if table["headers"][0] == "dataset"]
    assert parts["headers"] == PART_HEADERS
    expected = markdown_rows(tables((published / "leaderboards/megc2019.md").read_text())[1])
    shown = texts(parts["rows"] + parts["references"])
    assert sorted(shown) == sorted(expected), "the same per-dataset rows; references gathered at the end"
    assert all(row[2] == "reference" for row in texts(parts["references"]))


def test_the_index_shows_the_markdown_index_rows_with_best_and_tied(published: Path) -> None:
    markdown = tables((published / "LEADERBOARD.md").read_text())
    page = read_page(published / "site", "index.html")
    assert len(page.tables) == 2, "one table per data source, as in LEADERBOARD.md"
    for site_table, markdown_table in zip(page.tables, markdown):
        expected = [[re.sub(r"^\[(.*)\]\(.*\)$", r"\1", cell) for cell in row] for row in markdown_rows(markdown_table)]
        assert texts(site_table["rows"]) == expected
    results = {row["cells"][7]["text"]: row["class"] for table in page.tables for row in table["rows"]}
    assert results == {"tied": "result-tied", "only row": "result-only", "tied (too few subjects)": "result-tied",
                       "best": "result-best"}
    assert "majority UF1" in page.tables[0]["headers"] and "chance UF1" in page.tables[0]["headers"]


def test_comparison_pages_show_the_markdown_comparison_rows(published: Path) -> None:
    for name in ("annotated-vs-gamdss", "fixed-epochs-vs-oracle"):
        expected = markdown_rows(tables((published / "compare" / f"{name}.md").read_text())[0])
        (table,) = read_page(published / "site", f"compare-{name}.html").tables
        assert texts(table["rows"], -1) == expected, name
        assert table["headers"][-1] == "records"
    page = (published / "site" / "compare-fixed-epochs-vs-oracle.html").read_text()
    assert "This table measures inflation, not performance." in page
    assert 'src="../compare/fixed-epochs-vs-oracle.png"' in page, "the forest plot"


def test_flags_oracle_marks_and_chance_references_are_shown(published: Path) -> None:
    page = read_page(published / "site", "casme2.html")
    (table,) = [t for t in page.tables if t["section"].startswith("casme2-3class--twin")]
    by_model = {(row["cells"][1]["text"], row["cells"][3]["text"]): row for row in table["rows"]}
    assert "flagged" in by_model[("constant-net", "fixed-epochs")]["class"]
    assert by_model[("constant-net", "fixed-epochs")]["cells"][11]["text"].startswith("⚠ ")
    assert "oracle" in by_model[("ststnet", "oracle ⚠")]["class"]
    assert by_model[("ststnet", "oracle ⚠")]["cells"][0]["text"] == "–", "oracle rows are never ranked"
    assert [row["cells"][1]["text"] for row in table["references"]] == [
        "majority class (negative)", "uniform guessing (expected)"]
    assert all(row["filters"] is None for row in table["references"]), "no filter hides the references"
    assert all(row["filters"] is not None for row in table["rows"])
    assert {row["cells"][10]["text"] for row in table["rows"]} >= {"top", "tied"}


def test_filters_offer_model_keyframes_data_source_and_selection(published: Path) -> None:
    page = read_page(published / "site", "casme2.html")
    assert page.filters == {"model": ["", "constant-net", "ststnet", "timm:resnet18"],
                            "keyframes": ["", "annotated", "gamdss"],
                            "data": ["", REAL_LABEL, TWIN_LABEL],
                            "selection": ["", "fixed-epochs", "oracle"]}
    compare = read_page(published / "site", "compare-annotated-vs-gamdss.html")
    assert set(compare.filters) == {"model", "data", "selection"}


def test_every_link_resolves_to_a_file_inside_the_results_folder(published: Path) -> None:
    site = published / "site"
    checked = 0
    for name in PAGES:
        page = read_page(site, name)
        for url in page.urls:
            if url == "data:,":  # the empty favicon, which keeps browsers from asking for one
                continue
            assert not urlsplit(url).scheme and not url.startswith("//"), f"{name}: {url} leaves the folder"
            path, anchor = urldefrag(url)
            target = (site / unquote(path)).resolve() if path else site / name
            assert target.is_file(), f"{name}: {url} -> {target} does not exist"
            assert target.is_relative_to(published.resolve()), f"{name}: {url} leaves the results folder"
            if anchor:
                assert anchor in read_page(target.parent, target.name).ids, f"{name}: {url}: no #{anchor}"
            checked += 1
    assert checked > 100


def test_rows_link_to_the_records_they_come_from(published: Path) -> None:
    site = published / "site"
    page = read_page(site, "casme2.html")
    (table,) = [t for t in page.tables if t["section"].startswith("casme2-3class--twin")]
    for row in table["rows"]:
        model, keyframes, selection = (row["cells"][i]["text"] for i in (1, 2, 3))
        links = row["cells"][-1]["links"]
        assert len(links) == int(row["cells"][4]["text"]), "one record per seed"
        for url in links:
            record = json.loads((site / unquote(url)).read_text())
            cell = record["cell"]
            assert (cell["model"], cell["keyframes"], cell["selection"]) == (model, keyframes,
                                                                             selection.removesuffix(" ⚠"))
        confusion = row["cells"][-2]["links"]
        assert len(confusion) == 1 and confusion[0].startswith("../plots/confusion/")
    resnet = [row for row in table["rows"] if row["cells"][1]["text"] == "timm:resnet18"][0]
    assert "/timm%253Aresnet18/" in resnet["cells"][-1]["links"][0], "the % of a record folder is quoted"
    (compare,) = read_page(site, "compare-annotated-vs-gamdss.html").tables
    for row in compare["rows"]:
        sides = [json.loads((site / unquote(url)).read_text())["cell"]["keyframes"] for url in row["cells"][-1]["links"]]
        assert sorted(set(sides)) == ["annotated", "gamdss"] and len(sides) == 2 * int(row["cells"][5]["text"])


def test_no_network_no_timestamps_nothing_machine_specific(published: Path) -> None:
    for name, data in site_files(published).items():
        text = data.decode("utf-8")
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), f"{name} loads something from the network"
        assert "http://" not in text and "https://" not in text, name
        assert "2026-01-01" not in text and str(published) not in text and str(Path.home()) not in text, name


def test_regenerating_gives_identical_bytes(published: Path, published_copy: Path, tmp_path: Path) -> None:
    before = site_files(published)
    store = ResultStore(published_copy)
    publish(store.load_all(), published_copy, records_dir=store.records_dir)
    assert site_files(published_copy) == before
    fresh = tmp_path / "fresh"
    shutil.copytree(published / "records", fresh / "records")
    publish(list(reversed(ResultStore(fresh).load_all())), fresh, records_dir=fresh / "records")
    assert site_files(fresh) == before


def test_pages_that_disappear_are_removed_and_other_files_stay(published_copy: Path) -> None:
    site = published_copy / "site"
    (site / "notes.html").write_text("<p>my notes</p>\n")
    (site / "assets" / "mine.js").write_text("// mine\n")
    records = published_copy / "records" / "twin-scale0.15-seed0"
    shutil.rmtree(records / "megc2019-3class")
    shutil.rmtree(records / "casme2-3class" / "ststnet" / "annotated" / "seed0-oracle")
    store = ResultStore(published_copy)
    publish(store.load_all(), published_copy, records_dir=store.records_dir)
    assert not (site / "megc2019.html").exists()
    assert not (site / "compare-fixed-epochs-vs-oracle.html").exists()
    assert (site / "casme2.html").is_file() and (site / "compare-annotated-vs-gamdss.html").is_file()
    assert (site / "notes.html").read_text() == "<p>my notes</p>\n" and (site / "assets" / "mine.js").is_file()
    index = (site / "index.html").read_text()
    assert "megc2019.html" not in index and "compare-fixed-epochs-vs-oracle.html" not in index


def test_the_cli_and_the_api_write_the_site(published: Path, published_copy: Path, cli) -> None:
    from mer_bench import api

    shutil.rmtree(published_copy / "site")
    code, out, err = cli("leaderboard", "--results", published_copy)
    assert code == 0, err
    assert f"open {published_copy / 'site' / 'index.html'}" in out
    assert site_files(published_copy) == site_files(published)
    shutil.rmtree(published_copy / "site")
    rows = api.leaderboard(published_copy)
    assert site_files(published_copy) == site_files(published) and len(rows)


# ---------------------------------------------------------------------------------------------
# In a real browser


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Selenium through Debian's chromedriver (no download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install Debian's chromium and chromium-driver "
                    "(`make browser`, as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="mer-bench-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def server(published: Path):
    """The results folder served by http.server on 127.0.0.1 (a free port); yields the site's base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(published)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/site/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def load(browser, url: str) -> list[dict]:
    """Open ``url``; returns the console messages it logged (errors, warnings, failed loads)."""
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(url)
    return [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def visible_rows(browser, section_id: str, model_column: int = 1) -> list[tuple[str, str]]:
    """(model, UF1 text) of the shown rows of a section's first table body, in shown order."""
    rows = browser.execute_script(
        "const s = document.getElementById(arguments[0]);"
        "return Array.from(s.querySelector('table').tBodies[0].rows)"
        ".filter(r => r.offsetParent !== null).map(r => [r.cells[arguments[1]].textContent, r.cells[8].textContent]);",
        section_id, model_column)
    return [tuple(row) for row in rows]


def read_page_ids(browser) -> list[str]:
    return browser.execute_script("return Array.from(document.querySelectorAll('section[id]')).map(s => s.id)")


def test_every_page_loads_without_console_errors_and_shows_its_images(browser, server: str) -> None:
    for name in PAGES:
        assert load(browser, server + name) == [], name
        assert browser.execute_script("return document.querySelectorAll('table.sortable').length") > 0, name
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => i.offsetParent !== null && i.loading !== 'lazy')"
            ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], name


def test_sorting_by_a_column_keeps_the_references_last(browser, server: str) -> None:
    from selenium.webdriver.common.by import By

    assert load(browser, server + "casme2.html") == []
    section_id = next(i for i in read_page_ids(browser) if i.startswith("casme2-3class--twin"))
    header = browser.find_element(By.CSS_SELECTOR, f"#{section_id} thead th:nth-child(9) button")  # UF1
    header.click()
    ascending = browser.execute_script(
        "return Array.from(document.querySelectorAll(`#${arguments[0]} table tbody:first-of-type tr td:nth-child(9)`))"
        ".map(td => td.dataset.sort)", section_id)
    keys = [float(key) for key in ascending]
    assert keys == sorted(keys) and len(keys) == 5
    assert browser.find_element(By.CSS_SELECTOR, f"#{section_id} thead th:nth-child(9)").get_attribute(
        "aria-sort") == "ascending"
    header.click()
    descending = [float(key) for key in browser.execute_script(
        "return Array.from(document.querySelectorAll(`#${arguments[0]} table tbody:first-of-type tr td:nth-child(9)`))"
        ".map(td => td.dataset.sort)", section_id)]
    assert descending == sorted(keys, reverse=True)
    last_rows = browser.execute_script(
        "const rows = document.querySelectorAll(`#${arguments[0]} table tr`);"
        "return Array.from(rows).slice(-2).map(r => r.cells[1].textContent)", section_id)
    assert last_rows == ["majority class (negative)", "uniform guessing (expected)"]
    browser.find_element(By.CSS_SELECTOR, f"#{section_id} thead th:nth-child(1) button").click()  # rank
    ranks = [rank for rank, _ in visible_rows(browser, section_id, 0)]
    assert ranks == ["1", "1", "2", "–", "–"], "the two groups' ranks ascending, unranked rows last"
    browser.find_element(By.CSS_SELECTOR, f"#{section_id} thead th:nth-child(1) button").click()
    ranks = [rank for rank, _ in visible_rows(browser, section_id, 0)]
    assert ranks == ["2", "1", "1", "–", "–"], "unranked rows last in either direction"
    browser.find_element(By.CSS_SELECTOR, f"#{section_id} thead th:nth-child(2) button").click()  # model
    models = [model for model, _ in visible_rows(browser, section_id)]
    assert models == sorted(models)


def test_filters_hide_other_rows_and_empty_sections(browser, server: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    assert load(browser, server + "casme2.html") == []
    ids = read_page_ids(browser)
    twin_3class = next(i for i in ids if i.startswith("casme2-3class--twin"))
    five = next(i for i in ids if i.startswith("casme2-5class"))
    real = next(i for i in ids if i.startswith("casme2-3class-megc"))

    def shown(section_id: str) -> bool:
        return browser.find_element(By.ID, section_id).is_displayed()

    Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter=model]")).select_by_value("timm:resnet18")
    assert {model for model, _ in visible_rows(browser, twin_3class)} == {"timm:resnet18"}
    assert not shown(five) and not shown(real), "sections without a matching row are hidden"
    references = browser.find_elements(By.CSS_SELECTOR, f"#{twin_3class} tbody.references tr")
    assert len(references) == 2 and all(row.is_displayed() for row in references)
    assert browser.find_element(By.CSS_SELECTOR, "output.filter-count").text == "1 of 9 rows shown"

    Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter=model]")).select_by_value("")
    Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter=data]")).select_by_value(REAL_LABEL)
    assert shown(real) and not shown(twin_3class) and not shown(five)
    Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter=data]")).select_by_value("")

    Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter=keyframes]")).select_by_value("gamdss")
    Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter=selection]")).select_by_value("fixed-epochs")
    assert {model for model, _ in visible_rows(browser, twin_3class)} == {"ststnet"}
    assert len(visible_rows(browser, twin_3class)) == 1 and shown(five) and shown(real)

    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=reset]").click()
    # the page re-filters in a zero-delay timeout (the selects reset after the event): wait for it
    WebDriverWait(browser, 5).until(lambda _: len(visible_rows(browser, twin_3class)) == 5)
    assert shown(five) and shown(real)
    assert browser.find_element(By.CSS_SELECTOR, "output.filter-count").text == ""

    assert load(browser, server + "index.html") == []
    Select(browser.find_element(By.CSS_SELECTOR, "select[data-filter=model]")).select_by_value("timm:resnet18")
    protocols = browser.execute_script(
        "return Array.from(document.querySelectorAll('tbody tr')).filter(r => r.offsetParent !== null)"
        ".map(r => r.cells[1].textContent + ' ' + r.cells[3].textContent)")
    assert protocols == ["casme2-3class fixed-epochs · 2 seeds"], "the index filters by the top rows' models"


def test_every_link_answers_from_the_server(browser, server: str, published: Path) -> None:
    origin = server.rsplit("/site/", 1)[0]
    seen: set[str] = set()
    for name in PAGES:
        assert load(browser, server + name) == [], name
        urls = browser.execute_script(
            "return Array.from(document.querySelectorAll('a[href], img[src], link[href], script[src]'))"
            ".map(e => e.href || e.src)")
        for url in urls:
            if url.startswith("data:"):
                continue
            assert url.startswith(origin + "/"), f"{name} links outside the results folder: {url}"
            address, anchor = urldefrag(url)
            if address in seen and not anchor:
                continue
            seen.add(address)
            with urlopen(address, timeout=10) as response:
                assert response.status == 200, url
                body = response.read()
            local = published / unquote(urlsplit(address).path).lstrip("/")
            assert local.is_file() and body == local.read_bytes(), url
            if anchor:
                assert f'id="{anchor}"' in body.decode("utf-8"), url
    assert any(url.endswith("/record.json") for url in seen)
    assert any("/plots/confusion/" in url for url in seen) and any(url.endswith(".png") and "/compare/" in url
                                                                     for url in seen)


def test_the_site_works_from_a_file_url(browser, published: Path) -> None:
    from selenium.webdriver.common.by import By

    for name in PAGES:
        assert load(browser, (published / "site" / name).as_uri()) == [], name
    assert load(browser, (published / "site" / "casme2.html").as_uri()) == []
    section_id = next(i for i in read_page_ids(browser) if i.startswith("casme2-3class--twin"))
    browser.find_element(By.CSS_SELECTOR, f"#{section_id} thead th:nth-child(2) button").click()
    models = [model for model, _ in visible_rows(browser, section_id)]
    assert models == sorted(models)
    link = browser.find_element(By.CSS_SELECTOR, f"#{section_id} tbody tr td:last-child a").get_attribute("href")
    assert Path(unquote(urlsplit(link).path)).is_file(), "a record link opens from the folder"


def test_a_screenshot_of_the_index(browser, server: str, tmp_path_factory, capsys) -> None:
    assert load(browser, server + "index.html") == []
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(height + 120, 4000))
    path = tmp_path_factory.mktemp("screenshots") / "site-index.png"
    assert browser.save_screenshot(str(path))
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000
    browser.set_window_size(1400, 1000)
    with capsys.disabled():
        print(f"\nscreenshot of the site's index: {path}")


def test_a_broken_page_would_be_caught(browser, published_copy: Path) -> None:
    """The console check is real: a script error and a missing image are reported."""
    page = published_copy / "site" / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>'
                    '<body><img src="missing.png"><script>undefinedFunction();</script></body></html>\n')
    logged = load(browser, page.as_uri())
    assert any("undefinedFunction" in entry["message"] for entry in logged)
    assert any("missing.png" in entry["message"] for entry in logged)
