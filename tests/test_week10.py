"""Week 10 (attention and transformers): the attention explorer and its plot and, as probes in
the chapter's kernel after its one run, the explorer on the encoder's real attention, the
attention written in NumPy on other inputs, and the exercise solutions.
"""

import numpy as np
import pytest

from notebook_runs import probe, solution_probes
from utils.widgets import attention_explorer, plot_attention

WEEK10 = "10_attention_and_transformers"
SOLUTIONS = solution_probes(WEEK10, {
    1: '{k: float(v) for k, v in peaks.items()}',
    2: '{q: {"years": found["year"].tolist(), "similarity": found["similarity"].tolist(), '
       '"text": found["text"].str[:300].tolist()} for q, found in own.items()}',
    3: 'few_labels.to_dict()',
})
WIDGET = probe(WEEK10, "widget: the attention explorer on the encoder's attention", """
import json
box = attention_explorer(tokens, attention, focus="not")
layer, head, token = box.children[0].children
seen = [box.result]
layer.value, head.value = 6, 3
seen.append(box.result)
token.value = 1
seen.append(box.result)
print(json.dumps({"seen": seen, "tokens": tokens, "layers": layer.max, "heads": len(head.options) - 1,
                  "expected": [attention[0].mean(axis=0)[tokens.index("not")].tolist(),
                               attention[5, 2][tokens.index("not")].tolist(), attention[5, 2][1].tolist()]}))
""")
NUMPY_ATTENTION = probe(WEEK10, "the chapter's NumPy attention against Keras on new shapes, with a mask", """
import json
report = {}
for n_tokens, dims, n_heads in ((3, 8, 2), (9, 24, 3)):
    x = np.random.default_rng(n_tokens).normal(size=(n_tokens, dims)).astype("float32")
    mha = layers.MultiHeadAttention(num_heads=n_heads, key_dim=dims // n_heads)
    mask = np.tril(np.ones((n_tokens, n_tokens), dtype=bool))        # each token sees itself and earlier ones
    expected = np.asarray(mha(x[None], x[None], attention_mask=mask[None]))[0]
    got, weights = multi_head_attention(x, *mha.get_weights(), mask=mask)
    report[f"{n_tokens},{dims},{n_heads}"] = {"max_diff": float(np.abs(got - expected).max()),
                                             "future_weight": float(weights[:, ~mask].max())}
sin = sinusoidal_positions(50, 16)
report["positions"] = {"shape": list(sin.shape), "first_row": sin[0].tolist(), "norms": np.linalg.norm(sin, axis=1).tolist()}
print(json.dumps(report))
""")


# --------------------------------------------------------------------------- the explorer, without a browser

TOKENS = ["[CLS]", "not", "bad", "[SEP]"]


def toy_attention():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(2, 3, 4, 4))                      # 2 layers, 3 heads, 4 tokens
    return np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)


def test_attention_explorer_follows_its_controls():
    weights = toy_attention()
    box = attention_explorer(TOKENS, weights, focus="bad")
    layer, head, token = box.children[0].children
    assert (layer.max, len(head.options)) == (2, 4)
    assert box.result["token"] == "bad" and box.result["head"] == "average"
    assert box.result["weights"] == pytest.approx(weights[0].mean(axis=0)[2].tolist())
    layer.value, head.value, token.value = 2, 3, 0
    assert box.result == {"layer": 2, "head": 3, "token": "[CLS]", "weights": pytest.approx(weights[1, 2, 0].tolist())}
    assert sum(box.result["weights"]) == pytest.approx(1)
    with pytest.raises(ValueError, match="weights must have shape"):
        attention_explorer(TOKENS, weights[:, :, :3, :3])


def test_plot_attention_draws_the_matrix_and_the_row():
    matrix = toy_attention()[0, 0]
    fig = plot_attention(TOKENS, matrix, focus=1, title="toy")
    left, right = fig.axes
    assert np.allclose(left.images[0].get_array(), matrix)
    assert [b.get_width() for b in right.patches] == pytest.approx(matrix[1].tolist())
    assert "'not'" in right.get_xlabel()
    with pytest.raises(ValueError, match="focus must be"):
        plot_attention(TOKENS, matrix, focus=4)
    with pytest.raises(ValueError, match="shape"):
        plot_attention(TOKENS[:3], matrix, focus=0)


# --------------------------------------------------------------------------- probes of the chapter

def test_attention_explorer_on_the_encoder():
    got = WIDGET.json()
    assert got["layers"] == 6 and got["heads"] == 12 and got["tokens"][0] == "[CLS]"
    for seen, expected in zip(got["seen"], got["expected"]):
        assert seen["weights"] == pytest.approx(expected, abs=1e-6)
    assert got["seen"][0]["token"] == "not" and got["seen"][2]["token"] == got["tokens"][1]


def test_numpy_attention_matches_keras_with_a_mask():
    got = NUMPY_ATTENTION.json()
    for key in ("3,8,2", "9,24,3"):
        assert got[key]["max_diff"] < 1e-5, "our attention must give Keras's output"
        assert got[key]["future_weight"] < 1e-6, "masked tokens get no weight"
    positions = got["positions"]
    assert positions["shape"] == [50, 16] and positions["first_row"] == [0.0, 1.0] * 8
    assert np.allclose(positions["norms"], np.sqrt(8)), "each position's encoding has norm sqrt(d/2)"


def test_week10_exercise_solutions():
    peaks = SOLUTIONS[1].json()
    assert peaks["scaled"] < 0.5 < 0.8 < peaks["unscaled"]
    found = SOLUTIONS[2].json()
    health, space = found.values()
    assert all("health" in t.lower() for t in health["text"][:2])
    assert "moon" in space["text"][0].lower() and space["years"][0] == 2019
    assert space["similarity"][1] < health["similarity"][-1], "a mixed paragraph scores lower than focused ones"
    few = SOLUTIONS[3].json()
    small, full = few["200 reviews"], next(v for k, v in few.items() if k != "200 reviews")
    for model in ("bag of words", "MiniLM vectors"):
        assert small[model] < full[model] - 0.03, "fewer labels, lower AUC"
    assert small["bag of words"] >= small["MiniLM vectors"] - 0.01, "the bag of words stays ahead (or level)"
