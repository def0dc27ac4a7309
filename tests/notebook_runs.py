"""One run of each chapter per test session, as in Colab, and every check fed from it.

A pytest plugin (``make test`` loads it with ``-p notebook_runs``). For each chapter notebook
on the command line (``chapters/NN_*.ipynb``) it

* makes a fresh copy of the Colab-like environment (``tests/colab_env.py``: Google's
  published package list, Colab's Python when the machine has it);
* copies the notebook alone into an empty folder and runs it there, top to bottom, in fast,
  offline mode (the Makefile sets both), in a kernel of that environment. nbval runs the
  cells, one pytest item each, and compares the cells tagged ``nbval-check-output`` with
  their stored outputs;
* then runs the chapter's *probes* in the same kernel: short pieces of test code that the
  chapter's test module (``tests/test_weekN.py``) registers with :func:`probe` (an exercise
  solution, a widget moved with the chapter's own data). Their printed output is what the
  tests read;
* keeps the executed notebook, puts it into the jupyter-cache from which the book is built
  (so the book executes nothing), and records the times and the packages before and after.

Chapter runs go first, whatever the order on the command line; every other test can then
use them (:func:`run_of`, :meth:`Probe.output`). At the end the plugin prints a table of
the time each stage took and writes it to ``_build/test/report.md`` and ``report.json``.

Options: ``--colab-python PATH`` runs the chapters with that interpreter as it is (Google's
Colab image in the weekly workflow) instead of a copy of ``.venv-colab``; ``--chapter NN``
keeps only one chapter and the checks that belong to it (``make chapter CHAPTER=NN``);
``--no-probes`` runs the chapters alone (``make bench``); ``--runs-dir`` says where the
artifacts go (default ``_build/test``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import pytest
from nbval.kernel import RunningKernel
from nbval.plugin import IPyNbCell, IPyNbFile, find_comment_markers, find_metadata_tags

sys.path.insert(0, str(Path(__file__).resolve().parent))
from colab_env import ColabEnvironment  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
#: Set by ``make test``: the file where the Makefile timed the set-up stages (tests/timed.sh).
STAGES_ENV = "DL4SS_STAGES"


def chapter_stems() -> list[str]:
    return sorted(p.stem for p in CHAPTERS.glob("[0-9][0-9]_*.ipynb"))


def is_chapter(path: Path) -> bool:
    path = Path(path).resolve()
    return path.suffix == ".ipynb" and path.parent == CHAPTERS and re.match(r"\d\d_", path.name) is not None


# ---------------------------------------------------------------------------------------
# Probes: test code that runs in a chapter's kernel after the chapter
# ---------------------------------------------------------------------------------------

_PROBES: dict[str, list["Probe"]] = defaultdict(list)


@dataclass
class Probe:
    """Code run after chapter ``chapter`` in its kernel; a test reads what it printed."""

    chapter: str
    name: str
    code: str

    def output(self) -> str:
        """What the probe printed in this session's run of its chapter (fails if it did not run)."""
        run = run_of(self.chapter)
        if self.name in run.probe_errors:
            pytest.fail(f"the probe {self.name!r} of {self.chapter} raised:\n{run.probe_errors[self.name]}")
        if self.name not in run.probe_outputs:
            pytest.fail(f"the probe {self.name!r} did not run with {self.chapter}")
        return run.probe_outputs[self.name]

    def json(self):
        """The probe's last printed line, read as JSON."""
        return json.loads(self.output().strip().splitlines()[-1])


def probe(chapter: str, name: str, code: str) -> Probe:
    """Register code to run after ``chapter`` (a notebook stem) in the same kernel."""
    if chapter not in chapter_stems():
        raise ValueError(f"no chapter notebook chapters/{chapter}.ipynb")
    made = Probe(chapter, name, code)
    _PROBES[chapter] = [p for p in _PROBES[chapter] if p.name != name] + [made]
    return made


