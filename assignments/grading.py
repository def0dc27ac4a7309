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

* Only regular files in the submissions folder are graded (``.ipynb`` in any case); a link,
  a device, a pipe, a folder or a file elsewhere is refused with the reason.
* Each submission is one guarded step: whatever it is or does, the batch goes on and the
  gradebook is written. Its code check and written answers run in a process of their own
  (memory limit, the submission's time limit); the output of every helper process is read
  with a bound.
* Feedback holds the student's scores, visible tests' messages and own errors, each withheld
  if it quotes a hidden test, a solution (``secret_lines.json`` of the release) or another
  submission's file name.
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
import threading
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
MAX_ANSWER_CHARS = 20_000       # a written answer longer than this is cut, with a note
CHECK_MEMORY_BYTES = 3 * 2**30  # the code check of one submission (its own process)
REPORT_BYTES = 64 * 2**20       # what the grader keeps of a helper process's report (stdout) ...
LOG_BYTES = 256 * 2**10         # ... and of its messages (the last part of stderr)
JUDGE_SCRIPT = Path(judge.__file__).resolve()
SECRETS_FILE = "secret_lines.json"   # in the instructor folder, written by release.py
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


def significant_line(line: str) -> str | None:
    """A line long and specific enough that finding it elsewhere means it leaked."""
    line = line.strip()
    if line.startswith("#") or len(line) < 16 or line.startswith(("import ", "from ")):
        return None
    return line


def test_lines(specs: dict[str, dict]) -> tuple[dict[str, str], set[str]]:
    """The significant lines of the tests' code: those of hidden tests (line -> the question
    whose hidden test it is) and those of visible tests, which students see anyway."""
    hidden: dict[str, str] = {}
    visible: set[str] = set()
    for name, spec in specs.items():
        for case in spec["suites"][0]["cases"]:
            for line in case["code"].splitlines():
                if (s := significant_line(re.sub(r"^(>>>|\.\.\.) ?", "", line.strip()))):
                    (hidden.setdefault(s, name) if case.get("hidden", True) else visible.add(s))
    return hidden, visible


def hidden_test_lines(specs: dict[str, dict]) -> set[str]:
    """The significant lines of the hidden tests' code."""
    return set(test_lines(specs)[0])


def load_secrets(instructor: Path, specs: dict[str, dict]) -> list[str]:
    """What no student's feedback may quote: the solutions' and hidden tests' lines that
    release.py found (``secret_lines.json``), and the hidden tests' lines in any case;
    minus what students see anyway (the visible tests, the student notebook), so that a
    visible test's message is never withheld for a line it shares with a hidden one."""
    secrets = hidden_test_lines(specs)
    path = Path(instructor) / SECRETS_FILE
    if path.is_file():
        secrets.update(json.loads(path.read_text()))
    else:
        print(f"warning: {path} is missing (run `make assignments`): feedback is checked against the "
              "hidden tests only, not the solutions", file=sys.stderr)
    public = [case["code"] for spec in specs.values() for case in spec["suites"][0]["cases"]
              if not case.get("hidden", True)]
    for notebook in sorted((Path(instructor).parent / "student").glob("*.ipynb")):
        public += [cell_text(cell) for cell in json.loads(notebook.read_text()).get("cells", [])]
    public_text = _plain("\n".join(public))
    return sorted(s for s in secrets if _plain(s) not in public_text)


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


def _parse(source: str) -> ast.AST | str | None:
    """The cell's syntax tree; None if it is not Python (it fails when run: nothing to guard);
    a reason (text) if it is too deeply nested or too large for the parser."""
    if not isinstance(source, str):
        return None
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        source = TransformerManager().transform_cell(source)
    except Exception:
        pass
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):               # ValueError: a null byte in the source
        return None
    except (RecursionError, MemoryError) as error:
        return f"the code check could not read it ({type(error).__name__}: too deeply nested)"


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
    modules, anywhere in the notebook (``o = otter`` in one cell, ``o.x = 1`` in a later one).

    One walk over the code records who is bound from whom; the aliases then spread along
    those links, each name once: time linear in the size of the notebook, however long a
    chain of aliases (``o2 = o1`` ... in any order)."""
    guarded, shells, modules = set(GUARDED_MODULES | GUARDED_NAMES), {"get_ipython"}, set()
    called_from: dict[str, list[str]] = {}      # ip = f()     : ip is a shell if f is one
    bound_from: dict[str, list[str]] = {}       # o = f.x, f() : o is guarded if f is guarded or a shell
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    bound = alias.asname or top
                    modules.add(bound)
                    if top in GUARDED_MODULES:
                        guarded.add(bound)
            elif isinstance(node, ast.ImportFrom) and node.module:
                bound = [a.asname or a.name for a in node.names if a.name != "*"]
                modules.update(bound)
                if node.module.split(".")[0] in GUARDED_MODULES:
                    guarded.update(b for b in bound if b != "Notebook")
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                names = [t.id for t in _targets(node) if isinstance(t, ast.Name)]
                value = node.value
                if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                    called_from.setdefault(value.func.id, []).extend(names)
                root = _root_name(value)
                if root is not None:
                    bound_from.setdefault(root, []).extend(names)
    pending = [(name, "shell") for name in shells] + [(name, "guarded") for name in guarded]
    while pending:
        name, kind = pending.pop()
        if kind == "shell":
            for new in called_from.get(name, ()):
                if new not in shells:
                    shells.add(new)
                    pending.append((new, "shell"))
        for new in bound_from.get(name, ()):        # a shell's or a guarded name's alias is guarded
            if new not in guarded:
                guarded.add(new)
                pending.append((new, "guarded"))
    return guarded, shells, modules


def tampering_reasons(source: str, context: list[str] | None = None) -> list[str]:
    """Why a cell looks as if it reaches into the grading machinery ([] for ordinary code).

    ``context`` is the code of the whole notebook, so that an alias made in one cell
    (``o = otter``) is known in another."""
    return tampering_by_cell(list(context or []) + [source])[-1]


def tampering_by_cell(sources: list[str]) -> list[list[str]]:
    """``tampering_reasons`` of every cell of a notebook, its aliases found once."""
    trees = [_parse(source) for source in sources]
    aliases = _aliases([tree for tree in trees if isinstance(tree, ast.AST)])
    found = []
    for tree in trees:
        if isinstance(tree, str):
            found.append([tree])
        elif tree is None:
            found.append([])
        else:
            try:
                found.append(_reasons(tree, *aliases))
            except (RecursionError, MemoryError) as error:
                found.append([f"the code check could not read it ({type(error).__name__}: too deeply nested)"])
    return found


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


def is_notebook_name(name: str) -> bool:
    """``.ipynb`` in any case (``Essay.IPYNB`` is a notebook too)."""
    return name.lower().endswith(".ipynb") and len(name) > len(".ipynb")


def read_submissions(folder: Path) -> list[Submission]:
    """Every ``*.ipynb`` entry of ``folder`` (the ending in any case), read once: a symbolic
    link, a hard link, a non-regular file or a file that is not in the folder itself is
    refused with a reason."""
    folder = Path(folder)
    found = []
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in sorted(os.listdir(folder_fd)):
            if not is_notebook_name(name):
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
                   limits: dict | None = None, started: float | None = None) -> Outcome:
    """Grade one submitted notebook (its bytes) against ``specs``; never raises. The time
    limit ``timeout`` counts from ``started`` (a ``time.monotonic()``; default: now)."""
    import nbformat

    outcome = Outcome(student)
    for name, spec in specs.items():
        outcome.scores[name] = (0.0, score_question(spec, [])[1])
    start = time.monotonic() if started is None else started
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
        run = run_bounded([sys.executable, str(JUDGE_SCRIPT)], json.dumps(job).encode(), timeout - (time.monotonic() - start),
                          cwd=root)
        stdout, stderr = run.stdout.decode("utf-8", "replace"), run.stderr
        if run.log_cut_bytes:
            outcome.notes.append(f"The grading run wrote {run.log_cut_bytes + LOG_BYTES:,} bytes of messages; "
                                 f"the last {LOG_BYTES // 1024} KB were kept.")
        if run.timed_out:
            last = [line for line in stderr.splitlines() if re.fullmatch(r"cell \d+", line) or line == "tests"]
            where = f" (it was running {_cell_label(nb, int(last[-1].split()[1])) if last and last[-1] != 'tests' else 'the tests'})" if last else ""
            outcome.status = "time limit"
            outcome.notes.append(f"The notebook did not finish within the time limit of {timeout:.0f} s{where}; "
                                 "it was stopped and scores 0.")
            return outcome
        try:
            if run.report_cut:
                raise ValueError("report too large")
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


@dataclass
class Finished:
    """What a helper process left: its report (the first ``REPORT_BYTES`` of stdout), the last
    ``LOG_BYTES`` of its messages (stderr), and how it ended."""
    returncode: int | None
    stdout: bytes
    stderr: str
    timed_out: bool = False
    report_cut: bool = False
    log_cut_bytes: int = 0


class _Keep(threading.Thread):
    """Reads a pipe to its end, keeping the first (``tail=False``) or last ``limit`` bytes:
    whatever a process writes, the grader holds at most ``limit`` bytes of it."""

    def __init__(self, stream, limit: int, tail: bool):
        super().__init__(daemon=True)
        self.stream, self.limit, self.tail = stream, limit, tail
        self.kept, self.dropped = bytearray(), 0

    def run(self):
        fd = self.stream.fileno()
        while chunk := os.read(fd, 2**16):
            if self.tail:
                self.kept += chunk
                if len(self.kept) > self.limit:
                    self.dropped += len(self.kept) - self.limit
                    del self.kept[:len(self.kept) - self.limit]
            else:
                room = self.limit - len(self.kept)
                self.kept += chunk[:max(room, 0)]
                self.dropped += max(len(chunk) - max(room, 0), 0)
        self.stream.close()


def run_bounded(command: list[str], data: bytes, timeout: float, *, cwd: Path | None = None,
                memory_bytes: int | None = None) -> Finished:
    """Run ``command`` with ``data`` on stdin in its own process group, for at most ``timeout``
    seconds (then the whole group is killed), optionally with a limit on its address space;
    its output is read with a bound (``REPORT_BYTES`` of stdout, ``LOG_BYTES`` of stderr)."""
    def limit_memory():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True,
                               preexec_fn=limit_memory if memory_bytes else None)
    out, err = _Keep(process.stdout, REPORT_BYTES, tail=False), _Keep(process.stderr, LOG_BYTES, tail=True)
    out.start()
    err.start()

    def feed():
        try:
            process.stdin.write(data)
            process.stdin.close()
        except (BrokenPipeError, OSError):
            pass
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    timed_out = False
    try:
        process.wait(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(process)
        process.wait()
    _kill(process)                      # what the process started and left behind
    for thread in (writer, out, err):
        thread.join(timeout=10)
    return Finished(process.returncode, bytes(out.kept), err.kept.decode("utf-8", "replace"), timed_out,
                    out.dropped > 0, err.dropped)


# ---------------------------------------------------------------------------------------
# Written answers, gradebook, feedback
# ---------------------------------------------------------------------------------------

def cell_text(cell) -> str:
    """A cell's source as text: a list of lines is joined; anything else that is not text
    (a number, say, in a hand-edited file) counts as empty."""
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return source if isinstance(source, str) else ""


def written_answers(raw: bytes, manual: list[dict]) -> dict[str, str]:
    """The student's answers to hand-graded questions, found between otter's question markers
    (each at most ``MAX_ANSWER_CHARS`` characters)."""
    import nbformat

    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception:
        return {}
    blocks, current = [], None
    for cell in nb.cells:
        if not isinstance(cell, dict):
            continue
        source = cell_text(cell)
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        typed_in = isinstance(tags, list) and "otter_answer_cell" in tags     # a marker typed here is text
        # otter puts "<!-- BEGIN QUESTION -->" at the top of the prompt cell and
        # "<!-- END QUESTION -->" after the answer, often in the same cell as the next
        # question's "<!-- BEGIN QUESTION -->": close first, then open.
        if cell.get("cell_type") == "markdown" and not typed_in and ("<!-- END QUESTION -->" in source
                                                                     or "<!-- BEGIN QUESTION -->" in source):
            if current is not None and "<!-- END QUESTION -->" in source:
                blocks.append(current)
                current = None
            if "<!-- BEGIN QUESTION -->" in source:
                current = []
            continue
        if current is not None and source.strip() != ANSWER_PLACEHOLDER:
            current.append(source)
    if current is not None:
        blocks.append(current)
    # Questions and answer blocks pair up in order (a student who deleted a marker cell
    # shifts them; the instructor reads the answers anyway).
    answers = {}
    for question, block in zip(manual, blocks):
        answer = "\n\n".join(text.strip() for text in block).strip()
        if len(answer) > MAX_ANSWER_CHARS:
            answer = answer[:MAX_ANSWER_CHARS] + f"\n[... cut: the answer has {len(answer):,} characters]"
        answers[question["name"]] = answer
    return answers


def inspect_notebook(raw: bytes, manual: list[dict]) -> dict:
    """The code check (cells for the instructor to look at) and the written answers of one
    submission. ``inspect_submission`` runs it in a process of its own."""
    import nbformat

    review, written = [], {}
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        cells = [c for c in nb.get("cells", []) if isinstance(c, dict)]
    except Exception:
        cells = []                                 # unreadable: grade_notebook says so
    code = [cell_text(c) for c in cells if c.get("cell_type") == "code"]
    found = tampering_by_cell(code)
    review = [f"code cell {number}: {'; '.join(reasons)}" for number, reasons in enumerate(found, 1) if reasons]
    written = written_answers(raw, manual)
    return {"review": review, "written": written}


def inspect_submission(raw: bytes, manual: list[dict], timeout: float) -> dict:
    """``inspect_notebook`` in a separate process, within ``timeout`` seconds and
    ``CHECK_MEMORY_BYTES`` of memory: ``{"review": ..., "written": ...}``, or ``{"error": why}``."""
    header = json.dumps({"manual": manual}).encode() + b"\n"
    run = run_bounded([sys.executable, str(Path(__file__).resolve()), "inspect"], header + raw, timeout,
                      memory_bytes=CHECK_MEMORY_BYTES)
    if run.timed_out:
        return {"error": "time limit"}
    try:
        if run.returncode != 0 or run.report_cut:
            raise ValueError
        found = json.loads(run.stdout)
        return {"review": [str(r) for r in found["review"]],
                "written": {str(k): str(v) for k, v in found["written"].items()}}
    except (ValueError, KeyError, TypeError, AttributeError):
        last = run.stderr.strip().splitlines()[-1][:300] if run.stderr.strip() else f"exit status {run.returncode}"
        return {"error": f"the code check failed ({last})"}


def _inspect_main() -> int:
    """``python grading.py inspect``: a job line (JSON) and the notebook's bytes on stdin."""
    data = sys.stdin.buffer.read()
    header, _, raw = data.partition(b"\n")
    result = inspect_notebook(raw, json.loads(header)["manual"])
    sys.stdout.write(json.dumps(result))
    return 0


