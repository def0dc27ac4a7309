"""Week 2: the numbers the exercise solutions state, and the learning-rate widget on Okun's law.

Probes run in the chapter's kernel right after its one run (tests/notebook_runs.py).
"""

import json

import numpy as np
import pytest

from notebook_runs import probe, replay, solution

WEEK2 = "02_supervised_learning"

# Exercise 1: rerun the gradient-descent cell from another start.
ANOTHER_START = probe(WEEK2, "exercise 1: another start", replay(
    WEEK2, "phi = np.array([1.0, 0.2])", replace={"phi = np.array([1.0, 0.2])": "phi = np.array([-0.5, -0.3])"})
    + "\nprint(phi.round(3).tolist(), ols.round(3).tolist())\n")

STANDARDISED = """
import json
x_raw = x
x = (x_raw - x_raw.mean()) / x_raw.std()
ls_std = np.linalg.lstsq(np.column_stack([np.ones_like(x), x]), y, rcond=None)[0]
def final_loss(rate, steps):
    return loss(gradient_descent(gradient, [1.0, 0.2], rate, steps)[-1])
print(json.dumps({"one_step_at_0.5": final_loss(0.5, 1) - loss(ls_std), "at_0.99": final_loss(0.99, 3000) - loss(ls_std),
                  "at_1.01": final_loss(1.01, 3000)}))
x = x_raw
print(json.dumps({"at_0.044": final_loss(0.044, 3000) / loss(ols), "at_0.045": final_loss(0.045, 3000) / loss(ols)}))
"""
# Exercise 2 (the largest stable rate, standardised inputs) and exercise 3 (two inputs by hand).
LARGEST_RATE = probe(WEEK2, "exercise 2: the largest learning rate", solution(WEEK2, 2))
STANDARDISED_RATES = probe(WEEK2, "exercise 2: standardised growth", STANDARDISED)
TWO_INPUTS = probe(WEEK2, "exercise 3: two inputs by hand",
                   solution(WEEK2, 3) + "\nimport json\nprint(json.dumps(phi3.tolist()))\n")

# Exercise 4: batches of one quarter at the full-batch rate 0.03, and at 0.003.
BATCH_OF_ONE = probe(WEEK2, "exercise 4: batch size and learning rate",
                     solution(WEEK2, 4) + "\nprint(json.dumps({'minimum': loss(ols)}))\n")

# The learning-rate widget on the chapter's own loss: its slider changes where descent ends.
RATE_WIDGET = probe(WEEK2, "widget: learning rates on Okun's law", """
import json
box = learning_rate_explorer(loss, gradient, start=[1.0, 0.2], bounds=bounds, learning_rates=rates, steps=200)
rate_slider, steps_slider = box.children[0].children
ends = {}
for rate in (0.003, 0.03, 0.05):
    rate_slider.value = rate
    ends[str(rate)] = loss(box.result[-1])
steps_slider.value = 50
print(json.dumps({"ends": ends, "steps": len(box.result) - 1, "least_squares": loss(ols)}))
""")


def test_another_start_ends_at_the_same_line():
    """Exercise 1: gradient descent from (-0.5, -0.3) reaches the least-squares line."""
    assert ANOTHER_START.output().splitlines()[-1] == "[0.227, -0.067] [0.227, -0.067]"


def test_learning_rate_and_two_inputs_solutions():
    """Exercise 2 (largest stable rate, standardised inputs) and exercise 3 (two inputs by hand)."""
    assert float(LARGEST_RATE.output()) == pytest.approx(0.045, abs=0.001)  # "about 0.045"
    std, raw = (json.loads(line) for line in STANDARDISED_RATES.output().splitlines())
    assert abs(std["one_step_at_0.5"]) < 1e-12 and abs(std["at_0.99"]) < 1e-9 and std["at_1.01"] > 1e3
    assert raw["at_0.044"] == pytest.approx(1, abs=1e-6) and raw["at_0.045"] > 1e3  # "up to about 0.044 converge"
    np.testing.assert_allclose(TWO_INPUTS.json(), [-6.41, 1.06, 0.58], atol=0.006)  # "about -6.41, 1.06, 0.58"


def test_learning_rate_widget_with_okuns_law():
    """What the chapter says about the three rates holds when the slider is moved."""
    got = RATE_WIDGET.json()
    best = got["least_squares"]
    assert got["ends"]["0.03"] < 1.01 * best < got["ends"]["0.003"]
    assert got["ends"]["0.05"] > 100 * best
    assert got["steps"] == 50


def test_batches_of_one_need_a_smaller_learning_rate():
    """Exercise 4: at 0.03 the loss reaches more than ten thousand times the minimum and ends at
    almost twice it; at 0.003 it ends within 1% of the minimum."""
    lines = BATCH_OF_ONE.output().strip().splitlines()
    minimum = json.loads(lines[-1])["minimum"]
    found = {}
    for line in lines[:-1]:
        rate, rest = line.removeprefix("rate ").split(": ")
        largest, end = (float(part.split()[-1]) for part in rest.split(", "))
        found[float(rate)] = (largest, end)
    assert found[0.03][0] > 1e4 * minimum and 1.6 < found[0.03][1] / minimum < 2.0
    assert found[0.003][1] < 1.01 * minimum
    assert minimum == pytest.approx(0.06, abs=0.005)  # "the minimum (about 0.06)"