def solution_probes(chapter: str, answers: dict[int, str]) -> dict[int, Probe]:
    """A probe per exercise: its solution, run in the chapter's kernel, then ``answers[n]`` (a
    Python expression) printed as JSON, for ``probe.json()`` to read."""
    return {n: probe(chapter, f"exercise {n}", solution(chapter, n) + f"\nimport json\nprint(json.dumps({answer}))")
            for n, answer in answers.items()}


def _code_cells(chapter: str) -> list[str]:
    nb = nbformat.read(CHAPTERS / f"{chapter}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def replay(chapter: str, start: str, upto: str | None = None, replace: dict[str, str] | None = None) -> str:
    """The code of the chapter's cells from the first one containing ``start`` to the first
    one containing ``upto`` (default: that cell alone), with ``replace`` applied, as one
    probe would run it again: the way an exercise asks a student to change and rerun cells."""
    cells = _code_cells(chapter)
    first = next((i for i, s in enumerate(cells) if start in s), None)
    if first is None:
        raise ValueError(f"no code cell of {chapter} contains {start!r}")
    last = first if upto is None else next((i for i, s in enumerate(cells) if i >= first and upto in s), None)
    if last is None:
        raise ValueError(f"no code cell of {chapter} after {start!r} contains {upto!r}")
    code = "\n\n".join(cells[first:last + 1])
    for old, new in (replace or {}).items():
        if old not in code:
            raise ValueError(f"{chapter}: the code to replace, {old!r}, is not in the replayed cells")
        code = code.replace(old, new)
    return code


def solution(chapter: str, exercise: int) -> str:
    """The Python block inside the solution dropdown of exercise ``exercise``."""
    nb = nbformat.read(CHAPTERS / f"{chapter}.ipynb", as_version=4)
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    block = re.search(rf"\*\*{exercise}\..*?<details>(.*?)</details>", md, re.S)
    if not block:
        raise ValueError(f"{chapter} has no exercise {exercise} with a solution")
    code = re.search(r"```python\n(.*?)```", block.group(1), re.S)
    if not code:
        raise ValueError(f"the solution of exercise {exercise} of {chapter} has no Python block")
    return code.group(1)


def _load_probes(chapter: str) -> None:
    """Import the chapter's test module, ``tests/test_weekN.py``, which registers its probes."""
    import importlib

    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    module = ROOT / "tests" / f"test_week{int(chapter[:2])}.py"
    if module.exists():
        importlib.import_module(module.stem)


# ---------------------------------------------------------------------------------------
# What a run leaves
# ---------------------------------------------------------------------------------------

@dataclass
class ChapterRun:
    """One chapter's run: times, outputs, failures, probe outputs, packages before and after."""

    chapter: str
    python: str = ""
    mode: str = ""
    reset_seconds: float = 0.0
    kernel_seconds: float = 0.0
    cell_seconds: list = field(default_factory=list)
    probe_seconds: dict = field(default_factory=dict)
    failed_cells: dict = field(default_factory=dict)
    probe_outputs: dict = field(default_factory=dict)
    probe_errors: dict = field(default_factory=dict)
    packages_before: dict = field(default_factory=dict)
    packages_after: dict = field(default_factory=dict)
    kernel_starts: int = 0
    complete: bool = False
    outputs: list = field(default_factory=list, repr=False)

    @property
    def seconds(self) -> float:
        """What a student waits: the kernel's start and every cell, the setup cell included."""
        return self.kernel_seconds + sum(s for s in self.cell_seconds if s is not None)

    @property
    def setup_seconds(self) -> float:
        return self.cell_seconds[0] if self.cell_seconds and self.cell_seconds[0] is not None else 0.0

    @property
    def printed(self) -> str:
        """Everything the chapter's cells printed (stdout and displayed text)."""
        parts = []
        for outputs in self.outputs:
            for out in outputs or []:
                if out.get("output_type") == "stream" and out.get("name") == "stdout":
                    parts.append(out["text"])
                elif "data" in out and "text/plain" in out["data"]:
                    parts.append(out["data"]["text/plain"])
        return "".join(parts)

    def executed_notebook(self) -> nbformat.NotebookNode:
        """The chapter as stored, with this run's outputs (and only the metadata it had)."""
        nb = nbformat.read(CHAPTERS / f"{self.chapter}.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        for number, (cell, outputs) in enumerate(zip(code, self.outputs), start=1):
            cell.outputs = [nbformat.from_dict(dict(o)) for o in outputs or []]
            cell.execution_count = number if outputs is not None else None
        return nb

    def summary(self) -> dict:
        data = asdict(self)
        data.pop("outputs")
        data.update(seconds=round(self.seconds, 1), setup_seconds=round(self.setup_seconds, 1))
        return data


_RUNS: dict[str, ChapterRun] = {}


def run_of(chapter: str) -> ChapterRun:
    """The run of ``chapter`` in this session (fails with what to do when there was none)."""
    if chapter not in _RUNS:
        pytest.fail(f"chapters/{chapter}.ipynb did not run in this test session. Run it with its checks: "
                    f"make chapter CHAPTER={chapter[:2]}")
    return _RUNS[chapter]


def runs() -> dict[str, ChapterRun]:
    return dict(_RUNS)


# ---------------------------------------------------------------------------------------
# The harness: one per pytest session
# ---------------------------------------------------------------------------------------

class Harness:
    def __init__(self, config):
        self.config = config
        self.dir = Path(config.getoption("runs_dir")).resolve()
        self.runs_dir = self.dir / "runs"
        self.book_dir = self.dir / "book"
        self.external = config.getoption("colab_python")
        self.env = ColabEnvironment()
        self.prepared = False
        self.stage_seconds: dict[str, float] = defaultdict(float)
        self.notes: dict[str, str] = {}
        self.executions: dict[str, int] = defaultdict(int)   # notebook path -> kernels started for it
        self.started = time.monotonic()

    @property
    def cache_dir(self) -> Path:
        """Where the book build looks for executed notebooks (``<path-output>/_build/.jupyter_cache``)."""
        return self.book_dir / "_build" / ".jupyter_cache"

    def prepare(self) -> None:
        """Once, before the first chapter: clean artifacts, build the course wheel, the kernel."""
        if self.prepared:
            return
        start = time.monotonic()
        for stale in (self.runs_dir, self.book_dir):
            shutil.rmtree(stale, ignore_errors=True)
        self.runs_dir.mkdir(parents=True)
        wheels = self.dir / "wheel"
        shutil.rmtree(wheels, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        str(ROOT), "-w", str(wheels)], check=True, capture_output=True)
        wheel = next(wheels.glob("dl4ss_utils-*.whl"))
        env = {"DL4SS_PACKAGE": str(wheel)}
        if self.external:
            python = self.external
            self.notes["python"] = f"the given interpreter {python}, as it is"
        else:
            record = json.loads(self.env.stamp.read_text()) if self.env.stamp.exists() else None
            if record is None or not (self.env.pristine / "bin" / "python").exists():
                raise pytest.UsageError("The Colab-like environment is missing: run `make colab-env` "
                                        "(python tests/colab_env.py build)")
            python = self.env.run / "bin" / "python"
            env.update(self.env.offline_pip())
            self.notes["python"] = record["note"]
        self.kernel = self.env.write_kernel(python, env)
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(self.env.jupyter_path),
                                                                   os.environ.get("JUPYTER_PATH")]))
        self.prepared = True
        self.stage_seconds["chapter runs: set-up (course wheel, kernel)"] += time.monotonic() - start

    def fresh_python(self) -> tuple[Path | str, float]:
        start = time.monotonic()
        python = self.external or self.env.fresh_copy()
        return python, time.monotonic() - start

    def finish(self, run: ChapterRun) -> None:
        """Write a finished run's notebook, record and cache entry."""
        _RUNS[run.chapter] = run
        folder = self.runs_dir / run.chapter
        folder.mkdir(parents=True, exist_ok=True)
        executed = run.executed_notebook()
        nbformat.write(executed, folder / f"{run.chapter}.ipynb")
        (folder / "run.json").write_text(json.dumps(run.summary(), indent=1))
        if run.complete:
            from jupyter_cache import get_cache
            from jupyter_cache.base import CacheBundleIn

            get_cache(str(self.cache_dir)).cache_notebook_bundle(
                CacheBundleIn(executed, str(CHAPTERS / f"{run.chapter}.ipynb"),
                              data={"execution_seconds": round(run.seconds, 1)}),
                check_validity=False, overwrite=True)


