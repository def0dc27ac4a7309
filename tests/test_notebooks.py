"""Notebook hygiene and chapter anatomy (nbval itself runs the notebooks: see the Makefile)."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from notebook_tools import CHECK_TAG, ROOT, is_checked

NOTEBOOKS = sorted(p for p in [*ROOT.glob("chapters/**/*.ipynb"), *ROOT.glob("assignments/**/*.ipynb")]
                   if ".ipynb_checkpoints" not in p.parts)
CHAPTERS = sorted(ROOT.glob("chapters/[0-9][0-9]_*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files():
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [entry["file"] for entry in part["chapters"]]
    return files


def source(nb, kind=None):
    return "\n".join(c.source for c in nb.cells if kind is None or c.cell_type == kind)


def test_there_are_chapters():
    assert len(CHAPTERS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs_except_checked_cells(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            assert cell.outputs, f"cell {i} is tagged {CHECK_TAG} but stores no output to compare with"
            assert cell.execution_count, (f"cell {i}: nbval skips a checked cell without an execution "
                                          "count (python tests/notebook_tools.py <notebook> sets it)")
        else:
            assert not cell.outputs, (f"cell {i} stores outputs; only cells tagged {CHECK_TAG} may "
                                      "(python tests/notebook_tools.py <notebook> refreshes them)")
            assert cell.execution_count is None, f"cell {i} has an execution count: strip outputs before committing"
        assert "NBVAL" not in cell.source, "use the cell tag nbval-check-output, not a comment students see"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_anatomy(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    number = int(path.name[:2])
    assert first.cell_type == "markdown" and first.source.startswith(f"# {number}. ")
    for part in ("After this chapter you can", "**Time:**", "**Read:**"):
        assert part in first.source, f"the opening cell needs {part!r}"
    # The reading is the one the schedule on the home page lists: Prince (2023), or, for a
    # week the book does not cover, the book the schedule names instead.
    row = next(line for line in (ROOT / "intro.md").read_text().splitlines() if line.startswith(f"| {number} |"))
    if "not covered" in row:
        author = re.search(r"\{cite:t\}`([a-z]+)\d{4}`", row.split("not covered", 1)[1]).group(1)
        assert author.capitalize() in first.source, f"the schedule names {author} as the reading for week {number}"
    else:
        assert "Prince (2023)" in first.source, "the opening cell names the chapter of Prince (2023) to read"
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert "except ModuleNotFoundError" in setup.source and "%pip install" in setup.source
    assert "cfg = setup()" in setup.source
    md = source(nb, "markdown")
    assert md.count("<details>") >= 2 and md.count("<details>") == md.count("</details>")
    assert "## Exercises" in md and "## Key takeaways" in md and "{cite" in md
    assert "_explorer(" in source(nb, "code"), "each chapter has at least one interactive widget"
    assert "check_claim(" in source(nb, "code")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_setup_cell_installs_from_the_book_repository(path):
    setup = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    url = re.search(r'"(git\+[^"]+)"', setup.source).group(1)
    assert url == "git+" + CONFIG["repository"]["url"]


def test_no_deps_installs_in_notebooks_match_requirements_nodeps():
    """A package a notebook installs with --no-deps is the version requirements-nodeps.txt pins
    (the one make test, Binder and the Colab-clean test use)."""
    pinned = dict(line.split("==") for line in (ROOT / "requirements-nodeps.txt").read_text().split()
                  if "==" in line)
    found = set()
    for path in CHAPTERS + sorted(ROOT.glob("assignments/*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for line in cell.source.splitlines():
                if "%pip install" in line and "--no-deps" in line:
                    for name, version in re.findall(r"([A-Za-z0-9_.-]+)==([^\s\"']+)", line):
                        assert pinned.get(name) == version, f"{path.name}: {name}=={version}, pinned {pinned.get(name)}"
                        found.add(name)
    # A pin no notebook installs yet is one that utils.models tells the student to install, the same version.
    models = (ROOT / "utils" / "models.py").read_text()
    for name in set(pinned) - found:
        assert f"{name}=={pinned[name]}" in models, f"{name} is pinned but neither installed by a notebook nor named by utils.models"
    assert found, "the chapters install the packages of requirements-nodeps.txt with --no-deps"


def test_widgets_have_their_output_removed_in_the_book():
    """A widget cannot run on a static page: its cell is tagged remove-output and a figure follows."""
    for path in CHAPTERS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and re.search(r"^\w+_explorer\(", cell.source, re.M):
                assert "remove-output" in cell.metadata.get("tags", []), path.name


def test_toc_lists_existing_pages_and_every_chapter():
    for ref in toc_files():
        assert any((ROOT / (ref + ext)).exists() for ext in ("", ".md", ".ipynb")), f"_toc.yml names missing {ref}"
    listed = {ref for ref in toc_files() if ref.startswith("chapters/")}
    assert listed == {f"chapters/{p.stem}" for p in CHAPTERS}, "every chapter notebook is in _toc.yml"


def test_schedule_links_only_to_written_weeks():
    intro = (ROOT / "intro.md").read_text()
    linked = set(re.findall(r"\(chapters/([\w]+)\.ipynb\)", intro))
    assert linked == {p.stem for p in CHAPTERS}
    schedule_rows = re.findall(r"^\|\s*(\d+)\s*\|", intro, re.M)
    assert [int(n) for n in schedule_rows] == list(range(1, 15)), "the schedule lists all 14 weeks"
