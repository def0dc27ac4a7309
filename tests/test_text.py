"""utils.text: the word tokenizer, word counts and weighted log-odds (Monroe, Colaresi & Quinn 2008)."""

from collections import Counter

import numpy as np
import pytest

from utils.text import weighted_log_odds, word_counts, words


def test_words_lowercases_keeps_inner_apostrophes_and_drops_digits():
    assert words("The Nation's debt, 1790: we can\u2019t wait!") == ["the", "nation's", "debt", "we", "can't", "wait"]
    assert words("") == []
    with pytest.raises(TypeError, match="for many texts"):
        words(["a list", "of texts"])


def test_word_counts_add_up_over_texts_and_drop_words():
    counts = word_counts(["the dog bit the man", "The man"], drop={"the"})
    assert counts == Counter({"man": 2, "dog": 1, "bit": 1})
    with pytest.raises(TypeError, match="not one string"):
        word_counts("the dog")


def test_weighted_log_odds_matches_the_formula_by_hand():
    a, b = {"tax": 30, "war": 5, "peace": 15}, {"tax": 10, "war": 25, "peace": 15}
    table = weighted_log_odds(a, b, prior_strength=10)
    # by hand for "tax": pooled share 40/100, alpha = 4; n_a = n_b = 50
    delta = np.log(34 / (50 + 10 - 34)) - np.log(14 / (50 + 10 - 14))
    z = delta / np.sqrt(1 / 34 + 1 / 14)
    assert table.loc["tax", "log_odds"] == pytest.approx(delta)
    assert table.loc["tax", "z"] == pytest.approx(z)
    assert list(table.index) == ["tax", "peace", "war"], "sorted from A's words to B's"
    assert table.loc["peace", "z"] == pytest.approx(0.0, abs=1e-12), "equal use gives z = 0"
    assert table.loc["tax", ["count_a", "count_b"]].tolist() == [30, 10]


def test_the_prior_keeps_rare_words_from_dominating():
    a = Counter({"common": 1000, "rare": 3, "other": 500})
    b = Counter({"common": 800, "other": 700})
    weak, strong = weighted_log_odds(a, b, 1e-3), weighted_log_odds(a, b, 1e4)
    assert weak.sort_values("log_odds").index[-1] == "rare", "without a prior a word B never used wins"
    assert strong.index[0] == "common", "with a prior the frequent, distinctive word ranks first by z"


def test_weighted_log_odds_says_what_is_wrong():
    with pytest.raises(ValueError, match="prior_strength must be positive"):
        weighted_log_odds({"a": 1}, {"a": 1}, prior_strength=0)
    with pytest.raises(ValueError, match="one of the two groups has no words"):
        weighted_log_odds({"a": 1}, {}, prior_strength=1)
    with pytest.raises(ValueError, match="lower min_count"):
        weighted_log_odds({"a": 1}, {"b": 1}, min_count=5)