def harness(config) -> Harness:
    return config.stash[_HARNESS]


_HARNESS = pytest.StashKey[Harness]()


# ---------------------------------------------------------------------------------------
# Collecting and running a chapter (nbval's file and cell, in the Colab-like kernel)
# ---------------------------------------------------------------------------------------

class NotebookKernel(RunningKernel):
    """nbval's kernel, with every cell stored in the kernel's history as a notebook does.

    nbval runs cells with ``store_history=False``. IPython reads a cell's trailing semicolon
    from that history, so ``plot_training_curves(...);`` then displayed its figure twice
    and execution counts stayed put; Jupyter and Colab store every cell.
    """

    def execute_cell_input(self, cell_input, allow_stdin=None):
        return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)


class ChapterFile(IPyNbFile):
    """A chapter notebook, run alone in an empty folder with a fresh Colab-like environment."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.compare_outputs = False        # like --nbval-lax: only tagged cells are compared

    def collect(self):
        self.nb = nbformat.read(str(self.fspath), as_version=4)
        self.chapter = Path(str(self.fspath)).stem
        number = 0
        for cell in self.nb.cells:
            if cell.cell_type != "code":
                continue
            options = defaultdict(bool, find_metadata_tags(cell.metadata))
            options.update(dict(find_comment_markers(cell.source)))
            options.setdefault("check", False)
            yield ChapterCell.from_parent(self, name=f"Cell {number}", cell_num=number, cell=cell, options=options)
            number += 1
        if not self.config.getoption("no_probes"):
            _load_probes(self.chapter)
            for extra in _PROBES.get(self.chapter, []):
                cell = nbformat.v4.new_code_cell(extra.code)
                yield ProbeCell.from_parent(self, name=f"probe {extra.name}", cell_num=number, cell=cell,
                                            options=defaultdict(bool, check=False), probe=extra)
                number += 1

    def setup(self):
        h = harness(self.config)
        h.prepare()
        code_cells = sum(1 for c in self.nb.cells if c.cell_type == "code")
        self.run = ChapterRun(self.chapter, mode="fast" if os.environ.get("DL4SS_FAST") == "1" else "full",
                              outputs=[None] * code_cells, cell_seconds=[None] * code_cells)
        python, self.run.reset_seconds = h.fresh_python()
        self.run.python = str(python)
        self.run.packages_before = ColabEnvironment.installed(python)
        # Alone in an empty folder outside the repository, as Colab opens a notebook from GitHub.
        work = Path(tempfile.mkdtemp(prefix=f"dl4ss-{self.chapter[:2]}-"))
        shutil.copy(self.fspath, work / Path(str(self.fspath)).name)
        self.work = work
        start = time.monotonic()
        self.kernel = NotebookKernel(h.kernel, cwd=str(work),
                                    startup_timeout=self.config.option.nbval_kernel_startup_timeout)
        self.run.kernel_seconds = time.monotonic() - start
        self.run.kernel_starts += 1
        h.executions[str(CHAPTERS / f"{self.chapter}.ipynb")] += 1

    def teardown(self):
        super().teardown()
        run = getattr(self, "run", None)
        if run is None:
            return
        shutil.rmtree(self.work, ignore_errors=True)
        run.packages_after = ColabEnvironment.installed(run.python)
        run.complete = all(outputs is not None for outputs in run.outputs)
        harness(self.config).finish(run)


class ChapterCell(IPyNbCell):
    """A chapter cell: nbval runs it; its outputs and time go into the chapter's run."""

    def runtest(self):
        start = time.monotonic()
        try:
            super().runtest()
        except Exception as error:
            self.parent.run.failed_cells[self.cell_num] = str(error)[:2000]
            raise
        finally:
            self.parent.run.cell_seconds[self.cell_num] = time.monotonic() - start
            self.parent.run.outputs[self.cell_num] = [dict(o) for o in (self.test_outputs or [])]


