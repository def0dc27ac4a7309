"""Week 14 (outlook): the training-cost helpers, their figure and explorer and, as probes in the
chapter's kernel after its one run, the explorer on the chapter's models, the rate measurement,
the detector arithmetic and the exercise solutions.
"""

import matplotlib.pyplot as plt
import pytest

from notebook_runs import probe, solution_probes
from utils.widgets import describe_duration, plot_training_compute, training_cost_explorer, training_flops

WEEK14 = "14_outlook"
SOLUTIONS = solution_probes(WEEK14, {
    1: '{"lead": float(without_multirc[model_name] - without_multirc[human_name]), "scores": without_multirc.to_dict()}',
    2: '{"items": float(items_needed)}',
    3: '{"weights": float(weights_in_a_week), "tokens": float(tokens_in_a_week), "rate": float(this_machine),'
       ' "sotu_tokens": int(sotu_tokens)}',
})
WIDGET = probe(WEEK14, "widget: the training-cost explorer on the chapter's models and machines", """
import json
box = training_cost_explorer(MODELS["6ND"].to_dict(), MACHINES)
parameters, tokens, machine = box.children[:3]
seen = [box.result]
parameters.value, tokens.value = 1e9, 1e12
machine.value = "16,000 H100s at 40%"
seen.append(box.result)
print(json.dumps({"seen": seen, "machines": list(machine.options), "rates": MACHINES}))
""")
PIECES = probe(WEEK14, "the rate measurement and the detector arithmetic", """
import json
rate, weights, flops = measure_training_rate(width=32, depth=2, batch_size=16, batches=2, repeats=1)
print(json.dumps({
    "rate": rate, "weights": weights, "flops": flops,
    "rare": share_of_flags_that_are_fake(0.001, 0.99, 0.99), "half": share_of_flags_that_are_fake(0.5, 0.9, 0.9),
    "perfect": share_of_flags_that_are_fake(1e-6, 1.0, 1.0),
    "recomputed": recomputed.to_dict(), "lead": float(lead),
}))
""")


# --------------------------------------------------------------------------- the helpers, without a browser

def test_training_flops_is_six_per_weight_and_token():
    assert training_flops(175e9, 300e9) == pytest.approx(3.15e23)
    assert training_flops(2, 3) == 36
    with pytest.raises(ValueError, match="positive"):
        training_flops(0, 10)


@pytest.mark.parametrize("seconds, text", [
    (0.5, "0.5 seconds"), (59, "59 seconds"), (5 * 3600, "5 hours"), (3.2 * 86400, "3.2 days"),
    (540 * 365.25 * 86400, "540 years"), (14e6 * 365.25 * 86400, "14 million years"), (1e-4, "under a millisecond"),
    (90, "1.5 minutes"), (99.7 * 365.25 * 86400, "100 years"), (9.97 * 86400, "10 days"),
])
def test_describe_duration_picks_the_largest_unit(seconds, text):
    assert describe_duration(seconds) == text


def test_describe_duration_refuses_negative_times():
    with pytest.raises(ValueError, match="negative"):
        describe_duration(-1)


def test_plot_training_compute_draws_a_log_bar_per_model_with_its_times():
    fig = plot_training_compute({"small": 1e12, "big": 1e24}, {"laptop": 1e11, "cluster": 1e18}, highlight="big")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["small", "big"]
    bars = ax.patches
    assert [bar.get_width() for bar in bars] == [1e12, 1e24]
    assert bars[0].get_facecolor() != bars[1].get_facecolor(), "the highlighted bar stands out"
    labels = [t.get_text() for t in ax.texts]
    assert labels[0] == "10 seconds on laptop; under a millisecond on cluster"
    assert labels[1] == "316,881 years on laptop; 12 days on cluster"
    plt.close(fig)
    with pytest.raises(ValueError, match="models is empty"):
        plot_training_compute({}, {"laptop": 1.0})


def test_training_cost_explorer_follows_its_controls():
    box = training_cost_explorer({"GPT-3": 3.14e23}, {"laptop": 1e11, "cluster": 1e18})
    parameters, tokens, machine = box.children[:3]
    assert box.result["flops"] == pytest.approx(6e18) and box.result["machine"] == "laptop"
    assert box.result["seconds"] == pytest.approx(6e7) and box.result["duration"] == "1.9 years"
    parameters.value = 1e10
    tokens.value = 1e12
    machine.value = "cluster"
    assert box.result["flops"] == pytest.approx(6e22, rel=1e-6)
    assert box.result["duration"] == "17 hours"
    with pytest.raises(ValueError, match="flops_per_second is empty"):
        training_cost_explorer({}, {})


# --------------------------------------------------------------------------- probes of the chapter

def test_explorer_on_the_chapter_models():
    got = WIDGET.json()
    first, second = got["seen"]
    assert got["machines"] == ["this machine", "one H100 at 40%", "16,000 H100s at 40%"]
    assert first["machine"] == "this machine" and first["flops"] == pytest.approx(6e18, rel=1e-6)
    assert first["seconds"] == pytest.approx(6e18 / got["rates"]["this machine"], rel=1e-6)
    assert second["flops"] == pytest.approx(6e21, rel=1e-6)
    assert second["seconds"] == pytest.approx(6e21 / (16_000 * 0.4 * 989e12), rel=1e-6)


def test_the_rate_measurement_and_the_detector_arithmetic():
    got = PIECES.json()
    assert got["weights"] == 32 * 32 + 32 + 32 * 32 + 32 + 32 + 1, "two hidden layers of 32 and one output"
    assert got["flops"] == 6 * got["weights"] * 32, "6 x weights x the 32 examples of one epoch"
    assert got["rate"] > 0
    assert got["rare"] == pytest.approx(0.00099 / (0.00099 + 0.00999), rel=1e-9)
    assert got["half"] == pytest.approx(0.9) and got["perfect"] == pytest.approx(1.0)
    assert got["recomputed"] == pytest.approx({"Vega v2 (JDExplore d-team)": 91.28125, "SuperGLUE human baselines": 89.7875})
    assert got["lead"] == pytest.approx(1.49375)


def test_week14_exercise_solutions():
    without = SOLUTIONS[1].json()
    assert without["lead"] == pytest.approx(0.5, abs=0.01), "the text: the lead shrinks from 1.5 to 0.5 points"
    assert without["scores"]["Vega v2 (JDExplore d-team)"] == pytest.approx(93.56, abs=0.01)
    items = SOLUTIONS[2].json()["items"]
    assert 13_500 < items < 14_500, "the text: about 14,000 items per system"
    week = SOLUTIONS[3].json()
    assert week["weights"] ** 2 * 120 == pytest.approx(week["rate"] * 7 * 86400, rel=1e-9)
    assert week["tokens"] == pytest.approx(20 * week["weights"])
    # the text, for a machine like the one that built the page: tens of millions of weights
    # (a fifth of SmolLM2-135M, or less) and a couple of hundred State of the Union corpora
    assert 1e7 < week["weights"] < 134.5e6 / 4
    assert 50 < week["tokens"] / week["sotu_tokens"] < 400