def write_reports(outcomes: list[Outcome], specs: dict[str, dict], manual: list[dict], out: Path,
                  secrets: list[str] | None = None) -> None:
    """gradebook.csv, feedback/<student>.md, written_answers.md, review.md and results.json
    (what ``merge`` reads) in ``out``. Student names are data: they never become a path, a
    formula or markup. Feedback quotes nothing of ``secrets`` (the hidden tests' and the
    solutions' lines) and no other submission's file name."""
    secrets = list(secrets or [])
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
    guard = FeedbackGuard(secrets, [o.student for o in outcomes])
    for o in outcomes:
        (out / "feedback" / f"{files[id(o)]}.md").write_text(guard.checked(feedback_text(o, manual, guard.filter(o)), o))
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
    (out / "results.json").write_text(json.dumps({"questions": questions, "manual": manual, "secrets": secrets,
                                                  "outcomes": [asdict(o) for o in outcomes]}, indent=1))


def read_results(folder: Path) -> tuple[list[Outcome], list[str], list[dict], list[str]]:
    """The outcomes a ``grade`` run left in ``folder`` (its results.json), its questions, the
    hand-graded questions and what feedback must not quote."""
    data = json.loads((Path(folder) / "results.json").read_text())
    outcomes = []
    for record in data["outcomes"]:
        record["scores"] = {k: tuple(v) for k, v in record["scores"].items()}
        outcomes.append(Outcome(**record))
    return outcomes, data["questions"], data["manual"], data.get("secrets", [])