class ProbeCell(IPyNbCell):
    """A probe: test code after the chapter, in its kernel; only its printed output is kept."""

    def __init__(self, *args, probe: Probe, **kwargs):
        super().__init__(*args, **kwargs)
        self.probe = probe

    def runtest(self):
        run = self.parent.run
        start = time.monotonic()
        try:
            super().runtest()
        except Exception as error:
            run.probe_errors[self.probe.name] = str(error)[-4000:]
            raise
        finally:
            run.probe_seconds[self.probe.name] = round(time.monotonic() - start, 2)
        run.probe_outputs[self.probe.name] = "".join(o.get("text", "") for o in self.test_outputs or []
                                                    if o.get("output_type") == "stream" and o.get("name") == "stdout")

    def reportinfo(self):
        return self.fspath, 0, f"{Path(str(self.fspath)).name}::probe {self.probe.name}"


# ---------------------------------------------------------------------------------------
# pytest hooks
# ---------------------------------------------------------------------------------------

def pytest_addoption(parser):
    group = parser.getgroup("notebook runs", "one Colab-like run of each chapter (tests/notebook_runs.py)")
    group.addoption("--colab-python", default=None,
                    help="run chapters with this interpreter as it is (e.g. Google's Colab image)")
    group.addoption("--runs-dir", default=str(ROOT / "_build" / "test"), help="where runs and the report go")
    group.addoption("--chapter", default=None, help="keep only chapter NN and the checks that belong to it")
    group.addoption("--no-probes", action="store_true", help="run the chapters without their probes")


