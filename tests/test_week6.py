"""Week 6 (graph neural networks): the message-passing widget and its helpers, the network
figure, and, as probes in the chapter's kernel after its one run, the link-prediction split
(the evaluation pitfalls), the graph layer's error message, and the exercise solutions.
"""

import networkx as nx
import numpy as np
import pytest

from notebook_runs import probe, solution_probes
from utils.plots import network_layout, plot_network
from utils.widgets import message_passing_explorer, plot_spread, spread_between_nodes, spread_signal

WEEK6 = "06_graph_neural_networks"
SOLUTIONS = solution_probes(WEEK6, {
    1: '{"accuracy": quiet_accuracy}',
    2: '{"r": degree_r}',
    3: '{"jaccard": roc_auc_score(labels, jaccard), "neighbours": roc_auc_score(labels, neighbours)}',
})
# The split with other seeds and shares than the chapter's: every pitfall it guards against.
SPLITS = probe(WEEK6, "link prediction: held-out pairs for several splits", """
import json
report = []
for seed, test_share, validation_share in ((1, 0.1, 0.1), (7, 0.2, 0.05), (11, 0.3, 0.1)):
    graph_train, ties_train, parts = split_ties(tie_network, test_share, validation_share, seed=seed)
    pairs = np.concatenate([parts[name][0] for name in parts])
    labels = np.concatenate([parts[name][1] for name in parts])
    fresh = TieBatches(graph_train, ties_train, steps=3, seed=seed)
    batch_pairs, batch_labels = fresh[0]
    again, _ = fresh[1]
    report.append({
        "ties": tie_network.number_of_edges(), "train_ties": graph_train.number_of_edges(),
        "train_nodes": graph_train.number_of_nodes(), "nodes": tie_network.number_of_nodes(),
        "held_out_ties_in_training_graph": sum(graph_train.has_edge(*map(int, p)) for p in pairs[labels == 1]),
        "held_out_non_ties_in_network": sum(tie_network.has_edge(*map(int, p)) for p in pairs[labels == 0]),
        "held_out_ties_not_in_network": sum(not tie_network.has_edge(*map(int, p)) for p in pairs[labels == 1]),
        "pairs": len(pairs), "distinct_pairs": len({tuple(p) for p in pairs}), "ordered": bool(np.all(pairs[:, 0] < pairs[:, 1])),
        "per_part": {name: [int(parts[name][1].sum()), int((1 - parts[name][1]).sum())] for name in parts},
        "test_share": test_share, "validation_share": validation_share,
        "batch": [int(batch_labels.sum()), int((1 - batch_labels).sum())],
        "batch_non_ties_in_training_graph": sum(graph_train.has_edge(*map(int, p)) for p in batch_pairs[batch_labels == 0]),
        "fresh_negatives_differ": bool(not np.array_equal(batch_pairs[batch_labels == 0], again[batch_labels == 0])),
    })
print(json.dumps(report))
""")
LAYER_ERROR = probe(WEEK6, "the graph layer refuses part of a graph", """
try:
    gcn(A_hat, len(A)).predict(X_ids, batch_size=10, verbose=0)
    print("no error")
except ValueError as err:
    print(str(err))
""")
WIDGET = probe(WEEK6, "widget: the leaders' signal on the club", """
import json
box = message_passing_explorer(club, A_hat, leaders, max_steps=ROUNDS, pos=pos)
slider = box.children[0]
seen = {}
for step in (0, 1, 3, 30):
    slider.value = step
    seen[step] = [box.result["step"], box.result["spread"], float(box.result["values"][0])]
print(json.dumps({"seen": seen, "chapter": [differences[k] for k in (0, 1, 3, 30)]}))
""")


# --------------------------------------------------------------------------- helpers

def path_graph(n=5):
    return nx.path_graph(n)


def test_spread_signal_multiplies_by_the_propagation_matrix():
    P = nx.to_numpy_array(path_graph(4)) / 2
    history = spread_signal(P, [1.0, 0, 0, 0], 3)
    assert history.shape == (4, 4)
    assert np.allclose(history[1], [0, 0.5, 0, 0]) and np.allclose(history[2], [0.25, 0, 0.25, 0])
    assert np.allclose(history[3], np.linalg.matrix_power(P, 3) @ [1.0, 0, 0, 0])


def test_spread_signal_rejects_bad_arguments():
    with pytest.raises(ValueError, match="square"):
        spread_signal(np.ones((2, 3)), [1, 0], 1)
    with pytest.raises(ValueError, match="one value per node"):
        spread_signal(np.eye(3), [1, 0], 1)
    with pytest.raises(ValueError, match="non-negative integer"):
        spread_signal(np.eye(3), [1, 0, 0], -1)


