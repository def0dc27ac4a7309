"""Week 12 (large language models): the next-token distribution and its explorer without a
browser and, as probes in the chapter's kernel after its one run, the chapter's n-gram model,
its silicon-sample and psychometrics code on cases with known answers, and the exercise solutions.
"""

import numpy as np
import pytest

from notebook_runs import probe, solution_probes
from utils.models import next_token_distribution
from utils.widgets import next_token_explorer, plot_next_tokens

WEEK12 = "12_large_language_models"
SOLUTIONS = solution_probes(WEEK12, {
    1: '{"discounts": {str(d): loss for d, loss in discount_loss.items()}, "gpt": gpt_loss}',
    2: 'agreement.to_dict(orient="list")',
    3: 'one_direction.to_dict()',
})
NGRAM = probe(WEEK12, "Kneser-Ney probabilities on a tiny text", """
import json
tiny = KneserNey(np.array([0, 1, 0, 1, 0, 2]), max_order=2, vocab_size=3)
report = {"sums": [sum(tiny.probability(context, token, len(context)) for token in range(3))
                   for context in ([], [0], [1], [2])],
          "p_1_after_0": tiny.probability([0], 1, 1),
          "unigram_1": tiny.probability([], 1, 0),
          "loss_uniform": KneserNey(np.array([0, 1, 2]), 1, 3, discount=1.0).loss(np.array([0, 1, 2]), 1)}
print(json.dumps(report))
""")
SCHEDULE = probe(WEEK12, "the warm-up cosine schedule against Keras's CosineDecay", """
import json
report = {}
for steps in (12, 250, 6_000):
    warmup = min(200, steps // 10)
    ours = WarmupCosine(2e-3, warmup, steps)
    keras_schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=steps - warmup, warmup_steps=warmup,
                                                            warmup_target=2e-3)
    at = sorted(set(range(0, steps + 3, max(1, steps // 300))) | {warmup - 1, warmup, warmup + 1, steps})
    report[steps] = {"ours": [float(ours(t)) for t in at], "keras": [float(keras_schedule(t)) for t in at],
                     "at": at, "warmup": warmup}
print(json.dumps(report))
""")
SILICON = probe(WEEK12, "backstories, ask_vote and the psychometric helpers", """
import json
r = voters.iloc[0]
story = backstory(r)
vote = ask_vote(story)
rated = rate_items("", ipip.text.head(2))
rng = np.random.default_rng(0)
trait = rng.normal(size=(200, 1))
parallel = pd.DataFrame(trait + 0.1 * rng.normal(size=(200, 10)))
noise = pd.DataFrame(rng.normal(size=(200, 10)))
report = {"story": story, "party_in_story": PARTY[int(r.pid7na)] in story,
          "vote": vote, "rated": rated.to_numpy().tolist(),
          "alpha_parallel": cronbach_alpha(parallel), "alpha_noise": cronbach_alpha(noise),
          "tv_uniform": total_variation(pd.DataFrame({"respondents": [1, 3], "real": [0.2, 0.9],
                                                      "SmolLM2 by letter": [0.2, 0.9], "SmolLM2 by name": [0.5, 0.5],
                                                      "no backstory (by name)": [0.9, 0.9], "uniform 50%": [0.5, 0.5]}))}
print(json.dumps(report, default=float))
""")


# --------------------------------------------------------------------------- without the model

class TableModel:
    """Stands in for the language model: fixed logits over a five-token vocabulary."""
    words = ["the", "a", "House", "Senate", "court"]

    def __init__(self, logits):
        self.logits_row = np.asarray(logits, dtype=float)

    def encode(self, text):
        return [0] * max(1, len(text.split()))

    def decode(self, ids):
        return " ".join(self.words[i] for i in ids)

    def logits(self, ids):
        return np.tile(self.logits_row, (len(ids), 1))


def test_next_token_distribution_follows_temperature_and_top_k():
    logits = np.log([0.5, 0.3, 0.15, 0.05])
    assert np.allclose(next_token_distribution(logits), [0.5, 0.3, 0.15, 0.05])
    assert next_token_distribution(logits, 0).tolist() == [1, 0, 0, 0]
    assert np.allclose(next_token_distribution(logits, top_k=2), [0.625, 0.375, 0, 0])
    cool, hot = next_token_distribution(logits, 0.5), next_token_distribution(logits, 5.0)
    assert cool[0] > 0.5 > hot[0] > 0.25, "a low temperature sharpens, a high one flattens"
    for bad, message in (((logits, -1), "temperature"), ((logits, 1.0, 0), "top_k"), ((np.zeros((2, 4)),), "shape")):
        with pytest.raises(ValueError, match=message):
            next_token_distribution(*bad)


