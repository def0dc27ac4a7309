"""The GitHub Actions workflows are valid and do what the README says (they cannot run here),
and Binder's configuration gives a chapter what it needs (repo2docker cannot run here either).

Syntax is checked against GitHub's workflow schema (vendored by check-jsonschema, so no
network is needed); the rest checks what each workflow must do.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from notebook_tools import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CHECK = Path(sys.executable).parent / "check-jsonschema"
MAKE_TARGETS = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def validate(paths):
    return subprocess.run([str(CHECK), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
                          capture_output=True, text=True)


def load(name):
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    workflow["on"] = workflow.pop(True)          # YAML 1.1 reads the key `on` as True
    return workflow


def steps(workflow):
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_workflows_match_githubs_schema(tmp_path):
    assert {p.name for p in WORKFLOWS} >= {"book.yml", "weekly.yml"}
    run = validate(WORKFLOWS)
    assert run.returncode == 0, run.stdout + run.stderr
    broken = tmp_path / "broken.yml"                 # the check can fail
    broken.write_text("on: push\njobs:\n  build:\n    steps:\n      - run: make book\n")
    assert validate([broken]).returncode != 0, "a job without runs-on must be rejected"


def test_every_make_target_a_workflow_runs_exists():
    for path in WORKFLOWS:
        for step in steps(yaml.safe_load(path.read_text())):
            for target in re.findall(r"\bmake\s+([a-z][\w-]*)", step.get("run", "")):
                assert target in MAKE_TARGETS, f"{path.name} runs `make {target}`, which the Makefile lacks"


def test_book_workflow_builds_and_deploys_on_push_to_main():
    workflow = load("book.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"]["pages"] == "write" and workflow["permissions"]["id-token"] == "write"
    build = " ".join(step.get("run", "") for step in workflow["jobs"]["build"]["steps"])
    assert "make book" in build
    uses = [step.get("uses", "") for step in steps(workflow)]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    upload = next(s for s in steps(workflow) if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert workflow["jobs"]["deploy"]["needs"] == "build"


def test_weekly_workflow_runs_the_chapters_in_colab_and_opens_an_issue_on_failure():
    workflow = load("weekly.yml")
    fields = workflow["on"]["schedule"][0]["cron"].split()
    assert len(fields) == 5 and fields[4] not in ("*",), "once a week"
    jobs = workflow["jobs"]
    run = {name: " ".join(step.get("run", "") for step in job.get("steps", [])) for name, job in jobs.items()}
    # In Google's Colab image, with its own Python and packages, full mode, data downloaded.
    assert "docker pull us-docker.pkg.dev/colab-images/public/runtime" in run["colab-image"]
    assert "bash tests/colab/run-in-image.sh" in run["colab-image"] and "DL4SS_FAST" not in run["colab-image"]
    script = (ROOT / "tests/colab/run-in-image.sh").read_text()
    assert "--colab-python" in script and "pip list" in script and "DL4SS_FAST" not in script
    assert subprocess.run(["bash", "-n", str(ROOT / "tests/colab/run-in-image.sh")]).returncode == 0
    # Failing that, in the environment built from the list Google publishes that day.
    assert jobs["colab-list"]["needs"] == "colab-image" and "failure" in jobs["colab-list"]["if"]
    assert "googlecolab/backend-info/main/$f" in run["colab-list"] and "pip-freeze.txt" in run["colab-list"]
    assert "make test-colab" in run["colab-list"]
    recipe = (ROOT / "Makefile").read_text().split("\ntest-colab:")[1].split("\n\n")[0]
    assert "DL4SS_FAST=0" in recipe and "-p notebook_runs" in recipe and "chapters" in recipe
    assert "DL4SS_OFFLINE" not in recipe, "the data are downloaded, as students get them"
    # The newest releases, labelled as what they are.
    newest = next(s for s in jobs["newest-releases"]["steps"] if "make test-full" in s.get("run", ""))
    assert re.search(r"make test-full CONSTRAINTS=(\s|$)", newest["run"]) and "not Colab" in newest["name"]
    pinned, newest_install = (subprocess.run(["make", "-n", "-B", ".venv/.installed", *extra], cwd=ROOT,
                                             capture_output=True, text=True).stdout for extra in ([], ["CONSTRAINTS="]))
    install = [line for line in pinned.splitlines() if "-r requirements.txt" in line]
    assert install and "-c constraints.txt" in install[0]
    assert [line for line in newest_install.splitlines() if "-r requirements.txt" in line and "constraints" not in line]
    # Any failure opens or comments on an issue.
    report = jobs["report"]
    assert set(report["needs"]) == {"colab-image", "colab-list", "newest-releases"} and "failure" in report["if"]
    assert "issues.create" in report["steps"][0]["with"]["script"]
    assert workflow["permissions"]["issues"] == "write"


def test_student_release_workflow_is_valid():
    sys.path.insert(0, str(ROOT / "assignments"))
    import release

    names = sorted(p.parent.name for p in ROOT.glob("assignments/*/*.ipynb") if p.stem == p.parent.name)
    released = [ROOT / "_build" / "assignments" / n / "student" / ".github" / "workflows" / "check.yml" for n in names]
    for name, path in zip(names, released):
        if not path.exists():
            release.release(name)
    assert released
    run = validate(released)
    assert run.returncode == 0, run.stdout + run.stderr


def test_instructors_grading_workflow_runs_shards_and_merges_them():
    """assignments/grade-workflow.yml (copied into the instructor bundle): valid, a matrix of
    shards that each run `make grade ... SHARD=k/n`, and a merge job after them."""
    path = ROOT / "assignments" / "grade-workflow.yml"
    run = validate([path])
    assert run.returncode == 0, run.stdout + run.stderr
    workflow = yaml.safe_load(path.read_text())
    shard = workflow["jobs"]["shard"]
    steps = " ".join(str(step.get("run", "")) for step in shard["steps"])
    assert "make grade" in steps and "SHARD=${{ matrix.shard }}/" in steps
    assert "matrix" in shard["strategy"] and shard["strategy"]["fail-fast"] is False
    merge = workflow["jobs"]["merge"]
    assert merge["needs"] == "shard"
    assert "grading.py merge" in " ".join(str(step.get("run", "")) for step in merge["steps"])


def test_full_mode_runner_reports_each_notebook_and_fails_when_one_raises(tmp_path):
    """`make test-full` runs tests/notebook_tools.py --execute: full mode, a line per notebook."""
    import nbformat

    cell = nbformat.v4.new_code_cell
    nbformat.write(nbformat.v4.new_notebook(cells=[cell("import os\nassert os.environ['DL4SS_FAST'] == '0'")]),
                   tmp_path / "runs.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=[cell("raise ValueError('the data changed')")]),
                   tmp_path / "raises.ipynb")
    tool = [sys.executable, str(ROOT / "tests" / "notebook_tools.py"), "--execute", "--timeout", "60"]
    env = {k: v for k, v in os.environ.items() if k != "DL4SS_FAST"}
    good = subprocess.run([*tool, str(tmp_path / "runs.ipynb")], capture_output=True, text=True, env=env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ok     " in good.stdout and "1 of 1 notebooks ran" in good.stdout
    both = subprocess.run([*tool, str(tmp_path / "raises.ipynb"), str(tmp_path / "runs.ipynb")],
                          capture_output=True, text=True, env=env)
    assert both.returncode == 1
    assert "FAILED" in both.stdout and "the data changed" in both.stdout and "1 of 2 notebooks ran" in both.stdout


def test_binder_configuration_installs_what_the_chapters_need(tmp_path):
    """What repo2docker does with binder/: apt.txt, requirements.txt (pip resolves it here,
    without installing), then postBuild from the repository root."""
    binder = ROOT / "binder"
    makefile = (ROOT / "Makefile").read_text()
    debian = re.search(r"^DEBIAN_DATA := (.*)$", makefile, re.M).group(1).split()
    assert set(binder.joinpath("apt.txt").read_text().split()) == set(debian), "apt.txt = the Makefile's data packages"
    assert re.fullmatch(r"python-3\.(1[0-2])\s*", binder.joinpath("runtime.txt").read_text()), "a Python TensorFlow supports"
    post_build = binder / "postBuild"
    assert os.access(post_build, os.X_OK), "repo2docker runs postBuild only if it is executable"
    assert subprocess.run(["bash", "-n", str(post_build)]).returncode == 0
    commands = post_build.read_text()
    assert "pip install --no-deps -e ." in commands                     # utils importable everywhere
    for name in re.findall(r"-r (\S+)", commands):
        assert (ROOT / name).is_file(), name
    report = tmp_path / "report.json"
    resolve = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                              "--report", str(report), "-r", "requirements.txt"], cwd=binder,
                             capture_output=True, text=True, timeout=600)
    assert resolve.returncode == 0, resolve.stderr[-3000:]
    import json
    chosen = {item["metadata"]["name"].lower(): item["metadata"]["version"]
              for item in json.loads(report.read_text())["install"]}
    pinned = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().split()
                  if "==" in line and not line.startswith("#"))
    for name in ("tensorflow", "keras", "jupyter-book", "ipywidgets", "matplotlib"):
        assert chosen.get(name) == pinned.get(name), f"{name}: Binder gets {chosen.get(name)}, tests ran {pinned.get(name)}"
