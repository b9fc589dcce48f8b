"""Ranking and market metrics: hand-checked cases and agreement with scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from jobrec.evaluation.metrics import gini, market_metrics, ranking_metrics

LISTS = np.array([[0, 1, 2], [2, 3, -1], [4, 0, 1]])
# seeker 0 applied to ads 1 and 5 (5 is not in its list), seeker 1 to ad 2, seeker 2 to nothing
REL_SEEKER, REL_AD = np.array([0, 0, 1]), np.array([1, 5, 2])


def test_ranking_metrics_by_hand():
    at2, at3 = ranking_metrics(LISTS, REL_SEEKER, REL_AD, n_ads=6, ks=(2, 3))
    d2 = 1 / math.log2(3)
    assert at2.seekers == 2  # seeker 2 has no relevant ad: left out of the averages
    assert at2.recall == pytest.approx((1 / 2 + 1) / 2)
    assert at2.hit_rate == 1.0
    # seeker 0: one hit at rank 2 among 2 relevant -> DCG d2, ideal 1 + d2; seeker 1: hit at rank 1
    assert at2.ndcg == pytest.approx((d2 / (1 + d2) + 1) / 2)
    assert at3.recall == at2.recall  # no new hit at rank 3


def test_ranking_metrics_on_empty_relevance_are_nan():
    (at1,) = ranking_metrics(LISTS, np.array([], int), np.array([], int), n_ads=6, ks=(1,))
    assert at1.seekers == 0 and math.isnan(at1.recall)


def test_ndcg_agrees_with_scikit_learn_and_recall_with_sets():
    rng = np.random.default_rng(0)
    n_seekers, n_ads, k = 200, 60, 10
    scores = rng.normal(size=(n_seekers, n_ads))
    relevant = rng.random((n_seekers, n_ads)) < 0.05
    relevant[np.flatnonzero(~relevant.any(axis=1)), 0] = True  # every seeker has one
    lists = np.argsort(-scores, axis=1)
    seekers, ads = np.nonzero(relevant)
    (ours,) = ranking_metrics(lists, seekers, ads, n_ads=n_ads, ks=(k,))
    assert ours.ndcg == pytest.approx(ndcg_score(relevant.astype(int), scores, k=k))
    found = [len(set(lists[u, :k]) & set(np.flatnonzero(relevant[u]))) for u in range(n_seekers)]
    assert ours.recall == pytest.approx(np.mean(np.array(found) / relevant.sum(axis=1)))
    assert ours.hit_rate == pytest.approx(np.mean(np.array(found) > 0))


def test_market_metrics_spread_and_concentrated():
    spread = np.array([[0], [1], [2], [3]])
    (m,) = market_metrics(spread, n_active_ads=4, ks=(1,))
    assert (m.congestion, m.coverage, m.gini) == (pytest.approx(-1.0), 1.0, pytest.approx(0.0))
    same = np.array([[0], [0], [0], [0]])
    (m,) = market_metrics(same, n_active_ads=4, ks=(1,))
    assert (m.congestion, m.coverage, m.gini) == (pytest.approx(0.0), 0.25, pytest.approx(0.75))


def test_congestion_by_hand_with_k():
    lists = np.array([[0, 1], [0, 2]])  # shares: ad0 2/4, ad1 1/4, ad2 1/4, ad3 0
    _, at2 = market_metrics(lists, n_active_ads=4, ks=(1, 2))
    expected = (0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)) / math.log(4)
    assert at2.congestion == pytest.approx(expected)
    assert at2.coverage == 0.75


def test_gini_matches_the_mean_absolute_difference_formula():
    x = np.random.default_rng(1).poisson(3, 500)
    reference = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x) == pytest.approx(reference)