def test_next_token_explorer_follows_its_controls():
    box = next_token_explorer(TableModel(np.log([0.1, 0.15, 0.4, 0.25, 0.1])), prompt="Senate and the", show=3)
    text, (temperature, top_k) = box.children[0], box.children[1].children
    assert box.result["tokens"][0] == "House" and box.result["probabilities"][0] == pytest.approx(0.4)
    temperature.value = 0.0
    assert box.result["probabilities"] == [1.0, 0.0, 0.0]
    temperature.value, top_k.value = 1.0, 2
    assert box.result["top_k"] == 2 and box.result["probabilities"] == pytest.approx([0.4 / 0.65, 0.25 / 0.65, 0])
    text.value = "something else"
    assert box.result["prompt"] == "something else"


def test_plot_next_tokens_draws_one_bar_per_token():
    fig = plot_next_tokens(TableModel([0.0, 1.0, 2.0, 3.0, 4.0]), "the", temperature=1.0, top_k=3, show=4)
    ax = fig.axes[0]
    assert len(ax.patches) == 4 and "top 3" in ax.get_title() and "3 tokens possible" in ax.get_title()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == repr("court") and ax.get_yticks()[0] == max(ax.get_yticks()), "the most likely token is the top bar"
    assert [p.get_width() for p in ax.patches][0] == pytest.approx(np.exp(4) / np.exp([2, 3, 4]).sum())


# --------------------------------------------------------------------------- probes of the chapter

def test_kneser_ney_is_a_distribution():
    got = NGRAM.json()
    assert got["sums"] == pytest.approx([1.0] * 4), "for every context the probabilities sum to one"
    assert got["p_1_after_0"] == pytest.approx(1.25 / 3 + 0.5 / 3), "discounted count plus the freed mass times 1/3"
    assert got["unigram_1"] == pytest.approx(1 / 3)
    assert got["loss_uniform"] == pytest.approx(np.log(3)), "with the full discount every token gets 1/3"


def test_warmup_cosine_schedule_is_keras_cosine_decay():
    """The chapter's schedule must give Keras's values bit for bit: the stored GPT was trained with those."""
    for steps, got in SCHEDULE.json().items():
        assert got["ours"] == got["keras"], f"{steps} steps"
        peak_at = got["at"].index(got["warmup"])
        assert got["ours"][peak_at] == pytest.approx(2e-3) and got["ours"][0] == 0.0
        assert got["ours"][got["at"].index(int(steps))] == 0.0, "zero at the last step"


def test_silicon_and_psychometric_helpers():
    got = SILICON.json()
    assert got["story"].startswith("I am a ") and got["party_in_story"]
    vote = got["vote"]
    for method in ("letter", "name"):
        assert 0 < vote[f"{method}: P(Trump)"] < 1 and 0 < vote[f"{method}: P(first)"] < 1
        assert 0 < vote[f"{method}: mass"] <= 1
    assert all(1 <= x <= 5 for row in got["rated"] for x in row), "expected answers lie on the scale"
    assert got["alpha_parallel"] > 0.95 and abs(got["alpha_noise"]) < 0.3
    assert got["tv_uniform"]["SmolLM2 by letter"] == pytest.approx(0.0)
    assert got["tv_uniform"]["SmolLM2 by name"] == pytest.approx(0.25 * 0.3 + 0.75 * 0.4)
    assert got["tv_uniform"]["no backstory (by name)"] == pytest.approx(0.25 * 0.7)


def test_week12_exercise_solutions():
    got = SOLUTIONS[1].json()
    discount = got["discounts"]
    assert discount["0.9"] < discount["0.75"] < discount["0.5"], "a larger discount than the convention does better here"
    assert got["gpt"] < min(discount.values()), "the mini GPT beats the n-gram with every discount"
    comparison = SOLUTIONS[2].json()
    generated, letters = comparison["generated"], comparison["more likely letter"]
    assert all(text.startswith(letter) for text, letter in zip(generated, letters)), "greedy writes the likelier letter first"
    contradictions = sum(text.startswith("A") and "Clinton" in text or text.startswith("B") and "Trump" in text
                         for text in generated)
    assert contradictions == 4, "four answers name the other option's candidate after the letter"
    one_direction = SOLUTIONS[3].json()
    for column in one_direction.values():
        assert all(column[trait] < 0 for trait in ("agreeableness", "conscientiousness", "extraversion"))
        assert 0.7 < column["neuroticism"] < 0.9 and 0.3 < column["openness"] < 0.55
