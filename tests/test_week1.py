"""Week 1: the numbers the exercise solution states, and the widget with the chapter's voters.

Both are probes: they run in the chapter's own kernel right after its one run in the
Colab-like environment (tests/notebook_runs.py), and these tests read what they printed.
"""

import pytest

from notebook_runs import probe, replay

WEEK1 = "01_why_deep_learning"

# Exercise 2, as a student does it: change the fit call to use the first 500 training voters
# and run the training cells again (in full: 50 epochs at most, early stopping decides).
# The probe also scores the validation voters in one batch, which changes the validation
# loss only in its last digits and saves most of the time (batches of 128 took 15 s).
SMALL_DATA = probe(WEEK1, "exercise 2: 500 training voters", "keras.utils.set_random_seed(cfg.seed)\n" + replay(
    WEEK1, "EPOCHS = cfg.pick(full=50, fast=5)", upto="results.round(3)",
    replace={"EPOCHS = cfg.pick(full=50, fast=5)": "EPOCHS = 50",
             "model.fit(X_train, y_train,": "model.fit(X_train[:500], y_train[:500], validation_batch_size=len(X_val),"}) + """
import json
print(json.dumps({n: {"accuracy": float(results.loc[n, "test accuracy"]), "loss": histories[n].history["loss"],
                      "val_loss": histories[n].history["val_loss"]} for n in histories}))
""")

# "Like every such setting it was chosen by the loss on the validation voters": both rates for
# both models, as in a full run (50 epochs at most, early stopping).
LEARNING_RATES = probe(WEEK1, "the learning rates, chosen on the validation voters", """
import json
found = {}
for build in (one_neuron, deep_net):
    for rate in (0.001, 0.01):
        keras.utils.set_random_seed(cfg.seed)
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=rate), loss="binary_crossentropy")
        h = model.fit(X_train, y_train, validation_data=(X_val, y_val), epochs=50, batch_size=128, verbose=0,
                      validation_batch_size=len(X_val),
                      callbacks=[keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)]).history
        found[f"{model.name} {rate}"] = {"best": min(h["val_loss"]), "epochs": len(h["val_loss"])}
print(json.dumps(found))
""")

# The "be the neuron" sliders, moved to the weights Keras found: the fit they show improves.
NEURON_WIDGET = probe(WEEK1, "widget: sliders at the fitted weights", """
import json
box = neuron_explorer(X2, y, x_name="party ID", group_name="ideology", group_levels=[1, 2, 3, 4, 5],
                      outcome="P(Trump vote)", bias=-5.0, weights=(1.0, 0.0))
start = box.result["log_loss"]
bias_slider, party_slider, ideology_slider = box.children[:3]
bias_slider.value, party_slider.value, ideology_slider.value = float(b[0]), float(w[0, 0]), float(w[1, 0])
print(json.dumps({"start": start, "moved": box.result["log_loss"], "keras": float(two_inputs.evaluate(X2, y, verbose=0)),
                  "sliders": [s.value for s in box.children[:3]], "fitted": [float(b[0]), float(w[0, 0]), float(w[1, 0])]}))
""")


def test_small_data_solution():
    """Exercise 2: with 500 training voters both models stay near 88%; the deep net overfits a little."""
    runs = SMALL_DATA.json()
    neuron, deep = runs["one_neuron"], runs["deep_net"]
    for run in (neuron, deep):
        assert run["accuracy"] == pytest.approx(0.88, abs=0.015)  # "about 88%"
    assert deep["loss"][-1] == pytest.approx(0.25, abs=0.02)  # "about 0.25 against 0.30 when it stops"
    assert deep["val_loss"][-1] == pytest.approx(0.30, abs=0.02)
    assert deep["val_loss"][-1] - deep["loss"][-1] > 0.03  # training loss "clearly below" validation loss
    assert 12 <= len(deep["loss"]) <= 30  # "after about 20 epochs"
    assert len(neuron["loss"]) == 50  # "after all 50 epochs"
    assert neuron["loss"][-1] == pytest.approx(0.29, abs=0.01)  # "about 0.29 and 0.30"
    assert neuron["val_loss"][-1] == pytest.approx(0.30, abs=0.01)
    assert abs(neuron["val_loss"][-1] - neuron["loss"][-1]) < 0.02  # "stay close together"


def test_neuron_widget_with_the_chapter_voters():
    """Moving the sliders to the maximum-likelihood weights lowers the log loss the widget shows
    to that of the Keras fit (the sliders' steps round the weights a little)."""
    got = NEURON_WIDGET.json()
    assert got["sliders"] == pytest.approx(got["fitted"], abs=0.05)
    assert got["moved"] < got["start"] - 0.05
    assert got["moved"] == pytest.approx(got["keras"], abs=0.01)


def test_learning_rates_are_the_ones_the_validation_loss_picks():
    """One neuron: 0.001 and 0.01 end at the same validation loss, 0.01 in about a third of the
    epochs; the deep net: 0.01 ends at a higher validation loss than 0.001."""
    got = LEARNING_RATES.json()
    slow, fast = got["one_neuron 0.001"], got["one_neuron 0.01"]
    assert abs(slow["best"] - fast["best"]) < 0.002
    assert fast["epochs"] <= 0.5 * slow["epochs"]
    assert got["deep_net 0.01"]["best"] > got["deep_net 0.001"]["best"] + 0.005
