"""The ads' application response by age: what the market knew of each ad's applications before
a day, against what an average ad drew at the same ages.

Ads draw most in their first days (in the synthetic market 1 + 4 e^(−age/3) times their later
rate), so an ad's applications per day online confound its appeal with its age. The market's
rate at each age r_a (applications per ad-day online at that age, all ads pooled) gives each
ad the applications an average ad would have had at the same ages, E_j; the ad's appeal is
its own applications c_j against those, and r over its next HORIZON_DAYS of age is what its
age promises. Days online count from the first day of the application log, so an ad older
than the log is not charged with days whose applications it does not hold.

Read by Muse.0's ad prior (`jobrec.retrieval.ad_prior`) and by the rerankers' ad columns
(`jobrec.pair_features`: the ad's log appeal and the log of its age's promise).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from jobrec.data.market import Market

PROFILE_DAYS = 60  # ages in days told apart in the market's age profile; older ads are pooled
PROFILE_PSEUDO_AD_DAYS = 10.0  # shrinks a thinly observed age's rate towards the mean rate
HORIZON_DAYS = 7  # the days ahead an ad's rate is predicted for (the forward window's length)


@dataclasses.dataclass(frozen=True)
class AdHistory:
    """What the market knew of some ads' applications before a day."""

    counts: np.ndarray  # c_j: the ad's applications
    expected: np.ndarray  # E_j: an average ad's applications at the same ages, in the same days
    log_ahead: np.ndarray  # log of an average ad's rate in the next HORIZON_DAYS at its age / m
    mean_rate: float  # m: the ads' applications per day online (0 without history)


def age_profile(
    applied_age: np.ndarray, first_age: np.ndarray, end_age: np.ndarray
) -> tuple[np.ndarray, float]:
    """(r_a, m): the ads' applications per day online at each age a in days (ages from
    PROFILE_DAYS on pooled; each shrunk towards m by PROFILE_PSEUDO_AD_DAYS), and the mean
    rate m over all ages. `applied_age`: each application's ad age; `first_age`, `end_age`:
    each ad's observed ages [first, end)."""
    n = PROFILE_DAYS + 1
    first, end = np.minimum(first_age, PROFILE_DAYS), np.minimum(end_age, PROFILE_DAYS)
    # days online at each age below the pool, and in the pool (ages ≥ PROFILE_DAYS)
    exposure = np.cumsum(np.bincount(first, minlength=n + 1) - np.bincount(end, minlength=n + 1))
    exposure = exposure[:n].astype(np.float64)
    exposure[-1] = np.maximum(end_age - np.maximum(first_age, PROFILE_DAYS), 0).sum()
    counts = np.bincount(np.minimum(applied_age, PROFILE_DAYS), minlength=n)[:n]
    if exposure.sum() <= 0 or counts.sum() <= 0:
        return np.zeros(n), 0.0
    mean = counts.sum() / exposure.sum()
    return (counts + PROFILE_PSEUDO_AD_DAYS * mean) / (exposure + PROFILE_PSEUDO_AD_DAYS), mean


def ad_history(
    market: Market,
    day: dt.date,
    ad_rows: np.ndarray | None = None,
    ahead_from: dt.date | None = None,
) -> AdHistory:
    """The `AdHistory` of the market's ads `ad_rows` (None: all) as known on `day`, their
    age's promise read from `ahead_from` (default: `day`). An ad's days online
    count from its posting or from the first day the application log holds, whichever is
    later (an ad older than the log has unseen applications)."""
    cut = np.datetime64(day, "D")
    apps = market.applications
    known = apps.day < cut
    posted = market.ads["posted_on"].to_numpy("datetime64[D]")
    closed = market.ads["closed_on"].to_numpy("datetime64[D]")
    log_start = apps.day[known].min() if known.any() else cut
    # an ad is open on its closing day (Market.ads_open_between)
    end = np.where(np.isnat(closed), cut, np.minimum(closed + np.timedelta64(1, "D"), cut))
    first_age = np.clip((np.maximum(posted, log_start) - posted).astype(np.int64), 0, None)
    end_age = np.maximum((end - posted).astype(np.int64), first_age)
    applied_age = np.clip((apps.day[known] - posted[apps.ad[known]]).astype(np.int64), 0, None)
    rate, mean = age_profile(applied_age, first_age, end_age)
    counts = np.bincount(apps.ad[known], minlength=len(market.ads))
    # E_j = Σ of r_a over the ad's observed ages; ages past the profile take the pool's rate
    cumulative = np.concatenate([[0.0], np.cumsum(rate)])

    def summed(age):
        return cumulative[np.minimum(age, PROFILE_DAYS)] + rate[-1] * np.maximum(
            age - PROFILE_DAYS, 0
        )

    expected = summed(end_age) - summed(first_age)
    start = cut if ahead_from is None else np.datetime64(ahead_from, "D")
    age_now = np.clip((start - posted).astype(np.int64), 0, None)  # ads posted later: age 0
    ahead = (summed(age_now + HORIZON_DAYS) - summed(age_now)) / HORIZON_DAYS
    log_ahead = np.log(ahead / mean) if mean > 0 else np.zeros(len(posted))
    rows = slice(None) if ad_rows is None else ad_rows
    return AdHistory(counts[rows], expected[rows], log_ahead[rows], float(mean))


def log_appeal(history: AdHistory, pseudo_days: float) -> np.ndarray:
    """log((c_j + α m) / (E_j + α m)): the ad's applications against an average ad's at the
    same ages, shrunk by α pseudo-days at the mean rate m (0 without history, or in a market
    without any)."""
    if history.mean_rate <= 0:
        return np.zeros(len(history.counts), np.float32)
    pseudo = pseudo_days * history.mean_rate
    return np.log((history.counts + pseudo) / (history.expected + pseudo)).astype(np.float32)
