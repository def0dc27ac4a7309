"""Week 13 (GANs, diffusion, synthetic survey data): the point-cloud explorer and its figure and, as
probes in the chapter's kernel after its one run, the explorer on the chapter's runs, the
diffusion model's pieces, the tabular VAE's synthetic respondents and the exercise solutions.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from notebook_runs import probe, solution_probes
from utils.widgets import plot_point_cloud, point_cloud_explorer

WEEK13 = "13_gans_and_diffusion"
SOLUTIONS = solution_probes(WEEK13, {
    1: 'schedules.to_dict(orient="index")',
    2: 'fast_generator.to_dict(orient="index")',
    3: 'memorising.to_dict(orient="index")',
})
WIDGETS = probe(WEEK13, "widgets: the point-cloud explorer on the collapsed GAN and on the sampling chain", """
import json
seen = {}
for name, clouds in (("collapsed", {s: p[:1000] for s, p in collapsed_snapshots.items()}),
                     ("chain", {DIFFUSION_T - t: chain[t][:1000] for t in sorted(chain, reverse=True)})):
    box = point_cloud_explorer(clouds, ring[:2000], reach=3)
    slider = box.children[0]
    seen[name] = {"options": list(slider.options), "results": []}
    for value in (slider.options[-1], slider.options[0]):
        slider.value = value
        seen[name]["results"].append(box.result)
seen["collapse_spread"] = collapse_table["spread"].to_dict()
print(json.dumps(seen, default=float))
""")
PIECES = probe(WEEK13, "the step encoding, the forward process and the tabular VAE's respondents", """
import json
codes = ops.convert_to_numpy(StepEncoding(8)(np.array([[0.0], [1.0], [2.0], [49.0]], "float32")))
rng_probe = np.random.default_rng(0)
x0 = np.ones((20000, 2), "float32")
x_t, noise = noised(x0, np.full(20000, 25), rng_probe)
made = tabular_vae.generate(300, seed=1)
again = tabular_vae.generate(300, seed=1)
print(json.dumps({
    "codes": codes.tolist(),
    "xt_mean": float(x_t.mean()), "xt_sd": float(x_t.std()), "abar": float(alpha_bars[25]),
    "columns": list(made.columns), "same_with_same_seed": bool(made.equals(again)),
    "categories_ok": all(set(made[c]) <= set(v) for c, v in CATEGORIES.items()),
    "age_range": [int(made["age"].min()), int(made["age"].max())],
    "encoded_width": int(encode_survey(made).shape[1]), "train_width": int(survey_x.shape[1]),
    "block_sums": sorted(set(encode_survey(made)[:, 1:].sum(axis=1).round(6).tolist())),
}))
""")


# --------------------------------------------------------------------------- the widget, without a browser

def test_point_cloud_explorer_follows_its_slider():
    rng = np.random.default_rng(0)
    clouds = {10: rng.normal(size=(200, 2)), 20: np.full((200, 2), 1.5)}
    box = point_cloud_explorer(clouds, reference=rng.normal(size=(50, 2)))
    slider = box.children[0]
    assert list(slider.options) == [10, 20] and box.result["step"] == 10
    assert box.result["spread"] == pytest.approx(1.0, abs=0.15)
    slider.value = 20
    assert box.result == {"step": 20, "mean": [1.5, 1.5], "spread": 0.0}
    with pytest.raises(ValueError, match="clouds is empty"):
        point_cloud_explorer({})


def test_plot_point_cloud_draws_points_over_the_reference():
    fig = plot_point_cloud(np.zeros((5, 2)), np.ones((7, 2)), "step 3", reach=2)
    ax = fig.axes[0]
    assert ax.get_title() == "step 3" and ax.get_xlim() == (-2, 2)
    assert [len(c.get_offsets()) for c in ax.collections] == [7, 5], "reference first (grey), then the generated points"
    plt.close(fig)
    with pytest.raises(ValueError, match="shape \\(n, 2\\)"):
        plot_point_cloud(np.zeros((5, 3)))


# --------------------------------------------------------------------------- probes of the chapter

def test_explorer_on_the_chapter_runs():
    got = WIDGETS.json()
    collapsed = got["collapsed"]
    assert collapsed["options"][0] == 250 and collapsed["options"][-1] == max(collapsed["options"])
    last, first = collapsed["results"]
    assert last["spread"] == pytest.approx(got["collapse_spread"][str(last["step"])], rel=0.05)
    assert last["spread"] < 0.35 < first["spread"], "the blob at the end, the smudge at the start"
    chain = got["chain"]
    assert chain["options"] == list(range(0, 51)), "0 to 50 denoising steps"
    done, start = chain["results"]
    assert start["spread"] == pytest.approx(1.0, abs=0.1), "the chain starts from standard-normal noise"
    assert done["spread"] > 1.2, "and ends on the ring of radius 2"


def test_the_pieces_of_the_diffusion_model_and_the_tabular_vae():
    got = PIECES.json()
    codes = np.array(got["codes"])
    assert codes.shape == (4, 8)
    assert codes[0].tolist() == pytest.approx([0, 0, 0, 0, 1, 1, 1, 1]), "sin 0 and cos 0"
    assert np.abs(codes[1] - codes[2]).sum() < np.abs(codes[1] - codes[3]).sum(), "near steps, near codes"
    assert got["xt_mean"] == pytest.approx(np.sqrt(got["abar"]), abs=0.02)
    assert got["xt_sd"] == pytest.approx(np.sqrt(1 - got["abar"]), abs=0.02)
    assert got["columns"] == ["age", "female", "collegeed", "racef", "famincr", "ideo", "pid7na", "religimp",
                              "churchatd", "votetrump"]
    assert got["same_with_same_seed"] and got["categories_ok"]
    assert 18 <= got["age_range"][0] < got["age_range"][1] <= 95
    assert got["encoded_width"] == got["train_width"]
    assert got["block_sums"] == [9.0], "one category in each of the nine categorical blocks"


def test_week13_exercise_solutions():
    schedules = SOLUTIONS[1].json()
    gentle, steep = schedules["0.0001 to 0.02"], schedules["0.0001 to 0.2"]
    assert steep["share on a cluster"] < gentle["share on a cluster"], "the steep schedule places fewer points on a cluster"
    fast_generator = SOLUTIONS[2].json()
    # the faster generator never settles: it swings between a blob and a wide cloud, and never puts
    # more than three in ten of its samples on a cluster
    spreads = [row["spread"] for row in fast_generator.values()]
    assert min(spreads) < 0.2 and max(spreads) > 1.0, spreads
    assert max(row["share on a cluster"] for row in fast_generator.values()) < 0.3
    memorising = SOLUTIONS[3].json()
    small, big = memorising["VAE trained on 500 for 400 epochs"], memorising["the chapter's VAE"]
    # the text: a few points above chance for the memoriser, about chance for the chapter's VAE
    assert small["closer to training than held-out"] > big["closer to training than held-out"] + 0.03
    assert small["closer to training than held-out"] > 0.52 and big["closer to training than held-out"] < 0.53
