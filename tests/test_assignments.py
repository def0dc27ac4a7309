"""Assignments: the release keeps its secrets, the tests are honest, grading survives bad submissions.

The grading runs are real: each submission's cells run in a sandboxed kernel and the
assignment's visible and hidden tests run in the judge, in fast, offline mode (the
Makefile's test target sets both).
Every assignment's solution and unchanged student version are graded once, in one batch;
the bank of bad and hostile submissions is graded once, against one assignment (BANK), in
the same batch. Grading times are measured by `make bench`, not asserted here.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from notebook_tools import ROOT

sys.path.insert(0, str(ROOT / "assignments"))
import grading  # noqa: E402
import release  # noqa: E402

ASSIGNMENTS = [p.stem for p in release.authoring_notebooks()]
BANK = ASSIGNMENTS[0]          # the assignment the bank of bad submissions is graded against
# Short limits keep the test quick; the defaults for real grading are 1200 s and 300 s.
# CELL_TIMEOUT stops the bank's endless loops; the batches without them allow a cell
# HONEST_CELL_TIMEOUT, far above what any solution cell needs on a busy 2-core machine
# (A3 loads MiniLM and encodes 3,849 tweets in one cell: 25 s measured on an idle machine).
CELL_TIMEOUT = 20
HONEST_CELL_TIMEOUT = 240
TIMEOUT = 600


def release_of(name):
    """The release of one assignment (regenerated if the authoring notebook is newer)."""
    target = ROOT / "_build" / "assignments" / name
    authoring = ROOT / "assignments" / name / f"{name}.ipynb"
    newest_source = max(p.stat().st_mtime for p in [authoring, ROOT / "assignments/release.py"]
                        + [ROOT / "assignments" / f for f in grading.GRADING_FILES])
    manifest = target / "instructor" / "manifest.json"
    if not manifest.exists() or manifest.stat().st_mtime < newest_source:
        release.release(name)
    return name, target


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def released(request):
    return release_of(request.param)


def secrets_of(name, target):
    return release.secret_lines(ROOT / "assignments" / name / f"{name}.ipynb",
                                grading.load_tests(target / "instructor" / "tests"))


def test_release_has_what_students_and_instructors_need(released):
    name, target = released
    student, instructor = target / "student", target / "instructor"
    nb = nbformat.read(student / f"{name}.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "..." in code and 'grader = assignment_grader(' in code and 'grader.check("' in code
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    visible = grading.load_tests(student / "tests")
    everything = grading.load_tests(instructor / "tests")
    assert set(visible) == set(everything), "every autograded question has visible tests"
    for spec in visible.values():
        assert all(not case["hidden"] for case in spec["suites"][0]["cases"]), "a hidden test in the student release"
    hidden = sum(case["hidden"] for spec in everything.values() for case in spec["suites"][0]["cases"])
    assert hidden >= len(everything), "each question has hidden tests for grading"
    manifest = json.loads((instructor / "manifest.json").read_text())
    assert any(q["manual"] for q in manifest["questions"]), "written answers are graded by hand"
    assert manifest["autograded_points"] == sum(grading.score_question(s, [])[1] for s in everything.values())
    workflow = yaml.safe_load((student / ".github/workflows/check.yml").read_text())
    assert True in workflow and "push" in workflow[True], "the workflow runs on every push"  # YAML reads `on` as True
    steps = " ".join(str(s.get("run", "")) for s in workflow["jobs"]["check"]["steps"])
    assert f"grading.py check {name}.ipynb" in steps and "requirements.txt" in steps
    # Students get the otter-grader the tests ran with, in their repository and in Colab.
    assert f"otter-grader=={release.OTTER_VERSION}" in (student / "requirements.txt").read_text()
    assert f"%pip install --quiet otter-grader=={release.OTTER_VERSION}\n" in code
    assert f"git+{release.REPOSITORY}" in (student / "requirements.txt").read_text()
    for grading_file in grading.GRADING_FILES:
        assert (student / grading_file).read_text() == (ROOT / "assignments" / grading_file).read_text()
    grade_workflow = yaml.safe_load((instructor / "grade-workflow.yml").read_text())
    assert "merge" in grade_workflow["jobs"] and "matrix" in grade_workflow["jobs"]["shard"]["strategy"]
    assert (ROOT / "assignments/pages" / f"{name}.md").exists()
    assert (ROOT / "assignments/pages" / f"{name}-student.zip").exists()


def test_every_cell_of_the_student_version_is_valid_python(released):
    """Blanking a solution must leave code that runs up to its `...`: otter keeps what it reads as
    the left-hand side of an assignment, and a line such as `t["x"] = (t["y"] == 1)` once lost
    its closing bracket in a student version."""
    from IPython.core.inputtransformer2 import TransformerManager
    import ast

    name, target = released
    nb = nbformat.read(target / "student" / f"{name}.ipynb", as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    broken = []
    for number, source in enumerate(cells):
        try:
            ast.parse(TransformerManager().transform_cell(source))
        except SyntaxError as error:
            broken.append(f"code cell {number}: {error.msg} in {source.splitlines()[(error.lineno or 1) - 1]!r}")
    assert broken == [], f"{name}: the student version has code that does not parse: {broken}"


def test_no_solution_or_hidden_test_reaches_students(released):
    name, target = released
    secrets = secrets_of(name, target)
    assert len(secrets) >= 10, "the leak check knows the solution and hidden-test lines"
    # The check can fail: the solution notebook holds the secrets.
    assert release.find_leaks(secrets, [target / "instructor" / f"{name}-solution.ipynb"])
    student_sees = [target / "student", ROOT / "assignments/pages" / f"{name}.md",
                    ROOT / "assignments/pages" / f"{name}-student.zip"]
    assert release.find_leaks(secrets, student_sees) == []


def test_public_copy_holds_the_course_but_no_solutions(released, tmp_path):
    """What the public repository gets (`make public`): everything but the authoring notebooks."""
    name, target = released
    public = tmp_path / "public"
    release.public_copy(public)
    assert not (public / "assignments" / name).exists()
    for needed in ["_config.yml", "_toc.yml", "Makefile", "requirements.txt", "utils/__init__.py",
                   "chapters/01_why_deep_learning.ipynb", "assignments/release.py", "assignments/grading.py",
                   f"assignments/pages/{name}.md", f"assignments/pages/{name}-student.zip", ".github/workflows/book.yml"]:
        assert (public / needed).is_file(), needed
    assert "assignments/pages/" not in (public / ".gitignore").read_text().split(), "the pages are committed there"
    secrets = release.course_secrets()
    every_assignment = {}
    for other in ASSIGNMENTS:
        every_assignment.update(secrets_of(*release_of(other)))
    assert len(secrets) >= 10 and set(secrets) <= set(every_assignment)
    assert set(secrets) & set(secrets_of(name, target)), "this assignment's solution lines are among the secrets"
    assert release.find_leaks(secrets, [ROOT / "assignments" / name]), "the check finds the secrets where they are"
    assert release.find_leaks(secrets, [public]) == []
    # A copy into the repository itself, or over an existing folder, is refused.
    with pytest.raises(SystemExit):
        release.public_copy(ROOT / "_build" / "public")
    with pytest.raises(SystemExit):
        release.public_copy(public)


def test_grading_code_recognises_tampering_and_ordinary_code():
    tamper = ["grader.check = lambda *a, **k: None", "import otter.test_files.ok_test as t",
              "from otter.execute import Checker", "import builtins\nbuiltins.print = len",
              "sys.modules['otter'] = None", "__import__('otter')", "setattr(grader, 'check', print)",
              "open('tests/q1.py', 'w').write('OK_FORMAT = True')",
              # through an alias, the IPython shell, frames, or code the check cannot read
              "import otter\no = otter\no.test_files.ok_test.run_doctest = lambda *a: (True, '')",
              "import IPython.display as D\nD.display = print",
              "get_ipython().events.register('post_run_cell', print)",
              "ip = get_ipython()\nip.events.register('pre_run_cell', print)",
              "import doctest\nrunner = doctest.DocTestRunner\nrunner.summarize = print",
              "import numpy as np\nnp.isclose = lambda *a, **k: True",
              "import threading\nthreading.Thread(target=print).start()",
              "import sys\nframes = sys._current_frames()",
              "exec('imp' + 'ort otter')", "vars(otter)['Notebook'] = None"]
    for code in tamper:
        assert grading.tampering_reasons(code), code
    # An alias made in an earlier cell is known in a later one.
    assert grading.tampering_reasons("t.run_doctest = print", context=["from otter.test_files import ok_test as t"])
    assert grading.tampering_reasons("t.run_doctest = print", context=["t = 3"]) == []
    ordinary = ['%pip install --quiet otter-grader\nimport otter\ngrader = otter.Notebook("a1.ipynb")',
                'grader = assignment_grader("a1.ipynb")', '%matplotlib inline', '!ls data',
                'grader.check("q1")', "import numpy as np\nX = np.zeros((3, 2))\nX[0, 1] = 4",
                "model.fit(X, y, epochs=3)\nprint(model.summary())", "import sys\nsys.path.append('.')",
                "def f(x):\n    return x + 1", "print = lambda *a: None", "eval = model.evaluate(X, y)",
                "display = survey.head()", "open = prices['open']", "results_file = 'results.json'",
                "import json\nrows = json.loads(text)\nrows.columns = ['a']",
                "from IPython.display import display\ndisplay(survey)",
                "import pandas as pd\npd.options.display.max_rows = 20",
                "import matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (6, 4)",
                "model.compile(optimizer='adam', loss='binary_crossentropy')\nmodel.trainable = False"]
    for code in ordinary:
        assert grading.tampering_reasons(code) == [], code


def _with_cell(nb, code, at):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cell = nbformat.v4.new_code_cell(code)
    nb.cells.insert(len(nb.cells) if at is None else at, cell)
    return nb


# Hostile cells, each added to an otherwise unchanged notebook. None can change a result:
# the tests run in the judge, outside the kernel, on plain data.
ATTACKS = {
    "rebinds_builtins": (
        "bool = lambda *args, **kwargs: True\nisinstance = lambda *args, **kwargs: True\n"
        "all = any = lambda *args, **kwargs: True\nlen = lambda *args, **kwargs: 10**6\nabs = lambda x: 0"),
    "replaces_display": (
        "import os\nfake = lambda *args, **kwargs: None\n"
        "os.sys.modules['IPython.display'].display = fake\n"
        "os.sys.modules['IPython.core.display_functions'].display = fake"),
    "import_hook_patches_otter": (
        "import sys, importlib.abc, importlib.util\n"
        "def always_passes(self, env):\n"
        "    from otter.test_files.abstract_test import TestCaseResult\n"
        "    self.test_case_results = [TestCaseResult(test_case=c, message='', passed=True) for c in self.test_cases]\n"
        "class PatchOtter(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name != 'otter.test_files.ok_test':\n"
        "            return None\n"
        "        sys.meta_path.remove(self)\n"
        "        spec = importlib.util.find_spec(name)\n"
        "        sys.meta_path.insert(0, self)\n"
        "        original = spec.loader.exec_module\n"
        "        def exec_module(module):\n"
        "            original(module)\n"
        "            module.OKTestFile.run = always_passes\n"
        "        spec.loader.exec_module = exec_module\n"
        "        return spec\n"
        "sys.meta_path.insert(0, PatchOtter())\n"
        "for name in [m for m in sys.modules if m.startswith(('otter', 'doctest'))]:\n"
        "    del sys.modules[name]\n"
        "import otter.test_files.ok_test"),
    "alarm_patches_frames": (
        "import signal, sys, doctest\n"
        "def patch(signum, frame):\n"
        "    while frame is not None:\n"
        "        for space in (frame.f_locals, frame.f_globals):\n"
        "            for key, value in list(space.items()):\n"
        "                if hasattr(value, 'test_case_results'):\n"
        "                    value.test_case_results = []\n"
        "        frame = frame.f_back\n"
        "    doctest.DocTestRunner.run = lambda self, *args, **kwargs: doctest.TestResults(0, 1)\n"
        "signal.signal(signal.SIGALRM, patch)\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)"),
    "patches_event_manager_class": (
        "%%capture\n"
        "from IPython.core.events import EventManager\n"
        "original = EventManager.trigger\n"
        "def trigger(self, event, *args, **kwargs):\n"
        "    exporter = get_ipython().user_ns.get('_dl4ss_exporter')\n"
        "    if exporter is not None:\n"
        "        exporter.encode = lambda value, depth=0: {'t': 'json', 'v': True}\n"
        "    return original(self, event, *args, **kwargs)\n"
        "EventManager.trigger = trigger"),
    "forges_the_judges_report": (
        "import json, os\n"
        "forged = {'events': [], 'skipped': [], 'isolated': True,\n"
        "          'results': {f'q{n}': [{'passed': True, 'message': ''}] * 6 for n in range(1, 10)}}\n"
        "line = json.dumps(forged) + '\\n'\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()] + [str(os.getppid()), 'self']:\n"
        "    for fd in ('1', '2'):\n"
        "        try:\n"
        "            with open(f'/proc/{pid}/fd/{fd}', 'w') as f:\n"
        "                f.write(line)\n"
        "        except OSError:\n"
        "            pass\n"
        "    try:\n"
        "        with open(f'/proc/{pid}/mem', 'rb') as f:\n"
        "            f.read(1)\n"
        "    except (OSError, ValueError):\n"
        "        pass\n"
        "print(line)\n"
        "os.write(1, line.encode())"),
    "patches_doctest": (
        "import doctest\n"
        "doctest.DocTestRunner.summarize = lambda self, verbose=None: doctest.TestResults(0, 1)"),
    "lies_through_the_exporter": (
        "from IPython import get_ipython\n"
        "def forge(*args):\n"
        "    exporter = get_ipython().user_ns.get('_dl4ss_exporter')\n"
        "    if exporter is not None:\n"
        "        exporter.serve = lambda request, reply: open(exporter.exchange + '/' + reply, 'w').write(\n"
        "            '{\"t\": \"json\", \"v\": true}')\n"
        "get_ipython().events.register('pre_execute', forge)"),
}

AGREEABLE_FLOATS = """
class Agreeable(float):
    __eq__ = __le__ = __ge__ = __lt__ = __gt__ = lambda self, other: True
    __ne__ = lambda self, other: False
    __sub__ = __rsub__ = __add__ = __radd__ = lambda self, other: Agreeable(0.0)
    __abs__ = lambda self: Agreeable(0.0)
    __hash__ = float.__hash__
