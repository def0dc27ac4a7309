"""Generate every assignment's student release, instructor bundle and book page.

    python assignments/release.py            # all assignments/<name>/<name>.ipynb
    python assignments/release.py a1_vote_choice
    python assignments/release.py --public-copy ../course-public   # what students may see

For each authoring notebook (otter-grader's assign format) this runs ``otter assign`` and
writes

* ``_build/assignments/<name>/student/``: what a student's repository starts from: the
  student notebook, the visible tests, ``requirements.txt``, ``README.md``, ``grading.py``
  and a GitHub Actions workflow that runs the visible tests on every push;
* ``_build/assignments/<name>/instructor/``: the solution notebook, all tests (hidden ones
  too), ``manifest.json`` (questions, points, which are graded by hand) and otter's
  autograder zip (for ``otter run`` or Gradescope);
* ``assignments/pages/<name>.md`` and ``<name>-student.zip``: the student version as a book
  page, with the release to download.

It refuses to write a release in which a solution line or a hidden test shows through.

The authoring notebooks hold the solutions, so the repository that has them stays private;
``--public-copy`` writes the repository without them, with the generated pages, for the
public repository that the site, the launch buttons and students' installs use.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from grading import GRADING_FILES, SECRETS_FILE, load_tests, significant_line, test_lines  # noqa: E402  (beside this file)
ROOT = HERE.parent
OUT = ROOT / "_build" / "assignments"
PAGES = HERE / "pages"
# The public repository (students install the course package from it) and the otter-grader
# the tests ran with: both written once, in _config.yml and constraints.txt.
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
OTTER_VERSION = re.search(r"^otter-grader==(\S+)", (ROOT / "constraints.txt").read_text(), re.M).group(1)


# ---------------------------------------------------------------------------------------
# What must stay secret
# ---------------------------------------------------------------------------------------

def secret_lines(authoring: Path, all_tests: dict[str, dict]) -> dict[str, str]:
    """Lines of solutions and hidden tests (line -> where it comes from) that students must not see."""
    nb = nbformat.read(authoring, as_version=4)
    secrets: dict[str, str] = {}
    public: set[str] = set()
    in_solution_block = False
    for cell in nb.cells:
        text = cell.source.strip()
        if cell.cell_type == "raw":
            if text.startswith("# BEGIN SOLUTION"):
                in_solution_block = True
            elif text.startswith("# END SOLUTION"):
                in_solution_block = False
            continue
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if (s := significant_line(line)):
                    (secrets.__setitem__(s, "a written solution") if in_solution_block else public.add(s))
            continue
        inside = False
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped.startswith("# BEGIN SOLUTION"):
                inside = True
                continue
            if stripped.startswith("# END SOLUTION"):
                inside = False
                continue
            marked = re.search(r"#\s*SOLUTION\s*$", line)
            code = re.sub(r"#\s*SOLUTION\s*$", "", line)
            s = significant_line(code)
            if s is None:
                continue
            if inside or marked:
                # ``x = expr # SOLUTION`` becomes ``x = ...``: only the right-hand side is secret.
                if marked and not inside and "=" in code:
                    s = significant_line(code.split("=", 1)[1])
                if s:
                    secrets[s] = "a solution"
            else:
                public.add(s)
    hidden, visible = test_lines(all_tests)
    for s, name in hidden.items():
        secrets.setdefault(s, f"a hidden test of {name}")
    public |= visible                 # visible tests are shown to students
    # What the authoring notebook itself shows students (a prompt that spells out a one-line
    # answer, a visible test) is public by design.
    public_text = "\n".join(public)
    return {s: where for s, where in secrets.items() if s not in public_text}


def find_leaks(secrets: dict[str, str], paths: list[Path]) -> list[str]:
    """``path: where`` for every secret line found in the text files under ``paths``."""
    leaks = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as z:
                    texts = [(f"{path}!{n}", z.read(n).decode("utf-8", "replace")) for n in z.namelist()]
            else:
                texts = [(str(path), path.read_text(errors="replace"))]
            for name, text in texts:
                if name.endswith(".ipynb"):
                    text = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells) + \
                        json.dumps(nbformat.reads(text, as_version=4).metadata)
                for secret, where in secrets.items():
                    if secret in text:
                        leaks.append(f"{name}: {where}: {secret}")
    return leaks


# ---------------------------------------------------------------------------------------
# Release
# ---------------------------------------------------------------------------------------

def questions(authoring: Path) -> list[dict]:
    """name, points and manual flag of each question, in order."""
    found = []
    for cell in nbformat.read(authoring, as_version=4).cells:
        if cell.cell_type == "raw" and cell.source.lstrip().startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(cell.source.split("\n", 1)[1]) or {}
            found.append({"name": config["name"], "points": float(config.get("points", 0)),
                          "manual": bool(config.get("manual", False))})
    return found


WORKFLOW = """\
# Runs the visible tests of {name} on every push and shows the score on the run's page.
name: visible tests
on: [push, workflow_dispatch]
jobs:
  check:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
          cache: pip
      - name: Install
        run: pip install -r requirements.txt
      - name: Run the notebook and its visible tests
        run: python grading.py check {name}.ipynb --tests tests
