"""Run assignment notebooks against otter-grader tests, each submission in its own sandbox.

Instructors grade a folder of submitted notebooks with every test (visible and hidden)::

    python assignments/grading.py grade a1_vote_choice submissions/ --out gradebook/

writes ``gradebook.csv``, one readable ``feedback/<student>.md`` per student and
``written_answers.md`` with the hand-graded answers side by side. Students (and the
workflow in their repository) check a notebook against the visible tests::

    python grading.py check a1_vote_choice.ipynb

How a submission is run, and why:

* It is copied into a fresh sandbox folder with the visible tests only. Under Linux with
  bubblewrap (``bwrap``) installed, the run sees the file system read-only except that
  folder, has no network and its own process table, so it cannot delete or change files
  elsewhere, including the grading code, the tests and other students' results.
* Cells run one by one in a Jupyter kernel. A cell that raises is recorded and the next one
  runs. A cell that runs longer than the cell time limit is interrupted; if it ignores the
  interrupt, or if a cell ends the Python process (``os._exit``, ``exit()``), the kernel is
  restarted and the notebook is run again without that cell. The whole submission has a
  time limit; past it, the run is stopped and scored 0 with the reason.
* Cells that reach into the grading machinery (rebinding ``grader``, changing otter,
  doctest, builtins, ``sys.modules`` or IPython's shell through any alias, replacing a
  function of an imported module, frames, threads, ``exec``) are not run; the feedback
  names them.
* Whatever slips past that check still does not reach the tests: before them, the shell's
  cell hooks and code transformers are dropped and otter, doctest, contextlib and json are
  imported afresh; the tests see the real builtins even where the notebook reused a name.
* The tests, hidden ones included, exist only in this process until the last cell: they are
  sent into the kernel after the student's code has finished, outside the input history.
  The first result that carries their one-time key counts; nothing a notebook prints
  ("All tests passed!") is read.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import hmac
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

ANSWER_PLACEHOLDER = "_Type your answer here, replacing this text._"
RESULTS_MIME = "application/vnd.dl4ss.grading+json"
RESULT_LINE = "DL4SS-GRADING-RESULT "
DEFAULT_TIMEOUT = 1200          # seconds for a whole submission
DEFAULT_CELL_TIMEOUT = 300      # seconds for one cell
INTERRUPT_GRACE = 10            # seconds a cell gets to stop after an interrupt
MAX_RESTARTS = 3
MAX_ERROR_NOTES = 6


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
# shell (cell hooks, code transformers, a trace function) is dropped, and the test runner's
# modules are imported afresh, so changes the notebook made to them do not reach the tests.
RESET_CELL = """
def _dl4ss_reset():
    import sys
    for name in [m for m in sys.modules if m.split(".")[0] in ("otter", "doctest", "contextlib", "json")]:
        del sys.modules[name]
    sys.settrace(None)
    sys.setprofile(None)
    from IPython import get_ipython
    from IPython.core.events import EventManager, available_events
    shell = get_ipython()
    shell.events = EventManager(shell, available_events)
    shell.ast_transformers = []
    shell.input_transformers_post = []
_dl4ss_reset()
del _dl4ss_reset
"""

# The last cell of every run. It is built after the student's cells have finished, so the
# tests and the key it carries were never visible to them. Builtins that the tests use are
# the real ones, even where the notebook reused their names (``print = ...``).
TEST_CELL = """
def _dl4ss_run_tests(_specs, _key, _workdir, _builtins_used):
    import builtins, json, os
    from IPython.display import display
    for folder in (_workdir, os.environ.get("HOME", _workdir)):   # a notebook may have deleted them
        os.makedirs(folder, exist_ok=True)
    os.chdir(_workdir)
    from otter.test_files.ok_test import OKTestFile
    env = dict(builtins.globals())
    env.update({name: getattr(builtins, name) for name in _builtins_used})
    results = {}
    for name, spec in json.loads(_specs).items():
        try:
            test_file = OKTestFile.from_spec(spec, path=name)
            test_file.run(env)
            results[name] = [{"passed": bool(r.passed), "message": str(r.message)[-3000:]}
                             for r in test_file.test_case_results]
        except BaseException as error:
            results[name] = {"error": type(error).__name__ + ": " + str(error)[:500]}
    display({%(mime)r: {"key": _key, "results": results}}, raw=True)
