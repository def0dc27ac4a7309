"""Week 8 (autoencoders and VAEs): the KL-weight explorer and its figure and, as probes in the
chapter's kernel after its one run, the explorer on the chapter's VAE runs, the VAE's sampling
layer and the exercise solutions.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from notebook_runs import probe, solution_probes
from utils.widgets import kl_weight_explorer, plot_kl_weight_run

WEEK8 = "08_autoencoders"
SOLUTIONS = solution_probes(WEEK8, {
    1: 'bigger.to_dict(orient="index")',
    2: '{"random": careless_auc.to_dict(), "straight": straight_auc.to_dict()}',
    3: 'profile.sort_values("religiosity").to_dict(orient="list")',
})
WIDGET = probe(WEEK8, "widget: the KL-weight explorer on the chapter's VAE runs", """
import json
box = kl_weight_explorer(beta_runs, images_test[:8], labels_test, FASHION_MNIST_CLASSES)
slider = box.children[0]
seen = []
for beta in (784, 1, 16):
    slider.value = beta
    seen.append(box.result)
print(json.dumps({"options": list(slider.options), "seen": seen,
                  "table": {str(b): float(collapse.loc[b, "KL, nats per image"]) for b in BETAS}}))
""")
SAMPLING = probe(WEEK8, "the sampling layer: its noise, its KL term, its seed generator", """
import json
layer = Sampling(beta=2.0, seed=5)
mean = np.array([[0.0, 1.0], [2.0, -1.0]], dtype="float32")
log_variance = np.array([[0.0, 0.0], [np.log(4.0), 0.0]], dtype="float32")
first = ops.convert_to_numpy(layer(mean, log_variance))
second = ops.convert_to_numpy(layer(mean, log_variance))
expected_kl = 0.5 * np.sum(mean ** 2 + np.exp(log_variance) - log_variance - 1, axis=-1).mean()
many = ops.convert_to_numpy(Sampling(seed=1)(np.zeros((20000, 2), "float32"), np.full((20000, 2), np.log(9.0), "float32")))
print(json.dumps({"differ": bool(np.abs(first - second).max() > 1e-3),
                  "loss": float(ops.convert_to_numpy(layer.losses[-1])), "expected": float(2.0 * expected_kl),
                  "sd": many.std(axis=0).tolist(), "mean": many.mean(axis=0).tolist(),
                  "seed_generator": type(layer.seed_generator).__name__}))
""")


# --------------------------------------------------------------------------- helpers

def toy_run(spread=1.0, m=3):
    rng = np.random.default_rng(0)
    return {"means": rng.normal(size=(40, 2)) * spread, "reconstructions": rng.uniform(size=(m, 16)) * spread,
            "kl": np.array([0.5, 0.25]) * spread}


def test_kl_weight_explorer_follows_its_slider():
    runs = {1: toy_run(1.0), 64: toy_run(0.0)}
    box = kl_weight_explorer(runs, np.zeros((3, 16)))
    slider = box.children[0]
    assert list(slider.options) == [1, 64] and box.result["beta"] == 1
    assert box.result["kl"] == [0.5, 0.25] and box.result["spread"] > 0.1
    slider.value = 64
    assert box.result == {"beta": 64, "kl": [0.0, 0.0], "spread": 0.0}
    with pytest.raises(ValueError, match="runs is empty"):
        kl_weight_explorer({}, np.zeros((3, 16)))


def test_plot_kl_weight_run_draws_the_map_and_the_images():
    labels = np.arange(40) % 4
    fig = plot_kl_weight_run(toy_run(), np.zeros((3, 16)), 4, labels=labels, class_names=list("abcd"))
    the_map = fig.axes[0]
    assert the_map.get_title() == "β = 4: code means, KL 0.75 nats"
    assert len(the_map.collections) == 4, "one scatter per class"
    assert sum(len(ax.get_images()) for ax in fig.axes[1:]) == 6, "3 images above 3 reconstructions"
    plt.close(fig)
    with pytest.raises(ValueError, match="shape \\(n, 2\\)"):
        plot_kl_weight_run({"means": np.zeros((4, 3)), "reconstructions": np.zeros((1, 16)), "kl": [0]}, np.zeros((1, 16)), 1)


# --------------------------------------------------------------------------- probes of the chapter

def test_the_sampling_layer_draws_new_noise_and_adds_the_kl_term():
    got = SAMPLING.json()
    assert got["seed_generator"] == "SeedGenerator"
    assert got["differ"], "each call draws new noise from the layer's seed generator"
    assert got["loss"] == pytest.approx(got["expected"], rel=1e-5), "beta times the mean KL of the batch"
    assert got["sd"] == pytest.approx([3.0, 3.0], abs=0.06) and got["mean"] == pytest.approx([0, 0], abs=0.06)


def test_kl_weight_explorer_on_the_chapter_runs():
    got = WIDGET.json()
    assert got["options"] == [1, 4, 16, 64, 784]
    for beta, shown in zip((784, 1, 16), got["seen"]):
        assert shown["beta"] == beta and sum(shown["kl"]) == pytest.approx(got["table"][str(beta)], rel=1e-6)
    collapsed, kept = got["seen"][0], got["seen"][1]
    assert collapsed["spread"] < 0.01 < 0.1 < kept["spread"]


def test_week8_exercise_solutions():
    bigger = SOLUTIONS[1].json()
    assert set(bigger) == {"2", "16", "32"}
    ratio = {k: v["autoencoder / PCA"] for k, v in bigger.items()}
    assert bigger["32"]["PCA"] < bigger["16"]["PCA"] < bigger["2"]["PCA"]
    # fast mode, as the solution says: a narrow win at 2 and 16 numbers, a loss at 32 (full mode: about 2/3 at all three)
    assert ratio["2"] < 1 and ratio["16"] < 1 < ratio["32"]
    aucs = SOLUTIONS[2].json()
    assert all(v > 0.85 for v in aucs["random"].values())
    assert all(0.4 < v < 0.6 for v in aucs["straight"].values()), "straight-liners look like typical respondents here"
    profile = SOLUTIONS[3].json()
    assert sum(profile["respondents"]) == 10_203 and len(profile["respondents"]) == 4
    # sorted by religiosity: secular/low resentment, secular/high, religious/low, religious/high
    assert sorted(profile["trump_vote"]) == pytest.approx([0.06, 0.28, 0.66, 0.81], abs=0.02)
    low_resentment = [v for v, r in zip(profile["trump_vote"], profile["cognitive_racism"]) if r < 0]
    assert max(low_resentment) < 0.3 < 0.6 < min(v for v in profile["trump_vote"] if v not in low_resentment)
