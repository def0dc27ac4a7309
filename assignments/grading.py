"""Grade assignment notebooks against otter-grader tests that never enter the student's process.

Instructors grade a folder of submitted notebooks with every test (visible and hidden)::

    python assignments/grading.py grade a1_vote_choice submissions/ --out gradebook/

writes ``gradebook.csv``, one readable ``feedback/<student>.md`` per student,
``written_answers.md`` with the hand-graded answers side by side and ``review.md``: code
that looks as if it reaches into the grading, for the instructor to read (it costs no
points). A class of hundreds is split across machines with ``--shard 2/8`` and put back
together with ``python assignments/grading.py merge gradebook/ shard-*/``. Students (and the
workflow in their repository) check a notebook against the visible tests::

    python grading.py check a1_vote_choice.ipynb

How a submission is graded (``judge.py`` has the details):

* Only regular files in the submissions folder are graded; a link, a device or a file
  elsewhere is refused with the reason.
* The notebook's cells run one by one in a Jupyter kernel inside a sandbox (bubblewrap):
  it sees the Python environment, the course package and its own scratch folder, nothing
  else of the machine; no network, no other process; an unprivileged user with limits on
  memory, processes, file size, output and disk. A cell that raises is recorded and the
  next one runs. A cell that runs longer than the cell time limit is interrupted; if it
  ignores the interrupt, ends the Python process or passes a limit, the kernel is
  restarted and the notebook run again without that cell. Past the submission's time
  limit, the run is stopped and scored 0 with the reason.
* The tests, hidden ones included, run in the judge, a separate process outside the
  sandbox. It asks the kernel for the values the tests use and receives plain data
  (numbers, text, arrays, data frames, Keras models in their file format); a function of
  the notebook is called in the kernel with plain-data arguments. Nothing the student's
  code does can reach the tests, their expected values or the judge's memory.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import judge  # noqa: E402  (beside this file, in the repository and in the student release)

ANSWER_PLACEHOLDER = "_Type your answer here, replacing this text._"
DEFAULT_TIMEOUT = 1200          # seconds for a whole submission
DEFAULT_CELL_TIMEOUT = 300      # seconds for one cell
MAX_ERROR_NOTES = 6
MAX_SUBMISSION_BYTES = 64 * 2**20
# The grading code a student release carries (the student's check uses it too).
GRADING_FILES = ("grading.py", "judge.py", "kernel_side.py")


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------

def load_tests(tests_dir: Path) -> dict[str, dict]:
    """The OK-format test specs in ``tests_dir`` (files ``q1.py`` ... written by otter assign)."""
    specs = {}
    for path in sorted(Path(tests_dir).glob("*.py")):
        env: dict = {}
        exec(compile(path.read_text(), str(path), "exec"), env)
        if "test" not in env or not env.get("OK_FORMAT"):
            raise ValueError(f"{path} is not an OK-format otter test file")
        specs[env["test"]["name"]] = env["test"]
    if not specs:
        raise FileNotFoundError(f"no test files in {tests_dir}")
    return specs


def score_question(spec: dict, passed: list[bool]) -> tuple[float, float]:
    """Points earned and possible for one question, with otter's own point rules."""
    from otter.test_files.abstract_test import TestCaseResult
    from otter.test_files.ok_test import OKTestFile

    test_file = OKTestFile.from_spec(spec)
    if len(passed) != len(test_file.test_cases):
        passed = [False] * len(test_file.test_cases)
    test_file.test_case_results = [
        TestCaseResult(test_case=case, message="", passed=bool(ok))
        for case, ok in zip(test_file.test_cases, passed)]
    return float(test_file.score), float(test_file.possible)


# Run after the student's cells, before the tests: whatever the notebook hooked into the
# ---------------------------------------------------------------------------------------
# Code that looks like it reaches into the grading: a report for the instructor
# ---------------------------------------------------------------------------------------
# Nothing a cell does can change a test result (the tests run outside the kernel), so
# this check costs no points and skips no cell. It points the instructor at cells worth
# reading: an attempt to cheat, or an unusual but honest one (``gc.collect()``).


