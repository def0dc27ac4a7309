"""Week 9 (text as data): the distinguishing-words explorer and its plot and, as probes in the
chapter's kernel after its one run, the explorer on the chapter's groups, the byte-pair
encoding and skip-gram pairs it writes out, and the exercise solutions.
"""

from collections import Counter

import pytest

from notebook_runs import probe, solution_probes
from utils.text import weighted_log_odds
from utils.widgets import log_odds_explorer, plot_distinguishing_words

WEEK9 = "09_text_as_data"
SOLUTIONS = solution_probes(WEEK9, {
    1: '{"early": list(early_vs_recent.index[:12]), "recent": list(early_vs_recent.index[::-1][:12])}',
    2: '{str(size): found for size, found in by_window.items()}',
    3: '{"keras": float(linear_auc), "sklearn": float(review_results["bag of words + logistic regression"]["AUC"])}',
})
WIDGET = probe(WEEK9, "widget: the log-odds explorer on the chapter's groups", """
import json
box = log_odds_explorer(eras)
(group_a, group_b), (strength, by) = box.children[0].children, box.children[1].children
seen = {"default": box.result}
group_a.value, group_b.value = "1790-1860", "1981-2026"
seen["eras"] = box.result
strength.value, by.value = 0.01, "log_odds"
seen["no prior"] = box.result
counts = {w: [eras["1790-1860"].get(w, 0), eras["1981-2026"].get(w, 0)]
          for w in seen["no prior"]["top_a"] + seen["no prior"]["top_b"]}
print(json.dumps({"seen": seen, "counts": counts, "chapter_top": list(parties.index[:12])}))
""")
WRITTEN_OUT = probe(WEEK9, "the byte-pair encoding and the skip-gram pairs written in the chapter", """
import json
sample = list(frequent)[:500] + ["cryptocurrency", "zzyzx"]
pieces = {w: apply_bpe(w, bpe_rules) for w in sample}
c, x = skipgram_pairs(tokens_per_address[-1:])
pairs = set(zip(c.tolist(), x.tolist()))
print(json.dumps({
    "spelled_back": all("".join(p) == w + "_" for w, p in pieces.items()),
    "frequent_whole": sum(len(apply_bpe(w, bpe_rules)) == 1 for w, _ in address_words.most_common(100)),
    "top10_whole": all(len(apply_bpe(w, bpe_rules)) == 1 for w, _ in address_words.most_common(10)),
    "symmetric": all((b, a) in pairs for a, b in pairs),
    "n_pairs": len(c), "in_vocabulary": bool((c < len(vocabulary)).all() and (x < len(vocabulary)).all()),
    "distinct_symbols": len({s for p in pieces.values() for s in p}),
}))
""")


# --------------------------------------------------------------------------- the explorer, without a browser

GROUPS = {"A": Counter({"tax": 30, "war": 5, "peace": 15, "rare": 2}),
          "B": Counter({"tax": 10, "war": 25, "peace": 15}),
          "C": Counter({"tax": 20, "war": 20, "peace": 20})}


def test_log_odds_explorer_follows_its_controls():
    box = log_odds_explorer(GROUPS, top=2, prior_strength=10)
    (group_a, group_b), (strength, by) = box.children[0].children, box.children[1].children
    assert box.result["a"] == "A" and box.result["b"] == "B"
    expected = weighted_log_odds(GROUPS["A"], GROUPS["B"], 10)
    assert box.result["top_a"] == list(expected.index[:2]) and box.result["top_b"] == list(expected.index[::-1][:2])
    group_b.value = "C"
    assert box.result["b"] == "C" and box.result["top_b"][0] == "war"
    strength.value, by.value = 0.01, "log_odds"
    assert box.result["prior_strength"] == pytest.approx(0.01) and box.result["by"] == "log_odds"
    assert box.result["top_a"][0] == "rare", "with almost no prior a word only A uses has the largest log-odds"
    group_b.value = "A"
    assert box.result is None, "the same group twice: nothing to compare"
    with pytest.raises(ValueError, match="at least two groups"):
        log_odds_explorer({"A": GROUPS["A"]})


def test_plot_distinguishing_words_labels_both_sides_with_counts():
    table = weighted_log_odds(GROUPS["A"], GROUPS["B"], 10)
    fig = plot_distinguishing_words(table, ["A", "B"], top=2)
    left, right = fig.axes
    labels = {t.get_text() for t in left.get_yticklabels()}
    assert labels == {f"{w} ({table.loc[w, 'count_a']}/{table.loc[w, 'count_b']})" for w in table.index[:2]}
    assert right.get_title() == "words of B" and all(b.get_width() > 0 for b in left.patches)
    with pytest.raises(ValueError, match="by must be"):
        plot_distinguishing_words(table, ["A", "B"], by="count")


# --------------------------------------------------------------------------- probes of the chapter

def test_log_odds_explorer_on_the_chapter_groups():
    got = WIDGET.json()
    assert got["seen"]["default"]["top_a"] == got["chapter_top"], "the explorer shows what the chapter's chart shows"
    assert got["seen"]["eras"]["a"] == "1790-1860" and "america" in got["seen"]["eras"]["top_b"]
    assert all(min(both) == 0 for both in got["counts"].values()), \
        "without a prior the top words are words the other group never used"


def test_bpe_and_skipgram_pairs_behave_as_described():
    got = WRITTEN_OUT.json()
    assert got["spelled_back"], "the pieces of every word spell the word"
    assert got["top10_whole"], "the ten commonest words each end as a single token"
    assert got["frequent_whole"] >= 30, "many of the 100 commonest words end as a single token"
    assert got["symmetric"] and got["in_vocabulary"] and got["n_pairs"] > 10_000


def test_week9_exercise_solutions():
    eras = SOLUTIONS[1].json()
    assert {"states", "government", "treaty", "constitution"} <= set(eras["early"])
    assert {"america", "world", "health", "economy"} <= set(eras["recent"])
    windows = SOLUTIONS[2].json()
    assert {"ii", "cold", "vietnam"} & set(windows["2"]["war"]), "a small window finds the names of wars"
    assert {"warfare", "defense", "defensive", "buildup"} & set(windows["15"]["war"])
    assert "taxes" in windows["15"]["tax"]
    aucs = SOLUTIONS[3].json()
    assert aucs["keras"] == pytest.approx(aucs["sklearn"], abs=0.03), "the same model fitted two ways"
