"""utils.plots: the shared figures draw what they are given and reject bad shapes clearly."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from utils.plots import plot_decision_boundary, plot_image_grid, plot_image_rows, plot_training_curves

HISTORY = {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8],
           "val_accuracy": [0.5, 0.6, 0.7]}


def test_training_curves_one_panel_per_metric_with_validation_dashed():
    fig = plot_training_curves(HISTORY, title="t")
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    training, validation = fig.axes[0].get_lines()
    assert (training.get_linestyle(), validation.get_linestyle()) == ("-", "--")
    np.testing.assert_allclose(training.get_ydata(), HISTORY["loss"])
    np.testing.assert_allclose(validation.get_ydata(), HISTORY["val_loss"])
    np.testing.assert_allclose(training.get_xdata(), [1, 2, 3])


def test_training_curves_compare_named_models():
    fig = plot_training_curves({"small": HISTORY, "big": {"loss": [2, 1], "val_loss": [2, 1.5]}}, metrics=["loss"])
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert any("small" in s for s in labels) and any("big" in s for s in labels)


def test_training_curves_errors():
    with pytest.raises(TypeError, match="what model.fit returns"):
        plot_training_curves([1, 2, 3])
    with pytest.raises(KeyError, match="'auc' is not in the history"):
        plot_training_curves(HISTORY, metrics=["auc"])


def test_image_grid_marks_wrong_predictions():
    images = np.random.default_rng(0).integers(0, 255, (10, 28, 28))
    labels = np.arange(10)
    predictions = labels.copy()
    predictions[3] = 5
    fig = plot_image_grid(images, labels, class_names=[f"c{k}" for k in range(10)], predictions=predictions, ncols=5)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 10 and "c5\n(true c3)" in titles


@pytest.mark.parametrize("shape", [(28, 28), (5, 784)])
def test_image_grid_rejects_flat_images(shape):
    with pytest.raises(ValueError, match=r"images must have shape \(n, height, width"):
        plot_image_grid(np.zeros(shape))


def test_decision_boundary_draws_the_half_line():
    X = np.random.default_rng(0).normal(size=(100, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    fig = plot_decision_boundary(lambda g: 1 / (1 + np.exp(-(g[:, 0] + g[:, 1]))), X, y,
                                 class_names=["no", "yes"])
    assert fig.axes[1].get_ylabel() == "predicted P(yes)"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["no", "yes"]


def test_decision_boundary_shape_errors():
    with pytest.raises(ValueError, match="exactly two input features"):
        plot_decision_boundary(lambda g: g[:, 0], np.zeros((10, 3)), np.zeros(10))
    with pytest.raises(ValueError, match="X has 10 rows but y has 9"):
        plot_decision_boundary(lambda g: g[:, 0], np.zeros((10, 2)), np.zeros(9))


def test_plot_image_rows_labels_each_row():
    images = np.linspace(0, 1, 5 * 16).reshape(5, 16)
    fig = plot_image_rows({"originals": images, "copies": images.reshape(5, 4, 4)[:3]}, ncols=4, title="t")
    axes = np.array(fig.axes).reshape(2, 4)
    assert [axes[r, 0].get_ylabel() for r in range(2)] == ["originals", "copies"]
    assert len(axes[0, 3].get_images()) == 1 and len(axes[1, 3].get_images()) == 0, "the short row leaves a gap"
    assert axes[0, 0].get_images()[0].get_array().shape == (4, 4)
    plt.close(fig)
    with pytest.raises(ValueError, match="do not make a square"):
        plot_image_rows({"bad": np.zeros((2, 15))})
    with pytest.raises(ValueError, match="no rows"):
        plot_image_rows({})