WITHHELD = ("(withheld: this message quoted the assignment's hidden tests or solutions, or another "
            "submission; your instructor can read it in the gradebook)")


def _plain(text: str) -> str:
    """Letters and digits only, lower case: a quote survives escaping, re-wrapping and repr()."""
    return re.sub(r"[\W_]+", "", text).lower()


class FeedbackGuard:
    """Keeps out of a student's feedback every line of the hidden tests and solutions
    (``secrets``) and the other submissions' file names, in whatever quoting."""

    def __init__(self, secrets: list[str], students: list[str]):
        self.secrets = [p for p in {_plain(s) for s in secrets} if len(p) >= 12]
        self.students = students

    def reveals(self, text: str, student: str) -> bool:
        plain = _plain(text)
        if any(secret in plain for secret in self.secrets):
            return True
        lowered = text.lower()
        return any(other != student and f"{other}.ipynb".lower() in lowered for other in self.students)

    def filter(self, o: Outcome) -> dict:
        """What of ``o`` the student may read: its notes and visible tests' messages, each
        replaced by ``WITHHELD`` if it reveals anything."""
        notes = [WITHHELD if self.reveals(n, o.student) else n for n in o.notes]
        messages = {name: [WITHHELD if self.reveals(c["message"], o.student) else c["message"] for c in cases]
                    for name, cases in o.cases.items()}
        return {"notes": notes, "messages": messages}

    def checked(self, text: str, o: Outcome) -> str:
        """The feedback as it is written; should anything still reveal a secret (a note the
        filter did not see), only the scores remain."""
        if not self.reveals(text, o.student):
            return text
        return feedback_text(Outcome(o.student, scores=o.scores, status=o.status), [],
                             {"notes": [WITHHELD], "messages": {}})

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




