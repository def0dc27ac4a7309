"""Week 4 (perceptrons and MLPs): the perceptron widget, its helpers and the exercise solutions.

Exercise 3 and the widget with the chapter's data sets are probes: they run in the chapter's
kernel right after its one run (tests/notebook_runs.py).
"""

import contextlib
import io

import nbformat
import numpy as np
import pytest

from notebook_runs import CHAPTERS, probe, solution
from utils.widgets import perceptron_explorer, perceptron_predict, perceptron_train, plot_perceptron_step

WEEK4 = "04_perceptrons_and_mlps"
CORNERS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
AND, XOR = np.array([0, 0, 0, 1]), np.array([0, 1, 1, 0])


def separable(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(4 * n, 2))
    margin = X[:, 1] - 0.5 * X[:, 0] - 0.4
    keep = np.abs(margin) > 0.2
    return X[keep][:n] + [2.0, 1.0], (margin[keep][:n] > 0).astype(int)


def code_cell(containing: str) -> str:
    cells = nbformat.read(CHAPTERS / f"{WEEK4}.ipynb", as_version=4).cells
    return next(c.source for c in cells if c.cell_type == "code" and containing in c.source)


# Exercise 3, run after the survey cells as its solution says.
INTERACTION = probe(WEEK4, "exercise 3: the neuron with the interaction", solution(WEEK4, 3) + """
import json
print(json.dumps({"gap_start": float(gap[0]), "gap_end": float(gap[-1]),
                  "loss": float(neuron8.evaluate(with_product(X_s_test), y_s_test, verbose=0)),
                  "mlp_loss": float(survey_results.loc["mlp", "loss"])}))
""")
# The perceptron widget with the chapter's three data sets, replayed to its last step.
PERCEPTRON_WIDGET = probe(WEEK4, "widget: the perceptron on the chapter's data", """
import json
box = perceptron_explorer(perceptron_data, epochs=20, feature_names=feature_names, class_names=class_names,
                          jitter={"ANES 1996 voters": 0.25})
choice, step = box.children[0].children
ends = {}
for name in perceptron_data:
    choice.value = name
    step.value = step.max
    ends[name] = {"mistakes": int(box.result["mistakes"]), "converged": bool(box.result["run"]["converged"]),
                  "steps": int(step.max)}
print(json.dumps(ends))
""")


# --------------------------------------------------------------------------- perceptron helpers

def test_perceptron_learns_and_by_the_rule():
    run = perceptron_train(CORNERS, AND, epochs=100)
    assert run["converged"] and run["mistakes"][-1] == 0
    w, b = run["weights"][-1], run["bias"][-1]
    np.testing.assert_array_equal(perceptron_predict(CORNERS, w, b), AND)
    np.testing.assert_allclose(w, [2, 1])  # the same answer the chapter's own loop prints
    assert b == -2
    # every step is recorded: epochs x examples (+ the start)
    assert len(run["weights"]) == len(run["bias"]) == len(run["mistakes"]) == 1 + 4 * run["epochs_run"]
    assert run["mistakes"][0] == 1  # all-zero weights say 0 everywhere: only (1, 1) is wrong


def test_perceptron_never_converges_on_xor_but_does_with_the_product_feature():
    run = perceptron_train(CORNERS, XOR, epochs=200)
    assert not run["converged"] and run["epochs_run"] == 200 and run["mistakes"].min() > 0
    X3 = np.column_stack([CORNERS, CORNERS[:, 0] * CORNERS[:, 1]])
    assert perceptron_train(X3, XOR, epochs=200)["converged"]


def test_perceptron_only_changes_weights_after_mistakes():
    X, y = separable()
    run = perceptron_train(X, y, epochs=50)
    assert run["converged"] and run["mistakes"][-1] == 0
    steps = np.diff(np.column_stack([run["weights"], run["bias"]]), axis=0)
    assert np.count_nonzero(np.abs(steps).sum(axis=1)) == run["updates"] > 0
    # from zero weights, the learning rate only rescales the line: same updates, same predictions
    fast = perceptron_train(X, y, epochs=50, learning_rate=0.1)
    assert fast["updates"] == run["updates"]
    np.testing.assert_allclose(fast["weights"][-1], 0.1 * run["weights"][-1])