# Modules and names of the grading machinery: changing them (through any alias) puts a cell on the review list.
GUARDED_MODULES = {"otter", "builtins", "__builtins__", "doctest", "IPython", "ipykernel", "json", "sys",
                   "importlib", "gc", "ctypes", "contextlib", "io"}
GUARDED_NAMES = {"grader", "get_ipython", "globals", "__builtins__"}
# Imports a notebook of this course never needs and that would reach into tests run in the same process.
FORBIDDEN_IMPORTS = {"builtins", "ctypes", "gc", "threading", "_thread", "multiprocessing", "inspect"}
# What a notebook may do with the IPython shell (``%pip`` and ``!ls`` become these calls).
SHELL_METHODS = {"run_line_magic", "run_cell_magic", "system", "getoutput", "magic"}
# Attributes that lead to frames, code objects or the import system.
INTROSPECTION = {"_getframe", "_current_frames", "f_globals", "f_locals", "f_back", "tb_frame", "gi_frame",
                 "__closure__", "cell_contents", "__code__", "__globals__", "meta_path", "path_hooks",
                 "settrace", "setprofile", "addaudithook"}
SUSPICIOUS_STRINGS = ("OK_FORMAT", "otter.test_files", "otter.execute", "_dl4ss_")


def _root_name(node: ast.AST) -> str | None:
    """``otter`` for ``otter.a.b[0]``, ``getattr(otter, "a")``, ``vars(otter)``; ``get_ipython`` for
    ``get_ipython().events``; None for anything else (``json.loads(text)`` is a value, not ``json``)."""
    while True:
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "vars") \
                and node.args:
            node = node.args[0]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "get_ipython":
            return "get_ipython"
        else:
            return node.id if isinstance(node, ast.Name) else None


def _parse(source: str) -> ast.AST | None:
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        source = TransformerManager().transform_cell(source)
    except Exception:
        pass
    try:
        return ast.parse(source)
    except SyntaxError:
        return None                                 # it fails when run; nothing to guard


def _targets(node: ast.AST) -> list[ast.AST]:
    """What an assignment or ``del`` binds: names, attributes, items (tuples unpacked)."""
    pending = list(node.targets) if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
    found = []
    while pending:
        target = pending.pop()
        if isinstance(target, (ast.Tuple, ast.List)):
            pending.extend(target.elts)
        elif isinstance(target, ast.Starred):
            pending.append(target.value)
        else:
            found.append(target)
    return found


def _aliases(trees: list[ast.AST]) -> tuple[set[str], set[str], set[str]]:
    """Names that stand for the grading machinery, for the IPython shell, and for imported
    modules, anywhere in the notebook (``o = otter`` in one cell, ``o.x = 1`` in a later one)."""
    guarded, shells, modules = set(GUARDED_MODULES | GUARDED_NAMES), {"get_ipython"}, set()
    changed = True
    while changed:
        changed = False
        for tree in trees:
            for node in ast.walk(tree):
                new_guarded, new_shells = [], []
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        top = alias.name.split(".")[0]
                        bound = alias.asname or top
                        modules.add(bound)
                        if top in GUARDED_MODULES:
                            new_guarded.append(bound)
                elif isinstance(node, ast.ImportFrom) and node.module:
                    bound = [a.asname or a.name for a in node.names if a.name != "*"]
                    modules.update(bound)
                    if node.module.split(".")[0] in GUARDED_MODULES:
                        new_guarded += [b for b in bound if b != "Notebook"]
                elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                    names = [t.id for t in _targets(node) if isinstance(t, ast.Name)]
                    value = node.value
                    if isinstance(value, ast.Call) and _root_name(value.func) in shells \
                            and isinstance(value.func, ast.Name):
                        new_shells += names                        # ip = get_ipython()
                    elif _root_name(value) in guarded | shells:
                        new_guarded += names                       # o = otter; ev = get_ipython().events
                for name in new_guarded:
                    if name not in guarded:
                        guarded.add(name)
                        changed = True
                for name in new_shells:
                    if name not in shells:
                        shells.add(name)
                        changed = True
    return guarded, shells, modules