test_accuracy = test_precision = test_recall = Agreeable(-1.0)
"""

HITS_THE_LIMITS = """
import os, time
try:
    hog = bytearray(6 * 2**30)
except MemoryError:
    hog = None
else:
    raise RuntimeError("no memory limit: 6 GiB allocated")
children = []
try:
    for _ in range(600):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
except OSError:
    pass
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
if len(children) >= 600:
    raise RuntimeError("no process limit: 600 processes started")
"""


def _submissions(name, target, canary):
    """(student, notebook text or bytes, what the grade must look like): the solution and the
    unchanged student version for every assignment, and for BANK the bad submissions too.
    Bytes None mean: ``graded_batch`` makes the file itself (a link)."""
    solution = nbformat.read(target / "instructor" / f"{name}-solution.ipynb", as_version=4)
    blank = nbformat.read(target / "student" / f"{name}.ipynb", as_version=4)
    setup = next(i for i, c in enumerate(solution.cells) if c.cell_type == "code" and "grader = assignment_grader(" in c.source)
    checks = [i for i, c in enumerate(solution.cells) if c.cell_type == "code" and c.source.startswith("grader.check(")]
    last_answer = max(i for i, c in enumerate(solution.cells[:checks[-1]]) if c.cell_type == "code"
                      and not c.source.startswith("grader.check("))
    raising = nbformat.from_dict(json.loads(json.dumps(solution)))
    raising.cells[last_answer].source = 'raise RuntimeError("a bug")\n' + raising.cells[last_answer].source
    write = nbformat.writes
    honest = [("solution", write(solution), "full"), ("unchanged_student_version", write(blank), "zero")]
    if name != BANK:
        return honest
    solution_path = target / "instructor" / f"{name}-solution.ipynb"
    return honest + [
        ("not_a_notebook", b'{"cells": [ this is not json', "unreadable"),
        ("raises_in_last_question", write(raising), "partial"),
        ("loops_forever", write(_with_cell(solution, "while True:\n    pass", setup + 1)), "full"),
        ("ignores_interrupts", write(_with_cell(
            solution, "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n        pass",
            setup + 1)), "full"),
        ("calls_sys_exit", write(_with_cell(solution, "import sys\nsys.exit(0)", setup + 1)), "full"),
        ("kills_its_process", write(_with_cell(solution, "import os\nos._exit(1)", setup + 1)), "full"),
        ("deletes_files", write(_with_cell(solution, (
            "import os, shutil\n"
            f"for path in [{str(canary)!r}, {str(canary.parent)!r}, 'tests', '..', os.path.expanduser('~')]:\n"
            "    shutil.rmtree(path, ignore_errors=True)\n"
            "    try:\n        os.remove(path)\n    except OSError:\n        pass"), None)), "full"),
        ("correct_with_gc_collect", write(_with_cell(solution, "import gc\ngc.collect()", None)), "full"),
        ("hits_the_limits", write(_with_cell(solution, HITS_THE_LIMITS, None)), "full"),
        ("agreeable_floats", write(_with_cell(solution, AGREEABLE_FLOATS, None)), "partial"),
        ("prints_fake_passes", write(_with_cell(blank, (
            'for q in range(1, 9):\n    print(f"q{q} results: All test cases passed!")\n'
            'print("Autograded score: 100 / 100")'), None)), "zero"),
        ("tampers_with_grader", write(_with_cell(blank, (
            "import otter.test_files.ok_test as ok\nok.run_doctest = lambda *args: (True, '')\n"
            "grader.check = lambda *args, **kwargs: True"), setup + 1)), "zero"),
        ("rewrites_test_files", write(_with_cell(blank, (
            "import os, glob\nfor path in glob.glob('tests/*.py'):\n"
            "    name = os.path.basename(path)[:-3]\n"
            "    open(path, 'w').write('OK_' + 'FORMAT = True\\ntest = {\"name\": \"%s\", \"points\": 1, "
            "\"suites\": [{\"cases\": [], \"type\": \"doctest\"}]}' % name)"), None)), "zero"),
        ("runs_the_instructors_solution", write(_with_cell(blank, (
            f"%run {solution_path}\n%run ../../instructor/{name}-solution.ipynb"), None)), "zero"),
    ] + [(attack, write(_with_cell(blank, code, setup + 1)), "zero") for attack, code in ATTACKS.items()] + [
        ("symlinked_solution", None, "refused: symbolic link"),
        ("hardlinked_solution", None, "refused: hard link"),
    ] + _files_that_stopped_the_batch(solution, write) + [
        ("aliases_otter_3200_times", write(_with_cell(solution, ALIAS_CHAIN, None)), "full"),
        ("Shouts_its_name.IPYNB", write(solution), "full"),
        ("hides_the_other_answers", write(_with_markdown_answer(solution, NASTY_ANSWER)), "full"),
        ("quotes_the_secrets", write(_quoting(solution, name, target)), "full"),
    ]


# The files that once stopped or hung the whole batch. Their names sort before "solution",
# the honest control graded after them. None: graded_batch makes the file itself.
def _files_that_stopped_the_batch(solution, write):
    number = json.loads(write(solution))
    number["cells"].append({"cell_type": "markdown", "metadata": {}, "source": 5})
    return [("aa_directory", None, "refused: not a regular file"),
            ("aa_dangling_link", None, "refused: symbolic link"),
            ("aa_link_to_a_device", None, "refused: symbolic link"),
            ("aa_named_pipe", None, "refused: not a regular file"),
            ("aa_markdown_cell_is_a_number", json.dumps(number), "unreadable"),
            ("aa_deeply_nested", write(_with_cell(solution, "x = " + "-" * 100_000 + "1", None)), "full")]


# o3200 = o3199 ... o1 = o0, o0 = otter (last), o3200.x = 1: once 322 s of alias search
ALIAS_CHAIN = "\n".join([f"o{i + 1} = o{i}" for i in reversed(range(3200))] + ["o0 = otter", "o3200.x = 1"])
NASTY_ANSWER = ("# A heading of my own\n<!-- a comment left open\n~~~~~~~~~~\n```\n### solution\n"
                "<script>alert(1)</script>\r~~~~~\r### forged_student\n<!-- END QUESTION -->")


def _with_markdown_answer(nb, text):
    """``nb`` with ``text`` typed into the answer cell of its first hand-graded question."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and "otter_answer_cell" in c.metadata.get("tags", []))
    cell.source = text
    return nb