def test_perceptron_rejects_bad_input():
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        perceptron_train(CORNERS, [0, 1, 2, 1])
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        perceptron_train(CORNERS, AND, learning_rate=0)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        perceptron_train(CORNERS, AND, epochs=0)
    with pytest.raises(ValueError, match="X must have shape"):
        perceptron_train(CORNERS, AND[:3])


def test_plot_perceptron_step_reports_the_run():
    X, y = separable()
    run = perceptron_train(X, y, epochs=50)
    fig = plot_perceptron_step(X, y, run, len(run["mistakes"]) - 1)
    left, right = fig.axes[:2]
    assert "converged" in right.get_title() and f"{run['updates']} updates" in right.get_title()
    assert "mistakes (0)" in [t.get_text() for t in left.get_legend().get_texts()]
    with pytest.raises(ValueError, match="step must be between"):
        plot_perceptron_step(X, y, run, len(run["mistakes"]))


# --------------------------------------------------------------------------- the widget

def test_perceptron_explorer_replays_the_rule_and_switches_data():
    X, y = separable()
    box = perceptron_explorer({"separable": (X, y), "xor": (CORNERS, XOR)}, epochs=30)
    choice, step = box.children[0].children
    assert box.result["step"] == 0 and box.result["mistakes"] == int(y.sum())  # w = 0 predicts 0 for all
    step.value = step.max
    assert box.result["mistakes"] == 0 and box.result["run"]["converged"]
    np.testing.assert_array_equal(perceptron_predict(X, box.result["weights"], box.result["bias"]), y)
    choice.value = "xor"
    assert box.result["data"] == "xor" and step.max == 4 * 30
    assert box.result["step"] == step.value <= step.max
    assert not box.result["run"]["converged"] and box.result["run"]["mistakes"].min() > 0
    step.value = 0
    assert box.result["mistakes"] == 2
    with pytest.raises(ValueError, match="at least one data set"):
        perceptron_explorer({})


# --------------------------------------------------------------------------- exercise solutions

def test_exercise1_product_feature_makes_xor_learnable():
    namespace = {"np": np}
    exec(code_cell("def perceptron("), namespace)  # the chapter's own loop (also prints AND / XOR)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(solution(WEEK4, 1), namespace)
    assert namespace["mistakes"] == 0  # "converges: no mistakes in the last epoch"
    assert namespace["epochs_run"] < 100
    assert namespace["perceptron"](namespace["X_tiny"], namespace["y_xor"], epochs=100)[3] > 0


def test_exercise2_parameter_counts_match_keras():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(solution(WEEK4, 2), {})
    assert out.getvalue().split("\n")[:2] == ["512 [401920, 262656, 5130] 669706", "128 [100480, 16512, 1290] 118282"]
    import keras
    from keras import layers  # noqa: F401 - used by the chapter's cell

    namespace = {"keras": keras, "layers": layers}
    exec(code_cell("def digit_mlp(").split("mlp = digit_mlp()")[0], namespace)
    assert namespace["digit_mlp"]().count_params() == 669_706
    assert namespace["digit_mlp"](units=128).count_params() == 118_282


def test_exercise3_the_interaction_lets_one_neuron_find_the_gap():
    out = INTERACTION.output().splitlines()
    assert out[0].startswith("gap 1977")
    result = INTERACTION.json()
    assert result["gap_end"] - result["gap_start"] > 0.15  # "grows by more than 15 points"
    assert abs(result["loss"] - result["mlp_loss"]) < 0.005  # "within about 0.005 of the MLP's"


def test_perceptron_widget_with_the_chapter_data():
    """Replayed to the end: the separable data end without mistakes, XOR and the voters never do."""
    ends = PERCEPTRON_WIDGET.json()
    assert ends["separable (made up)"]["mistakes"] == 0 and ends["separable (made up)"]["converged"]
    for name in ("XOR (made up)", "ANES 1996 voters"):
        assert ends[name]["mistakes"] > 0 and not ends[name]["converged"], name
    assert ends["ANES 1996 voters"]["steps"] == 20 * 944
