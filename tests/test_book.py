"""The book builds with warnings as errors, and its pages carry what students need.

The book is built from this session's chapter runs (the ``site`` fixture in conftest.py:
fast, offline, in the Colab-like environment) into ``_build/test/book``, so it never touches
the instructor's ``_build`` cache and executes nothing itself.
"""

import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import nbformat
import pytest
import yaml

from notebook_tools import ROOT

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO = CONFIG["repository"]["url"].removeprefix("https://github.com/")
BRANCH = CONFIG["repository"]["branch"]
CHAPTERS = sorted(p.stem for p in ROOT.glob("chapters/[0-9][0-9]_*.ipynb"))


def page(site, name):
    path = site / f"{name}.html"
    assert path.exists(), f"{name}.html was not built"
    return path.read_text()


def test_landing_page_and_reference_pages(site):
    intro = page(site, "intro")
    assert (site / "index.html").exists()
    for text in ("Prince", "Colab", "Binder", "60%"):
        assert text in intro
    assert page(site, "datasets").count("<h2") >= 8, "every dataset has its own data-sheet section"
    bib_keys = re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M)
    assert page(site, "bibliography").count('<div class="citation" ') == len(bib_keys)


def test_execution_status_lists_every_chapter_with_its_run_time(site):
    """The table shows each chapter's one run: its time is the time the run measured."""
    from notebook_runs import runs

    html = page(site, "execution-status")
    table = unescape(re.sub(r"<[^>]+>", " ", html[html.index("<table"):html.index("</table>")]))
    for chapter, run in runs().items():
        row = re.search(rf"chapters/{chapter}\s+(\d{{4}}-\d\d-\d\d \d\d:\d\d)\s+(\w+)\s+([\d.]+)\s+(.+?)\n", table)
        assert row, f"{chapter} is not in the execution-status table"
        assert row.group(4).strip() == "✅ ran", row.group(0)
        assert float(row.group(3)) == pytest.approx(run.seconds, abs=0.1), row.group(0)


def test_bibliography_holds_every_reference_the_course_brief_lists():
    brief = (ROOT.parent / "shared" / "COURSE.md")
    if not brief.exists():
        pytest.skip("../shared/COURSE.md is not beside this clone")
    text = brief.read_text().split("## References the course cites")[1].split("\n## ")[0]
    text = " ".join(text.split("\n")[1:])
    while "(" in text:  # drop titles and notes in (nested) brackets: "Argyle et al. 2023 (...)"
        text = re.sub(r"\([^()]*\)", "", text)
    items = [re.match(r"\s*([A-Z][A-Za-z]+)\D*(\d{4})", item) for item in text.split(";")]
    wanted = {f"{m.group(1).lower()}{m.group(2)}" for m in items if m}
    bib_keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M))
    assert len(wanted) >= 25
    assert wanted <= bib_keys, f"missing from references.bib: {sorted(wanted - bib_keys)}"

@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_page_has_executed_figures_and_launch_buttons(site, chapter):
    html = page(site, f"chapters/{chapter}")
    assert html.count("<img") >= 3, "the executed figures are missing"
    colab = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/chapters/{chapter}.ipynb"
    assert colab in html, "no Colab button"
    binder = re.search(rf"https://mybinder.org/v2/gh/{REPO}/{BRANCH}\?urlpath=[^\"']*{chapter}\.ipynb", html)
    assert binder, "no Binder button"
    assert "Traceback" not in html
    text = re.sub(r"<[^>]+>", "", html)
    prose = re.sub(r"<pre>.*?</pre>", "", html, flags=re.S)  # code may hold "$" (matplotlib labels)
    assert "$" not in re.sub(r"<[^>]+>", "", prose), "maths left unrendered"
    assert "offline" in text, "the setup cell says where the data came from"


ASSIGNMENT_PAGES = sorted(p.stem for p in ROOT.glob("assignments/pages/*.md"))


def test_assessment_pages_are_built(site):
    assert ASSIGNMENT_PAGES, "make assignments writes the assignment pages before the book is built"
    for name in ("project", "instructors"):
        assert "<h1" in page(site, name)
    text = {name: unescape(re.sub(r"<[^>]+>", "", page(site, name))) for name in ("project", "instructors")}
    assert "60%" in text["project"] and "make grade ASSIGNMENT=" in text["instructors"]


@pytest.mark.parametrize("name", ASSIGNMENT_PAGES)
def test_assignment_page_is_the_student_version(site, name):
    """The book shows what students get, with the release to download, and none of the secrets."""
    sys.path.insert(0, str(ROOT / "assignments"))
    import grading
    import release

    html = page(site, f"assignments/pages/{name}")
    assert "grader.check" in html and "..." in html
    assert re.search(rf'href="[^"]*{name}-student\.zip"', html), "the student release can be downloaded"
    downloads = list(site.glob(f"_downloads/*/{name}-student.zip"))
    assert downloads, "the zip is copied into the site"
    tests = grading.load_tests(ROOT / "_build" / "assignments" / name / "instructor" / "tests")
    secrets = release.secret_lines(ROOT / "assignments" / name / f"{name}.ipynb", tests)
    text = unescape(re.sub(r"<[^>]+>", "", html))
    leaks = [s for s in secrets if s in text]
    assert leaks == [], f"solution or hidden-test lines on the page: {leaks[:5]}"
    site_text = unescape(re.sub(r"<[^>]+>", "", "\n".join(p.read_text(errors="replace") for p in site.rglob("*.html"))))
    # Common code a chapter teaches (``model.compile(...)``) is no secret even if a solution uses it.
    chapters = "\n".join(c.source for p in ROOT.glob("chapters/*.ipynb") for c in nbformat.read(p, as_version=4).cells)
    assert [s for s in secrets if s in site_text and s not in chapters] == [], "a secret appears somewhere in the site"