def feedback_text(o: Outcome, manual: list[dict], shown: dict | None = None) -> str:
    """What a student reads: score per question, what failed (hidden tests without details).
    ``shown`` replaces the notes and visible tests' messages (``FeedbackGuard.filter``)."""
    shown = shown or {"notes": o.notes, "messages": {name: [c["message"] for c in cases] for name, cases in o.cases.items()}}
    lines = [f"# Feedback for {markdown_text(o.student)}", "",
             f"Autograded score: **{o.earned:g} / {o.possible:g}**  (status: {o.status})", "",
             "| question | points | tests passed |", "|---|---|---|"]
    for name, (earned, possible) in o.scores.items():
        cases = o.cases.get(name, [])
        passed = sum(c["passed"] for c in cases)
        lines.append(f"| {name} | {earned:g} / {possible:g} | {passed} of {len(cases) or '?'} |")
    lines.append("")
    if shown["notes"]:
        lines += ["## What happened when your notebook ran", ""] + [f"- {n}" for n in shown["notes"]] + [""]
    failures = [(name, c, message) for name, cases in o.cases.items()
                for c, message in zip(cases, shown["messages"].get(name, [])) if not c["passed"]]
    if failures:
        lines += ["## Tests that failed", ""]
        for name, case, message in failures:
            if case["hidden"]:
                lines += [f"- **{name}**: a hidden test failed. Re-read the question: the hidden tests "
                          "check the same behaviour more thoroughly than the visible ones.", ""]
            else:
                lines += [f"- **{name}** (visible test):", "", quoted_block(short_failure(message)), ""]
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
    for name in not_graded(submissions):
        print(f"not graded (not a notebook): {name!r}")
    secrets = load_secrets(instructor, specs)
    outcomes = []
    for n, entry in enumerate(entries, 1):
        print(f"[{n}/{len(entries)}] {entry.student!r} ...", end=" ", flush=True)
        try:
            outcome = grade_submission(entry, assignment, specs, manual, visible, timeout=timeout,
                                       cell_timeout=cell_timeout, sandbox=sandbox, limits=limits)
        except Exception as error:        # a bug of the grader: this student gets the reason, the batch goes on
            outcome = Outcome(entry.student, status="failed",
                              notes=[f"Grading failed: {type(error).__name__}: {str(error)[:300]}"])
            outcome.scores = {name: (0.0, score_question(spec, [])[1]) for name, spec in specs.items()}
        outcomes.append(outcome)
        print(f"{outcome.earned:g}/{outcome.possible:g} ({outcome.status}, {outcome.seconds:.0f} s)", flush=True)
        write_reports(outcomes, specs, manual, out, secrets=secrets)   # after each one: a crash loses nothing
    print(f"Gradebook: {out / 'gradebook.csv'}; feedback in {out / 'feedback'}; "
          f"written answers in {out / 'written_answers.md'}; code to look at in {out / 'review.md'}")
    return outcomes


