"""The run times the text states hold against what `make bench` measured (tests/bench/times.json).

Times are never measured inside a test (a busy machine would fail it). `make bench` measures
every notebook in fast and full mode and the grading of each assignment, and commits the
numbers; these tests read them. A chapter that states "about 3 minutes" passes when its
full-mode run took 1.5 to 4.5 minutes, "under a minute" when it took less than 60 s.
"""

import json
import re

import nbformat
import pytest

from notebook_runs import CHAPTERS, ROOT, chapter_stems

TIMES_FILE = ROOT / "tests" / "bench" / "times.json"
TIMES = json.loads(TIMES_FILE.read_text()) if TIMES_FILE.exists() else {"chapters": {}, "grading": {}}
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10}


def stated_seconds(phrase: str) -> tuple[float, float]:
    """The range of seconds a phrase such as "about 3 minutes" or "under a minute" allows."""
    found = re.fullmatch(r"(about|under) (\w+) minutes?", phrase.strip())
    if not found:
        raise ValueError(f"cannot read a run time from {phrase!r}")
    kind, number = found.groups()
    minutes = float(NUMBERS.get(number, number) if not number.isdigit() else number)
    return (0.0, 60 * minutes) if kind == "under" else (30 * minutes, 90 * minutes)


def test_stated_seconds_reads_the_phrases_the_course_uses():
    assert stated_seconds("about 3 minutes") == (90, 270)
    assert stated_seconds("under a minute") == (0, 60)
    assert stated_seconds("about one minute") == (30, 90)
    with pytest.raises(ValueError):
        stated_seconds("a while")


def test_every_notebook_was_measured():
    assert TIMES_FILE.exists(), "run `make bench`: it measures every notebook and writes tests/bench/times.json"
    assert sorted(TIMES["chapters"]) == chapter_stems(), "run `make bench` after adding a chapter"
    for stem, modes in TIMES["chapters"].items():
        for mode in ("fast", "full"):
            assert modes[mode]["seconds"] > 0 and modes[mode]["failed_cells"] == 0, (stem, mode)
    assignments = sorted(p.parent.name for p in ROOT.glob("assignments/*/*.ipynb") if p.stem == p.parent.name)
    assert sorted(TIMES["grading"]) == assignments


@pytest.mark.parametrize("stem", chapter_stems())
def test_chapter_run_time_matches_the_measurement(stem):
    opening = nbformat.read(CHAPTERS / f"{stem}.ipynb", as_version=4).cells[0].source
    line = " ".join(opening.split("**Time:**", 1)[1].split("**Read:**")[0].split())
    full = re.match(r"((?:about|under) \w+ minutes?) to run on a laptop CPU", line)
    assert full, f"{stem}: the Time line should say 'about N minutes' or 'under N minutes' to run: {line!r}"
    low, high = stated_seconds(full.group(1))
    measured = TIMES["chapters"][stem]["full"]["seconds"]
    assert low <= measured <= high, f"{stem} says {full.group(1)!r}; make bench measured {measured:.0f} s in full mode"
    fast = re.search(r"((?:about|under) \w+ minutes?) in fast mode", line)
    if fast:
        low, high = stated_seconds(fast.group(1))
        measured = TIMES["chapters"][stem]["fast"]["seconds"]
        assert low <= measured <= high, f"{stem} says {fast.group(1)!r} in fast mode; measured {measured:.0f} s"


ASSIGNMENT_NOTEBOOKS = sorted(p for p in ROOT.glob("assignments/*/*.ipynb") if p.stem == p.parent.name)


@pytest.mark.parametrize("path", ASSIGNMENT_NOTEBOOKS, ids=lambda p: p.stem)
def test_assignment_run_time_matches_the_measurement(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    found = re.search(r"The whole notebook runs in ((?:about|under) \w+ minutes?) on a laptop CPU", text)
    assert found, f"{path.stem}: the introduction should say how long the whole notebook runs"
    low, high = stated_seconds(found.group(1))
    measured = TIMES["grading"][path.stem]["full"]["solution"]["seconds"]
    assert low <= measured <= high, f"{path.stem} says {found.group(1)!r}; grading the solution took {measured:.0f} s"


def test_instructors_page_states_the_measured_grading_time():
    text = " ".join((ROOT / "instructors.md").read_text().split())
    found = re.search(r"about (\d+) s per submission in full mode", text)
    assert found, "instructors.md states the grading time per submission"
    measured = TIMES["grading"]["a1_vote_choice"]["full"]["solution"]["seconds"]
    assert int(found.group(1)) == pytest.approx(measured, abs=5)
    per_20 = re.search(r"a folder of 20 takes about (\d+) minutes", text)
    assert per_20 and int(per_20.group(1)) == pytest.approx(20 * measured / 60, abs=1.5)
    second = re.search(r"Assignment 2 takes about as long \((\d+) s\)", text)
    assert second, "instructors.md states the grading time of Assignment 2"
    assert int(second.group(1)) == pytest.approx(TIMES["grading"]["a2_forecasts_and_networks"]["full"]["solution"]["seconds"], abs=5)
    third = re.search(r"Assignment 3 \((\d+) s\)", text)
    assert third, "instructors.md states the grading time of Assignment 3"
    assert int(third.group(1)) == pytest.approx(TIMES["grading"]["a3_who_wrote_the_tweet"]["full"]["solution"]["seconds"], abs=5)
    fourth = re.search(r"Assignment 4 \((\d+) s\)", text)
    assert fourth, "instructors.md states the grading time of Assignment 4"
    assert int(fourth.group(1)) == pytest.approx(TIMES["grading"]["a4_synthetic_survey"]["full"]["solution"]["seconds"], abs=5)


def test_execution_status_page_shows_the_measurements():
    import bench

    page = (ROOT / "execution-status.md").read_text()
    assert bench.status_table(TIMES) in page, "run `make bench` (it writes the table) or copy its output"
