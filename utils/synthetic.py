"""Synthetic microdata: two baseline generators and the standard utility and privacy measures.

A table here is a pandas DataFrame whose columns are either *categorical* (any values, compared
as labels) or *numeric* (listed in ``numeric``). The measures follow published definitions:

- per column: 1 - total variation distance for categorical columns, 1 - the Kolmogorov-Smirnov
  statistic for numeric ones (SDMetrics' TVComplement and KSComplement);
- per pair of columns: 1 - total variation distance between the two-way tables (SDMetrics'
  ContingencySimilarity; numeric columns are cut at the real data's deciles first);
- detection: 1 - (2 max(AUC, 0.5) - 1) for a classifier telling real rows from synthetic ones,
  AUC cross-validated (SDMetrics' LogisticDetection uses a logistic regression; boosted trees
  also see combinations of columns): 1 means indistinguishable;
- pMSE (Snoke, Raab, Nowok, Dibben & Slavkovic 2018): the mean squared distance of those
  propensities from the share c of synthetic rows, and its ratio to its expectation when real
  and synthetic rows come from one distribution, estimated by shuffling the labels (about 1 is
  good);
- distance to the closest record (DCR): for each synthetic row, the Gower distance (mean over
  columns of 0/1 mismatches and of range-scaled absolute differences) to the nearest training
  row and to the nearest held-out row of the same real population. A generator that copies its
  training rows is closer to them than to held-out rows; one that does not is closer to
  training rows about half the time.

SDMetrics itself (MIT) is not used because it requires the copulas package, which is under the
Business Source License 1.1; tests/test_synthetic.py checks these functions on cases whose
answers can be worked out by hand.
"""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold


def _check_tables(real: pd.DataFrame, synthetic: pd.DataFrame) -> None:
    for name, table in (("real", real), ("synthetic", synthetic)):
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame, got {type(table).__name__}")
        if table.isna().any().any():
            raise ValueError(f"{name} has missing values: drop or fill them first (the measures compare complete rows)")
    if list(real.columns) != list(synthetic.columns):
        raise ValueError(f"real and synthetic need the same columns in the same order: {list(real.columns)} "
                         f"against {list(synthetic.columns)}")