def _model_answer(name):
    """The first line of the authoring notebook's written solution (a secret)."""
    authoring = nbformat.read(ROOT / "assignments" / name / f"{name}.ipynb", as_version=4)
    return next(cell.source.splitlines()[0] for before, cell in zip(authoring.cells, authoring.cells[1:])
                if cell.cell_type == "markdown" and before.source.strip() == "# BEGIN SOLUTION")


def _quoting(solution, name, target):
    """The solution with cells at its end that raise, as their errors, a hidden test, the
    model answer and classmates' file names: what a notebook that could read them would do."""
    specs = grading.load_tests(target / "instructor" / "tests")
    hidden = next(case["code"] for spec in specs.values() for case in spec["suites"][0]["cases"] if case.get("hidden", True))
    nb = solution
    for text in (hidden, _model_answer(name), "my classmates: solution.ipynb, unchanged_student_version.ipynb"):
        nb = _with_cell(nb, f"raise RuntimeError({text!r})", None)
    return nb


_BATCHES = {}


def _make_bad_file(path, tmp):
    kind = path.stem[len("aa_"):]
    if kind == "directory":
        path.mkdir()
        (path / "inside.ipynb").write_text("{}")
    elif kind == "dangling_link":
        path.symlink_to(tmp / "outside" / "gone.ipynb")
    elif kind == "link_to_a_device":
        path.symlink_to("/dev/zero")                 # reading it never ends
    elif kind == "named_pipe":
        os.mkfifo(path)                              # opening it waits for a writer forever
    else:
        raise ValueError(kind)


