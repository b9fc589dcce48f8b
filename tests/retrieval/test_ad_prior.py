"""Muse.0's ad prior: the ads' log application rates, the score column, the grid's choice."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from jobrec import ad_response
from jobrec.data.market import Events
from jobrec.retrieval import ad_prior


def test_log_rates_by_hand():
    history = ad_response.AdHistory(
        counts=np.array([0, 10, 4]),
        expected=np.array([0.0, 5.0, 4.0]),
        log_ahead=np.array([0.2, 0.0, -0.1]),
        mean_rate=2.0,
    )
    # α = 1 pseudo-day at m = 2: two pseudo-applications over two expected
    expected = [0.2, np.log(12 / 7), np.log(6 / 6) - 0.1]
    np.testing.assert_allclose(ad_prior.log_rates(history, 1.0), expected, rtol=1e-6)
    # more pseudo-days pull each ad's appeal towards 0; the age's term stays
    appeal = ad_prior.log_rates(history, 7.0) - history.log_ahead
    assert abs(appeal[1]) < np.log(12 / 7) and appeal[0] == pytest.approx(0, abs=1e-7)
    # a market without history: every ad at the mean
    none = ad_response.AdHistory(np.zeros(2), np.zeros(2), np.zeros(2), 0.0)
    np.testing.assert_array_equal(ad_prior.log_rates(none, 1.0), [0, 0])


def test_ad_history_counts_applications_and_expected_ones_before_the_day():
    day = dt.date(2026, 11, 11)
    ads = pd.DataFrame(
        {
            # ads 0 and 4 are older than the application log (its first application: 11-02)
            "posted_on": pd.to_datetime(
                ["2026-11-01", "2026-11-02", "2026-11-12", "2026-11-10", "2026-10-20"]
            ),
            # ad 1 closed on 11-05: open 11-02..11-05, four days
            "closed_on": pd.to_datetime([None, "2026-11-05", None, "2026-11-20", None]),
        }
    )
    applied = np.array(["2026-11-02", "2026-11-10", "2026-11-11", "2026-11-03", "2026-11-10"])
    market = SimpleNamespace(
        ads=ads,
        applications=Events(
            np.zeros(5, np.int64), np.array([0, 0, 0, 1, 3]), applied.astype("datetime64[D]")
        ),
    )
    history = ad_response.ad_history(market, day, np.array([0, 1, 2, 3, 4]))
    # the application on the day itself is not yet known
    np.testing.assert_array_equal(history.counts, [2, 1, 0, 1, 0])
    # observed ages from the log's start: ad 0 1-9, ad 1 0-3, ad 2 none, ad 3 0, ad 4 13-21
    rate, mean = ad_response.age_profile(
        np.array([1, 9, 1, 0]), np.array([1, 0, 0, 0, 13]), np.array([10, 4, 0, 1, 22])
    )
    assert history.mean_rate == pytest.approx(mean) == pytest.approx(4 / 23)
    np.testing.assert_allclose(
        history.expected,
        [rate[1:10].sum(), rate[:4].sum(), 0.0, rate[0], rate[13:22].sum()],
        rtol=1e-6,
    )
    # what each ad's age promises for the next seven days (ad 2, posted after the day: age 0)
    ages_now = [10, 9, 0, 1, 22]
    ahead = [rate[a : a + 7].mean() / mean for a in ages_now]
    np.testing.assert_allclose(history.log_ahead, np.log(ahead), rtol=1e-6, atol=1e-9)
    rates = ad_prior.ad_log_rates(market, np.array([3, 0]), day, ad_prior.AdPrior(0.5, 1.0))
    np.testing.assert_allclose(rates, ad_prior.log_rates(history, 1.0)[[3, 0]], rtol=1e-6)


def test_a_fresh_ad_drawing_its_ages_usual_rate_is_ranked_by_its_age_alone():
    """The generator's ads draw several times their later rate in their first days: an ad that
    draws exactly that is average (appeal 0, up to the age profile's shrinkage), and its coming
    week promises more than an old ad's of the same appeal."""
    day = dt.date(2026, 11, 30)
    posted = pd.to_datetime(["2026-09-01"] * 200 + ["2026-11-01"] * 200 + ["2026-11-29"])
    # every ad: 5 applications on its first day, 3 on its second, then 1 a day
    ad, applied = [], []
    for j, p in enumerate(posted.to_numpy("datetime64[D]")):
        for age in range(int((np.datetime64(day) - p).astype(int))):
            n = 5 if age == 0 else 3 if age == 1 else 1
            ad += [j] * n
            applied += [p + np.timedelta64(age, "D")] * n
    market = SimpleNamespace(
        ads=pd.DataFrame({"posted_on": posted, "closed_on": pd.NaT}),
        applications=Events(np.zeros(len(ad), np.int64), np.array(ad), np.array(applied)),
    )
    history = ad_response.ad_history(market, day, np.array([0, 200, 400]))
    appeal = ad_prior.log_rates(history, 1.0) - history.log_ahead
    np.testing.assert_allclose(appeal, [0, 0, 0], atol=0.02)
    # the rate over days online alone (the prior before ages) would rank the fresh ad far above
    assert history.counts[2] == 5
    flat = (5 + 1.0 * history.mean_rate) / (1 + 1.0) / history.mean_rate
    assert np.log(flat) > 0.5
    # the next week at ages 1-7 (3, then 1 a day) against 1 a day at ages 29-35 and 90-96
    assert history.log_ahead[2] - history.log_ahead[1] == pytest.approx(np.log(9 / 7), abs=0.02)
    assert history.log_ahead[1] == pytest.approx(history.log_ahead[0], abs=0.02)


def test_the_prior_column_adds_the_weighted_log_rate_to_each_logit():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=(4, 5)).astype(np.float32)
    rates = np.array([0.5, -1.0, 0.0, 2.0], np.float32)
    prior, tau = ad_prior.AdPrior(0.75, 1.0), 0.05
    pu, pv = ad_prior.with_prior(u, v, rates, prior, tau)
    assert pu.shape == (3, 6) and pv.shape == (4, 6) and pu.dtype == np.float32
    # score vectors give τ × the logit; the prior adds τ · w · b_j
    np.testing.assert_allclose(pu @ pv.T, u @ v.T + tau * 0.75 * rates[None, :], rtol=1e-5)
    off = ad_prior.with_prior(u, v, rates, ad_prior.AdPrior(), tau)
    np.testing.assert_allclose(off[0] @ off[1].T, u @ v.T, rtol=1e-6)