def independent_marginals(real: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """Baseline 1: each column drawn on its own from its real values (with replacement). It keeps
    every column's distribution and none of the relations between columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: real[c].to_numpy()[rng.integers(len(real), size=n)] for c in real.columns})


def _normal_scores(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A column's values as standard-normal scores through its empirical distribution; ties get
    uniform jitter inside their step of the distribution, so discrete columns map to intervals."""
    codes, counts = np.unique(values, return_inverse=True, return_counts=True)[1:]
    upper = np.cumsum(counts) / len(values)
    lower = upper - counts / len(values)
    u = lower[codes] + rng.uniform(size=len(values)) * (upper - lower)[codes]
    return stats.norm.ppf(np.clip(u, 1e-6, 1 - 1e-6))


def gaussian_copula(real: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """Baseline 2: a Gaussian copula. Each column becomes normal scores through its empirical
    distribution, the scores' correlation matrix is estimated, new scores are drawn from a
    multivariate normal with it and mapped back through each column's empirical quantiles.
    It keeps the marginals and the (rank) correlations, nothing more. Categorical columns are
    ordered by their sorted values, so it suits ordinal columns better than nominal ones, and
    the ties of a discrete column are spread uniformly within their step of the distribution,
    which weakens its correlations somewhat (by about a sixth for a four-level column in the tests)."""
    rng = np.random.default_rng(seed)
    ordered = {c: np.sort(real[c].to_numpy()) for c in real.columns}
    scores = np.column_stack([_normal_scores(real[c].to_numpy(), rng) for c in real.columns])
    correlation = np.corrcoef(scores, rowvar=False)
    draws = rng.multivariate_normal(np.zeros(len(real.columns)), correlation, size=n)
    u = stats.norm.cdf(draws)
    index = np.minimum((u * len(real)).astype(int), len(real) - 1)
    return pd.DataFrame({c: ordered[c][index[:, j]] for j, c in enumerate(real.columns)})


def column_fidelity(real: pd.DataFrame, synthetic: pd.DataFrame, numeric: Sequence[str] = ()) -> pd.Series:
    """Per column: 1 - total variation distance (categorical) or 1 - KS statistic (numeric)."""
    _check_tables(real, synthetic)
    scores = {}
    for c in real.columns:
        if c in numeric:
            scores[c] = 1 - stats.ks_2samp(real[c], synthetic[c]).statistic
        else:
            p = real[c].value_counts(normalize=True)
            q = synthetic[c].value_counts(normalize=True)
            scores[c] = 1 - 0.5 * p.sub(q, fill_value=0).abs().sum()
    return pd.Series(scores, name="column fidelity")


def _binned(real: pd.DataFrame, synthetic: pd.DataFrame, numeric: Sequence[str]):
    real, synthetic = real.copy(), synthetic.copy()
    for c in numeric:
        edges = np.unique(np.quantile(real[c], np.linspace(0, 1, 11))[1:-1])
        real[c], synthetic[c] = np.searchsorted(edges, real[c]), np.searchsorted(edges, synthetic[c])
    return real, synthetic


def pair_fidelity(real: pd.DataFrame, synthetic: pd.DataFrame, numeric: Sequence[str] = ()) -> pd.Series:
    """Per pair of columns: 1 - total variation distance between the real and the synthetic two-way
    tables (numeric columns cut at the real data's deciles). Indexed by (column, column)."""
    _check_tables(real, synthetic)
    real, synthetic = _binned(real, synthetic, numeric)
    scores = {}
    for a, b in combinations(real.columns, 2):
        p = real.groupby([a, b]).size() / len(real)
        q = synthetic.groupby([a, b]).size() / len(synthetic)
        scores[(a, b)] = 1 - 0.5 * p.sub(q, fill_value=0).abs().sum()
    return pd.Series(scores, name="pair fidelity")


def _design(real: pd.DataFrame, synthetic: pd.DataFrame, numeric: Sequence[str]):
    """One-hot categorical columns and standardised numeric ones, stacked real over synthetic."""
    both = pd.concat([real, synthetic], ignore_index=True)
    parts = []
    for c in both.columns:
        if c in numeric:
            x = both[c].to_numpy(dtype=float)
            parts.append(((x - x.mean()) / (x.std() or 1.0))[:, None])
        else:
            parts.append(pd.get_dummies(both[c].astype(str), drop_first=True).to_numpy(dtype=float))
    X = np.hstack(parts)
    y = np.r_[np.zeros(len(real)), np.ones(len(synthetic))]
    return X, y


def propensity_scores(real: pd.DataFrame, synthetic: pd.DataFrame, numeric: Sequence[str] = (),
                      classifier: str = "logistic", folds: int = 3, permutations: int = 3, seed: int = 0) -> dict:
    """Detection score and pMSE from a classifier telling real rows (0) from synthetic rows (1).

    ``classifier`` is ``"logistic"`` (main effects: it sees each column's distribution but no
    relation between columns) or ``"boosted trees"`` (scikit-learn's histogram gradient boosting,
    which also sees interactions). Returns

    - ``auc`` (cross-validated over ``folds``) and ``detection`` = 1 - (2 max(AUC, 0.5) - 1);
    - ``pmse``: the mean of (propensity - c)^2 over all rows, propensities fitted in sample;
    - ``pmse_null``: its expectation when the labels carry no information, estimated by refitting
      with the real/synthetic labels shuffled ``permutations`` times (the permutation null of
      Snoke et al. 2018), and ``pmse_ratio`` = pmse / pmse_null (about 1 is good). With
      ``permutations=0`` only the detection score and the AUC are computed.
    """
    _check_tables(real, synthetic)
    X, y = _design(real, synthetic, numeric)

    def new_model():
        if classifier == "logistic":
            return LogisticRegression(max_iter=1000)
        if classifier == "boosted trees":
            return HistGradientBoostingClassifier(max_iter=50, max_leaf_nodes=15, random_state=seed)
        raise ValueError(f"classifier must be 'logistic' or 'boosted trees', got {classifier!r}")

    aucs = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        aucs.append(roc_auc_score(y[test], new_model().fit(X[train], y[train]).predict_proba(X[test])[:, 1]))
    auc = float(np.mean(aucs))
    c = y.mean()

    def pmse(labels):
        return float(np.mean((new_model().fit(X, labels).predict_proba(X)[:, 1] - c) ** 2))

    if permutations == 0:
        return {"detection": 1 - (2 * max(auc, 0.5) - 1), "auc": auc}
    rng = np.random.default_rng(seed)
    observed = pmse(y)
    null = float(np.mean([pmse(rng.permutation(y)) for _ in range(permutations)]))
    return {"detection": 1 - (2 * max(auc, 0.5) - 1), "auc": auc, "pmse": observed, "pmse_null": null,
            "pmse_ratio": observed / null}


def closest_record_distances(synthetic: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame,
                             numeric: Sequence[str] = (), chunk: int = 64) -> pd.DataFrame:
    """For each synthetic row, the Gower distance to its closest training row and to its closest
    held-out row: the mean over columns of 0/1 mismatches (categorical) and of absolute differences
    divided by the column's range in the training data (numeric). 0 means an exact copy."""
    _check_tables(train, synthetic)
    _check_tables(train, holdout)
    ranges = {c: float(np.ptp(train[c].to_numpy(dtype=float))) or 1.0 for c in numeric}

    codes = {c: {v: i for i, v in enumerate(pd.unique(pd.concat([train[c], holdout[c], synthetic[c]])))}
             for c in synthetic.columns if c not in numeric}

    def encode(table):
        return np.column_stack([table[c].to_numpy(dtype=float) / ranges[c] if c in numeric
                                else table[c].map(codes[c]).to_numpy(dtype=float) for c in table.columns])

    is_numeric = np.array([c in numeric for c in synthetic.columns])
    s = encode(synthetic)
    nearest = {}
    for name, reference in (("train", train), ("holdout", holdout)):
        r = encode(reference)
        best = np.empty(len(synthetic))
        for start in range(0, len(synthetic), chunk):
            block = s[start:start + chunk, None, :] - r[None, :, :]
            total = np.where(is_numeric, np.abs(block), block != 0).sum(axis=-1)
            best[start:start + chunk] = total.min(axis=1) / len(is_numeric)
        nearest[name] = best
    return pd.DataFrame(nearest)


def closer_to_training(distances: pd.DataFrame) -> float:
    """Share of synthetic rows closer to a training row than to any held-out row (ties count half).
    About 0.5 when the generator has not memorised its training rows (with training and held-out
    sets of equal size); near 1 when it copies them."""
    train, holdout = distances["train"].to_numpy(), distances["holdout"].to_numpy()
    return float(np.mean((train < holdout) + 0.5 * (train == holdout)))
