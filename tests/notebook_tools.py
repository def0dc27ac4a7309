"""Tools the tests (and chapter authors) use to run and clean notebooks.

Run as a script to refresh what the committed notebooks store::

    python tests/notebook_tools.py chapters/02_supervised_learning.ipynb

executes the notebook (fast, offline), keeps the outputs of cells tagged
``nbval-check-output`` (nbval compares against them) and strips every other output.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHECK_TAG = "nbval-check-output"


def is_checked(cell) -> bool:
    return CHECK_TAG in cell.get("metadata", {}).get("tags", [])


def run_notebook(nb, *, cwd: Path, env: dict | None = None, timeout: int = 900,
                 kernel_name: str = "python3", km=None):
    """Execute a notebook node in ``cwd`` with extra environment variables; returns it executed."""
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                                resources={"metadata": {"path": str(cwd)}}, km=km)
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def stdout_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


def strip_outputs(nb, keep_checked: bool = True):
    """Remove outputs, execution counts and run metadata (keeping checked cells' outputs)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        cell.metadata.pop("execution", None)
        if not (keep_checked and is_checked(cell)):
            cell.outputs = []
        else:
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = None
    return nb


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    executed = run_notebook(nb, cwd=path.parent, env={"DL4SS_FAST": "1", "DL4SS_OFFLINE": "1"})
    for cell, done in zip(nb.cells, executed.cells):
        if cell.cell_type == "code":
            cell.outputs = done.outputs if is_checked(cell) else []
    nbformat.write(strip_outputs(nb), path)
    print(f"{path}: kept the outputs of {sum(map(is_checked, nb.cells))} checked cells")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        refresh(Path(arg))
