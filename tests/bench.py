"""Measure how long every notebook takes, in fast and full mode, and how long grading takes.

    make bench                       # or: .venv/bin/python tests/bench.py
    .venv/bin/python tests/bench.py --chapters 02 04 --no-grading

Each chapter runs as in ``make test`` (tests/notebook_runs.py: alone, in a fresh copy of the
Colab-like environment, offline), once in fast mode and once in full mode, without the
test probes. Each assignment's solution and unchanged student version are graded by the
instructor command in both modes. The results go to ``tests/bench/times.json`` (committed:
``tests/test_claims.py`` checks the run times the text states against it) and into the
table on the execution-status page. Times are measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "tests" / "bench" / "times.json"
STATUS_PAGE = ROOT / "execution-status.md"
TABLE_START, TABLE_END = "<!-- bench table: written by make bench -->", "<!-- end of bench table -->"
MODES = {"fast": "1", "full": "0"}


def machine() -> dict:
    cpu = "unknown CPU"
    if Path("/proc/cpuinfo").exists():
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found.group(1).strip() if found else cpu
    return {"cpus": os.cpu_count(), "cpu": cpu, "system": platform.platform(),
            "date": datetime.date.today().isoformat()}


def run_chapters(mode: str, chapters: list[str]) -> dict:
    """Run chapters in ``mode`` with the notebook_runs plugin; their run records by stem."""
    out = ROOT / "_build" / "bench" / mode
    paths = [str(p) for p in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
             if not chapters or p.name[:2] in chapters]
    env = {**os.environ, "DL4SS_FAST": MODES[mode], "DL4SS_OFFLINE": "1"}
    command = [sys.executable, "-m", "pytest", "-p", "notebook_runs", "--no-probes", "--runs-dir", str(out),
               "--nbval-cell-timeout=3600", "-q", *paths]
    print(f"== {mode} mode: {len(paths)} chapters", flush=True)
    result = subprocess.run(command, cwd=ROOT, env=env)
    records = {}
    for path in paths:
        stem = Path(path).stem
        record = out / "runs" / stem / "run.json"
        if record.exists():
            records[stem] = json.loads(record.read_text())
    if result.returncode != 0:
        print(f"warning: some {mode}-mode cells failed (pytest exit {result.returncode})", flush=True)
    return records


def grade_assignments(mode: str) -> dict:
    """Seconds to grade each assignment's solution and unchanged student version in ``mode``."""
    sys.path.insert(0, str(ROOT / "assignments"))
    import grading
    import release

    os.environ["DL4SS_FAST"], os.environ["DL4SS_OFFLINE"] = MODES[mode], "1"
    times = {}
    for authoring in release.authoring_notebooks():
        name = authoring.stem
        built = ROOT / "_build" / "assignments" / name
        if not (built / "instructor" / "manifest.json").exists():
            release.release(name)
        with tempfile.TemporaryDirectory() as tmp:
            submissions = Path(tmp) / "submissions"
            submissions.mkdir()
            shutil.copy(built / "instructor" / f"{name}-solution.ipynb", submissions / "solution.ipynb")
            shutil.copy(built / "student" / f"{name}.ipynb", submissions / "student_version.ipynb")
            outcomes = grading.grade_folder(name, submissions, Path(tmp) / "out")
        times[name] = {o.student: {"seconds": round(o.seconds, 1), "earned": o.earned, "possible": o.possible}
                       for o in outcomes}
    return times


def status_table(times: dict) -> str:
    rows = ["| notebook | fast mode | full mode |", "|---|---:|---:|"]
    for stem in sorted(times["chapters"]):
        entry = times["chapters"][stem]
        rows.append(f"| {stem} | {entry['fast']['seconds']:.0f} s | {entry['full']['seconds']:.0f} s |")
    for name, modes in sorted(times.get("grading", {}).items()):
        rows.append(f"| {name}, graded (solution) | {modes['fast']['solution']['seconds']:.0f} s | "
                    f"{modes['full']['solution']['seconds']:.0f} s |")
    where = times["machine"]
    grading = times.get("grading_date", where["date"])
    when = where["date"] + (f" (grading on {grading})" if grading != where["date"] else "")
    return (f"{TABLE_START}\nMeasured with `make bench` on {when}: {where['cpus']} CPU cores "
            f"({where['cpu']}), no GPU, {times['python']}, data from the offline copies (so chapter 4 "
            "uses 5,000 MNIST digits, not 70,000).\n\n" + "\n".join(rows) + f"\n{TABLE_END}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chapters", nargs="*", default=[], help="chapter numbers (default: all)")
    parser.add_argument("--no-grading", action="store_true")
    parser.add_argument("--no-chapters", action="store_true", help="only the grading times")
    parser.add_argument("--table-only", action="store_true", help="only rewrite the page's table from times.json")
    args = parser.parse_args(argv)
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {"chapters": {}, "grading": {}}
    if args.table_only:
        write_status_table(times)
        return 0
    for mode in MODES if not args.no_chapters else []:
        for stem, record in run_chapters(mode, args.chapters).items():
            entry = times["chapters"].setdefault(stem, {})
            entry[mode] = {"seconds": record["seconds"], "setup_seconds": record["setup_seconds"],
                           "failed_cells": len(record["failed_cells"])}
    if not args.no_grading:
        for mode in MODES:
            for name, by_student in grade_assignments(mode).items():
                times["grading"].setdefault(name, {})[mode] = by_student
    stamp = json.loads((ROOT / ".venv-colab" / "pristine.json").read_text())
    times["python"] = f"Python {stamp['python_version']} with Colab's package versions"
    measured = machine()
    if not args.no_chapters or "machine" not in times:
        times["machine"] = measured
    if not args.no_grading:
        times["grading_date"] = measured["date"]
    TIMES.parent.mkdir(exist_ok=True)
    TIMES.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    write_status_table(times)
    return 0


def write_status_table(times: dict) -> None:
    """Put the table of ``times`` between the markers of the execution-status page."""
    page = STATUS_PAGE.read_text()
    before, rest = page.split(TABLE_START, 1)
    STATUS_PAGE.write_text(before + status_table(times) + rest.split(TABLE_END, 1)[1])
    print(status_table(times))


if __name__ == "__main__":
    sys.exit(main())
