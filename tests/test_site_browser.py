"""The built site in a real browser: headless Chromium (Debian's) driven by Playwright.

The site is served on localhost, as a reader's browser would get it. Every page must load
without JavaScript errors, show its maths rendered and its figures loaded, each with a text
alternative; chapter pages must carry working Colab/Binder links; search must find a chapter;
citations must resolve; and the accessibility checker axe-core (4.12, shipped in the PyPI
package axe-playwright-python) must find no serious or critical violation on any page.
A screenshot of every page is kept in ``test-artifacts/screenshots`` for a human to look at,
and the checker's findings, of every impact, in ``test-artifacts/accessibility``.
"""

import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from notebook_tools import ROOT

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO = CONFIG["repository"]["url"].removeprefix("https://github.com/")
BRANCH = CONFIG["repository"]["branch"]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = [TOC["root"]] + [entry["file"] for part in TOC["parts"] for entry in part["chapters"]]
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]
SHOTS = ROOT / "test-artifacts" / "screenshots"
FINDINGS = ROOT / "test-artifacts" / "accessibility"
#: Impacts that fail a page (axe-core's scale: minor, moderate, serious, critical).
BLOCKING = ("serious", "critical")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "Chromium is missing: make test installs the Debian package chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-background-networking"])
        yield chromium
        chromium.close()


def visit(browser, url):
    """Open ``url``; returns the page and the JavaScript errors it raised."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on("console", lambda msg: msg.type == "error" and not _network_failure(msg.text)
            and errors.append(f"console: {msg.text}"))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle", timeout=15000)
    return page, errors


def _network_failure(text: str) -> bool:
    """A resource from another host failed to load: expected offline, not a JavaScript error."""
    return text.startswith("Failed to load resource") and "127.0.0.1" not in text


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_errors_and_renders(browser, server, name):
    page, errors = visit(browser, f"{server}/{name}.html")
    try:
        maths = page.locator("div.math, span.math").count()
        if maths:
            try:
                page.wait_for_selector("mjx-container", timeout=15000)
            except PlaywrightTimeout:
                pass                                     # the count below says what is missing
        SHOTS.mkdir(parents=True, exist_ok=True)         # kept also when a check below fails
        page.screenshot(path=str(SHOTS / f"{name.replace('/', '__')}.png"), full_page=True)
        assert page.title() and page.locator("main h1").count() >= 1
        if maths:
            rendered = page.locator("mjx-container").count()
            assert rendered >= page.locator("div.math, span.math").count(), "some maths is not rendered"
        broken = page.eval_on_selector_all(
            "main img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], f"images that did not load: {broken}"
        # Each figure of the page's text says what it shows; an alt that is a file name (the
        # default for notebook outputs) says nothing. (The theme's button icons say "Colab logo".)
        mute = page.eval_on_selector_all(
            "main article.bd-article img", r"imgs => imgs.filter(i => !i.alt || i.alt.trim().split(/\s+/).length < 5 "
                        r"|| /\.(png|jpe?g|svg|gif)$/i.test(i.alt.trim())).map(i => i.src)")
        assert mute == [], f"images without a text alternative: {mute}"
        assert errors == [], errors
    finally:
        page.close()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_launch_buttons_open_this_chapter(browser, server, chapter):
    page, _ = visit(browser, f"{server}/{chapter}.html")
    try:
        links = [a.get_attribute("href") for a in page.locator("a[href]").all()]
        colab = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{chapter}.ipynb"
        assert colab in links, "the Colab button"
        binder = [h for h in links if h.startswith(f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}")]
        assert binder and binder[0].endswith(f"{chapter}.ipynb"), "the Binder button"
        download = [h for h in links if h.endswith(".ipynb") and "_sources" in h]
        assert download, "the download button"
        response = page.request.get(f"{server}/{chapter}.html".rsplit("/", 1)[0] + "/" + download[0])
        assert response.ok and b'"cells"' in response.body(), "the notebook can be downloaded"
    finally:
        page.close()


def test_search_finds_a_chapter(browser, server):
    page, errors = visit(browser, f"{server}/search.html?q=perceptron")
    try:
        page.wait_for_selector("#search-results li a", timeout=15000)
        hits = [a.get_attribute("href") for a in page.locator("#search-results li a").all()]
        assert any("04_perceptrons_and_mlps" in h for h in hits), hits
        assert errors == []
    finally:
        page.close()


def test_citations_resolve_to_the_bibliography(browser, server):
    bibliography, _ = visit(browser, f"{server}/bibliography.html")
    ids = set(bibliography.eval_on_selector_all("[id]", "nodes => nodes.map(n => n.id)"))
    bibliography.close()
    checked = 0
    for chapter in CHAPTERS:
        page, _ = visit(browser, f"{server}/{chapter}.html")
        for href in page.eval_on_selector_all("a[href*='bibliography.html#']", "a => a.map(x => x.getAttribute('href'))"):
            assert href.split("#", 1)[1] in ids, f"{chapter}: citation {href} points nowhere"
            checked += 1
        page.close()
    assert checked >= 2 * len(CHAPTERS), "each chapter cites its sources"


def accessibility_violations(page) -> list[dict]:
    """What axe-core finds on the page: one entry per rule broken, with its impact and where."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [{"rule": v["id"], "impact": v["impact"], "help": v["help"],
             "where": [" ".join(node["target"]) if isinstance(node["target"], list) else str(node["target"])
                       for node in v["nodes"]][:10], "count": len(v["nodes"])} for v in found]


@pytest.mark.parametrize("name", PAGES)
def test_page_passes_the_accessibility_checker(browser, server, name):
    """axe-core finds no serious or critical violation (contrast, names of links and buttons,
    alt texts, landmarks, ARIA use ...). Its findings are kept for every page, minor ones too."""
    page, _ = visit(browser, f"{server}/{name}.html")
    try:
        if page.locator("div.math, span.math").count():
            try:
                page.wait_for_selector("mjx-container", timeout=15000)
            except PlaywrightTimeout:
                pass
        found = accessibility_violations(page)
    finally:
        page.close()
    FINDINGS.mkdir(parents=True, exist_ok=True)
    (FINDINGS / f"{name.replace('/', '__')}.json").write_text(json.dumps(found, indent=1))
    blocking = [f"{v['rule']} ({v['impact']}, {v['count']}x): {v['help']} at {v['where'][:3]}"
                for v in found if v["impact"] in BLOCKING]
    assert blocking == [], "\n".join(blocking)
