"""The hiring head's data (jobrec.rerank.hiring) on a hand market: which applications are
settled, their labels, and their pair features as of their own week."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from jobrec.pair_features import CROSS_COLUMNS, build_entities, cross_features
from jobrec.rerank.hiring import HireSettings, hire_delays, hire_pairs, settle_days
from tests.core.test_pair_features import D, events, hand_market

COL = {name: i for i, name in enumerate(CROSS_COLUMNS)}
CUT = D - dt.timedelta(days=7)  # the training cut of the hand market's night: 2026-03-03


def market_with_hires():
    """The hand market's applications (before CUT: S0-A0 02-10, S1-A0 02-20, S1-A2 02-01,
    S2-A0 03-02) with hires 10, 5 and 1 days after three of them, one after the cut."""
    market = hand_market()
    market.hires = events(
        [
            (0, 0, "2026-02-20"),  # 10 days after S0's application
            (1, 2, "2026-02-06"),  # 5 days
            (1, 0, "2026-03-04"),  # 12 days, but after the cut: not known at it
            (2, 3, "2026-02-25"),  # a hire without an application: no delay
        ]
    )
    return market


def test_hire_delays_by_hand():
    assert sorted(hire_delays(market_with_hires(), CUT).tolist()) == [5, 10]
    assert hire_delays(hand_market(), CUT).tolist() == []  # no hires


def test_a_repeated_application_dates_the_delay_from_the_first():
    market = market_with_hires()
    market.applications = events([(0, 0, "2026-02-10"), (0, 0, "2026-02-15"), (1, 2, "2026-02-01")])
    assert sorted(hire_delays(market, CUT).tolist()) == [5, 10]


def test_settle_days_is_the_delay_quantile_capped_by_the_history():
    market = market_with_hires()
    # delays 5 and 10: the 0.99 quantile is 9.95, rounded up
    assert settle_days(market, CUT) == 10
    assert settle_days(market, CUT, HireSettings(delay_quantile=0.0)) == 5
    # the history runs 30 days before the cut (from 02-01): at most a tenth of it is 3 days
    assert settle_days(market, CUT, HireSettings(max_unsettled_share=0.1)) == 3
    assert settle_days(hand_market(), CUT) == 0  # no hire: everything counts


def test_hire_pairs_keep_the_settled_applications_with_their_labels():
    market = market_with_hires()
    ent = build_entities(market, CUT, CUT)
    pairs = hire_pairs(market, ent, CUT)
    assert pairs.settle_days == 10  # applications before 02-21 are settled
    got = sorted(zip(pairs.seeker.tolist(), pairs.ad.tolist(), pairs.hired.tolist(), strict=True))
    # S2-A0 of 03-02 is too young; S1-A0 (02-20) is settled and, as known at the cut, not hired
    assert got == [(0, 0, True), (1, 0, False), (1, 2, True)]
    assert (pairs.cross[:, [COL["muse0_cosine"], COL["muse0_log_rank"]]] == 0).all()


def test_hire_pairs_take_the_features_of_their_own_week():
    market = market_with_hires()
    ent = build_entities(market, CUT, CUT)
    pairs = hire_pairs(market, ent, CUT)
    # weeks end at the settled end 02-21: [02-14, 02-21) holds S1-A0 (02-20),
    # [02-07, 02-14) S0-A0 (02-10), [01-31, 02-07) S1-A2 (02-01)
    week_start = {
        (1, 0): dt.date(2026, 2, 14),
        (0, 0): dt.date(2026, 2, 7),
        (1, 2): dt.date(2026, 1, 31),
    }
    posted = market.ads["posted_on"].dt.date
    for i, (u, j) in enumerate(zip(pairs.seeker.tolist(), pairs.ad.tolist(), strict=True)):
        start = week_start[(u, j)]
        age = (start - posted[j]).days
        assert pairs.cross[i, COL["ad_age_30d"]] == pytest.approx(age / 30, abs=1e-6)
        before = (market.applications.ad == j) & (
            market.applications.day < np.datetime64(start, "D")
        )
        assert pairs.cross[i, COL["ad_log_popularity"]] == pytest.approx(np.log1p(before.sum()))
        # the full entities of that day give the same row
        full = build_entities(market, start, start)
        zeros = np.zeros(1, np.float32)
        expected = cross_features(full, np.array([u]), np.array([j]), zeros, zeros)[0]
        np.testing.assert_allclose(pairs.cross[i], expected, rtol=1e-6, atol=1e-6)
    # at the cut A0 is 23 days old with three applications; in S1's week it was 6 days old
    row = {(u, j): i for i, (u, j) in enumerate(zip(pairs.seeker, pairs.ad, strict=True))}
    assert pairs.cross[row[1, 0], COL["ad_age_30d"]] == pytest.approx(6 / 30, abs=1e-6)
    assert pairs.cross[row[1, 0], COL["ad_log_popularity"]] == pytest.approx(np.log1p(1))


def test_no_hires_keeps_every_application_before_the_cut():
    market = hand_market()
    pairs = hire_pairs(market, build_entities(market, CUT, CUT), CUT)
    assert pairs.settle_days == 0
    assert len(pairs.seeker) == 4 and not pairs.hired.any()