_dl4ss_run_tests(%(specs)r, %(key)r, %(workdir)r, %(builtins_used)r)
"""


def builtins_used(specs: dict[str, dict]) -> list[str]:
    """The builtin names (``len``, ``print``, ``isinstance`` ...) that the tests' code uses."""
    import builtins
    import doctest

    names = set()
    for spec in specs.values():
        for case in spec["suites"][0]["cases"]:
            for example in doctest.DocTestParser().get_examples(case["code"]):
                try:
                    names.update(n.id for n in ast.walk(ast.parse(example.source)) if isinstance(n, ast.Name))
                except SyntaxError:
                    pass
    return sorted(n for n in names if hasattr(builtins, n))


# ---------------------------------------------------------------------------------------
# Cells that reach into the grading machinery
# ---------------------------------------------------------------------------------------

# Modules and names of the grading machinery: changing them (through any alias) flags a cell.
GUARDED_MODULES = {"otter", "builtins", "__builtins__", "doctest", "IPython", "ipykernel", "json", "sys",
                   "importlib", "gc", "ctypes", "contextlib", "io"}
GUARDED_NAMES = {"grader", "get_ipython", "globals", "__builtins__"}
# Imports a notebook of this course never needs and that could reach into a running test.
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
    """Why a cell's code reaches into the grading machinery ([] for ordinary code).

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
# The worker: runs one notebook in a kernel (inside the sandbox)
# ---------------------------------------------------------------------------------------

def _sign(key: str, payload: dict) -> str:
    body = json.dumps(payload, sort_keys=True)
    return hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run_cell(km, kc, code: str, timeout: float, store_history: bool = True) -> dict:
    """Execute ``code``; returns status ok/error/timeout/interrupted/died and what came back."""
    msg_id = kc.execute(code, store_history=store_history, allow_stdin=False, stop_on_error=False)
    deadline = time.monotonic() + timeout
    outcome = {"status": "ok", "data": []}
    interrupted_at = None
    while True:
        now = time.monotonic()
        if interrupted_at is None and now > deadline:
            km.interrupt_kernel()
            interrupted_at = now
        if interrupted_at is not None and now > interrupted_at + INTERRUPT_GRACE:
            outcome["status"] = "timeout"
            return outcome
        try:
            msg = kc.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            if not km.is_alive():
                outcome["status"] = "died"
                return outcome
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            outcome["status"] = "error"
            outcome["error"] = f"{content.get('ename')}: {content.get('evalue')}"[:500]
        elif kind == "display_data" and RESULTS_MIME in content.get("data", {}):
            outcome["data"].append(content["data"][RESULTS_MIME])
        elif kind == "status" and content.get("execution_state") == "idle":
            if interrupted_at is not None:
                outcome["status"] = "interrupted"
            return outcome


def run_notebook(job: dict) -> dict:
    """Run the notebook cell by cell, then the tests; returns what happened."""
    import nbformat
    from jupyter_client import KernelManager

    nb = nbformat.read(job["notebook"], as_version=4)
    code_cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    skip = {int(i) for i in job["skip"]}
    events: list[dict] = []
    for attempt in range(MAX_RESTARTS + 1):
        km = KernelManager(kernel_name="python3")
        # History in memory: a notebook that deletes its home folder must not make IPython's
        # history thread print errors into the tests' output.
        km.start_kernel(cwd=job["workdir"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        stdin=subprocess.DEVNULL, extra_arguments=["--HistoryManager.hist_file=:memory:"])
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            restart = False
            for index, source in code_cells:
                if index in skip:
                    continue
                _progress(f"cell {index}")
                outcome = _run_cell(km, kc, source, job["cell_timeout"])
                if outcome["status"] == "ok":
                    continue
                event = {"cell": index, "status": outcome["status"], "error": outcome.get("error", "")}
                if event not in events:
                    events.append(event)
                if outcome["status"] in ("timeout", "died"):
                    skip.add(index)
                    restart = True
                    break
            if restart:
                continue
            _progress("tests")
            _run_cell(km, kc, RESET_CELL, job["cell_timeout"], store_history=False)
            key = secrets.token_hex(16)
            cell = TEST_CELL % {"mime": RESULTS_MIME, "specs": json.dumps(job["specs"]), "key": key,
                                "workdir": job["workdir"], "builtins_used": builtins_used(job["specs"])}
            outcome = _run_cell(km, kc, cell, job["cell_timeout"], store_history=False)
            # The first result with the key is the tests' own; nothing can display before it.
            results = next((data.get("results") for data in outcome["data"]
                            if isinstance(data, dict) and data.get("key") == key), None)
            if results is None:
                events.append({"cell": "tests", "status": outcome["status"],
                               "error": outcome.get("error", "the tests did not report back")})
            return {"events": events, "skipped": sorted(skip), "results": results or {}}
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return {"events": events, "skipped": sorted(skip), "results": {},
            "gave_up": f"the kernel had to be restarted more than {MAX_RESTARTS} times"}


def worker_main() -> None:
    """Entry point inside the sandbox: the job comes on stdin, the signed result goes to stdout."""
    job = json.loads(sys.stdin.read())
    sys.stdin.close()
    key = job.pop("key")
    try:
        report = run_notebook(job)
    except Exception as error:                                    # reported, never raised
        report = {"events": [], "skipped": [], "results": {}, "gave_up": f"{type(error).__name__}: {error}"}
    print(RESULT_LINE + json.dumps({"report": report, "sig": _sign(key, report)}), flush=True)


# ---------------------------------------------------------------------------------------
# The parent: sandbox, time limit, scores
# ---------------------------------------------------------------------------------------

def bubblewrap() -> str | None:
    """The ``bwrap`` executable if it can make a sandbox here, else None."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    probe = subprocess.run([exe, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-net", "true"],
                           capture_output=True)
    return exe if probe.returncode == 0 else None


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

    @property
    def earned(self) -> float:
        return sum(e for e, _ in self.scores.values())

    @property
    def possible(self) -> float:
        return sum(p for _, p in self.scores.values())


