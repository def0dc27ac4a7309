"""What the chapter runs show together (these tests run last, after the book is built).

Each chapter ran exactly once in this session, alone in an empty folder, in the Colab-like
environment; its setup cell installed the course package without changing any version Colab
has; and the book was built from those runs without executing a notebook again.
"""

import nbformat
from colab_env import colab_versions
from notebook_runs import CHAPTERS, chapter_stems, harness, runs


def expected_chapters(config) -> list[str]:
    wanted = config.getoption("chapter")
    return [s for s in chapter_stems() if not wanted or s.startswith(wanted.zfill(2)) or s == wanted]


def test_each_chapter_ran_exactly_once_to_the_end(request):
    h = harness(request.config)
    done = runs()
    assert sorted(done) == expected_chapters(request.config)
    for chapter, run in done.items():
        assert run.kernel_starts == 1 and h.executions[str(CHAPTERS / f"{chapter}.ipynb")] == 1, chapter
        assert run.complete, f"{chapter}: not every cell ran"
        assert run.failed_cells == {}, f"{chapter}: cells failed: {sorted(run.failed_cells)}"
        assert run.python == str(h.external or h.env.run / "bin" / "python"), "a fresh copy of the Colab-like environment"
    # nbval's own collector is off (no --nbval or --nbval-lax), so it cannot run a chapter again.
    assert not request.config.option.nbval and not request.config.option.nbval_lax


def test_the_book_executed_no_notebook(site, request):
    log = (harness(request.config).book_dir / "build.log").read_text()
    assert "Executing notebook" not in log
    assert log.count("Using cached notebook") == len(runs())


def test_setup_cells_change_no_version_colab_has(request):
    """What a chapter's setup installs (the course package, fer) leaves every package the
    environment had at its version; a package it adds that Colab also has comes at Colab's version."""
    colab = colab_versions()
    external = harness(request.config).external
    for chapter, run in runs().items():
        before, after = run.packages_before, run.packages_after
        changed = {name: (version, after.get(name)) for name, version in before.items() if after.get(name) != version}
        assert changed == {}, f"{chapter}: the setup changed (before, after): {changed}"
        assert after.get("dl4ss-utils") == "0.1.0", f"{chapter}: the setup cell did not install the course package"
        if not external:
            added = {name: (colab[name], after[name]) for name in set(after) - set(before)
                     if name in colab and colab[name] != after[name]}
            assert added == {}, f"{chapter}: installed at another version than Colab's (Colab, here): {added}"
        assert "offline" in run.printed, f"{chapter}: the chapter should say it used offline data"


def test_cells_show_what_they_show_in_jupyter():
    """A cell ending in a semicolon displays no result, and results are numbered as in a
    notebook run from the top (the runs store every cell in the kernel's history)."""
    with_semicolons, checked, numbered = 0, 0, 0
    for chapter, run in runs().items():
        code = [c for c in run.executed_notebook().cells if c.cell_type == "code"]
        stored = nbformat.read(CHAPTERS / f"{chapter}.ipynb", as_version=4).cells
        with_semicolons += sum(c.cell_type == "code" and c.source.rstrip().endswith(";") for c in stored)
        for number, cell in enumerate(code, start=1):
            results = [o for o in cell.outputs if o.output_type == "execute_result"]
            if cell.source.rstrip().endswith(";"):
                assert results == [], f"{chapter} cell {number} ends with ';' but displayed its result"
                checked += 1
            for result in results:
                assert result.execution_count == number, f"{chapter} cell {number}"
                numbered += 1
    assert checked == with_semicolons, "every stored cell ending in ';' was checked in its run"
    # (A chapter may display no result at all, week 3 does not: with one chapter run alone,
    # `make chapter`, there may be nothing to number.)
    assert numbered >= 1 or len(runs()) == 1, "the runs displayed results, so the numbering was checked"


def figure_cells(notebook) -> list[tuple[int, nbformat.NotebookNode]]:
    """The code cells of an executed notebook that drew at least one image."""
    return [(i, cell) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            and any("image/png" in o.get("data", {}) for o in cell.outputs)]


def test_every_figure_has_a_text_alternative():
    """A reader who cannot see a figure hears its alt text instead (the book puts the cell's
    ``mystnb.image.alt`` into every image the cell draws): each cell that drew a figure in its
    run carries one that says something, and no cell carries one without drawing."""
    figures = 0
    for chapter, run in runs().items():
        executed = run.executed_notebook()
        drawing = {i for i, _ in figure_cells(executed)}
        for i, cell in enumerate(executed.cells):
            alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
            if i in drawing:
                figures += 1
                assert len(alt.split()) >= 12, f"{chapter} cell {i} draws a figure but has no alt text that describes it"
                assert not alt.lower().startswith(("image of", "picture of", "figure")), f"{chapter} cell {i}: {alt[:40]}"
            elif cell.cell_type == "code" and "remove-output" not in cell.metadata.get("tags", []):
                assert not alt, f"{chapter} cell {i} has an alt text but drew no figure in this run"
    assert figures >= len(runs()), "every chapter draws figures"
