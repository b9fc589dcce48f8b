"""The ads' application response by age: the market's age profile and the ads' appeal."""

from __future__ import annotations

import numpy as np
import pytest

from jobrec import ad_response


def test_age_profile_by_hand():
    # ad 0 seen at ages 0-2, ad 1 at age 0, ad 2 at ages 65-74 (the pool from PROFILE_DAYS = 60)
    rate, mean = ad_response.age_profile(
        applied_age=np.array([0, 0, 0, 1, 2, 70]),
        first_age=np.array([0, 0, 65]),
        end_age=np.array([3, 1, 75]),
    )
    assert ad_response.PROFILE_DAYS == 60 and ad_response.PROFILE_PSEUDO_AD_DAYS == 10
    assert mean == pytest.approx(6 / 14)  # six applications over 2 + 1 + 1 + 10 days online
    m = mean
    assert rate[0] == pytest.approx((3 + 10 * m) / (2 + 10))
    assert rate[1] == pytest.approx((1 + 10 * m) / (1 + 10)) == pytest.approx(rate[2])
    assert rate[5] == pytest.approx(m)  # an age never seen: the mean
    assert rate[60] == pytest.approx((1 + 10 * m) / (10 + 10))
    # no history at all
    rate, mean = ad_response.age_profile(np.array([], np.int64), np.array([0]), np.array([0]))
    assert mean == 0 and not rate.any()


def test_log_appeal_by_hand():
    history = ad_response.AdHistory(
        counts=np.array([0, 10, 4]),
        expected=np.array([0.0, 5.0, 4.0]),
        log_ahead=np.zeros(3),
        mean_rate=2.0,
    )
    # α = 7 pseudo-days at m = 2: fourteen pseudo-applications over fourteen expected
    np.testing.assert_allclose(
        ad_response.log_appeal(history, 7.0), [0.0, np.log(24 / 19), 0.0], atol=1e-7
    )
    none = ad_response.AdHistory(np.zeros(2), np.zeros(2), np.zeros(2), 0.0)
    np.testing.assert_array_equal(ad_response.log_appeal(none, 7.0), [0, 0])
