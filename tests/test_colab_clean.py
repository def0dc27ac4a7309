"""Each chapter runs where the course package is not installed, as in Colab.

A fresh virtual environment gets only what Colab preinstalls (TensorFlow, Keras,
matplotlib, ipywidgets, pandas, scikit-learn, and a kernel). Each chapter is copied
alone into an empty directory, so no repository is beside it, and run there. Its setup
cell must install the course package itself: from a wheel of this checkout, named by
``DL4SS_PACKAGE`` (in Colab the default, the GitHub repository, is used instead). Each
chapter starts from the Colab set alone, and its setup cell may add packages but must
not change the version of any package Colab has (reinstalling NumPy or TensorFlow in a
running Colab session breaks it).
"""

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest

from notebook_tools import ROOT, run_notebook

CHAPTERS = sorted(ROOT.glob("chapters/[0-9][0-9]_*.ipynb"))
COLAB_PREINSTALLED = ["tensorflow", "keras", "matplotlib", "ipywidgets", "pandas", "scikit-learn", "ipykernel"]


def pip(python: Path, *args: str) -> str:
    run = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A venv with only Colab's preinstalled packages, a kernel for it, and a wheel of utils."""
    tmp = tmp_path_factory.mktemp("colab")
    wheels = tmp / "wheels"
    pip(Path(sys.executable), "wheel", "--quiet", "--no-deps", str(ROOT), "-w", str(wheels))
    wheel = next(wheels.glob("dl4ss_utils-*.whl"))

    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip(python, "install", "--quiet", *COLAB_PREINSTALLED, "-c", str(ROOT / "constraints.txt"))

    kernels = tmp / "jupyter" / "kernels" / "fresh"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh venv", "language": "python"}))
    return {"python": python, "wheel": wheel, "jupyter_path": str(tmp / "jupyter"), "colab": installed(python)}


def installed(python: Path) -> dict[str, str]:
    listing = json.loads(pip(python, "list", "--format", "json"))
    return {p["name"].lower(): p["version"] for p in listing}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_installs_the_course_package_and_runs(fresh, path, tmp_path):
    # Each chapter starts from what Colab has: whatever an earlier chapter installed goes.
    added = sorted(set(installed(fresh["python"])) - set(fresh["colab"]))
    if added:
        pip(fresh["python"], "uninstall", "--yes", *added)
    before = installed(fresh["python"])
    assert before == fresh["colab"]
    alone = tmp_path / path.name
    shutil.copy(path, alone)

    env = {"DL4SS_PACKAGE": str(fresh["wheel"]), "DL4SS_FAST": "1", "DL4SS_OFFLINE": "1",
           "JUPYTER_PATH": fresh["jupyter_path"] + os.pathsep + os.environ.get("JUPYTER_PATH", "")}
    from nbclient.exceptions import CellTimeoutError

    try:
        done = run_notebook(nbformat.read(alone, as_version=4), cwd=tmp_path, env=env,
                            kernel_name="fresh", timeout=300)
    except CellTimeoutError:  # a lost kernel message (rare): one fresh try, then fail
        pip(fresh["python"], "uninstall", "--yes", *sorted(set(installed(fresh["python"])) - set(fresh["colab"])))
        done = run_notebook(nbformat.read(alone, as_version=4), cwd=tmp_path, env=env,
                            kernel_name="fresh", timeout=300)

    for number, cell in enumerate(done.cells):  # the slow cells, for the log (pytest -s)
        timing = cell.metadata.get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            from datetime import datetime
            took = (datetime.fromisoformat(timing["shell.execute_reply"].rstrip("Z")) -
                    datetime.fromisoformat(timing["iopub.execute_input"].rstrip("Z"))).total_seconds()
            if took > 20:
                print(f"{path.name} cell {number}: {took:.0f} s")
    after = installed(fresh["python"])
    assert after.get("dl4ss-utils") == "0.1.0", "the setup cell did not install the course package"
    changed = {name: (version, after.get(name)) for name, version in before.items() if after.get(name) != version}
    assert changed == {}, f"the setup cell changed packages that Colab preinstalls (old, new): {changed}"
    printed = "".join(o.get("text", "") for c in done.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert "offline" in printed, "the chapter should say it used offline data"
