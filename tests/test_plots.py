"""utils.plots: the shared figures draw what they are given and reject bad shapes clearly."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from utils.plots import (COLORS, confusion_counts, most_confident_mistakes, plot_confusion_matrix, plot_decision_boundary,
                         plot_image_grid, plot_image_rows, plot_leaderboard, plot_training_curves)

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


# --------------------------------------------------------------------------- confusion matrix, mistakes

def test_confusion_counts_put_true_classes_in_rows():
    counts = confusion_counts([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2])
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert confusion_counts([0], [0], n_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="use argmax"):
        confusion_counts([0, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match="2 labels but y_pred has 3"):
        confusion_counts([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match=r"lie in 0 \.\.\. 1"):
        confusion_counts([0, 1], [0, 2], n_classes=2)


def test_confusion_matrix_shows_row_percentages_and_names():
    fig = plot_confusion_matrix([0, 0, 0, 1], [0, 0, 1, 1], class_names=["no", "yes"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["no", "yes"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert sorted(t.get_text() for t in ax.texts) == ["100", "33", "67"]  # rows sum to 100%
    plt.close(fig)


def test_most_confident_mistakes_come_first():
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.99, 0.01], [0.3, 0.7]])
    labels = np.array([0, 0, 1, 1, 1])
    # wrong: row 1 (0.8 on class 1), row 2 (0.6 on class 0), row 3 (0.99 on class 0)
    np.testing.assert_array_equal(most_confident_mistakes(p, labels), [3, 1, 2])
    np.testing.assert_array_equal(most_confident_mistakes(p, labels, n=1), [3])
    with pytest.raises(ValueError, match="one row per label"):
        most_confident_mistakes(p, labels[:3])


def test_leaderboard_marks_the_reference():
    fig = plot_leaderboard({"a": 91.0, "humans": 89.8, "b": 89.0}, reference="humans", xlabel="score")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "humans", "b"]  # best first, top down
    assert ax.lines[0].get_xdata()[0] == 89.8  # the dashed reference line
    with pytest.raises(KeyError, match="reference"):
        plot_leaderboard({"a": 1.0}, reference="humans")
    plt.close(fig)


# --------------------------------------------------------------------------- colour-blind readers

# Machado, Oliveira & Fernandes (2009), complete dichromacy (severity 1), on linear RGB.
DICHROMACY = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def to_lab(hex_colours, dichromacy=None):
    """CIELAB coordinates of sRGB colours, as seen with a dichromacy (or with normal vision)."""
    rgb = np.array([[int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)] for h in hex_colours])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    if dichromacy:
        linear = np.clip(linear @ np.array(DICHROMACY[dichromacy]).T, 0, 1)
    xyz = linear @ np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                             [0.0193339, 0.1191920, 0.9503041]]).T / [0.95047, 1.0, 1.08883]
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.column_stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])])


def smallest_difference(hex_colours, dichromacy=None) -> float:
    lab = to_lab(hex_colours, dichromacy)
    return min(np.linalg.norm(lab[i] - lab[j]) for i in range(len(lab)) for j in range(i + 1, len(lab)))


@pytest.mark.parametrize("dichromacy", sorted(DICHROMACY))
def test_the_first_colours_of_the_course_palette_stay_apart_for_colour_blind_readers(dichromacy):
    """Figures tell lines and groups apart by the first four colours of COLORS (Okabe & Ito).
    Seen with each complete dichromacy, every pair stays clearly different (CIELAB distance
    above 15; 2.3 is a just-noticeable difference), where matplotlib's default blue, orange,
    green and red fail for red-green blindness."""
    assert smallest_difference(COLORS[:4], dichromacy) > 15
    assert smallest_difference(COLORS[:4]) > 30


def test_the_check_catches_a_red_green_palette():
    tab10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
    assert smallest_difference(tab10, "deuteranopia") < 15 or smallest_difference(tab10, "protanopia") < 15