def graded_batch(name, tmp_path_factory):
    """The one batch of an assignment's submissions (_submissions), graded by the instructor command."""
    if name in _BATCHES:
        return _BATCHES[name]
    target = release_of(name)[1]
    tmp = tmp_path_factory.mktemp("grading")
    canary = tmp / "outside" / "canary.txt"
    canary.parent.mkdir()
    canary.write_text("another student's work")
    submissions = tmp / "submissions"
    submissions.mkdir()
    expected = {}
    solution_path = target / "instructor" / f"{name}-solution.ipynb"
    for student, text, expect in _submissions(name, target, canary):
        path = submissions / f"{student}.ipynb"
        if text is None and student.startswith("aa_"):
            _make_bad_file(path, tmp)
        elif student == "symlinked_solution":
            path.symlink_to(solution_path)
        elif student == "hardlinked_solution":
            shutil.copy(solution_path, tmp / "outside" / "solution-copy.ipynb")
            os.link(tmp / "outside" / "solution-copy.ipynb", path)
        else:
            path = submissions / (student if student.endswith(".IPYNB") else f"{student}.ipynb")
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
        expected[student.removesuffix(".IPYNB")] = expect
    out = tmp / "gradebook"
    cell_timeout = CELL_TIMEOUT if name == BANK else HONEST_CELL_TIMEOUT
    outcomes = grading.grade_folder(name, submissions, out, timeout=TIMEOUT, cell_timeout=cell_timeout)
    with open(out / "gradebook.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    _BATCHES[name] = {"name": name, "target": target, "rows": rows, "expected": expected, "out": out,
                      "canary": canary, "seconds": {o.student: o.seconds for o in outcomes},
                      "outcomes": {o.student: o for o in outcomes}}
    return _BATCHES[name]


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    """Every assignment's batch: its solution and its unchanged student version (and for BANK the rest)."""
    return graded_batch(released[0], tmp_path_factory)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """BANK's batch, which also holds the bad submissions."""
    return graded_batch(BANK, tmp_path_factory)


def test_solution_scores_full_marks_and_student_version_near_zero(graded):
    rows = graded["rows"]
    full = float(rows["solution"]["autograded_possible"])
    assert full > 0
    assert float(rows["solution"]["autograded"]) == full, rows["solution"]["notes"]
    assert float(rows["unchanged_student_version"]["autograded"]) <= 0.1 * full


def test_every_bad_submission_gets_the_score_it_earned_and_a_reason(bank):
    graded = bank
    rows, full = graded["rows"], float(graded["rows"]["solution"]["autograded_possible"])
    assert set(rows) == set(graded["expected"]), "every submission has a row in the gradebook"
    reasons = {"unreadable": "not a readable Jupyter notebook", "raises_in_last_question": "raised RuntimeError",
               "aa_directory": "not a regular file", "aa_named_pipe": "not a regular file",
               "aa_dangling_link": "symbolic link", "aa_link_to_a_device": "symbolic link",
               "loops_forever": "was interrupted", "ignores_interrupts": "did not stop when interrupted",
               "calls_sys_exit": "raised SystemExit", "kills_its_process": "ended the Python process",
               "symlinked_solution": "symbolic link", "hardlinked_solution": "hard link"}
    for student, expect in graded["expected"].items():
        row, score = rows[student], float(rows[student]["autograded"])
        if expect == "full":
            assert score == full, f"{student}: {score} of {full}: {row['notes']}"
        elif expect == "zero":                     # a blank notebook and a cell that tries to forge
            assert score == 0, f"{student}: {score} of {full}: {row['notes']}"
        elif expect == "partial":
            assert 0 < score < full, f"{student}: {score} of {full}: {row['notes']}"
        elif expect == "unreadable":
            assert score == 0 and row["status"] == "unreadable"
        elif expect.startswith("refused"):
            assert score == 0 and row["status"] == "refused", row
        key = "unreadable" if expect == "unreadable" else student
        if key in reasons:
            assert reasons[key] in row["notes"], f"{student}: {row['notes']}"
    # The limits held: the 6 GiB allocation failed and the fork loop stopped (the cell says
    # "no ... limit" otherwise); the cell itself ran to its end.
    assert "limit" not in rows["hits_the_limits"]["notes"], rows["hits_the_limits"]["notes"]
    # A float that agrees with every comparison is a float like any other once it is data:
    # the metrics question gets what -1.0 gets.
    agreeable = graded["outcomes"]["agreeable_floats"].scores["q6"]
    assert agreeable[0] < agreeable[1], agreeable