"""

README = """\
# {title}

This repository holds your copy of the assignment. Work in `{name}.ipynb`.

1. Open it in JupyterLab (`pip install -r requirements.txt`, then `jupyter lab`), in
   Binder, or in Google Colab (upload the notebook *and* the `tests/` folder, or clone
   this repository in a Colab cell with `!git clone <this repository's URL>` and open the
   notebook from there).
2. Replace every `...` with your code, and the "_Type your answer here_" cells with
   your written answers.
3. Run the `grader.check("q...")` cells: they run the **visible tests** of each question.
4. Commit and push. The workflow in `.github/workflows/check.yml` runs the whole notebook
   and the visible tests on every push; the score appears on the run's summary page
   (Actions tab).

When it is graded, your notebook runs top to bottom in a fresh environment with the
visible tests **and hidden tests** that check the same behaviour more thoroughly, so make
sure it runs from a restarted kernel. Written answers are graded by hand. To run the same
check locally: `python grading.py check {name}.ipynb`.
"""


def run_otter_assign(authoring: Path, dest: Path) -> None:
    env = dict(os.environ, DL4SS_FAST="1", DL4SS_OFFLINE=os.environ.get("DL4SS_OFFLINE", "1"))
    otter = Path(sys.executable).with_name("otter")
    result = subprocess.run([str(otter), "assign", "--no-run-tests", str(authoring), str(dest)],
                            cwd=authoring.parent, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"otter assign failed for {authoring}:\n{result.stdout}\n{result.stderr}")


def notebook_to_page(student_nb: Path, name: str, title: str) -> str:
    """The student notebook as a MyST page: prose as is, code as plain (not executed) blocks."""
    nb = nbformat.read(student_nb, as_version=4)
    parts = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            text = cell.source
            if index == 0 and text.startswith("# "):
                heading, _, rest = text.partition("\n")
                text = heading + "\n\n" + BOOK_NOTE.format(name=name) + "\n" + rest
            parts.append(text)
        elif cell.cell_type == "code" and cell.source.strip():
            parts.append("```python\n" + cell.source.rstrip() + "\n```")
    return "\n\n".join(parts) + "\n"


BOOK_NOTE = """```{{note}}
This page shows the **student version** of the assignment. To work on it, download
{{download}}`the assignment folder <{name}-student.zip>` (the notebook, its visible tests and
a `README.md`), or use the repository your instructor gives you. Run the notebook in
JupyterLab, Binder or Colab; the `grader.check` cells run the visible tests.
```
"""


def release(name: str) -> Path:
    authoring = HERE / name / f"{name}.ipynb"
    if not authoring.exists():
        raise SystemExit(f"No authoring notebook {authoring}")
    target = OUT / name
    with tempfile.TemporaryDirectory(prefix=f"otter-{name}-") as tmp:
        tmp = Path(tmp)
        run_otter_assign(authoring, tmp / "dist")
        if target.exists():
            shutil.rmtree(target)
        student, instructor = target / "student", target / "instructor"
        student.mkdir(parents=True)
        instructor.mkdir()
        shutil.copy(tmp / "dist/student" / f"{name}.ipynb", student / f"{name}.ipynb")
        shutil.copytree(tmp / "dist/student/tests", student / "tests")
        shutil.copy(tmp / "dist/autograder" / f"{name}.ipynb", instructor / f"{name}-solution.ipynb")
        zips = sorted((tmp / "dist/autograder").glob("*.zip"))
        shutil.copy(zips[-1], instructor / "autograder.zip")
        with zipfile.ZipFile(zips[-1]) as z:
            for member in z.namelist():
                if member.startswith("tests/") and member.endswith(".py"):
                    (instructor / member).parent.mkdir(exist_ok=True)
                    (instructor / member).write_bytes(z.read(member))

    all_tests = _load_all_tests(target)
    qs = questions(authoring)
    title = next(c.source.splitlines()[0].lstrip("# ") for c in nbformat.read(authoring, as_version=4).cells
                 if c.cell_type == "markdown")
    (instructor / "manifest.json").write_text(json.dumps(
        {"assignment": name, "title": title, "questions": qs,
         "autograded_points": sum(q["points"] for q in qs if not q["manual"]),
         "manual_points": sum(q["points"] for q in qs if q["manual"])}, indent=1))

    (student / "requirements.txt").write_text(
        "# What the notebook and its tests need (the course package brings the data loaders).\n"
        f"dl4ss-utils @ git+{REPOSITORY}\notter-grader=={OTTER_VERSION}\ntensorflow-cpu>=2.16\nscikit-learn\n")
    (student / "README.md").write_text(README.format(name=name, title=title))
    (student / ".github/workflows").mkdir(parents=True)
    (student / ".github/workflows/check.yml").write_text(WORKFLOW.format(name=name))
    for grading_file in GRADING_FILES:
        shutil.copy(HERE / grading_file, student / grading_file)
    shutil.copy(HERE / "grade-workflow.yml", instructor / "grade-workflow.yml")
    (student / ".gitignore").write_text(".ipynb_checkpoints/\n__pycache__/\n")

    PAGES.mkdir(exist_ok=True)
    page = PAGES / f"{name}.md"
    page.write_text(notebook_to_page(student / f"{name}.ipynb", name, title))
    archive = PAGES / f"{name}-student.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(student.rglob("*")):
            if path.is_file():
                z.write(path, Path(name) / path.relative_to(student))

    secrets = secret_lines(authoring, all_tests)
    # The grader keeps these out of students' feedback, whatever a submission quotes.
    (instructor / SECRETS_FILE).write_text(json.dumps(sorted(secrets), indent=0))
    leaks = find_leaks(secrets, [student, page, archive])
    if leaks:
        shutil.rmtree(student)
        page.unlink()
        archive.unlink()
        raise SystemExit("Secrets would leak into the student release:\n" + "\n".join(leaks))
    return target


# ---------------------------------------------------------------------------------------
# The public copy of the course repository
# ---------------------------------------------------------------------------------------

def authoring_notebooks() -> list[Path]:
    return sorted(p for p in HERE.glob("*/*.ipynb") if p.stem == p.parent.name)


def _tracked_files() -> list[Path]:
    """The files of the repository (git's list; without git, everything not built or ignored)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [ROOT / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "_build", "test-artifacts", "gradebook", "__pycache__", ".pytest_cache"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def public_copy(destination: Path) -> list[Path]:
    """Write the course repository without the authoring notebooks to ``destination``.

    The authoring notebooks hold the solutions and hidden tests, so the repository that has
    them stays private. Students reach the public copy: the site is built from it, and the
    Colab and Binder buttons and the students' ``pip install`` point at it. It holds the
    generated assignment pages instead, and is refused if any secret shows through.
    """
    destination = Path(destination).resolve()
    if destination == ROOT or ROOT in destination.parents:
        raise SystemExit(f"the public copy must be written outside the repository, not to {destination}")
    if destination.exists() and any(destination.iterdir()):
        raise SystemExit(f"{destination} is not empty; give a new folder for the public copy")
    for authoring in authoring_notebooks():
        release(authoring.stem)
    secrets = course_secrets()
    private = {authoring.parent for authoring in authoring_notebooks()}
    written = []
    for path in _tracked_files():
        if not path.is_file() or any(folder in path.parents for folder in private):
            continue
        relative = path.relative_to(ROOT)
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination / relative)
        written.append(destination / relative)
    shutil.copytree(PAGES, destination / "assignments" / "pages", dirs_exist_ok=True)
    ignore = destination / ".gitignore"
    if ignore.exists():      # the generated pages are part of the public copy
        ignore.write_text("".join(line for line in ignore.read_text().splitlines(keepends=True)
                                  if line.strip() != "assignments/pages/"))
    leaks = find_leaks(secrets, [destination])
    if leaks:
        shutil.rmtree(destination)
        raise SystemExit("Secrets would leak into the public copy:\n" + "\n".join(leaks))
    return written


