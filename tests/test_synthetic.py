"""utils.synthetic: the baselines and the fidelity and privacy measures on cases worked out by hand."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from utils.synthetic import (closer_to_training, closest_record_distances, column_fidelity, gaussian_copula,
                             independent_marginals, pair_fidelity, propensity_scores)


def correlated(n, seed=0, rho=0.9, decimals=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho ** 2) * rng.normal(size=n)
    return pd.DataFrame({"x": np.round(x, decimals), "group": np.where(y > 0.3, "high", np.where(y < -0.3, "low", "mid"))})


def test_column_fidelity_is_one_minus_tvd_or_ks():
    real = pd.DataFrame({"c": list("aabb"), "n": [1.0, 2.0, 3.0, 4.0]})
    same = column_fidelity(real, real, numeric=["n"])
    assert same.to_dict() == {"c": 1.0, "n": 1.0}
    other = pd.DataFrame({"c": list("aaab"), "n": [11.0, 12.0, 13.0, 14.0]})
    got = column_fidelity(real, other, numeric=["n"])
    assert got["c"] == pytest.approx(0.75), "TVD = (|0.5 - 0.75| + |0.5 - 0.25|) / 2 = 0.25"
    assert got["n"] == pytest.approx(0.0), "no overlap: KS statistic 1"
    # a category that the synthetic data never produce counts fully
    assert column_fidelity(real, pd.DataFrame({"c": list("cccc"), "n": [1.0, 2, 3, 4]}), ["n"])["c"] == pytest.approx(0.0)


def test_pair_fidelity_compares_two_way_tables():
    real = pd.DataFrame({"a": list("aabb"), "b": list("xyxy")})
    assert pair_fidelity(real, real).tolist() == [1.0]
    all_one_cell = pd.DataFrame({"a": list("aaaa"), "b": list("xxxx")})
    assert pair_fidelity(real, all_one_cell)[("a", "b")] == pytest.approx(0.25), "TVD (0.75 + 3 x 0.25) / 2"
    # same margins, relation reversed: the columns are right, the pair is not
    real = pd.DataFrame({"a": list("aabb"), "b": list("xxyy")})
    flipped = pd.DataFrame({"a": list("aabb"), "b": list("yyxx")})
    assert column_fidelity(real, flipped).tolist() == [1.0, 1.0]
    assert pair_fidelity(real, flipped).tolist() == [0.0]


def test_independent_marginals_keep_columns_and_lose_relations():
    real = correlated(4000)
    fake = independent_marginals(real, 4000, seed=1)
    assert set(fake["x"]) <= set(real["x"]) and list(fake.columns) == ["x", "group"]
    assert column_fidelity(real, fake, ["x"]).min() > 0.97
    high = fake["group"] == "high"
    assert abs(fake["x"][high].mean() - fake["x"][~high].mean()) < 0.1, "x no longer depends on the group"
    assert real["x"][real["group"] == "high"].mean() > 0.8


def test_gaussian_copula_keeps_margins_and_rank_correlation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    real = pd.DataFrame({"x": np.round(x, 2), "y": np.round(np.exp(0.8 * x + 0.6 * rng.normal(size=5000)), 2),
                         "level": np.digitize(x + rng.normal(size=5000), [-1, 0, 1])})
    fake = gaussian_copula(real, 5000, seed=3)
    assert set(fake["level"]) <= set(real["level"]) and set(fake["y"]) <= set(real["y"])
    assert column_fidelity(real, fake, ["x", "y"]).min() > 0.96
    assert stats.spearmanr(fake["x"], fake["y"])[0] == pytest.approx(stats.spearmanr(real["x"], real["y"])[0], abs=0.03)
    # a discrete column's ties are spread within their step, which weakens its correlations somewhat
    discrete_real, discrete_fake = stats.spearmanr(real["x"], real["level"])[0], stats.spearmanr(fake["x"], fake["level"])[0]
    assert 0.75 * discrete_real < discrete_fake < discrete_real
    assert stats.spearmanr(independent_marginals(real, 5000)["x"], independent_marginals(real, 5000)["y"])[0] < 0.1


def test_propensity_scores_tell_real_from_shifted_and_not_from_the_same():
    real, same, shifted = correlated(3000, 0), correlated(3000, 1), correlated(3000, 2)
    shifted["x"] = shifted["x"] + 0.8
    alike = propensity_scores(real, same, ["x"])
    assert alike["detection"] > 0.9 and 0.5 < alike["pmse_ratio"] < 1.8
    apart = propensity_scores(real, shifted, ["x"])
    assert apart["auc"] > 0.65 and apart["detection"] == pytest.approx(1 - (2 * apart["auc"] - 1))
    assert apart["pmse_ratio"] > 20
    # a main-effects logistic regression cannot see a lost relation; boosted trees can
    marginals = independent_marginals(real, 3000)
    assert propensity_scores(real, marginals, ["x"])["detection"] > 0.9
    trees = propensity_scores(real, marginals, ["x"], classifier="boosted trees", permutations=0)
    assert set(trees) == {"detection", "auc"} and trees["detection"] < 0.6
    with pytest.raises(ValueError, match="'logistic' or 'boosted trees'"):
        propensity_scores(real, same, ["x"], classifier="forest")


def test_closest_record_distances_are_gower_distances():
    train = pd.DataFrame({"age": [20, 60], "party": ["dem", "rep"]})
    holdout = pd.DataFrame({"age": [30, 40], "party": ["rep", "rep"]})
    synthetic = pd.DataFrame({"age": [30, 60], "party": ["dem", "rep"]})
    d = closest_record_distances(synthetic, train, holdout, numeric=["age"])
    # row 1: to train (10/40 + 0) / 2 = 0.125, to holdout (0 + 1) / 2 = 0.5; row 2: exact copy of a
    # training row, to holdout (20/40 + 0) / 2 = 0.25 (ages scaled by the training range, 40)
    assert d["train"].tolist() == pytest.approx([0.125, 0.0])
    assert d["holdout"].tolist() == pytest.approx([0.5, 0.25])
    assert closer_to_training(d) == 1.0
    assert closer_to_training(pd.DataFrame({"train": [0.0, 1.0], "holdout": [0.0, 2.0]})) == 0.75, "ties count half"


def test_a_copying_generator_is_caught_and_a_fresh_sample_is_not():
    population = correlated(6000, 5, decimals=6)
    train, holdout, fresh = population[:2000], population[2000:4000], population[4000:].reset_index(drop=True)
    copies = train.sample(500, random_state=0).reset_index(drop=True)
    assert closer_to_training(closest_record_distances(copies, train, holdout, ["x"])) > 0.95
    assert 0.4 < closer_to_training(closest_record_distances(fresh[:500], train, holdout, ["x"])) < 0.6


def test_measures_refuse_tables_they_cannot_compare():
    real = pd.DataFrame({"a": [1, 2], "b": [1, 2]})
    with pytest.raises(ValueError, match="missing values"):
        column_fidelity(real, pd.DataFrame({"a": [1, None], "b": [1, 2]}))
    with pytest.raises(ValueError, match="same columns"):
        pair_fidelity(real, real[["b", "a"]])
    with pytest.raises(TypeError, match="DataFrame"):
        column_fidelity(real, real.to_numpy())