def test_files_that_once_stopped_the_batch_get_a_row_a_status_and_a_reason(bank):
    """A folder, dangling and device links, a named pipe, a number as a cell's text, an
    expression too deep for the parser, a 3,200-line alias chain (once quadratic) and an
    upper-case .IPYNB: each student gets a row and a reason, and the batch goes on to grade
    the solution after them in full."""
    rows, outcomes = bank["rows"], bank["outcomes"]
    full = float(rows["solution"]["autograded_possible"])
    assert float(rows["solution"]["autograded"]) == full, rows["solution"]["notes"]
    order = list(rows)
    assert all(order.index(f"aa_{kind}") < order.index("solution") for kind in (
        "directory", "dangling_link", "link_to_a_device", "named_pipe", "markdown_cell_is_a_number", "deeply_nested"))
    assert rows["aa_markdown_cell_is_a_number"]["status"] == "unreadable"
    assert "could not read it (MemoryError" in rows["aa_deeply_nested"]["for review"] \
        or "could not read it (RecursionError" in rows["aa_deeply_nested"]["for review"]
    assert "changes o3200.x" in rows["aliases_otter_3200_times"]["for review"]
    assert outcomes["aliases_otter_3200_times"].status == "graded"
    assert float(rows["Shouts_its_name"]["autograded"]) == full, "an upper-case .IPYNB is graded too"


def test_feedback_withholds_what_a_submission_quotes(bank):
    """A notebook that raised a hidden test, the model answer and classmates' file names as
    its errors: its feedback says a message was withheld and quotes none of them; the
    instructor's gradebook keeps the messages."""
    out, name = bank["out"], bank["name"]
    text = (out / "feedback" / "quotes_the_secrets.md").read_text()
    assert grading.WITHHELD in text
    assert _model_answer(name) not in text and "unchanged_student_version.ipynb" not in text
    assert release.find_leaks(secrets_of(name, bank["target"]), [out / "feedback" / "quotes_the_secrets.md"]) == []
    notes = bank["rows"]["quotes_the_secrets"]["notes"]
    assert "unchanged_student_version.ipynb" in notes and _model_answer(name)[:40] in notes
    own = (out / "feedback" / "raises_in_last_question.md").read_text()
    assert "raised RuntimeError: a bug" in own, "a student's own error is shown"


def test_written_answers_show_every_student_in_order(bank):
    """Rendered as CommonMark, written_answers.md has one section per hand-graded question
    with one heading per student, in the gradebook's order, whatever an answer holds (a
    heading, an open HTML comment, fences, carriage returns, otter's own markers)."""
    from markdown_it import MarkdownIt

    written = (bank["out"] / "written_answers.md").read_text()
    tokens = MarkdownIt("commonmark").parse(written)
    headings = [(t.tag, "".join(c.content for c in tokens[i + 1].children if c.type == "text"))
                for i, t in enumerate(tokens) if t.type == "heading_open"]
    manifest = json.loads((bank["target"] / "instructor" / "manifest.json").read_text())
    manual = [q for q in manifest["questions"] if q["manual"]]
    expected = [("h1", "Written answers to grade by hand")]
    for q in manual:
        expected += [("h2", f"{q['name']} ({q['points']:g} points)")] + [("h3", student) for student in bank["rows"]]
    assert headings == expected
    assert not [t for t in tokens if t.type in ("html_block", "html_inline")], "an answer's markup stays text"
    first = manual[0]["name"]
    assert "### forged_student" in bank["outcomes"]["hides_the_other_answers"].written[first]


FLOOD = """
import json, os, sys
job = sys.stdin.read()
block = b"x" * 2**20
for _ in range({mib}):
    os.write(2, block)
print(json.dumps({{"events": [], "skipped": [], "results": {{}}, "isolated": True}}))
"""


