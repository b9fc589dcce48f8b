"""Muse.0's ad prior: the ad's own application rate so far, added to its retrieval score.

Much of an ad's appeal is its own and shows in no field the towers read: the employer, the
wording, the pay against the region's (in the synthetic market, a hidden lognormal
attractiveness of σ = 1 times an employer effect shared by the employer's ads). A cosine over
the declared fields cannot hold it; the applications the ad has had so far reveal it. On the
`medium` market draw where Muse.0 fell furthest short, its forward misses rose with the ads'
hidden attractiveness (BENCHMARKS.md, "Muse.0's ad prior").

The prior adds w · b_j to every logit, b_j the log of the ad's predicted application rate in
the coming week relative to the market's mean rate: its appeal (its applications against an
average ad's at the same ages, shrunk by α pseudo-days at the mean rate) times what its age
promises (`jobrec.ad_response`). An ad without history gets its age's term alone, so a fresh
ad ranks high for its first days and is not pushed out by old ads' proven rates, as it was by
the first prior, a rate over days online alone (BENCHMARKS.md, "Sixteenth session").

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

from jobrec import ad_response
from jobrec.ad_response import AdHistory, log_appeal
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


def log_rates(history: AdHistory, pseudo_days: float) -> np.ndarray:
    """b_j: the ad's log appeal (`ad_response.log_appeal`, α = `pseudo_days`) plus the log of
    what its age promises for the coming week. An ad without history gets its age's term
    alone; a market without history gives every ad 0 (both terms are 0 there)."""
    return (log_appeal(history, pseudo_days) + history.log_ahead).astype(np.float32)


def ad_log_rates(market: Market, ad_rows: np.ndarray, day: dt.date, prior: AdPrior):
    """`log_rates` of the market's ads `ad_rows` as known on `day`."""
    return log_rates(ad_response.ad_history(market, day, ad_rows), prior.pseudo_days)


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