def _planted(applied_ad: int):
    """One seeker, two ads, top-1: Muse.0 prefers ad 0 by one logit (τ = 0.1); ad 1 had 100
    applications where an average ad of their ages had 50, ad 0 none. With α = 1 (m = 5 a day)
    the log rates differ by log(105 / 5) = 3.04, so w ≥ 0.5 turns the order; with α = 7 by
    log(135 / 35) = 1.35, so w ≥ 0.75 does."""
    u = np.array([[1.0, 0.0]], np.float32)
    v = np.array([[0.5, 0.0], [0.4, 0.0]], np.float32)
    return ad_prior.fit(
        u,
        v,
        ad_response.AdHistory(np.array([0, 100]), np.full(2, 50.0), np.zeros(2), 5.0),
        relevant=(np.array([0]), np.array([applied_ad])),
        excluded=(np.array([], np.int64), np.array([], np.int64)),
        temperature=0.1,
        k=1,
        weights=(0.0, 0.25, 0.5, 0.75, 1.0),
        pseudo_days=(1.0, 7.0),
    )


def test_fit_turns_the_prior_on_where_the_rates_tell_what_the_vectors_do_not():
    prior, grid = _planted(applied_ad=1)
    # the smallest weight that finds the application, at the pseudo-days that allow it
    assert prior == ad_prior.AdPrior(0.5, 1.0)
    by_point = {(g["weight"], g["pseudo_days"]): g["recall"] for g in grid}
    assert by_point[(0.0, 1.0)] == 0 and by_point[(0.25, 1.0)] == 0
    assert by_point[(0.5, 1.0)] == 1 and by_point[(0.5, 7.0)] == 0
    assert by_point[(0.75, 7.0)] == 1
    assert len(grid) == 9  # w = 0 is scored once


def test_fit_leaves_the_prior_off_where_it_does_not_help():
    prior, grid = _planted(applied_ad=0)
    assert prior.weight == 0.0
    assert max(g["recall"] for g in grid) == 1


def test_a_report_without_a_prior_reads_as_off():
    assert ad_prior.AdPrior.from_report({}) == ad_prior.AdPrior()
    assert ad_prior.AdPrior.from_report({"ad_prior": None}).weight == 0.0
    saved = {"ad_prior": {"weight": 0.75, "pseudo_days": 7.0, "grid": []}}
    assert ad_prior.AdPrior.from_report(saved) == ad_prior.AdPrior(0.75, 7.0)
