"""Muse.0's ad prior: the ad's own application rate so far, added to its retrieval score.

Much of an ad's appeal is its own and shows in no field the towers read: the employer, the
wording, the pay against the region's (in the synthetic market, a hidden lognormal
attractiveness of σ = 1 times an employer effect shared by the employer's ads). A cosine over
the declared fields cannot hold it; the applications the ad has had so far reveal it. On the
`medium` market draw where Muse.0 fell furthest short, its forward misses rose with the ads'
hidden attractiveness (BENCHMARKS.md, "Muse.0's ad prior").

The prior adds w · b_j to every logit, b_j the log of the ad's predicted application rate in
the coming week relative to the market's mean rate m. Ads draw most in their first days (in
the synthetic market 1 + 4 e^(−age/3) times their later rate), so the prediction is age-aware:
the market's rate at each age r_a (applications per ad-day online at that age) gives each ad
the applications an average ad would have had at the same ages, E_j, and its appeal is
(c_j + α m) / (E_j + α m), its own applications c_j against those, shrunk by α pseudo-days at
the mean rate. b_j = log appeal + log(r over the ad's next HORIZON_DAYS of age / m): an ad
without history gets its age's term alone, so a fresh ad ranks high for its first days and is
not pushed out by old ads' proven rates (as the prior over days online alone did,
BENCHMARKS.md, "Sixteenth session"). Days online count from the first day of the application
log, so an ad older than the log is not charged with days whose applications it does not hold.

Muse.0 trains without the prior; w and α are then chosen on the validation window, the one
early stopping reads (its rates dated at the window's start), from a grid that holds w = 0:
where the prior does not help, it is off. In score vectors the seeker's gains the constant
τ·w and the ad's gains b_j, so retrieval stays one exact top-k over a matrix product (τ: the
temperature, as in `Muse0.score_vectors`). The rerankers' Muse.0 column leaves the prior's
part out.

Off by default (`JOBREC_AD_PRIOR=1`, `RetrievalSettings.ad_prior_weights`): it lifts Muse.0's
own recall but not Muse.2's, and the better candidates help XGBoost more, so Muse.2's lead
shrinks (BENCHMARKS.md, "Seventeenth session").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import numpy as np

from jobrec.data.market import Market
from jobrec.evaluation.metrics import ranking_metrics
from jobrec.retrieval.topk import exact_topk


@dataclasses.dataclass(frozen=True)
class AdPrior:
    weight: float = 0.0  # w, in logits per unit of log rate; 0: off
    pseudo_days: float = 1.0  # α: the appeal's shrinkage towards the mean, in days online

    @classmethod
    def from_report(cls, report: dict) -> AdPrior:
        """The prior a Muse.0 training report records (off for models saved before it)."""
        saved = report.get("ad_prior") or {}
        return cls(float(saved.get("weight", 0.0)), float(saved.get("pseudo_days", 1.0)))


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


def log_rates(history: AdHistory, pseudo_days: float) -> np.ndarray:
    """b_j = log((c_j + α m) / (E_j + α m)) + log_ahead_j: the ad's appeal (its applications
    against an average ad's at the same ages, shrunk by α pseudo-days at the mean rate m)
    times what its age promises for the days ahead. An ad without history gets its age's
    term alone; a market without history gives every ad 0."""
    if history.mean_rate <= 0:
        return np.zeros(len(history.counts), np.float32)
    pseudo = pseudo_days * history.mean_rate
    appeal = np.log((history.counts + pseudo) / (history.expected + pseudo))
    return (appeal + history.log_ahead).astype(np.float32)


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


def ad_history(market: Market, ad_rows: np.ndarray, day: dt.date) -> AdHistory:
    """The `AdHistory` of the market's ads `ad_rows` as known on `day`. An ad's days online
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
    age_now = np.clip((cut - posted).astype(np.int64), 0, None)  # ads posted later: age 0
    ahead = (summed(age_now + HORIZON_DAYS) - summed(age_now)) / HORIZON_DAYS
    log_ahead = np.log(ahead / mean) if mean > 0 else np.zeros(len(posted))
    return AdHistory(counts[ad_rows], expected[ad_rows], log_ahead[ad_rows], float(mean))


def ad_log_rates(market: Market, ad_rows: np.ndarray, day: dt.date, prior: AdPrior):
    """`log_rates` of the market's ads `ad_rows` as known on `day`."""
    return log_rates(ad_history(market, ad_rows, day), prior.pseudo_days)


def tonight_scores(market: Market, prior: AdPrior, temperature: float) -> np.ndarray:
    """τ·w·b_j of every market ad row as `embed.job_ads` holds b_j tonight (the active ads'
    rates as known at D, 0 elsewhere): the prior's part of each candidate's score."""
    out = np.zeros(len(market.ads), np.float32)
    rows = market.active_ads()
    out[rows] = temperature * prior.weight * ad_log_rates(market, rows, market.run_date, prior)
    return out


def seeker_column(n: int, prior: AdPrior, temperature: float) -> np.ndarray:
    """The seekers' prior column, τ·w (the ads' is their log rates)."""
    return np.full((n, 1), temperature * prior.weight, np.float32)


def with_prior(
    seeker_vectors: np.ndarray,
    ad_vectors: np.ndarray,
    log_rates: np.ndarray,
    prior: AdPrior,
    temperature: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Score vectors with the prior's column: seeker · ad = τ (logit + w b_j)."""
    return (
        np.hstack([seeker_vectors, seeker_column(len(seeker_vectors), prior, temperature)]),
        np.hstack([ad_vectors, np.asarray(log_rates, np.float32)[:, None]]),
    )


def fit(
    seeker_vectors: np.ndarray,
    ad_vectors: np.ndarray,
    history: AdHistory,
    relevant: tuple[np.ndarray, np.ndarray],
    excluded: tuple[np.ndarray, np.ndarray],
    temperature: float,
    k: int,
    weights: Sequence[float],
    pseudo_days: Sequence[float],
) -> tuple[AdPrior, list[dict]]:
    """The grid point of best held-out Recall@k (the smaller weight on a tie: w = 0 unless
    the prior helps).

    Parameters
    ----------
    seeker_vectors, ad_vectors : (S, d), (A, d) float32 arrays
        Muse.0 score vectors of the held-out seekers and of the window's ads.
    history : AdHistory
        The window's ads' applications before it.
    relevant, excluded : pairs of (seeker position, ad position) arrays
        The window's applications, and the earlier ones left out of the lists.
    temperature : float
        Muse.0's.
    k : int
        The recall's cut-off (early stopping's).
    weights, pseudo_days : sequences of float
        The grid.

    Returns
    -------
    (AdPrior, list of dict)
        The chosen prior, and each grid point's `weight`, `pseudo_days` and `recall`.
    """
    k = min(k, len(ad_vectors))
    grid = []
    for alpha in pseudo_days:
        rates = log_rates(history, alpha)
        for w in sorted(weights):
            if w == 0 and grid and grid[0]["weight"] == 0:
                continue  # w = 0 ignores α: scored once
            u, v = with_prior(seeker_vectors, ad_vectors, rates, AdPrior(w, alpha), temperature)
            scores, top = exact_topk(u, v, k, *excluded)
            top = np.where(np.isfinite(scores), top, -1)
            recall = ranking_metrics(top, *relevant, len(ad_vectors) + 1, (k,))[0].recall
            grid.append({"weight": float(w), "pseudo_days": float(alpha), "recall": recall})
    best = max(grid, key=lambda g: (g["recall"], -g["weight"]))
    return AdPrior(best["weight"], best["pseudo_days"]), grid
