"""Week 3: the shallow-network playground and the chapter's exercise solutions.

The exercise solutions and the widget with the chapter's settings are probes: they run in
the chapter's kernel right after its one run (tests/notebook_runs.py).
"""

import numpy as np
import pytest

from notebook_runs import probe, solution
from utils.widgets import (ACTIVATIONS, PLAYGROUND_SHAPES, fit_shallow_network, playground_data,
                           playground_explorer, playground_halves, plot_playground)

WEEK3 = "03_shallow_networks"
SOLUTIONS = [probe(WEEK3, f"exercise {n}", solution(WEEK3, n)) for n in (1, 2, 3)]
# The playground as the chapter opens it (4 ReLU units on the ring), then moved to the
# settings of the chapter's static figures: 8 ReLU units, then 8 linear units.
PLAYGROUND = probe(WEEK3, "widget: the playground as the chapter opens it", """
import json
box = playground_explorer(shape="circle", hidden_units=4, activation="relu")
(data, activation), (units, rate), (steps, noise) = (row.children for row in box.children[:3])
points, = box.children[3].children
held_out = lambda: box.result["held_out_accuracy"]
seen = {"4 relu": held_out()}
units.value = 8
seen["8 relu"] = held_out()
activation.value = "linear"
seen["8 linear"] = held_out()
activation.value, units.value, rate.value, steps.value, noise.value, points.value = "relu", 32, 1.0, 5000, 0.3, 60
seen["few points"] = {"training": box.result["accuracy"], "held_out": held_out()}
print(json.dumps({"widget": seen, "figure": {"8 relu": playground["relu ring"]["held_out_accuracy"],
                  "8 linear": playground["linear ring"]["held_out_accuracy"],
                  "few points": {"training": few["accuracy"], "held_out": few["held_out_accuracy"]}},
                  "majority": majority}))
""")


def test_activation_derivatives_match_finite_differences():
    z = np.linspace(-3, 3, 61) + 0.013  # avoid the ReLU kink at exactly 0
    for name, (function, derivative) in ACTIVATIONS.items():
        numeric = (function(z + 1e-6) - function(z - 1e-6)) / 2e-6
        assert np.allclose(derivative(z), numeric, atol=1e-5), name


@pytest.mark.parametrize("shape", PLAYGROUND_SHAPES)
def test_playground_data_are_balanced_enough_and_reproducible(shape):
    X, y = playground_data(shape, n=200, seed=3)
    assert X.shape == (200, 2) and set(np.unique(y)) == {0, 1}
    assert 0.2 < y.mean() < 0.8
    assert np.array_equal(X, playground_data(shape, n=200, seed=3)[0])
    assert not np.array_equal(X, playground_data(shape, n=200, seed=4)[0])


def test_playground_data_rejects_bad_arguments():
    with pytest.raises(ValueError, match="shape must be one of"):
        playground_data("moons")
    with pytest.raises(ValueError, match="noise"):
        playground_data("xor", noise=-1)


def test_backpropagation_in_the_playground_is_the_true_gradient():
    """One step with a tiny learning rate lowers the loss by learning_rate * |gradient|^2."""
    X, y = playground_data("xor", n=50)
    for activation in ("tanh", "sigmoid", "leaky relu"):
        start = fit_shallow_network(X, y, 3, activation, 1e-9, 1, seed=1)
        two = fit_shallow_network(X, y, 3, activation, 1e-3, 2, seed=1)
        # the loss falls, to first order, by the learning rate times the squared gradient
        drop = two["losses"][0] - two["losses"][1]
        assert drop > 0, activation
        p0 = start["params"]
        # finite-difference gradient of the loss in one hidden weight
        def loss_with(delta):
            a, _ = ACTIVATIONS[activation]
            theta = p0["theta"].copy()
            theta[0, 0] += delta
            p = 1 / (1 + np.exp(-(p0["phi0"] + a(p0["theta0"] + X @ theta) @ p0["phi"])))
            return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        numeric = (loss_with(1e-6) - loss_with(-1e-6)) / 2e-6
        after = fit_shallow_network(X, y, 3, activation, 1.0, 1, seed=1)["params"]["theta"][0, 0]
        assert p0["theta"][0, 0] - after == pytest.approx(numeric, rel=1e-4, abs=1e-9), activation


def test_hidden_units_and_nonlinearity_are_what_separates_the_ring():
    X, y = playground_data("circle")
    linear = fit_shallow_network(X, y, 8, "linear", 0.5, 1000)
    relu = fit_shallow_network(X, y, 8, "relu", 0.5, 1000)
    assert linear["accuracy"] <= max(y.mean(), 1 - y.mean()) + 0.01
    assert relu["accuracy"] >= 0.9 and relu["losses"][-1] < linear["losses"][-1] / 2
    with pytest.raises(ValueError, match="activation must be one of"):
        fit_shallow_network(X, y, 8, "softplus")
    with pytest.raises(ValueError, match="hidden_units must be a positive integer"):
        fit_shallow_network(X, y, 0)
    with pytest.raises(ValueError, match="one row per label"):
        fit_shallow_network(X, y[:-1])
    fig = plot_playground(X, y, relu)
    assert fig.axes[0].get_title() == f"accuracy {relu['accuracy']:.1%}"


