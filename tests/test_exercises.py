"""The numbers that exercise solutions state hold: each solution is run the way a student would."""

import json
import re

import nbformat
import numpy as np
import pytest

from notebook_tools import ROOT, run_with_extra_cells

WEEK1 = ROOT / "chapters/01_why_deep_learning.ipynb"
WEEK2 = ROOT / "chapters/02_supervised_learning.ipynb"


def solution_code(path, exercise: int) -> str:
    """The Python block inside the solution dropdown of exercise ``exercise``."""
    md = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    block = re.search(rf"\*\*{exercise}\..*?<details>(.*?)</details>", md, re.S).group(1)
    return re.search(r"```python\n(.*?)```", block, re.S).group(1)


def test_week1_small_data_solution():
    """Exercise 2: with 500 training voters both models stay near 88%; the deep net overfits a little."""
    report = ('import json\nprint(json.dumps({n: {"accuracy": float(results.loc[n, "test accuracy"]), '
              '"loss": histories[n].history["loss"], "val_loss": histories[n].history["val_loss"]} '
              'for n in histories}))')
    out = run_with_extra_cells(WEEK1, [report], upto="results.round(3)",
                               replace={"model.fit(X_train, y_train,": "model.fit(X_train[:500], y_train[:500],"})
    runs = json.loads(out[0])
    neuron, deep = runs["one_neuron"], runs["deep_net"]
    for run in (neuron, deep):
        assert run["accuracy"] == pytest.approx(0.88, abs=0.015)  # "about 88%"
    assert deep["loss"][-1] == pytest.approx(0.24, abs=0.03)  # "about 0.24 against 0.30 when it stops"
    assert deep["val_loss"][-1] == pytest.approx(0.30, abs=0.02)
    assert deep["val_loss"][-1] - deep["loss"][-1] > 0.03  # training loss "clearly below" validation loss
    assert 12 <= len(deep["loss"]) <= 30  # "after about 20 epochs"
    assert neuron["loss"][-1] == pytest.approx(0.30, abs=0.015)  # "both about 0.30"
    assert neuron["val_loss"][-1] == pytest.approx(0.30, abs=0.015)


def test_week2_another_start_ends_at_the_same_line():
    """Exercise 1: gradient descent from (-0.5, -0.3) reaches the least-squares line (the check cell passes)."""
    out = run_with_extra_cells(WEEK2, ["print(phi.round(3).tolist(), ols.round(3).tolist())"],
                               upto='check_claim("gradient descent finds the least-squares line"',
                               replace={"phi = np.array([1.0, 0.2])": "phi = np.array([-0.5, -0.3])"}, fast=True)
    assert out == ["[0.227, -0.067] [0.227, -0.067]\n"]


def test_week2_learning_rate_and_two_inputs_solutions():
    """Exercise 2 (largest stable rate, standardised inputs) and exercise 3 (two inputs by hand)."""
    standardised = """
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
    out = run_with_extra_cells(WEEK2, [solution_code(WEEK2, 2), standardised, solution_code(WEEK2, 3),
                                       "print(json.dumps(phi3.tolist()))"],
                               upto="phi_logit = np.zeros(2)", fast=True)
    limit = float(out[0])
    assert limit == pytest.approx(0.045, abs=0.001)  # "about 0.045"
    std, raw = (json.loads(line) for line in out[1].splitlines())
    assert abs(std["one_step_at_0.5"]) < 1e-12 and abs(std["at_0.99"]) < 1e-9 and std["at_1.01"] > 1e3
    assert raw["at_0.044"] == pytest.approx(1, abs=1e-6) and raw["at_0.045"] > 1e3  # "up to about 0.044 converge"
    phi3 = json.loads(out[3])
    np.testing.assert_allclose(phi3, [-6.41, 1.06, 0.58], atol=0.006)  # "about -6.41, 1.06, 0.58"