def test_averaging_smooths_a_signal_out():
    """On a connected graph, repeated averaging with self-loops makes every node alike."""
    A = nx.to_numpy_array(path_graph(6)) + np.eye(6)
    P = A / A.sum(axis=1, keepdims=True)
    history = spread_signal(P, [1.0, 0, 0, 0, 0, -1.0], 200)
    spreads = [spread_between_nodes(h) for h in history]
    assert spreads[0] > 0.5 and spreads[-1] < 1e-6
    assert spread_between_nodes([2, 2, 2]) == 0


def test_message_passing_explorer_follows_its_slider():
    g = path_graph(5)
    A = nx.to_numpy_array(g) + np.eye(5)
    P = A / A.sum(axis=1, keepdims=True)
    box = message_passing_explorer(g, P, [1.0, 0, 0, 0, 0], max_steps=8)
    slider = box.children[0]
    assert box.result["step"] == 0 and box.result["values"][0] == 1
    slider.value = 1
    assert np.allclose(box.result["values"], [1 / 2, 1 / 3, 0, 0, 0])  # node 1 has itself and two neighbours
    slider.value = 8
    assert box.result["spread"] < spread_between_nodes([1 / 2, 1 / 3, 0, 0, 0])


def test_plot_spread_and_plot_network_draw_what_they_are_given():
    g = path_graph(5)
    history = spread_signal(np.eye(5), [1.0, 0, 0, 0, 0], 2)
    fig = plot_spread(g, history, 2)
    assert fig.axes[0].get_title() == "after 2 rounds of message passing"
    assert fig.axes[1].get_title() == f"spread between nodes: {spread_between_nodes(history[2]):.3f}"
    fig = plot_network(g, [0, 1, 2, 3, 4], highlight=[0, 4], title="five")
    assert fig.axes[0].get_title() == "five"
    pos = network_layout(g)
    again = network_layout(g)
    assert all(np.allclose(pos[n], again[n]) for n in g), "the layout is fixed by its seed"
    with pytest.raises(ValueError, match="3 entries for a network of 5 nodes"):
        plot_network(g, [0, 1, 2])


# --------------------------------------------------------------------------- probes of the chapter

def test_link_prediction_split_avoids_the_pitfalls():
    for part in SPLITS.json():
        assert part["held_out_ties_in_training_graph"] == 0          # pitfall 1: no answer in the input
        assert part["held_out_non_ties_in_network"] == 0             # non-ties are really unconnected
        assert part["held_out_ties_not_in_network"] == 0
        assert part["pairs"] == part["distinct_pairs"] and part["ordered"]   # each undirected pair once
        for ties, non_ties in part["per_part"].values():
            assert ties == non_ties > 0                              # balanced in validation and test
        test_ties = part["per_part"]["test"][0]
        assert test_ties == round(part["test_share"] * part["ties"])
        assert part["train_ties"] == part["ties"] - test_ties - part["per_part"]["validation"][0]
        assert part["train_nodes"] == part["nodes"], "nodes whose ties are all held out stay in the graph"
        assert part["batch"] == [part["train_ties"]] * 2             # training batches: as balanced
        assert part["batch_non_ties_in_training_graph"] == 0
        assert part["fresh_negatives_differ"]


def test_graph_layer_says_it_needs_the_whole_graph():
    message = LAYER_ERROR.output()
    assert "needs all 34 nodes at once, got a batch of 10" in message and "batch_size=len(X)" in message


def test_message_passing_widget_on_the_chapter_club():
    got = WIDGET.json()
    for step, (shown, spread, _) in got["seen"].items():
        assert shown == int(step)
    assert [got["seen"][k][1] for k in ("0", "1", "3", "30")] == pytest.approx(got["chapter"])
    assert got["seen"]["0"][2] == 1.0 and got["seen"]["30"][1] < 0.1 * got["seen"]["1"][1]


def test_week6_exercise_solutions():
    quiet = SOLUTIONS[1].json()["accuracy"]
    assert quiet == pytest.approx(27 / 32, abs=0.01)  # "27 of 32 in our run"
    assert SOLUTIONS[2].json()["r"] == pytest.approx(-0.476, abs=0.001)
    rules = SOLUTIONS[3].json()
    assert abs(rules["jaccard"] - rules["neighbours"]) < 0.01  # "about the same"
    assert rules["jaccard"] == pytest.approx(0.928, abs=0.001) and rules["neighbours"] == pytest.approx(0.926, abs=0.001)