def not_graded(folder: Path) -> list[str]:
    """The names in ``folder`` that are not notebooks, for the instructor to see."""
    return sorted(name for name in os.listdir(folder) if not is_notebook_name(name))


def grade_submission(entry: Submission, assignment: str, specs: dict[str, dict], manual: list[dict],
                     visible: Path | None, *, timeout: float, cell_timeout: float, sandbox: bool = True,
                     limits: dict | None = None) -> Outcome:
    """One submission from start to end, every step within its time limit ``timeout``: the code
    check and the written answers (a process of their own), then the run and the tests."""
    started = time.monotonic()
    if entry.refused:
        outcome = Outcome(entry.student, status="refused", notes=[f"Not graded: {entry.refused}."])
        outcome.scores = {name: (0.0, score_question(spec, [])[1]) for name, spec in specs.items()}
        return outcome
    inspected = inspect_submission(entry.raw, manual, timeout)
    if inspected.get("error") == "time limit":
        outcome = Outcome(entry.student, status="time limit", seconds=time.monotonic() - started, notes=[
            f"The notebook could not be checked within the time limit of {timeout:.0f} s "
            "(its code is too large to read); it was not run and scores 0."])
        outcome.scores = {name: (0.0, score_question(spec, [])[1]) for name, spec in specs.items()}
        return outcome
    outcome = grade_notebook(entry.raw, entry.student, assignment, specs, visible, timeout=timeout,
                             cell_timeout=cell_timeout, sandbox=sandbox, limits=limits, started=started)
    if "error" in inspected:
        outcome.review.append(inspected["error"])
    outcome.review += inspected.get("review", [])
    outcome.written = inspected.get("written", {})
    return outcome


def merge_folders(out: Path, shards: list[Path]) -> list[Outcome]:
    """One gradebook from the folders that ``grade --shard k/n`` wrote."""
    outcomes, questions, manual, secrets = [], None, None, set()
    for folder in shards:
        part, part_questions, part_manual, part_secrets = read_results(folder)
        secrets.update(part_secrets)
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
    write_reports(outcomes, specs, manual or [], out, secrets=sorted(secrets))
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["inspect"]:                     # internal: one submission's code check
        return _inspect_main()
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
