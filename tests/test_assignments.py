"""Assignments: the release keeps its secrets, the tests are honest, grading survives bad submissions.

The grading runs are real: each submission runs in its own sandbox with the assignment's
visible and hidden tests, in fast, offline mode (the Makefile's test target sets both).
Every assignment's solution and unchanged student version are graded once, in one batch;
the bank of bad and hostile submissions is graded once, against one assignment (BANK), in
the same batch. Grading times are measured by `make bench`, not asserted here.
"""

import csv
import json
import os
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
CELL_TIMEOUT = 20
TIMEOUT = 600


def release_of(name):
    """The release of one assignment (regenerated if the authoring notebook is newer)."""
    target = ROOT / "_build" / "assignments" / name
    authoring = ROOT / "assignments" / name / f"{name}.ipynb"
    newest_source = max(p.stat().st_mtime for p in (authoring, ROOT / "assignments/release.py",
                                                     ROOT / "assignments/grading.py"))
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
    assert (student / "grading.py").read_text() == (ROOT / "assignments/grading.py").read_text()
    assert (ROOT / "assignments/pages" / f"{name}.md").exists()
    assert (ROOT / "assignments/pages" / f"{name}-student.zip").exists()


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
    assert len(secrets) >= 10 and set(secrets) <= set(secrets_of(name, target))
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


def _submissions(name, target, canary):
    """(student, notebook text or bytes, what the grade must look like): the solution and the
    unchanged student version for every assignment, and for BANK the bad submissions too."""
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
        ("prints_fake_passes", write(_with_cell(blank, (
            'for q in range(1, 9):\n    print(f"q{q} results: All test cases passed!")\n'
            'print("Autograded score: 100 / 100")'), None)), "zero"),
        ("tampers_with_grader", write(_with_cell(blank, (
            "import otter.test_files.ok_test as ok\nok.run_doctest = lambda *args: (True, '')\n"
            "grader.check = lambda *args, **kwargs: True"), setup + 1)), "zero, flagged"),
        ("rewrites_test_files", write(_with_cell(blank, (
            "import os, glob\nfor path in glob.glob('tests/*.py'):\n"
            "    name = os.path.basename(path)[:-3]\n"
            "    open(path, 'w').write('OK_' + 'FORMAT = True\\ntest = {\"name\": \"%s\", \"points\": 1, "
            "\"suites\": [{\"cases\": [], \"type\": \"doctest\"}]}' % name)"), None)), "zero"),
    ]


_BATCHES = {}


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
    for student, text, expect in _submissions(name, target, canary):
        (submissions / f"{student}.ipynb").write_bytes(text if isinstance(text, bytes) else text.encode())
        expected[student] = expect
    out = tmp / "gradebook"
    outcomes = grading.grade_folder(name, submissions, out, timeout=TIMEOUT, cell_timeout=CELL_TIMEOUT)
    with open(out / "gradebook.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    _BATCHES[name] = {"name": name, "target": target, "rows": rows, "expected": expected, "out": out,
                      "canary": canary, "seconds": {o.student: o.seconds for o in outcomes}}
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
               "loops_forever": "was interrupted", "ignores_interrupts": "did not stop when interrupted",
               "calls_sys_exit": "raised SystemExit", "kills_its_process": "ended the Python process",
               "tampers_with_grader": "reaches into the grading machinery"}
    for student, expect in graded["expected"].items():
        row, score = rows[student], float(rows[student]["autograded"])
        if expect == "full":
            assert score == full, f"{student}: {score} of {full}: {row['notes']}"
        elif expect.startswith("zero"):
            assert score <= 0.1 * full, f"{student}: {score} of {full}"
        elif expect == "partial":
            assert 0 < score < full, f"{student}: {score} of {full}: {row['notes']}"
        elif expect == "unreadable":
            assert score == 0 and row["status"] == "unreadable"
        if "flagged" in expect:
            assert "flagged" in row["status"]
        key = "unreadable" if expect == "unreadable" else student
        if key in reasons:
            assert reasons[key] in row["notes"], f"{student}: {row['notes']}"


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
        assert "(no answer)" in answers["unchanged_student_version"]
    print("grading times (s):", {student: round(seconds) for student, seconds in graded["seconds"].items()})


FORGE_FROM_A_HOOK = """
import ast, json
from IPython import get_ipython
from IPython.display import display

def forge(info=None, result=None):
    source = (info or result.info).raw_cell
    if "_dl4ss_run_tests(" not in source:
        return
    call = ast.parse(source).body[-1].value
    specs, key = json.loads(call.args[0].value), call.args[1].value
    passed = {name: [{"passed": True, "message": ""} for _ in spec["suites"][0]["cases"]]
              for name, spec in specs.items()}
    display({"application/vnd.dl4ss.grading+json": {"key": key, "results": passed}}, raw=True)

get_ipython().events.register("pre_run_cell", forge)
get_ipython().events.register("post_run_cell", lambda result: forge(result=result))
"""


def test_changes_the_code_check_misses_do_not_reach_the_tests(tmp_path, monkeypatch):
    """Second line of defence: even cells that the code check let through (here: all of them)
    cannot make the tests pass by patching otter or doctest or by forging results from a hook."""
    name, target = release_of(BANK)
    blank = nbformat.read(target / "student" / f"{name}.ipynb", as_version=4)
    setup = next(i for i, c in enumerate(blank.cells) if c.cell_type == "code" and "grader = assignment_grader(" in c.source)
    patches = {
        "patches_otter": "import otter.test_files.ok_test as ok\nok.run_doctest = lambda *args: (True, '')",
        "patches_doctest": ("import doctest\n"
                            "doctest.DocTestRunner.summarize = lambda self, verbose=None: doctest.TestResults(0, 1)"),
        "forges_results_from_a_hook": FORGE_FROM_A_HOOK,
    }
    submissions = tmp_path / "subs"
    submissions.mkdir()
    for student, code in patches.items():
        nbformat.write(_with_cell(blank, code, setup + 1), submissions / f"{student}.ipynb")
    monkeypatch.setattr(grading, "tampering_by_cell", lambda sources: [[] for _ in sources])
    outcomes = grading.grade_folder(name, submissions, tmp_path / "out", timeout=TIMEOUT, cell_timeout=CELL_TIMEOUT)
    assert len(outcomes) == len(patches) and all(outcome.possible > 0 for outcome in outcomes)
    assert all(outcome.status == "graded" for outcome in outcomes), "every cell ran, none was flagged"
    forged = [f"{o.student}: {o.earned:g} of {o.possible:g}" for o in outcomes if o.earned > 0.1 * o.possible]
    assert forged == []


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
    shutil.copy(target / "student" / "grading.py", repo / "grading.py")
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