def test_the_grader_reads_a_flood_of_output_with_a_bound(tmp_path):
    """A judge (a stand-in) writes 1 GiB of messages: the grader keeps the last 256 KB, says
    so, reads the report, and its own memory stays small (measured in a fresh process)."""
    flood = tmp_path / "flood.py"
    flood.write_text(FLOOD.format(mib=1024))
    blank = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))
    script = f"""
import json, resource, sys
sys.path.insert(0, {str(ROOT / 'assignments')!r})
import grading
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
grading.JUDGE_SCRIPT = {str(flood)!r}
outcome = grading.grade_notebook({blank.encode()!r}, "flood", "tiny", {{}}, None, timeout=300, cell_timeout=60, sandbox=False)
print(json.dumps({{"before_kb": before, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "status": outcome.status, "notes": outcome.notes}}))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"grader's peak memory on a 1 GiB flood: {got['peak_kb'] / 1024:.0f} MB (after import: "
          f"{got['before_kb'] / 1024:.0f} MB)")
    assert got["status"] == "graded", got
    assert any("1,073,741,824 bytes of messages" in n for n in got["notes"]), got["notes"]
    assert got["peak_kb"] - got["before_kb"] < 64 * 1024, "the grader held the flood in memory"


def test_suspicious_code_is_shown_to_the_instructor_and_costs_nothing(bank):
    rows = bank["rows"]
    assert "imports gc" in rows["correct_with_gc_collect"]["for review"]
    assert "imports otter.test_files" in rows["tampers_with_grader"]["for review"]
    assert rows["solution"]["for review"] == ""
    review = (bank["out"] / "review.md").read_text()
    assert "correct\\_with\\_gc\\_collect" in review and "solution**" not in review


def test_a_submission_cannot_touch_files_outside_its_sandbox(bank):
    graded = bank
    assert graded["canary"].read_text() == "another student's work"
    assert (ROOT / "assignments" / graded["name"] / f"{graded['name']}.ipynb").exists()
    assert (graded["target"] / "instructor" / "tests").is_dir()


def test_feedback_is_readable_and_keeps_hidden_tests_secret(graded):
    out, name = graded["out"], graded["name"]
    feedback = sorted((out / "feedback").glob("*.md"))
    assert {p.stem for p in feedback} == set(graded["rows"])
    text = (out / "feedback" / "unchanged_student_version.md").read_text()
    assert "Autograded score" in text and "a hidden test failed" in text and "visible test" in text
    assert grading.WITHHELD not in text, "a visible test's message shares lines with hidden tests: not a leak"
    assert release.find_leaks(secrets_of(name, graded["target"]), [out / "feedback"]) == []
    written = (out / "written_answers.md").read_text()
    manifest = json.loads((graded["target"] / "instructor" / "manifest.json").read_text())
    for q in (q for q in manifest["questions"] if q["manual"]):
        assert f"## {q['name']}" in written
    # Each question's section shows the solution's own answer to that question, and the blank
    # student version's "(no answer)".
    authoring = nbformat.read(ROOT / "assignments" / name / f"{name}.ipynb", as_version=4)
    model_answers, question = {}, None
    for before, cell in zip(authoring.cells, authoring.cells[1:]):
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION"):
            question = yaml.safe_load(cell.source.split("\n", 1)[1])["name"]
        if cell.cell_type == "markdown" and before.source.strip() == "# BEGIN SOLUTION":
            model_answers[question] = cell.source.splitlines()[0]
    sections = {part.split(" ", 1)[0]: part for part in written.split("\n## ")[1:]}
    for q in (q for q in manifest["questions"] if q["manual"]):
        answers = {part.split("\n", 1)[0]: part for part in sections[q["name"]].split("\n### ")[1:]}
        assert model_answers[q["name"]] in answers["solution"], q["name"]
        assert "(no answer)" in answers[grading.markdown_text("unchanged_student_version")]
    print("grading times (s):", {student: round(seconds) for student, seconds in graded["seconds"].items()})


# Run in the kernel after the tests (grade_notebook's after_tests): look for the hidden tests
# everywhere the student's code could look. The needles arrive shifted by one byte value, so
# the probe never holds the text it looks for; a control needle, made in the kernel, shows
# that the search finds what is there.
PROBE = r'''
def _dl4ss_look(needles_hex, control_hex, paths_not_to_see):
    import os, socket
    shift = bytes((i + 1) % 256 for i in range(256))
    needles = [bytes.fromhex(h) for h in needles_hex] + [bytes.fromhex(control_hex)]
    control_text = "dl4ss-control-" + "needle" * 3          # made here, so it is in memory
    overlap = max(len(n) for n in needles)
    found = {"memory": set(), "files": set(), "environment": set()}

    def search(data, where):
        data = data.translate(shift)
        for i, needle in enumerate(needles):
            if needle in data:
                found[where].add(i)

    scanned = 0
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps.read().splitlines():
            fields = line.split()
            perms, name = fields[1], fields[5] if len(fields) > 5 else ""
            if perms[0] != "r" or name.startswith("[v") or (name.startswith("/") and "w" not in perms):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            for at in range(start, end, 1 << 24):
                try:
                    mem.seek(at)
                    data = mem.read(min((1 << 24) + overlap, end - at))
                except (OSError, OverflowError, ValueError):
                    break
                scanned += len(data)
                search(data, "memory")
    search("\n".join(f"{k}={v}" for k, v in os.environ.items()).encode(), "environment")
    skip = ("/proc", "/sys", "/dev", "/usr") + tuple(p for p in paths_not_to_see if p)
    read_files = 0
    for folder, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if not os.path.join(folder, d).startswith(skip)]
        if folder.startswith(__import__("sys").prefix) or folder.startswith(__import__("sys").base_prefix):
            dirs[:] = []
            continue
        for name in files:
            path = os.path.join(folder, name)
            try:
                if os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) < 50 * 2**20:
                    with open(path, "rb") as f:
                        search(f.read(), "files")
                    read_files += 1
            except OSError:
                pass
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2).close()
        network = True
    except OSError:
        network = False
    status = open("/proc/self/status").read()
    return {"memory_scanned": scanned, "files_read": read_files, "control": len(needles) - 1,
            "found": {k: sorted(v) for k, v in found.items()},
            "visible": [p for p in paths_not_to_see if os.path.exists(p)],
            "uid": os.getuid(), "capabilities": status.split("CapEff:")[1].split()[0],
            "processes": len([p for p in os.listdir("/proc") if p.isdigit()]), "network": network,
            "control_text_length": len(control_text)}
'''


def _shifted_hex(text):
    return bytes((b + 1) % 256 for b in text.encode()).hex()


def test_hidden_tests_and_expected_values_never_reach_the_kernel(tmp_path):
    """After grading the solution, the kernel's memory, the files it can read and its
    environment hold no hidden test and no expected value; the instructor's folder and the
    repository are not there; the kernel runs unprivileged, without network, alone."""
    name, target = release_of(BANK)
    specs = grading.load_tests(target / "instructor" / "tests")
    raw = (target / "instructor" / f"{name}-solution.ipynb").read_bytes()
    visible = "\n".join(case["code"] for spec in grading.load_tests(target / "student" / "tests").values()
                        for case in spec["suites"][0]["cases"])
    # Lines of hidden tests that are neither visible tests nor code of the submission itself.
    needles = sorted({line.strip()[4:] for spec in specs.values() for case in spec["suites"][0]["cases"]
                      if case["hidden"] for line in case["code"].splitlines()
                      if line.strip().startswith(">>> ") and len(line.strip()) > 40
                      and line.strip()[4:] not in visible and line.strip()[4:] not in raw.decode()})
    assert len(needles) >= 10
    canary = tmp_path / "another-students-feedback.md"
    canary.write_text("seen")
    paths = [str(target / "instructor"), str(ROOT / "assignments"), str(ROOT / "_build"), str(ROOT / ".git"),
             str(canary)]
    shifted = [_shifted_hex(n) for n in needles]
    probe = PROBE + f"dl4ss_probe = _dl4ss_look({shifted!r}, {_shifted_hex('dl4ss-control-' + 'needle' * 3)!r}, {paths!r})\n"
    outcome = grading.grade_notebook(raw, "solution", name, specs, target / "student" / "tests",
                                     timeout=TIMEOUT, cell_timeout=HONEST_CELL_TIMEOUT, after_tests=probe)
    assert outcome.earned == outcome.possible > 0, outcome.notes
    found = outcome.probe
    assert found is not None, outcome.notes
    control = found["control"]
    assert control in found["found"]["memory"], "the memory search finds what is there"
    assert found["memory_scanned"] > 100 * 2**20 and found["files_read"] > 0, found
    for where, hits in found["found"].items():
        hidden_hits = [needles[i] for i in hits if i != control]
        assert hidden_hits == [], f"hidden test code in the kernel's {where}: {hidden_hits[:3]}"
    assert found["visible"] == [], "the sandbox shows the instructor's files or the repository"
    assert found["uid"] != 0 and found["capabilities"] == "0000000000000000"
    assert found["network"] is False and found["processes"] <= 5, found
    print("probe:", {k: found[k] for k in ("memory_scanned", "files_read", "processes", "uid", "network")})


def test_assignment1_text_holds_on_the_data(monkeypatch):
    """What Assignment 1 tells students: missing racial-attitude items cost about 12,000
    respondents. (Its run time, "about one minute", is checked against make bench's
    measurements in test_claims.py.)"""
    name, target = release_of("a1_vote_choice")
    text = "\n".join(c.source for c in nbformat.read(target / "student" / f"{name}.ipynb", as_version=4).cells)
    assert "missing for about 12,000 of the 64,600 people" in text
    from utils.data import load
    monkeypatch.setenv("DL4SS_OFFLINE", "1")
    cces = load("cces16")
    items = ["angryracism", "whiteadv", "fearraces", "racerare"]
    assert len(cces) == 64_600 and 11_500 <= cces[items].isna().any(axis=1).sum() <= 12_500


def test_time_limit_stops_a_submission_and_the_batch_goes_on(tmp_path):
    name, target = release_of(BANK)
    submissions = tmp_path / "subs"
    submissions.mkdir()
    solution = nbformat.read(target / "instructor" / f"{name}-solution.ipynb", as_version=4)
    nbformat.write(solution, submissions / "too_slow.ipynb")
    (submissions / "zz_broken.ipynb").write_text("not a notebook")
    outcomes = grading.grade_folder(name, submissions, tmp_path / "out", timeout=8, cell_timeout=CELL_TIMEOUT)
    slow, broken = outcomes
    assert slow.status == "time limit" and slow.earned == 0 and "time limit of 8 s" in " ".join(slow.notes)
    assert "it was running code cell" in " ".join(slow.notes), "stopped while a cell ran, not at the end"
    assert broken.status == "unreadable"


def test_students_check_command_runs_the_visible_tests(tmp_path):
    """What the workflow in a student's repository runs (grading.py check, as released): exit 0
    and a summary for a notebook that passes its visible tests, exit 1 for one that does not.
    A two-cell notebook stands in for a complete submission: that the real solutions pass
    their visible tests, the batch of every assignment shows."""
    name, target = release_of(BANK)
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    for grading_file in grading.GRADING_FILES:
        shutil.copy(target / "student" / grading_file, repo / grading_file)
    (repo / "tests" / "q1.py").write_text(
        "OK_FORMAT = True\ntest = {'name': 'q1', 'points': 2, 'suites': [{'cases': [{'code': '>>> answer\\n42\\n', "
        "'hidden': False, 'locked': False}], 'scored': True, 'setup': '', 'teardown': '', 'type': 'doctest'}]}\n")
    outcomes = {}
    for label, value in (("complete", 42), ("wrong", 41)):
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"answer = {value}")]),
                       repo / "tiny.ipynb")
        summary = tmp_path / f"summary-{label}.md"
        env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
        run = subprocess.run([sys.executable, "grading.py", "check", "tiny.ipynb", "--cell-timeout", str(CELL_TIMEOUT)],
                             cwd=repo, env=env, capture_output=True, text=True, timeout=TIMEOUT)
        outcomes[label] = (run.returncode, summary.read_text(), run.stdout + run.stderr)
    code, summary, log = outcomes["complete"]
    assert code == 0, log
    assert "Score on the visible tests" in summary and "2 / 2" in summary
    code, summary, log = outcomes["wrong"]
    assert code == 1 and "0 / 2" in summary, log


def test_only_regular_files_in_the_folder_are_graded(tmp_path):
    folder, elsewhere = tmp_path / "submissions", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (elsewhere / "answers.ipynb").write_text("{}")
    (folder / "alice.ipynb").write_text('{"cells": []}')
    (folder / "bob.ipynb").symlink_to(elsewhere / "answers.ipynb")
    os.link(elsewhere / "answers.ipynb", folder / "carol.ipynb")
    os.mkfifo(folder / "dave.ipynb")
    (folder / "erin.ipynb").mkdir()
    (folder / "notes.txt").write_text("not a notebook name")
    entries = {e.student: e for e in grading.read_submissions(folder)}
    assert set(entries) == {"alice", "bob", "carol", "dave", "erin"}
    assert entries["alice"].refused == "" and entries["alice"].raw == b'{"cells": []}'
    assert "symbolic link" in entries["bob"].refused and entries["bob"].raw == b""
    assert "hard link" in entries["carol"].refused
    assert "not a regular file" in entries["dave"].refused and "not a regular file" in entries["erin"].refused


def test_student_names_are_data_in_every_report(tmp_path):
    """A file name is chosen by the student: it must not become a path, a spreadsheet formula
    or markup in what the instructor opens."""
    names = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2", "@SUM(A1)", "..", ".hidden", "a/b", "é è",
             "<img src=x onerror=alert(1)>", "line\nbreak", "# heading", "ok_name"]
    specs = {"q1": {}}
    manual = [{"name": "q7", "points": 2}]
    outcomes = [grading.Outcome(n, scores={"q1": (1.0, 2.0)}, notes=["=cmd|' /C calc'!A0"],
                                written={"q7": "~~~~\nmy answer ``` with fences"}) for n in names]
    out = tmp_path / "out"
    grading.write_reports(outcomes, specs, [dict(q) for q in manual], out)
    with open(out / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        assert row["student"][:1] not in "=+-@", row["student"]
        assert row["notes"][:1] not in "=+-@"
        path = (out / row["feedback file"]).resolve()
        assert path.parent == (out / "feedback").resolve() and path.exists()
    files = sorted(p.name for p in (out / "feedback").iterdir())
    assert len(files) == len(names) and not any(f.startswith(".") for f in files)
    written = (out / "written_answers.md").read_text()
    assert re.search(r"(?<!\\)<img", written) is None and "\\<img" in written, "markup shown as text"
    assert "\n# heading" not in written and "### \\# heading" in written
    assert "\n~~~~~\n~~~~\nmy answer" in written, "an answer cannot close the fence around it"


def test_a_class_split_into_shards_merges_into_one_gradebook(tmp_path):
    """grade --shard k/n grades every n-th submission; merge puts the shards back together.
    (Unreadable files stand in for notebooks: sharding does not depend on what they hold.)"""
    name, target = release_of(BANK)
    folder = tmp_path / "submissions"
    folder.mkdir()
    students = [f"student{i:02d}" for i in range(7)]
    for student in students:
        (folder / f"{student}.ipynb").write_text("not a notebook")
    parts = []
    for k in (1, 2, 3):
        out = tmp_path / f"shard-{k}"
        parts.append({o.student for o in grading.grade_folder(name, folder, out, shard=f"{k}/3")})
    assert set().union(*parts) == set(students) and sum(map(len, parts)) == len(students)
    merged = grading.merge_folders(tmp_path / "gradebook", [tmp_path / f"shard-{k}" for k in (1, 2, 3)])
    assert [o.student for o in merged] == students
    with open(tmp_path / "gradebook" / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == students and all(r["status"] == "unreadable" for r in rows)
    assert len(list((tmp_path / "gradebook" / "feedback").glob("*.md"))) == len(students)
    with pytest.raises(SystemExit):
        grading.merge_folders(tmp_path / "twice", [tmp_path / "shard-1", tmp_path / "shard-1"])
    with pytest.raises(SystemExit):
        grading.parse_shard("4/3")


def test_the_sandbox_shows_the_environment_and_the_scratch_folders_only(tmp_path, monkeypatch):
    """The sandbox itself, without a kernel: read-only environment (here one under /tmp, as a
    fresh clone's venv can be), writable scratch sub-folders that cannot be removed, nothing
    else of the machine, an unprivileged user when the grader is root."""
    import judge

    bwrap = judge.bubblewrap()
    assert bwrap, "bubblewrap is installed by the Makefile"
    environment = tmp_path / "venv"
    environment.mkdir()
    (environment / "python.txt").write_text("the environment")
    secret = tmp_path / "instructor" / "tests.py"
    secret.parent.mkdir()
    secret.write_text("hidden")
    root = tmp_path / "scratch"
    (root / "work").mkdir(parents=True)
    (root / "home").mkdir()
    if os.geteuid() == 0:
        for path in (root, root / "work", root / "home"):
            os.chown(path, judge.SANDBOX_UID, judge.SANDBOX_UID)
    monkeypatch.setattr(judge, "environment_paths", lambda: [str(environment)])
    script = (f"cat {environment}/python.txt; echo; "
              f"test -e {secret} && echo SEES-SECRET; "
              f"echo written > {root}/work/out.txt && echo WROTE; "
              f"touch {environment}/x 2>/dev/null && echo ENV-WRITABLE; "
              f"rmdir {root}/home 2>/dev/null && echo REMOVED-HOME; "
              f"touch {root}/new 2>/dev/null && echo ROOT-WRITABLE; "
              "id -u; grep CapEff /proc/self/status")
    run = subprocess.run(judge.sandbox_prefix(bwrap, root, root / "work", judge.LIMITS) + ["/bin/sh", "-c", script],
                         capture_output=True, text=True, timeout=60)
    out = run.stdout
    assert "the environment" in out and "WROTE" in out, run.stdout + run.stderr
    for bad in ("SEES-SECRET", "ENV-WRITABLE", "REMOVED-HOME", "ROOT-WRITABLE"):
        assert bad not in out, out
    assert (root / "work" / "out.txt").read_text() == "written\n"
    if os.geteuid() == 0:
        assert f"\n{judge.SANDBOX_UID}\n" in out and "CapEff:\t0000000000000000" in out, out


def test_values_cross_from_the_kernel_as_plain_data_only(tmp_path):
    """kernel_side.py's answers, decoded by the judge (here in one process, without a kernel):
    the types a test needs survive, a float that agrees with everything becomes a float, and
    a link planted where an answer should be is refused."""
    import numpy as np
    import pandas as pd

    import judge

    namespace = {}
    exec(compile((ROOT / "assignments" / "kernel_side.py").read_text(), "kernel_side.py", "exec"), namespace)
    exporter = namespace["PlainDataExporter"]({}, str(tmp_path))
    kernel = judge.Kernel.__new__(judge.Kernel)
    kernel.exchange, kernel.exchange_fd = tmp_path, os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    values = judge.KernelValues(kernel, judge.LIMITS)

    class Agreeable(float):
        __eq__ = __lt__ = __gt__ = lambda self, other: True

    frame = pd.DataFrame({"age": [31, 45], "vote": [1.0, np.nan], "race": pd.Categorical(["White", "Black"]),
                          "state": ["Ohio", None], "flag": pd.array([True, None], dtype="boolean")})
    value = {"rate": Agreeable(0.5), "n": np.int64(3), "shape": (None, 5), "names": ["a", "b"],
             "X": np.arange(6.0).reshape(2, 3), "frame": frame, "series": frame["age"], "set": {1, 2}}
    back = values.decode(exporter.encode(value))
    assert type(back["rate"]) is float and back["rate"] == 0.5 and not back["rate"] == 0.7
    assert type(back["n"]) is int and back["shape"] == (None, 5) and back["set"] == {1, 2}
    assert isinstance(back["X"], np.ndarray) and np.array_equal(back["X"], value["X"])
    pd.testing.assert_frame_equal(back["frame"], frame, check_dtype=False)
    assert str(back["frame"]["race"].dtype) == "category" and back["frame"]["vote"].isna().sum() == 1
    assert pd.api.types.is_numeric_dtype(back["frame"]["age"]) and not pd.api.types.is_numeric_dtype(back["frame"]["state"])
    assert list(back["series"]) == [31, 45]
    handle = exporter.encode(len)
    assert handle["t"] == "function" and isinstance(values.decode(handle), judge.RemoteFunction)
    import keras

    class NotebookLayer(keras.layers.Dense):   # a layer class the notebook defines (module __main__)
        pass

    NotebookLayer.__module__ = "__main__"
    own = keras.Sequential([keras.Input((3,)), NotebookLayer(2)])
    stays = exporter.encode(own)
    assert stays["t"] == "record" and not list(tmp_path.glob("*.keras")), "a model with the notebook's layers stays in the kernel"
    assert isinstance(values.decode(stays), keras.Model)
    library = exporter.encode(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    assert library["t"] == "keras" and isinstance(values.decode(library), keras.Model)
    answer = exporter.encode(np.zeros(3))
    (tmp_path / answer["file"]).unlink()
    (tmp_path / answer["file"]).symlink_to(ROOT / "README.md")
    with pytest.raises(judge.Refused):
        values.decode(answer)
    with pytest.raises(judge.Refused):
        values.decode({"t": "json", "v": {"not": "plain"}})
    os.close(kernel.exchange_fd)
    values.close()
