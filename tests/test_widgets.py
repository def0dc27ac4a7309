"""utils.widgets: the demos work as plain functions and when their sliders move."""

import numpy as np
import pytest

from utils.widgets import gradient_descent, learning_rate_explorer, neuron_explorer, neuron_fit, plot_descent


def quadratic(phi):
    return float(phi[0] ** 2 + 10 * phi[1] ** 2)


def quadratic_gradient(phi):
    return np.array([2 * phi[0], 20 * phi[1]])


def test_gradient_descent_converges_below_the_stability_limit_and_diverges_above():
    path = gradient_descent(quadratic_gradient, [1.0, 1.0], 0.05, 200)
    assert path.shape == (201, 2) and np.allclose(path[-1], 0, atol=1e-6)
    wild = gradient_descent(quadratic_gradient, [1.0, 1.0], 0.11, 50)  # 2 / 20 = 0.1 is the limit
    assert abs(wild[-1, 1]) > 1


def test_gradient_descent_stops_on_overflow_and_rejects_bad_arguments():
    path = gradient_descent(quadratic_gradient, [1.0, 1.0], 5.0, 10_000)
    assert len(path) < 10_001 and np.isfinite(path).all()
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        gradient_descent(quadratic_gradient, [0, 0], 0, 10)
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        gradient_descent(quadratic_gradient, [0, 0], 0.1, -1)


def test_plot_descent_reports_final_loss():
    path = gradient_descent(quadratic_gradient, [1.0, 1.0], 0.05, 20)
    fig = plot_descent(quadratic, path, [(-1, 1), (-1, 1)])
    assert fig.axes[1].get_title() == f"loss after 20 steps: {quadratic(path[-1]):.4g}"


def test_plot_descent_compares_several_paths_on_a_scale_of_epochs():
    slow = gradient_descent(quadratic_gradient, [1.0, 1.0], 0.01, 10)   # 10 steps, one per epoch
    fast = gradient_descent(quadratic_gradient, [1.0, 1.0], 0.01, 40)   # 40 steps, four per epoch
    fig = plot_descent(quadratic, {"whole batch": slow, "quarter batches": fast}, [(-1, 1), (-1, 1)],
                       steps_per_epoch={"whole batch": 1, "quarter batches": 4})
    surfaces, losses = fig.axes[:2], fig.axes[2]
    assert [ax.get_title() for ax in surfaces] == ["whole batch: 10 steps", "quarter batches: 40 steps"]
    assert losses.get_xlabel() == "epoch (passes through the data)"
    # both loss curves end at epoch 10
    assert [line.get_xdata()[-1] for line in losses.get_lines()] == [10, 10]
    with pytest.raises(ValueError, match="one entry per path"):
        plot_descent(quadratic, {"a": slow}, [(-1, 1), (-1, 1)], steps_per_epoch={"b": 1})


def test_learning_rate_explorer_recomputes_when_sliders_move():
    box = learning_rate_explorer(quadratic, quadratic_gradient, [1.0, 1.0], [(-1, 1), (-1, 1)],
                                 learning_rates=[0.001, 0.05, 0.11], steps=30)
    rate, steps = box.children[0].children
    assert rate.value == 0.05 and len(box.result) == 31
    rate.value = 0.001
    assert np.linalg.norm(box.result[-1]) > 0.5  # tiny steps: still far from the minimum
    rate.value = 0.11
    assert abs(box.result[-1, 1]) > 1  # too large: diverges
    steps.value = 10
    assert len(box.result) == 11
    with pytest.raises(ValueError, match="at least two learning rates"):
        learning_rate_explorer(quadratic, quadratic_gradient, [1, 1], [(-1, 1), (-1, 1)], learning_rates=[0.1])


def _toy_voters():
    rng = np.random.default_rng(0)
    X = np.c_[rng.integers(1, 8, 2000), rng.integers(1, 6, 2000)].astype(float)
    p = 1 / (1 + np.exp(-(-6 + 0.8 * X[:, 0] + 0.9 * X[:, 1])))
    return X, (rng.random(2000) < p).astype(float)


def test_neuron_fit_matches_the_formula():
    X, y = _toy_voters()
    fit = neuron_fit(X, y, -6, (0.8, 0.9))
    p = 1 / (1 + np.exp(-(-6 + X @ [0.8, 0.9])))
    assert np.allclose(fit["p"], p)
    assert fit["accuracy"] == pytest.approx(np.mean((p > 0.5) == (y == 1)))
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        neuron_fit(X[:, :1], y, 0, (1, 1))


def test_neuron_explorer_better_weights_give_lower_loss():
    X, y = _toy_voters()
    box = neuron_explorer(X, y, "party ID", "ideology", [1, 2, 3, 4, 5], bias=0.0, weights=(0.0, 0.0))
    bias, w_party, w_ideology = box.children[:3]
    assert box.result["log_loss"] == pytest.approx(np.log(2))  # all probabilities 0.5
    bias.value, w_party.value, w_ideology.value = -6.0, 0.8, 0.9
    assert box.result["log_loss"] < 0.6 and box.result["accuracy"] > 0.7