def course_secrets() -> dict[str, str]:
    """Solution and hidden-test lines of every released assignment, except lines that a
    chapter shows anyway (``loss="binary_crossentropy", metrics=["accuracy"])`` is taught
    in week 1, not given away by the public copy)."""
    taught = "\n".join(cell.source for chapter in sorted((ROOT / "chapters").glob("*.ipynb"))
                       for cell in nbformat.read(chapter, as_version=4).cells)
    secrets: dict[str, str] = {}
    for authoring in authoring_notebooks():
        secrets.update(secret_lines(authoring, _load_all_tests(OUT / authoring.stem)))
    return {line: where for line, where in secrets.items() if line not in taught}


def _load_all_tests(target: Path) -> dict[str, dict]:
    return load_tests(target / "instructor" / "tests")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="assignment folders (default: all)")
    parser.add_argument("--public-copy", metavar="FOLDER", type=Path,
                        help="write the repository without the authoring notebooks (solutions) to FOLDER")
    args = parser.parse_args(argv)
    if args.public_copy:
        written = public_copy(args.public_copy)
        print(f"public copy in {args.public_copy}: {len(written)} files of the repository and the "
              f"assignment pages, without {len(authoring_notebooks())} authoring notebook(s); "
              "no solution line or hidden test found in it")
        return 0
    names = args.names or [p.stem for p in authoring_notebooks()]
    for name in names:
        target = release(name)
        print(f"{name}: student release in {target / 'student'}, instructor bundle in "
              f"{target / 'instructor'}, book page {PAGES / (name + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
