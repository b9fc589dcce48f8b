"""The funnel models (jobrec.send.funnel): each stage learns from its own rows (all sends, the
responded, the applied), recovers a planted signal, and its calibration report agrees with
scikit-learn's Brier score and with the base rate's by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss

from jobrec.send import funnel


def planted(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(funnel.FEATURES))).astype(np.float32)
    responded = rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 1.2 * x[:, 0])))
    applied = responded & (rng.random(n) < 1 / (1 + np.exp(-(-1.0 + 1.2 * x[:, 1]))))
    positive = applied & (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 1.2 * x[:, 2]))))
    zeros = np.zeros(n, bool)
    outcomes = pd.DataFrame(
        {
            "responded": responded,
            "applied": applied,
            "positive_outcome": positive,
            "unsubscribed": zeros,
            "negative_feedback": zeros,
        }
    )
    return x, outcomes


def test_each_stage_recovers_its_own_signal():
    x, outcomes = planted()
    models = funnel.train_funnel(x, outcomes)
    for m, model in enumerate(funnel.MODELS):
        coef = models.models[model][-1].coef_[0]
        assert np.argmax(np.abs(coef)) == m  # the planted feature of that stage
    x_new, out_new = planted(seed=1)
    report = funnel.calibration(models, x_new, out_new)
    for model in funnel.MODELS:
        r = report[model]
        assert r["auc"] > 0.7 and r["brier"] < r["brier_base_rate"]
        predicted, observed, n = zip(*r["reliability"], strict=True)
        assert sum(n) == r["rows"]
        predicted, observed, n = np.array(predicted), np.array(observed), np.array(n)
        # 30 deciles (3 models x 10) judged at once: Bonferroni at a 0.1% family-wise level,
        # z = 4.15 (3 SE a decile failed 2 of 6 seeds of this calibrated model: the largest
        # of 30 |z| was 2.2-3.9)
        noise = 4.15 * np.sqrt(predicted * (1 - predicted) / n)
        assert (np.abs(predicted - observed) < noise).all()  # calibrated


def test_calibration_numbers_by_hand():
    x, outcomes = planted(4000)
    models = funnel.train_funnel(x, outcomes)
    report = funnel.calibration(models, x, outcomes)["apply"]
    rows = outcomes["responded"].to_numpy()
    y = outcomes["applied"].to_numpy()[rows]
    p = models.probabilities(x)[rows, 1]
    assert report["rows"] == rows.sum()
    assert report["brier"] == pytest.approx(brier_score_loss(y, p))
    assert report["brier_base_rate"] == pytest.approx(np.mean((y - y.mean()) ** 2))


def test_one_class_is_refused():
    x, outcomes = planted(500)
    outcomes["positive_outcome"] = False
    with pytest.raises(ValueError, match="positive: one class only"):
        funnel.train_funnel(x, outcomes)


def test_recent_applications_counts_the_window_before_the_day():
    import datetime as dt
    from types import SimpleNamespace

    from jobrec.data.market import Events

    days = np.array(
        ["2026-09-30", "2026-10-01", "2026-10-28", "2026-10-28", "2026-10-29"],
        dtype="datetime64[D]",
    )
    apps = Events(np.array([0, 0, 0, 2, 2]), np.zeros(5, int), days)
    market = SimpleNamespace(applications=apps, seekers=pd.DataFrame(index=range(3)))
    got = funnel.recent_applications(market, dt.date(2026, 10, 29))
    # the window is [10-01, 10-29): seeker 0 has 10-01 and 10-28 (09-30 is out), seeker 2 has 10-28
    # (10-29 is the day itself)
    np.testing.assert_allclose(got, np.log1p([2, 0, 1]))


def _scorer_of(seeker_vectors, ad_vectors):
    return funnel.Scorer(None, seeker_vectors, ad_vectors, None, None, None, 1.0)


def test_muse0_rank_by_hand():
    # one dimension: seeker 0 scores the ads 0.9, 0.5, 0.1, -0.3; ad 3 is not open
    seekers = np.array([[1.0], [-1.0]], np.float32)
    ads = np.array([[0.9], [0.5], [0.1], [-0.3]], np.float32)
    open_ads = np.array([0, 1, 2])
    cosine, rank = funnel.muse0_rank(
        _scorer_of(seekers, ads), np.array([0, 0, 1, 0]), np.array([1, 0, 0, 3]), open_ads
    )
    np.testing.assert_allclose(cosine, [0.5, 0.9, -0.9, -0.3])
    # seeker 1 scores the open ads -0.9, -0.5, -0.1: ad 0 is last; a closed ad ranks after
    # every open ad that scores above it
    assert rank.tolist() == [2, 1, 3, 4]


def test_muse0_rank_counts_like_a_full_comparison_in_any_block():
    rng = np.random.default_rng(0)
    sv = rng.normal(size=(50, 8)).astype(np.float32)
    av = rng.normal(size=(300, 8)).astype(np.float32)
    seekers, ads = rng.integers(0, 50, 2_000), rng.integers(0, 300, 2_000)
    open_ads = np.sort(rng.choice(300, 200, replace=False))
    # in float64, each pair's own ad left out of the count (it does not outrank itself)
    full = sv[seekers].astype(float) @ av[open_ads].T.astype(float)
    cosine = np.einsum("ij,ij->i", sv[seekers].astype(float), av[ads].astype(float))
    full[open_ads[None, :] == ads[:, None]] = -np.inf
    expected = (full > cosine[:, None]).sum(1) + 1
    for budget in (1, 200 * 7, 1 << 26):  # one seeker a block, 7, all at once
        _, rank = funnel.muse0_rank(_scorer_of(sv, av), seekers, ads, open_ads, budget)
        np.testing.assert_array_equal(rank, expected)