def pytest_configure(config):
    config.stash[_HARNESS] = Harness(config)


def pytest_collect_file(file_path, parent):
    if is_chapter(file_path):
        return ChapterFile.from_parent(parent, path=file_path)
    return None


def chapter_of(item) -> str | None:
    """The chapter an item belongs to: its run, its test module (test_weekN) or its parameter."""
    if isinstance(item, ChapterCell | ProbeCell):
        return item.parent.chapter
    stems = chapter_stems()
    module = re.match(r"test_week(\d+)\.py$", Path(str(item.fspath)).name)
    if module:
        return next((s for s in stems if int(s[:2]) == int(module.group(1))), None)
    return next((s for s in stems if s in item.nodeid), None)


def stage_of(item) -> str:
    if isinstance(item, ChapterCell | ProbeCell):
        return "chapter runs" if isinstance(item, ChapterCell) else "chapter probes (exercises, widgets)"
    name = Path(str(item.fspath)).name
    return {"test_book.py": "book build and page checks", "test_site_browser.py": "site in a browser",
            "test_assignments.py": "assignments and grading", "test_runs.py": "checks on the runs"}.get(
        name, "checks on the runs" if name.startswith("test_week") else "unit and hygiene tests")


def pytest_collection_modifyitems(session, config, items):
    wanted = config.getoption("chapter")
    if wanted:
        stems = [s for s in chapter_stems() if s.startswith(wanted.zfill(2)) or s == wanted]
        if len(stems) != 1:
            raise pytest.UsageError(f"--chapter {wanted}: no single chapter matches ({', '.join(chapter_stems())})")
        keep = [i for i in items if chapter_of(i) == stems[0] or Path(str(i.fspath)).name == "test_runs.py"]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    # Chapter runs first (every other test may use them), the checks on all runs last.
    runs_first = [i for i in items if isinstance(i, ChapterCell | ProbeCell)]
    last = [i for i in items if Path(str(i.fspath)).name == "test_runs.py"]
    items[:] = runs_first + [i for i in items if i not in runs_first and i not in last] + last


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.monotonic()
    yield
    h = harness(item.config)
    seconds = time.monotonic() - start
    h.stage_seconds[stage_of(item)] += seconds
    chapter = chapter_of(item)
    if chapter and not isinstance(item, ChapterCell | ProbeCell):
        h.stage_seconds[f"checks of {chapter}"] += seconds


