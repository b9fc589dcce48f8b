"""Muse.0's ad prior: the ads' log application rates, the score column, the grid's choice."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from jobrec.data.market import Events
from jobrec.retrieval import ad_prior


def test_relative_log_rates_by_hand():
    counts, days = np.array([0, 10, 2]), np.array([0, 10, 4])
    mean = 12 / 14
    expected = np.log(
        np.array([(0 + mean) / 1, (10 + mean) / 11, (2 + mean) / 5]) / mean
    )  # α = 1 pseudo-day
    got = ad_prior.relative_log_rates(counts, days, 1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got[0] == pytest.approx(0.0, abs=1e-7)  # no history: the mean rate
    # more pseudo-days pull every ad towards the mean
    assert np.all(np.abs(ad_prior.relative_log_rates(counts, days, 7.0)) < np.abs(got) + 1e-9)
    # a market without history: every ad at the mean
    np.testing.assert_array_equal(ad_prior.relative_log_rates([0, 0], [3, 0], 1.0), [0, 0])


def test_ad_history_counts_applications_and_open_days_before_the_day():
    day = dt.date(2026, 11, 11)
    ads = pd.DataFrame(
        {
            "posted_on": pd.to_datetime(["2026-11-01", "2026-11-01", "2026-11-12", "2026-11-10"]),
            # ad 1 closed on 11-05: open 11-01..11-05, five days
            "closed_on": pd.to_datetime([None, "2026-11-05", None, "2026-11-20"]),
        }
    )
    applied = np.array(["2026-11-02", "2026-11-10", "2026-11-11", "2026-11-03", "2026-11-10"])
    market = SimpleNamespace(
        ads=ads,
        applications=Events(
            np.zeros(5, np.int64), np.array([0, 0, 0, 1, 3]), applied.astype("datetime64[D]")
        ),
    )
    counts, days = ad_prior.ad_history(market, np.array([0, 1, 2, 3]), day)
    # the application on the day itself is not yet known
    np.testing.assert_array_equal(counts, [2, 1, 0, 1])
    np.testing.assert_array_equal(days, [10, 5, 0, 1])
    rates = ad_prior.ad_log_rates(market, np.array([3, 0]), day, ad_prior.AdPrior(0.5, 1.0))
    np.testing.assert_allclose(rates, ad_prior.relative_log_rates([1, 2], [1, 10], 1.0))


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
    applications in 10 days, ad 0 none. With α = 1 the log rates differ by log 21 = 3.04
    (m = 5 a day: (105 / 11) / (5 / 11)), so w ≥ 0.5 turns the order; with α = 7 by
    log(135 / 35) = 1.35, so w ≥ 0.75 does."""
    u = np.array([[1.0, 0.0]], np.float32)
    v = np.array([[0.5, 0.0], [0.4, 0.0]], np.float32)
    return ad_prior.fit(
        u,
        v,
        np.array([0, 100]),
        np.array([10, 10]),
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