def tampering_reasons(source: str, context: list[str] | None = None) -> list[str]:
    """Why a cell looks as if it reaches into the grading machinery ([] for ordinary code).

    ``context`` is the code of the whole notebook, so that an alias made in one cell
    (``o = otter``) is known in another."""
    return tampering_by_cell(list(context or []) + [source])[-1]


def tampering_by_cell(sources: list[str]) -> list[list[str]]:
    """``tampering_reasons`` of every cell of a notebook, its aliases found once."""
    trees = [_parse(source) for source in sources]
    aliases = _aliases([tree for tree in trees if tree is not None])
    return [_reasons(tree, *aliases) if tree is not None else [] for tree in trees]


def _reasons(tree: ast.AST, guarded: set[str], shells: set[str], modules: set[str]) -> list[str]:
    reasons = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            if node.module.startswith("otter.") or (top == "otter" and any(a.name != "Notebook" for a in node.names)):
                reasons.append(f"imports otter internals ({node.module})")
            if top in FORBIDDEN_IMPORTS:
                reasons.append(f"imports {top}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("otter.") or alias.name.split(".")[0] in FORBIDDEN_IMPORTS:
                    reasons.append(f"imports {alias.name}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            for target in _targets(node):
                if isinstance(target, ast.Name) and target.id in GUARDED_NAMES and not (
                        target.id == "grader" and isinstance(node, ast.Assign) and _is_otter_notebook(node.value)):
                    reasons.append(f"rebinds {target.id}")
                elif isinstance(target, (ast.Attribute, ast.Subscript)) and _root_name(target) in guarded | shells:
                    reasons.append(f"changes {ast.unparse(target)}")
                elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                        and target.value.id in modules:
                    reasons.append(f"replaces {ast.unparse(target)} (a function or attribute of an imported module)")
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in ("setattr", "delattr") and node.args and _root_name(node.args[0]) in guarded | shells:
                reasons.append(f"calls {name} on {ast.unparse(node.args[0])}")
            if name in ("exec", "eval", "compile", "__import__", "importlib.import_module", "importlib.reload",
                        "threading.settrace"):
                reasons.append(f"calls {name}")
        elif isinstance(node, ast.Attribute):
            if node.attr in ("modules", "__dict__") and _root_name(node) in guarded | shells:
                reasons.append(f"uses {ast.unparse(node)}")
            if node.attr in INTROSPECTION:
                reasons.append(f"uses {ast.unparse(node)}")
            shell = node.value
            if ((isinstance(shell, ast.Call) and isinstance(shell.func, ast.Name) and shell.func.id in shells)
                    or (isinstance(shell, ast.Name) and shell.id in shells - {"get_ipython"})) \
                    and node.attr not in SHELL_METHODS:
                reasons.append(f"uses the IPython shell ({ast.unparse(node)})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for text in SUSPICIOUS_STRINGS:
                if text in node.value:
                    reasons.append(f"mentions {text!r}")
    return sorted(set(reasons))


def _is_otter_notebook(value: ast.AST) -> bool:
    return isinstance(value, ast.Call) and ast.unparse(value.func) in ("otter.Notebook", "Notebook", "assignment_grader")



# ---------------------------------------------------------------------------------------
# Submissions: regular files in the folder, names as data
# ---------------------------------------------------------------------------------------

@dataclass
class Submission:
    student: str                  # the file name without .ipynb, as submitted
    raw: bytes = b""
    refused: str = ""             # why it is not graded ("" when it is)


def read_submissions(folder: Path) -> list[Submission]:
    """Every ``*.ipynb`` entry of ``folder``, read once: a symbolic link, a hard link, a
    non-regular file or a file that is not in the folder itself is refused with a reason."""
    folder = Path(folder)
    found = []
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in sorted(os.listdir(folder_fd)):
            if not name.endswith(".ipynb"):
                continue
            entry = Submission(name[:-len(".ipynb")])
            info = os.lstat(name, dir_fd=folder_fd)
            if stat.S_ISLNK(info.st_mode):
                entry.refused = "it is a symbolic link, not a file; submit the notebook itself"
            elif not stat.S_ISREG(info.st_mode):
                entry.refused = "it is not a regular file"
            elif info.st_nlink > 1:
                entry.refused = "it is a hard link to another file; submit a copy of the notebook"
            elif info.st_size > MAX_SUBMISSION_BYTES:
                entry.refused = f"it is larger than {MAX_SUBMISSION_BYTES // 2**20} MB"
            else:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
                with os.fdopen(fd, "rb") as f:
                    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                        entry.refused = "it is not a regular file"
                    else:
                        entry.raw = f.read(MAX_SUBMISSION_BYTES + 1)
            found.append(entry)
    finally:
        os.close(folder_fd)
    return found


def file_name_for(student: str, taken: set[str]) -> str:
    """A safe, unique file name for a student's feedback (the name itself is data)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", student).strip("._")[:80] or "student"
    if safe != student or safe in taken:
        safe += "-" + hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    taken.add(safe)
    return safe


def spreadsheet_safe(text: str) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "|", "%") else text


def markdown_text(text: str) -> str:
    """A name shown in markdown as itself: one line, no markup."""
    text = " ".join(str(text).split())
    return re.sub(r"([\\`*_{}\[\]()<>#+!|~-])", r"\\\1", text)


def quoted_block(text: str) -> str:
    """A student's written answer, shown verbatim inside a fence it cannot close."""
    fence = "~" * max(4, 1 + max((len(run) for run in re.findall(r"~+", text)), default=0))
    return f"{fence}\n{text}\n{fence}"


# ---------------------------------------------------------------------------------------
# One submission
# ---------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """The graded result of one submission."""
    student: str
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)   # question -> (earned, possible)
    cases: dict[str, list[dict]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    status: str = "graded"
    seconds: float = 0.0
    written: dict[str, str] = field(default_factory=dict)
    review: list[str] = field(default_factory=list)   # code for the instructor to look at; costs nothing
    probe: object = None       # what the test suite's look inside the kernel found (grade_notebook's after_tests)

    @property
    def earned(self) -> float:
        return sum(e for e, _ in self.scores.values())

    @property
    def possible(self) -> float:
        return sum(p for _, p in self.scores.values())


def _cell_label(nb, index) -> str:
    return "the tests" if index == "tests" else f"code cell {index + 1 - sum(1 for c in nb.cells[:index] if c.cell_type != 'code')}"


EVENT_NOTES = {
    "interrupted": "{label} ran longer than {limit:.0f} s and was interrupted.",
    "timeout": "{label} ran longer than {limit:.0f} s and did not stop when interrupted; the notebook was run "
               "again without it.",
    "died": "{label} ended the Python process (for example os._exit or exit(), or it ran out of memory); "
            "the notebook was run again without it.",
    "output": "{label} printed more than the output limit; the notebook was run again without it.",
    "disk": "{label} wrote more than the disk limit; the notebook was run again without it.",
}


def grade_notebook(raw: bytes, student: str, assignment: str, specs: dict[str, dict], visible_tests: Path | None,
                   *, timeout: float, cell_timeout: float, sandbox: bool = True, after_tests: str = "",
                   limits: dict | None = None) -> Outcome:
    """Grade one submitted notebook (its bytes) against ``specs``; never raises."""
    import nbformat

    outcome = Outcome(student)
    for name, spec in specs.items():
        outcome.scores[name] = (0.0, score_question(spec, [])[1])
    start = time.monotonic()
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # old notebooks lack cell ids; harmless here
            nbformat.validate(nb)
    except Exception as error:
        outcome.status = "unreadable"
        outcome.notes.append(f"The file is not a readable Jupyter notebook ({type(error).__name__}: "
                             f"{str(error).splitlines()[0][:200] if str(error) else ''}). Nothing could be run.")
        return outcome

    code_cells = [index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    found = tampering_by_cell([nb.cells[index].source for index in code_cells])
    outcome.review = [f"code cell {number}: {'; '.join(reasons)}"
                      for number, reasons in enumerate(found, 1) if reasons]

    root = Path(tempfile.mkdtemp(prefix="dl4ss-grade-"))
    os.chmod(root, 0o755)
    try:
        workdir, home = root / "work", root / "home"
        workdir.mkdir()
        home.mkdir()
        notebook = workdir / f"{assignment}.ipynb"
        notebook.write_bytes(raw)
        if visible_tests is not None and visible_tests.is_dir():
            shutil.copytree(visible_tests, workdir / "tests")
        job = {"notebook": str(notebook), "root": str(root), "workdir": str(workdir), "home": str(home),
               "specs": specs, "cell_timeout": cell_timeout, "sandbox": sandbox, "after_tests": after_tests,
               "limits": limits or {}}
        process = subprocess.Popen([sys.executable, str(Path(judge.__file__).resolve())], cwd=root,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True, text=True)
        try:
            stdout, stderr = process.communicate(json.dumps(job), timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            stdout, stderr = process.communicate()
            last = [line for line in stderr.splitlines() if line.startswith("cell ") or line == "tests"]
            where = f" (it was running {_cell_label(nb, int(last[-1].split()[1])) if last and last[-1] != 'tests' else 'the tests'})" if last else ""
            outcome.status = "time limit"
            outcome.notes.append(f"The notebook did not finish within the time limit of {timeout:.0f} s{where}; "
                                 "it was stopped and scores 0.")
            return outcome
        try:
            report = json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            outcome.status = "failed"
            outcome.notes.append("The grading run ended without a result (the judge failed: "
                                 f"{stderr.strip().splitlines()[-1][:300] if stderr.strip() else 'no message'}); "
                                 "the submission scores 0.")
            return outcome
        if sandbox and not report.get("isolated"):
            outcome.notes.append("Not isolated: bubblewrap (bwrap) is not available, so the notebook ran "
                                 "with the grader's file access.")
        errors = [e for e in report["events"] if e["status"] == "error"]
        if len(errors) > MAX_ERROR_NOTES:         # an unfinished notebook: name the first few
            report["events"] = [e for e in report["events"] if e["status"] != "error"] + errors[:MAX_ERROR_NOTES]
        for event in report["events"]:
            label = _cell_label(nb, event["cell"]).capitalize()
            if event["status"] == "error":
                outcome.notes.append(f"{label} raised {event['error']}.")
            elif event["status"] in EVENT_NOTES:
                outcome.notes.append(EVENT_NOTES[event["status"]].format(label=label, limit=cell_timeout))
        if len(errors) > MAX_ERROR_NOTES:
            outcome.notes.append(f"... and {len(errors) - MAX_ERROR_NOTES} more code cells raised errors.")
        outcome.probe = report.get("probe")
        if report.get("gave_up"):
            outcome.status = "failed"
            outcome.notes.append(f"Grading gave up: {report['gave_up']}.")
        for name, spec in specs.items():
            cases = report["results"].get(name)
            if isinstance(cases, list):
                outcome.scores[name] = score_question(spec, [c.get("passed") is True for c in cases])
                hidden = [case.get("hidden", True) for case in spec["suites"][0]["cases"]]
                outcome.cases[name] = [{"passed": c.get("passed") is True, "hidden": h, "message": str(c.get("message", ""))}
                                       for c, h in zip(cases, hidden)]
            elif isinstance(cases, dict):
                outcome.notes.append(f"The tests of {name} could not run: {cases.get('error', '')}")
        return outcome
    except Exception as error:                                     # a bug here must not stop the batch
        outcome.status = "failed"
        outcome.notes.append(f"Grading failed: {type(error).__name__}: {error}")
        return outcome
    finally:
        outcome.seconds = time.monotonic() - start
        shutil.rmtree(root, ignore_errors=True)


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------------------
# Written answers, gradebook, feedback
# ---------------------------------------------------------------------------------------

def written_answers(raw: bytes, manual: list[dict]) -> dict[str, str]:
    """The student's answers to hand-graded questions, found between otter's question markers."""
    import nbformat

    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception:
        return {}
    blocks, current = [], None
    for cell in nb.cells:
        # otter puts "<!-- BEGIN QUESTION -->" at the top of the prompt cell and
        # "<!-- END QUESTION -->" after the answer, often in the same cell as the next
        # question's "<!-- BEGIN QUESTION -->": close first, then open.
        if cell.cell_type == "markdown" and ("<!-- END QUESTION -->" in cell.source
                                             or "<!-- BEGIN QUESTION -->" in cell.source):
            if current is not None and "<!-- END QUESTION -->" in cell.source:
                blocks.append(current)
                current = None
            if "<!-- BEGIN QUESTION -->" in cell.source:
                current = []
            continue
        if current is not None and cell.source.strip() != ANSWER_PLACEHOLDER:
            current.append(cell)
    if current is not None:
        blocks.append(current)
    # Questions and answer blocks pair up in order (a student who deleted a marker cell
    # shifts them; the instructor reads the answers anyway).
    return {question["name"]: "\n\n".join(c.source.strip() for c in block).strip()
            for question, block in zip(manual, blocks)}




def write_reports(outcomes: list[Outcome], specs: dict[str, dict], manual: list[dict], out: Path) -> None:
    """gradebook.csv, feedback/<student>.md, written_answers.md, review.md and results.json
    (what ``merge`` reads) in ``out``. Student names are data: they never become a path, a
    formula or markup."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "feedback").mkdir(exist_ok=True)
    questions = list(specs)
    taken: set[str] = set()
    files = {id(o): file_name_for(o.student, taken) for o in outcomes}
    with open(out / "gradebook.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "status", "autograded", "autograded_possible", "autograded_percent"]
                        + questions + [f"{q['name']} (by hand, /{q['points']:g})" for q in manual]
                        + ["seconds", "feedback file", "notes", "for review"])
        for o in outcomes:
            writer.writerow([spreadsheet_safe(o.student), o.status, f"{o.earned:g}", f"{o.possible:g}",
                             f"{100 * o.earned / o.possible:.1f}" if o.possible else ""]
                            + [f"{o.scores.get(q, (0, 0))[0]:g}" for q in questions] + ["" for _ in manual]
                            + [f"{o.seconds:.0f}", f"feedback/{files[id(o)]}.md",
                               spreadsheet_safe(" | ".join(o.notes)), spreadsheet_safe(" | ".join(o.review))])
    for o in outcomes:
        (out / "feedback" / f"{files[id(o)]}.md").write_text(feedback_text(o, manual))
    lines = ["# Written answers to grade by hand", ""]
    for q in manual:
        lines += [f"## {q['name']} ({q['points']:g} points)", ""]
        for o in outcomes:
            answer = o.written.get(q["name"], "") or "(no answer)"
            lines += [f"### {markdown_text(o.student)}", "", quoted_block(answer), ""]
    (out / "written_answers.md").write_text("\n".join(lines))
    review = ["# Code to look at", "",
              "Cells that look as if they reach into the grading (the grading cannot be changed from a notebook, "
              "so they cost no points; some are honest, such as `gc.collect()`).", ""]
    for o in (o for o in outcomes if o.review):
        review += [f"- **{markdown_text(o.student)}**: " + "; ".join(markdown_text(r) for r in o.review)]
    (out / "review.md").write_text("\n".join(review) + "\n")
    (out / "results.json").write_text(json.dumps({"questions": questions, "manual": manual,
                                                  "outcomes": [asdict(o) for o in outcomes]}, indent=1))


def read_results(folder: Path) -> tuple[list[Outcome], list[str], list[dict]]:
    """The outcomes a ``grade`` run left in ``folder`` (its results.json)."""
    data = json.loads((Path(folder) / "results.json").read_text())
    outcomes = []
    for record in data["outcomes"]:
        record["scores"] = {k: tuple(v) for k, v in record["scores"].items()}
        outcomes.append(Outcome(**record))
    return outcomes, data["questions"], data["manual"]

def short_failure(message: str, limit: int = 1200) -> str:
    """The failed statements of a doctest report and the error each raised, without the traceback."""
    found, lines = [], message.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "Failed example:" and i + 1 < len(lines):
            statement = lines[i + 1].strip()
            rest = lines[i + 2:]
            end = next((k for k, l in enumerate(rest) if l.startswith("Trying:") or l.startswith("****")), len(rest))
            rest = rest[:end]
            error = next((l.strip() for l in reversed(rest) if re.match(r"\s*\w+(Error|Exception|Exit)\b", l.strip())), "")
            if not error and "Got:" in [l.strip() for l in rest]:
                got = [l.strip() for l in rest[[l.strip() for l in rest].index("Got:") + 1:]][:2]
                error = "printed " + " ".join(got)[:200]
            found.append(f"{statement}\n    -> {error}" if error else statement)
    text = "\n".join(found) if found else message.strip()
    return text if len(text) <= limit else text[:limit] + "\n..."




def feedback_text(o: Outcome, manual: list[dict]) -> str:
    """What a student reads: score per question, what failed (hidden tests without details)."""
    lines = [f"# Feedback for {markdown_text(o.student)}", "",
             f"Autograded score: **{o.earned:g} / {o.possible:g}**  (status: {o.status})", "",
             "| question | points | tests passed |", "|---|---|---|"]
    for name, (earned, possible) in o.scores.items():
        cases = o.cases.get(name, [])
        passed = sum(c["passed"] for c in cases)
        lines.append(f"| {name} | {earned:g} / {possible:g} | {passed} of {len(cases) or '?'} |")
    lines.append("")
    if o.notes:
        lines += ["## What happened when your notebook ran", ""] + [f"- {n}" for n in o.notes] + [""]
    failures = [(name, c) for name, cases in o.cases.items() for c in cases if not c["passed"]]
    if failures:
        lines += ["## Tests that failed", ""]
        for name, case in failures:
            if case["hidden"]:
                lines += [f"- **{name}**: a hidden test failed. Re-read the question: the hidden tests "
                          "check the same behaviour more thoroughly than the visible ones.", ""]
            else:
                lines += [f"- **{name}** (visible test):", "", "```", short_failure(case["message"]), "```", ""]
    if manual:
        lines += ["## Graded by hand", "", ", ".join(f"{q['name']} ({q['points']:g} points)" for q in manual)
                  + ": your instructor grades these written answers separately.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"2/8"`` -> (2, 8): this machine grades the second of eight equal shares."""
    if not text:
        return 1, 1
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise SystemExit(f"--shard must look like 2/8 (shard 2 of 8), not {text!r}")
    return int(match[1]), int(match[2])


def grade_folder(assignment: str, submissions: Path, out: Path, *, instructor: Path | None = None,
                 timeout: float = DEFAULT_TIMEOUT, cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                 sandbox: bool = True, shard: str | None = None, limits: dict | None = None) -> list[Outcome]:
    """Grade every ``*.ipynb`` in ``submissions`` (or one shard of them); the student is the
    file name without ``.ipynb``."""
    instructor = instructor or ROOT / "_build" / "assignments" / assignment / "instructor"
    if not (instructor / "tests").is_dir():
        raise SystemExit(f"No tests in {instructor}/tests: run `make assignments` first.")
    if sandbox and judge.bubblewrap() is None:
        raise SystemExit("Grading needs bubblewrap to isolate each submission: install it "
                         "(Debian/Ubuntu: sudo apt-get install bubblewrap) and try again.")
    specs = load_tests(instructor / "tests")
    manifest = json.loads((instructor / "manifest.json").read_text())
    manual = [q for q in manifest["questions"] if q["manual"]]
    visible = instructor.parent / "student" / "tests"
    # Read every submission first: nothing a submission does later can change another one.
    entries = read_submissions(submissions)
    if not entries:
        raise SystemExit(f"No .ipynb files in {submissions}.")
    number, shards = parse_shard(shard)
    entries = entries[number - 1::shards]
    outcomes = []
    for n, entry in enumerate(entries, 1):
        print(f"[{n}/{len(entries)}] {entry.student!r} ...", end=" ", flush=True)
        if entry.refused:
            outcome = Outcome(entry.student, status="refused", notes=[f"Not graded: {entry.refused}."])
            outcome.scores = {name: (0.0, score_question(spec, [])[1]) for name, spec in specs.items()}
        else:
            outcome = grade_notebook(entry.raw, entry.student, assignment, specs, visible, timeout=timeout,
                                     cell_timeout=cell_timeout, sandbox=sandbox, limits=limits)
            outcome.written = written_answers(entry.raw, manual)
        outcomes.append(outcome)
        print(f"{outcome.earned:g}/{outcome.possible:g} ({outcome.status}, {outcome.seconds:.0f} s)", flush=True)
        write_reports(outcomes, specs, manual, out)           # after each one: a crash loses nothing
    print(f"Gradebook: {out / 'gradebook.csv'}; feedback in {out / 'feedback'}; "
          f"written answers in {out / 'written_answers.md'}; code to look at in {out / 'review.md'}")
    return outcomes


def merge_folders(out: Path, shards: list[Path]) -> list[Outcome]:
    """One gradebook from the folders that ``grade --shard k/n`` wrote."""
    outcomes, questions, manual = [], None, None
    for folder in shards:
        part, part_questions, part_manual = read_results(folder)
        if questions is not None and part_questions != questions:
            raise SystemExit(f"{folder} was graded with other questions ({part_questions}) than {shards[0]}")
        questions, manual = part_questions, part_manual
        outcomes += part
    students = [o.student for o in outcomes]
    twice = sorted({s for s in students if students.count(s) > 1})
    if twice:
        raise SystemExit(f"Graded in more than one shard: {', '.join(map(repr, twice))}")
    outcomes.sort(key=lambda o: o.student)
    specs = {q: {} for q in questions or []}
    write_reports(outcomes, specs, manual or [], out)
    print(f"Merged {len(outcomes)} submissions from {len(shards)} shards into {out / 'gradebook.csv'}")
    return outcomes


def check_notebook(notebook: Path, tests: Path, *, timeout: float, cell_timeout: float) -> Outcome:
    """Run a notebook with its visible tests and print a summary (students, their repository's CI)."""
    specs = load_tests(tests)
    assignment = notebook.stem
    # A student's own check needs no sandbox; use one when the machine has it.
    outcome = grade_notebook(notebook.read_bytes(), assignment, assignment, specs, tests,
                             timeout=timeout, cell_timeout=cell_timeout, sandbox=judge.bubblewrap() is not None)
    text = feedback_text(outcome, [])
    text = text.replace("Autograded score", "Score on the visible tests").replace(
        f"# Feedback for {markdown_text(assignment)}", f"# Visible tests of {notebook.name}")
    print(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as f:
            f.write(text + "\n\nHidden tests and written answers are graded after the deadline.\n")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade a folder of submitted notebooks with all tests")
    grade.add_argument("assignment", help="e.g. a1_vote_choice")
    grade.add_argument("submissions", type=Path, help="folder of <student>.ipynb files")
    grade.add_argument("--out", type=Path, default=Path("gradebook"), help="where gradebook.csv and feedback go")
    grade.add_argument("--instructor", type=Path, help="the instructor folder written by `make assignments`")
    grade.add_argument("--shard", help="grade only shard K of N (e.g. 2/8), for grading on several machines")
    grade.add_argument("--memory-gb", type=float, default=judge.LIMITS["memory_bytes"] / 2**30,
                       help="memory limit of each submission's kernel (default %(default)g)")
    merge = commands.add_parser("merge", help="one gradebook from the folders of several shards")
    merge.add_argument("out", type=Path)
    merge.add_argument("shards", type=Path, nargs="+")
    check = commands.add_parser("check", help="run a notebook with its visible tests")
    check.add_argument("notebook", type=Path)
    check.add_argument("--tests", type=Path, default=Path("tests"))
    for sub in (grade, check):
        sub.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per submission")
        sub.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.command == "grade":
        grade_folder(args.assignment, args.submissions, args.out, instructor=args.instructor,
                     timeout=args.timeout, cell_timeout=args.cell_timeout, shard=args.shard,
                     limits={"memory_bytes": int(args.memory_gb * 2**30)})
        return 0
    if args.command == "merge":
        merge_folders(args.out, args.shards)
        return 0
    outcome = check_notebook(args.notebook, args.tests, timeout=args.timeout, cell_timeout=args.cell_timeout)
    return 0 if outcome.possible and outcome.earned == outcome.possible else 1


if __name__ == "__main__":
    sys.exit(main())