def test_playground_explorer_refits_when_controls_change():
    box = playground_explorer(shape="circle", hidden_units=8, activation="relu", steps=500)
    (data, activation), (units, rate), (steps, noise) = (row.children for row in box.children[:3])
    points, = box.children[3].children
    good = box.result["accuracy"]
    assert good > 0.85 and len(box.result["losses"]) == 500 == len(box.result["held_out_losses"])
    activation.value = "linear"
    assert box.result["accuracy"] < good - 0.1
    data.value = "linear"
    assert box.result["accuracy"] > 0.9 and box.result["held_out_accuracy"] > 0.9  # a line separates the linear data
    steps.value = 200
    assert len(box.result["losses"]) == 200
    noise.value = 0.0
    assert box.result["X"].shape == (300, 2) and box.result["X_held_out"].shape == (300, 2)
    points.value = 100
    assert box.result["X"].shape == (50, 2) and box.result["X_held_out"].shape == (50, 2)


def test_playground_halves_are_disjoint_random_halves():
    (X, y), (X_held, y_held) = playground_halves("spiral", n=101, noise=0.0)
    assert len(X) == 50 and len(X_held) == 51
    whole = playground_data("spiral", n=101, noise=0.0)[0]
    rows = {tuple(r) for r in np.round(whole, 12)}
    assert {tuple(r) for r in np.round(X, 12)} | {tuple(r) for r in np.round(X_held, 12)} == rows
    assert not {tuple(r) for r in np.round(X, 12)} & {tuple(r) for r in np.round(X_held, 12)}
    assert 0.3 < y.mean() < 0.7  # the spiral's two arms are generated in order: the halves mix them


def test_held_out_loss_is_the_loss_of_the_same_parameters_on_new_points():
    (X, y), held_out = playground_halves("circle", n=200)
    fit = fit_shallow_network(X, y, 6, "tanh", 0.5, 50, held_out=held_out)
    p = np.clip(fit["predict"](held_out[0]), 1e-7, 1 - 1e-7)
    after = -np.mean(held_out[1] * np.log(p) + (1 - held_out[1]) * np.log(1 - p))
    # the list records the loss before each step; one more step's change is small
    assert fit["held_out_losses"][-1] == pytest.approx(after, abs=0.01)
    assert fit["held_out_accuracy"] == np.mean((p > 0.5) == (held_out[1] == 1))
    with pytest.raises(ValueError, match="held_out must be"):
        fit_shallow_network(X, y, 3, held_out=(held_out[0][:, :1], held_out[1]))
    fig = plot_playground(X, y, fit)
    assert fig.axes[0].get_title().startswith("training ") and "held-out" in fig.axes[0].get_title()
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["training half", "held-out half"]


def test_week3_exercise_solutions():
    """Exercise 1: 13 and 899 parameters; exercise 2: three ReLU units for XOR; exercise 3: ReLU backprop."""
    out = [p.output() for p in SOLUTIONS]
    assert out[0] == "13 13\n899 899\n"
    rows = [line.split() for line in out[1].strip().splitlines()]
    assert [r[0] for r in rows] == ["1", "2", "3"]  # three units are the first to reach 85% held out
    assert float(rows[2][2].rstrip("%")) == pytest.approx(87, abs=0.5)  # "87% of the held-out points"
    assert float(rows[2][1].rstrip("%")) == pytest.approx(94, abs=0.5)  # "(94% of the training half)"
    assert float(rows[0][2].rstrip("%")) == pytest.approx(50, abs=5)  # "about half right"
    assert float(rows[1][2].rstrip("%")) == pytest.approx(68, abs=1)  # "about 68%"
    assert float(rows[1][1].rstrip("%")) == pytest.approx(73, abs=1)  # "(73% of the training half)"
    assert float(out[2]) < 1e-15


def test_playground_widget_as_the_chapter_opens_it():
    """Moved to the settings of the chapter's figures, the widget draws the same fits: eight
    ReLU units classify the ring's held-out half at least 85% correctly, more than the four it
    opens with; linear units do no better than guessing the larger group; 32 units on 30 noisy
    points fit them all and lose the held-out half."""
    got = PLAYGROUND.json()
    seen, figure = got["widget"], got["figure"]
    assert seen["8 relu"] == figure["8 relu"] >= 0.85 > seen["4 relu"]
    assert seen["8 linear"] == figure["8 linear"] <= got["majority"] + 0.01
    assert seen["few points"] == figure["few points"]
    assert seen["few points"]["training"] == 1.0 and seen["few points"]["held_out"] < 0.8