def _stage_rows(h: Harness) -> list[tuple[str, float]]:
    """(stage, seconds): the set-up stages the Makefile timed, then pytest's stages."""
    rows = []
    stages_file = Path(os.environ.get(STAGES_ENV, "/nonexistent"))
    if stages_file.is_file():
        for line in stages_file.read_text().splitlines():
            name, seconds, *_ = line.split("\t")
            rows.append((name, float(seconds)))
    setup_rows = len(rows)
    seconds = dict(h.stage_seconds)
    prepare = seconds.pop("chapter runs: set-up (course wheel, kernel)", 0.0)
    build = seconds.pop("book build (no notebook executed)", None)
    if "chapter runs" in seconds:
        where = "the given interpreter" if h.external else "a fresh Colab-like copy each"
        rows.append((f"chapter runs ({len(_RUNS)}, {where})", seconds.pop("chapter runs")))
        rows.append(("    of which the set-up: course wheel, kernel spec", prepare))
    order = ["chapter probes (exercises, widgets)", "unit and hygiene tests", "checks on the runs",
             "book build and page checks", "site in a browser", "assignments and grading"]
    for name in order + sorted(set(seconds) - set(order)):
        if name in seconds and not name.startswith("checks of "):
            rows.append((name, seconds[name]))
            if name == "book build and page checks" and build is not None:
                rows.append(("    of which the book build (it executes no notebook)", build))
    total = time.monotonic() - h.started
    rows.append(("pytest in all", total))
    if setup_rows:
        rows.append(("in all", total + sum(s for _, s in rows[:setup_rows])))
    return rows


def _chapter_rows(h: Harness) -> list[dict]:
    rows = []
    for chapter, run in sorted(_RUNS.items()):
        probes = sum(run.probe_seconds.values())
        checks = h.stage_seconds.get(f"checks of {chapter}", 0.0)
        rows.append({"chapter": chapter, "mode": run.mode, "setup cell": run.setup_seconds, "run": run.seconds,
                     "probes": probes, "checks": checks, "environment reset": run.reset_seconds,
                     "added": run.seconds + probes + checks + run.reset_seconds,
                     "failed cells": len(run.failed_cells)})
    return rows


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    h = harness(config)
    stages, chapters = _stage_rows(h), _chapter_rows(h)
    lines = ["## Stage times", "", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.0f} |" for name, seconds in stages]
    if chapters:
        lines += ["", f"## Chapters ({h.notes.get('python', '')})", "",
                  "| chapter | mode | setup cell | run | probes | checks | env reset | added to the suite |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['chapter']} | {r['mode']} | {r['setup cell']:.0f} | {r['run']:.0f} | {r['probes']:.0f} | "
                  f"{r['checks']:.0f} | {r['environment reset']:.0f} | {r['added']:.0f} |" for r in chapters]
    text = "\n".join(lines)
    terminalreporter.write_sep("=", "times of this run (measured, not asserted)")
    terminalreporter.write_line(text)
    if h.dir.exists():
        (h.dir / "report.md").write_text(text + "\n")
        (h.dir / "report.json").write_text(json.dumps({"stages": stages, "chapters": chapters,
                                                       "python": h.notes.get("python")}, indent=1))
