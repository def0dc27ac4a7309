"""Tools the tests (and chapter authors) use to run and clean notebooks.

Run as a script to refresh what the committed notebooks store::

    make chapter CHAPTER=02
    python tests/notebook_tools.py chapters/02_supervised_learning.ipynb

takes the outputs of cells tagged ``nbval-check-output`` from the chapter's last run in the
Colab-like environment (nbval compares against them there) and strips every other output.

``--execute`` only runs notebooks, in full mode with the network if there is one, and
fails if any cell raises (``make test-full``, the weekly workflow)::

    python tests/notebook_tools.py --execute chapters/*.ipynb
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

    # Short polls for kernel messages, also when this runs outside pytest (a script or a
    # test's subprocess): see _ext/kernel_messages.py.
    if str(ROOT / "_ext") not in sys.path:
        sys.path.insert(0, str(ROOT / "_ext"))
    from kernel_messages import patch
    patch()

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


def strip_outputs(nb, keep_checked: bool = True):
    """Remove outputs, execution counts and run metadata (keeping checked cells' outputs).

    nbval only compares a cell whose stored copy has an execution count ("unrun
    reference cells" must have no outputs), so a checked cell keeps its output and
    gets its position among the code cells as its count; every other cell has neither.
    """
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        cell.metadata.pop("execution", None)
        keep = keep_checked and is_checked(cell) and cell.outputs
        cell.execution_count = number if keep else None
        if not keep:
            cell.outputs = []
        for out in cell.outputs:
            if "execution_count" in out:
                out["execution_count"] = number
    return nb


def refresh(path: Path) -> None:
    """Store the outputs of the checked cells from the chapter's last run (``make chapter``),
    so that nbval compares against what the Colab-like environment prints."""
    path = Path(path).resolve()
    ran = ROOT / "_build" / "test" / "runs" / path.stem / path.name
    if not ran.exists():
        raise SystemExit(f"{path.name} has no run to take outputs from: run `make chapter CHAPTER={path.name[:2]}` first")
    nb, done = nbformat.read(path, as_version=4), nbformat.read(ran, as_version=4)
    code, done_code = ([c for c in n.cells if c.cell_type == "code"] for n in (nb, done))
    if [c.source for c in code] != [c.source for c in done_code]:
        raise SystemExit(f"{path.name} changed since its last run: run `make chapter CHAPTER={path.name[:2]}` again")
    for cell, ran_cell in zip(code, done_code):
        cell.outputs = ran_cell.outputs if is_checked(cell) else []
    nbformat.write(strip_outputs(nb), path)
    print(f"{path}: kept the outputs of {sum(map(is_checked, nb.cells))} checked cells from {ran}")


def execute_all(paths: list[Path], timeout: int) -> int:
    """Run each notebook in full mode in its own folder; report times; the number that failed."""
    import time

    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    failed = []
    for path in paths:
        start = time.monotonic()
        try:
            run_notebook(nbformat.read(path, as_version=4), cwd=path.parent, timeout=timeout,
                         env={"DL4SS_FAST": "0"})
        except (CellExecutionError, CellTimeoutError) as error:
            failed.append(path)
            print(f"FAILED {path} after {time.monotonic() - start:.0f} s:\n{error}", flush=True)
        else:
            print(f"ok     {path} in {time.monotonic() - start:.0f} s", flush=True)
    print(f"{len(paths) - len(failed)} of {len(paths)} notebooks ran without errors")
    return len(failed)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--execute", action="store_true", help="only run them, in full mode")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell (with --execute)")
    args = parser.parse_args()
    if args.execute:
        sys.exit(1 if execute_all(args.notebooks, args.timeout) else 0)
    for path in args.notebooks:
        refresh(path)
