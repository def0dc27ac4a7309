"""Text as data: the word tokenizer and the distinguishing-words statistic the text chapters share.

``words`` splits text into lower-case word tokens; ``weighted_log_odds`` compares how often two
groups use each word with the informative-Dirichlet-prior log-odds of Monroe, Colaresi & Quinn
(2008, "Fightin' Words"), the method social scientists use to find the words that tell two
groups of speakers apart.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Collection, Iterable, Mapping

import numpy as np
import pandas as pd

#: A word is a run of letters, optionally with an apostrophe inside (don't, nation's).
#: Digits and punctuation are dropped; the text is lower-cased first.
WORD_PATTERN = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``: ``words("The Nation's debt, 1790")`` -> ``['the', "nation's", 'debt']``."""
    if not isinstance(text, str):
        raise TypeError(f"words() takes one string, got {type(text).__name__}; "
                        "for many texts use [words(t) for t in texts]")
    return WORD_PATTERN.findall(text.lower().replace("\u2019", "'"))


def word_counts(texts: Iterable[str], drop: Collection[str] = ()) -> Counter:
    """How often each word occurs in all of ``texts`` together, leaving out the words in ``drop``
    (for example scikit-learn's ``ENGLISH_STOP_WORDS``)."""
    if isinstance(texts, str):
        raise TypeError("word_counts() takes a list (or Series) of texts, not one string: wrap it in [ ]")
    counts = Counter()
    for text in texts:
        counts.update(words(text))
    for word in drop:
        counts.pop(word, None)
    return counts


def weighted_log_odds(counts_a: Mapping[str, int], counts_b: Mapping[str, int],
                      prior_strength: float = 1000.0, min_count: int = 1) -> pd.DataFrame:
    """Which words group A uses more than group B, with an informative Dirichlet prior.

    For word :math:`w` with counts :math:`y_{aw}, y_{bw}`, group totals :math:`n_a, n_b`, and
    prior counts :math:`\\alpha_w = \\alpha_0 \\, \\pi_w` (``prior_strength`` :math:`\\alpha_0` times
    the word's share :math:`\\pi_w` of both groups' words),

    .. math:: \\delta_w = \\log\\frac{y_{aw}+\\alpha_w}{n_a+\\alpha_0-y_{aw}-\\alpha_w}
              - \\log\\frac{y_{bw}+\\alpha_w}{n_b+\\alpha_0-y_{bw}-\\alpha_w},\\qquad
              z_w = \\delta_w \\Big/ \\sqrt{\\tfrac{1}{y_{aw}+\\alpha_w} + \\tfrac{1}{y_{bw}+\\alpha_w}}

    A large positive :math:`z_w` marks a word of group A, a large negative one a word of B.
    ``prior_strength`` near 0 gives the plain log-odds ratio (each count plus a tiny smoothing),
    which rare words dominate. Returns one row per word used at least ``min_count`` times in
    total: ``count_a, count_b, log_odds`` (:math:`\\delta_w`) and ``z``, sorted by ``z``.
    """
    if prior_strength <= 0:
        raise ValueError(f"prior_strength must be positive (got {prior_strength}); use e.g. 1e-3 "
                         "for almost no prior")
    vocabulary = sorted(w for w in set(counts_a) | set(counts_b)
                        if counts_a.get(w, 0) + counts_b.get(w, 0) >= min_count)
    if not vocabulary:
        raise ValueError("no word is used often enough in the two groups: lower min_count or check the counts")
    y_a = np.array([counts_a.get(w, 0) for w in vocabulary], float)
    y_b = np.array([counts_b.get(w, 0) for w in vocabulary], float)
    if y_a.sum() == 0 or y_b.sum() == 0:
        raise ValueError("one of the two groups has no words: both need some text")
    share = (y_a + y_b) / (y_a + y_b).sum()
    alpha = prior_strength * share
    n_a, n_b = y_a.sum(), y_b.sum()
    delta = (np.log((y_a + alpha) / (n_a + prior_strength - y_a - alpha))
             - np.log((y_b + alpha) / (n_b + prior_strength - y_b - alpha)))
    z = delta / np.sqrt(1 / (y_a + alpha) + 1 / (y_b + alpha))
    table = pd.DataFrame({"count_a": y_a.astype(int), "count_b": y_b.astype(int), "log_odds": delta, "z": z},
                         index=pd.Index(vocabulary, name="word"))
    return table.sort_values("z", ascending=False)


def bag_of_words_classifier(ngrams: int = 2, min_df: int = 2, C: float = 10.0):
    """The course's bag-of-words baseline: TF-IDF weighted counts of words (and, with
    ``ngrams=2``, bigrams) from :func:`words`, then a logistic regression.

    Returns an unfitted scikit-learn pipeline: ``fit(texts, labels)``, then
    ``predict_proba(texts)[:, 1]``. ``min_df`` drops words in fewer documents; ``C`` is the
    inverse strength of the L2 penalty.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    vectorizer = TfidfVectorizer(token_pattern=None, tokenizer=words, lowercase=False, min_df=min_df,
                                 ngram_range=(1, ngrams), sublinear_tf=True)
    return make_pipeline(vectorizer, LogisticRegression(C=C, max_iter=2000))
