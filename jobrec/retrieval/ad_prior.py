"""Muse.0's ad prior: the ad's own application rate so far, added to its retrieval score.

Much of an ad's appeal is its own and shows in no field the towers read: the employer, the
wording, the pay against the region's (in the synthetic market, a hidden lognormal
attractiveness of σ = 1 times an employer effect shared by the employer's ads). A cosine over
the declared fields cannot hold it; the applications the ad has had so far reveal it. On the
`medium` market draw where Muse.0 fell furthest short, its forward misses rose with the ads'
hidden attractiveness (BENCHMARKS.md, "Muse.0's ad prior").

The prior adds w · b_j to every logit, b_j the log of the ad's applications per day online
before the scoring day, shrunk towards the market's mean rate by `pseudo_days` days and
relative to it (an ad without history gets 0, the mean). Muse.0 trains without it; w and the
pseudo-days are then chosen on the validation window, the one early stopping reads (its rates
dated at the window's start), from a grid that holds w = 0: where the prior does not help,
it is off. In score vectors the seeker's gains the constant τ·w and the ad's gains b_j, so
retrieval stays one exact top-k over a matrix product (τ: the temperature, as in
`Muse0.score_vectors`). The rerankers' Muse.0 column leaves the prior's part out.

Off by default (`JOBREC_AD_PRIOR=1`, `RetrievalSettings.ad_prior_weights`): it lifts Muse.0's
own recall but not Muse.2's, the better candidates helped XGBoost more, and a new ad's shrunk
rate pushes fresh ads out of the candidates (BENCHMARKS.md, "Sixteenth session").
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
    pseudo_days: float = 1.0  # the shrinkage towards the market's mean rate, in days online

    @classmethod
    def from_report(cls, report: dict) -> AdPrior:
        """The prior a Muse.0 training report records (off for models saved before it)."""
        saved = report.get("ad_prior") or {}
        return cls(float(saved.get("weight", 0.0)), float(saved.get("pseudo_days", 1.0)))


def relative_log_rates(
    counts: np.ndarray, days_online: np.ndarray, pseudo_days: float
) -> np.ndarray:
    """log((c_j + α m) / (d_j + α)) − log m per ad: c_j applications over d_j days online,
    α pseudo-days, m = Σc / Σd the ads' mean rate (0 for every ad when none has history)."""
    counts = np.asarray(counts, np.float64)
    days = np.asarray(days_online, np.float64)
    if counts.sum() <= 0 or days.sum() <= 0:
        return np.zeros(len(counts), np.float32)
    mean = counts.sum() / days.sum()
    rates = (counts + pseudo_days * mean) / (days + pseudo_days)
    return (np.log(rates) - np.log(mean)).astype(np.float32)


def ad_history(market: Market, ad_rows: np.ndarray, day: dt.date):
    """(applications, days online) of the market's ads `ad_rows` before `day`."""
    cut = np.datetime64(day, "D")
    apps = market.applications
    counts = np.bincount(apps.ad[apps.day < cut], minlength=len(market.ads))[ad_rows]
    posted = market.ads["posted_on"].to_numpy("datetime64[D]")[ad_rows]
    closed = market.ads["closed_on"].to_numpy("datetime64[D]")[ad_rows]
    # an ad is open on its closing day (Market.ads_open_between)
    end = np.where(np.isnat(closed), cut, np.minimum(closed + np.timedelta64(1, "D"), cut))
    return counts, np.clip((end - posted).astype(np.int64), 0, None)


def ad_log_rates(market: Market, ad_rows: np.ndarray, day: dt.date, prior: AdPrior):
    """`relative_log_rates` of the market's ads `ad_rows` as known on `day`."""
    return relative_log_rates(*ad_history(market, ad_rows, day), prior.pseudo_days)


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
    counts: np.ndarray,
    days_online: np.ndarray,
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
    counts, days_online : (A,) arrays
        Each ad's applications and days online before the window.
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
        rates = relative_log_rates(counts, days_online, alpha)
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