def _cell_label(nb, index) -> str:
    return "the tests" if index == "tests" else f"code cell {index + 1 - sum(1 for c in nb.cells[:index] if c.cell_type != 'code')}"


def grade_notebook(raw: bytes, student: str, assignment: str, specs: dict[str, dict], visible_tests: Path | None,
                   *, timeout: float, cell_timeout: float, sandbox: bool = True) -> Outcome:
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

    skip = []
    code_cells = [index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    found = tampering_by_cell([nb.cells[index].source for index in code_cells])
    for code_index, (index, reasons) in enumerate(zip(code_cells, found), 1):
        if reasons:
            skip.append(index)
            outcome.notes.append(f"Code cell {code_index} was not run because it reaches into the grading "
                                 f"machinery: {'; '.join(reasons)}.")
    if skip:
        outcome.status = "graded, flagged"

    root = Path(tempfile.mkdtemp(prefix="dl4ss-grade-"))
    try:
        workdir, home = root / "work", root / "home"
        workdir.mkdir()
        home.mkdir()
        notebook = workdir / f"{assignment}.ipynb"
        notebook.write_bytes(raw)
        if visible_tests is not None and visible_tests.is_dir():
            shutil.copytree(visible_tests, workdir / "tests")
        key = secrets.token_hex(32)
        job = {"notebook": str(notebook), "workdir": str(workdir), "skip": skip, "specs": specs,
               "cell_timeout": cell_timeout, "key": key}
        env = {k: v for k, v in os.environ.items()
               if k in ("PATH", "LANG", "LC_ALL", "DL4SS_FAST", "DL4SS_OFFLINE", "TF_CPP_MIN_LOG_LEVEL",
                        "TF_ENABLE_ONEDNN_OPTS", "PYTHONPATH", "VIRTUAL_ENV")}
        env.update(HOME=str(home), TMPDIR=str(home), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
        command = [sys.executable, os.path.abspath(__file__), "worker"]
        bwrap = bubblewrap() if sandbox else None
        if bwrap:
            command = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                       "--bind", str(root), str(root), "--unshare-net", "--unshare-pid", "--unshare-ipc",
                       "--die-with-parent", "--new-session", "--chdir", str(workdir)] + command
        elif sandbox:
            outcome.notes.append("Not isolated: bubblewrap (bwrap) is not available, so the notebook ran "
                                 "with the grader's file access.")
        process = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True, text=True)
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
        report = _verified_report(stdout, key)
        if report is None:
            outcome.status = "failed"
            outcome.notes.append("The grading run ended without a valid result (the process was killed or its "
                                 "output was tampered with); the submission scores 0.")
            return outcome
        errors = [e for e in report["events"] if e["status"] == "error"]
        if len(errors) > MAX_ERROR_NOTES:         # an unfinished notebook: name the first few
            report["events"] = [e for e in report["events"] if e["status"] != "error"] + errors[:MAX_ERROR_NOTES]
        for event in report["events"]:
            label = _cell_label(nb, event["cell"])
            if event["status"] == "error":
                outcome.notes.append(f"{label.capitalize()} raised {event['error']}.")
            elif event["status"] == "interrupted":
                outcome.notes.append(f"{label.capitalize()} ran longer than {cell_timeout:.0f} s and was interrupted.")
            elif event["status"] == "timeout":
                outcome.notes.append(f"{label.capitalize()} ran longer than {cell_timeout:.0f} s and did not stop when "
                                     "interrupted; the notebook was run again without it.")
            elif event["status"] == "died":
                outcome.notes.append(f"{label.capitalize()} ended the Python process (for example os._exit or exit()); "
                                     "the notebook was run again without it.")
        if len(errors) > MAX_ERROR_NOTES:
            outcome.notes.append(f"... and {len(errors) - MAX_ERROR_NOTES} more code cells raised errors.")
        if report.get("gave_up"):
            outcome.status = "failed"
            outcome.notes.append(f"Grading gave up: {report['gave_up']}.")
        for name, spec in specs.items():
            cases = report["results"].get(name)
            if isinstance(cases, list):
                outcome.scores[name] = score_question(spec, [bool(c.get("passed")) for c in cases])
                hidden = [case.get("hidden", True) for case in spec["suites"][0]["cases"]]
                outcome.cases[name] = [{"passed": bool(c.get("passed")), "hidden": h, "message": str(c.get("message", ""))}
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


def _verified_report(stdout: str, key: str) -> dict | None:
    for line in stdout.splitlines():
        if not line.startswith(RESULT_LINE):
            continue
        try:
            message = json.loads(line[len(RESULT_LINE):])
            if hmac.compare_digest(message["sig"], _sign(key, message["report"])):
                return message["report"]
        except (ValueError, KeyError, TypeError):
            continue
    return None


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
    """gradebook.csv, feedback/<student>.md and written_answers.md in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "feedback").mkdir(exist_ok=True)
    questions = list(specs)
    with open(out / "gradebook.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "status", "autograded", "autograded_possible", "autograded_percent"]
                        + questions + [f"{q['name']} (by hand, /{q['points']:g})" for q in manual]
                        + ["seconds", "notes"])
        for o in outcomes:
            writer.writerow([o.student, o.status, f"{o.earned:g}", f"{o.possible:g}",
                             f"{100 * o.earned / o.possible:.1f}" if o.possible else ""]
                            + [f"{o.scores[q][0]:g}" for q in questions] + ["" for _ in manual]
                            + [f"{o.seconds:.0f}", " | ".join(o.notes)])
    for o in outcomes:
        (out / "feedback" / f"{o.student}.md").write_text(feedback_text(o, manual))
    lines = ["# Written answers to grade by hand", ""]
    for q in manual:
        lines += [f"## {q['name']} ({q['points']:g} points)", ""]
        for o in outcomes:
            answer = o.written.get(q["name"], "") or "(no answer)"
            lines += [f"### {o.student}", "", answer, ""]
    (out / "written_answers.md").write_text("\n".join(lines))


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
    lines = [f"# Feedback for {o.student}", "",
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


def grade_folder(assignment: str, submissions: Path, out: Path, *, instructor: Path | None = None,
                 timeout: float = DEFAULT_TIMEOUT, cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                 sandbox: bool = True) -> list[Outcome]:
    """Grade every ``*.ipynb`` in ``submissions``; the student is the file name without ``.ipynb``."""
    instructor = instructor or ROOT / "_build" / "assignments" / assignment / "instructor"
    if not (instructor / "tests").is_dir():
        raise SystemExit(f"No tests in {instructor}/tests: run `make assignments` first.")
    specs = load_tests(instructor / "tests")
    manifest = json.loads((instructor / "manifest.json").read_text())
    manual = [q for q in manifest["questions"] if q["manual"]]
    visible = instructor.parent / "student" / "tests"
    # Read every submission first: nothing a submission does later can change another one.
    files = sorted(Path(submissions).glob("*.ipynb"))
    if not files:
        raise SystemExit(f"No .ipynb files in {submissions}.")
    submitted = [(path.stem, path.read_bytes()) for path in files]
    outcomes = []
    for n, (student, raw) in enumerate(submitted, 1):
        print(f"[{n}/{len(submitted)}] {student} ...", end=" ", flush=True)
        outcome = grade_notebook(raw, student, assignment, specs, visible, timeout=timeout,
                                 cell_timeout=cell_timeout, sandbox=sandbox)
        outcome.written = written_answers(raw, manual)
        outcomes.append(outcome)
        print(f"{outcome.earned:g}/{outcome.possible:g} ({outcome.status}, {outcome.seconds:.0f} s)", flush=True)
        write_reports(outcomes, specs, manual, out)           # after each one: a crash loses nothing
    print(f"Gradebook: {out / 'gradebook.csv'}; feedback in {out / 'feedback'}; "
          f"written answers in {out / 'written_answers.md'}")
    return outcomes


def check_notebook(notebook: Path, tests: Path, *, timeout: float, cell_timeout: float) -> Outcome:
    """Run a notebook with its visible tests and print a summary (students, their repository's CI)."""
    specs = load_tests(tests)
    assignment = notebook.stem
    # A student's own check needs no sandbox; use one when the machine has it.
    outcome = grade_notebook(notebook.read_bytes(), assignment, assignment, specs, tests,
                             timeout=timeout, cell_timeout=cell_timeout, sandbox=bubblewrap() is not None)
    text = feedback_text(outcome, [])
    text = text.replace("Autograded score", "Score on the visible tests").replace(
        f"# Feedback for {assignment}", f"# Visible tests of {notebook.name}")
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
    check = commands.add_parser("check", help="run a notebook with its visible tests")
    check.add_argument("notebook", type=Path)
    check.add_argument("--tests", type=Path, default=Path("tests"))
    for sub in (grade, check):
        sub.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per submission")
        sub.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
    commands.add_parser("worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "worker":
        worker_main()
        return 0
    if args.command == "grade":
        grade_folder(args.assignment, args.submissions, args.out, instructor=args.instructor,
                     timeout=args.timeout, cell_timeout=args.cell_timeout)
        return 0
    outcome = check_notebook(args.notebook, args.tests, timeout=args.timeout, cell_timeout=args.cell_timeout)
    return 0 if outcome.possible and outcome.earned == outcome.possible else 1


if __name__ == "__main__":
    sys.exit(main())
