"""The three funnel models — response | sent (JR), apply | response (JA), positive outcome | apply
(PO) — on pair features of sends, and their calibration report.

Features of a (seeker, ad) pair sent on day d: the reranker's cross features with the entities as
of d (ad age and popularity at d; the Muse.0 towers' cosine, and its rank among the ads open on
d: the unit vectors without the distance term, which the retrieval score adds), the
Muse.2 score of the pair (the partition's model, entity parts as of the training cut), and the
seeker's engagement (applications in the 28 days before d). The
same function builds them for past sends and for tonight's recommendations (d = D), so the models
see one definition. Models: standardised logistic regressions (scikit-learn), seeded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numba
import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jobrec.pair_features import CROSS_COLUMNS, build_entities, cross_features
from jobrec.reranker_model import score_lists

FEATURES = (*CROSS_COLUMNS, "muse2_score", "seeker_recent_applications")
PAIRS_A_BLOCK = 512 * 1000
RECENT_DAYS = 28  # the seeker's engagement: log(1 + applications in the 28 days before d)
MODELS = ("response", "apply", "positive")  # JR, JA, PO
OUTCOMES = ("responded", "applied", "positive_outcome", "unsubscribed", "negative_feedback")


@dataclasses.dataclass
class Scorer:
    """What pair features need: the market, Muse.0 unit vectors of every seeker and ad row,
    Muse.2 and its entity inputs."""

    market: object
    seeker_vectors: np.ndarray
    ad_vectors: np.ndarray
    muse2: object
    seeker_inputs: np.ndarray
    ad_inputs: np.ndarray
    temperature: float


def scorer_from(night, muse2) -> Scorer:
    """From the partition's shared inputs (jobrec.retrieval.NightInputs) and its Muse.2."""
    return Scorer(
        night.market,
        night.seeker_vectors,
        night.ad_vectors,
        muse2,
        night.inputs.seekers,
        night.inputs.ads,
        night.temperature,
    )


def muse0_rank(
    sc: Scorer, seekers: np.ndarray, ads: np.ndarray, open_ads: np.ndarray, budget: int = 1 << 26
) -> tuple[np.ndarray, np.ndarray]:
    """(cosine, rank among `open_ads` (sorted market ad rows)) of each pair.

    Each distinct seeker's scores over the open ads are computed once (a seeker has many pairs
    tonight) in blocks of at most `budget` scores, and each pair counts the other open ads that
    score above it (its own ad is skipped: its score in the product can differ from the pair's
    cosine in the last bit, and the rank must not depend on the rounding).
    """
    cosine = np.einsum("ij,ij->i", sc.seeker_vectors[seekers], sc.ad_vectors[ads])
    rank = np.empty(len(seekers), dtype=np.int64)
    v = sc.ad_vectors[open_ads].T
    own = np.searchsorted(open_ads, ads)  # the pair's ad as a column, -1 when it is not open
    own = np.where(
        (own < len(open_ads)) & (open_ads[np.minimum(own, len(open_ads) - 1)] == ads), own, -1
    )
    order = np.argsort(seekers, kind="stable")
    distinct, first = np.unique(seekers[order], return_index=True)
    bounds = np.append(first, len(order))
    block = max(1, budget // max(1, len(open_ads)))
    for lo in range(0, len(distinct), block):
        hi = min(len(distinct), lo + block)
        scores = sc.seeker_vectors[distinct[lo:hi]] @ v
        at = order[bounds[lo] : bounds[hi]]
        rows = np.searchsorted(distinct[lo:hi], seekers[at])
        rank[at] = _count_above(scores, rows, own[at], cosine[at]) + 1
    return cosine, rank


@numba.njit(parallel=True, cache=True)
def _count_above(scores, rows, skip, thresholds):
    """For each p: how many of scores[rows[p]], column skip[p] left out, exceed thresholds[p]."""
    out = np.empty(len(rows), dtype=np.int64)
    for p in numba.prange(len(rows)):
        row = scores[rows[p]]
        c = thresholds[p]
        n = 0
        for j in range(row.shape[0]):
            n += row[j] > c
        if skip[p] >= 0 and row[skip[p]] > c:
            n -= 1
        out[p] = n
    return out


def pair_features(sc: Scorer, seekers: np.ndarray, ads: np.ndarray, days: np.ndarray):
    """(n, len(FEATURES)) float32 features of pairs sent on `days` (datetime64[D]).

    Built day by day: the cross features with the entities as of that day (Muse.0 cosine and
    rank among the ads open that day), Muse.2's score of the pair and the seeker's recent
    applications (see the module docstring).

    Parameters
    ----------
    sc : Scorer
        The market, Muse.0 vectors, Muse.2 and its entity inputs.
    seekers, ads : (n,) int arrays
        Market rows of each pair.
    days : (n,) datetime64[D] array
        Each pair's send day (D for tonight's recommendations).

    Returns
    -------
    (n, len(FEATURES)) float32 array
        The CROSS_COLUMNS, then `muse2_score`, then `seeker_recent_applications`.
    """
    out = np.empty((len(seekers), len(FEATURES)), dtype=np.float32)
    for day in np.unique(days):
        at = np.flatnonzero(days == day)
        d = dt.date.fromisoformat(str(day))
        ent = build_entities(sc.market, d, d)
        open_ads = sc.market.ads_open_between(d, d + dt.timedelta(days=1))
        cosine, rank = muse0_rank(sc, seekers[at], ads[at], open_ads)
        cross = cross_features(ent, seekers[at], ads[at], cosine.astype(np.float32), rank)
        out[at, : len(CROSS_COLUMNS)] = cross
        score = score_lists(
            sc.muse2,
            torch.as_tensor(sc.seeker_inputs),
            torch.as_tensor(sc.ad_inputs),
            seekers[at],
            ads[at, None],
            cross[:, None, :],
            torch.device("cpu"),
            block=PAIRS_A_BLOCK,  # one-pair lists: as many pairs a block as 512 lists of 1,000
        )
        out[at, -2] = score[:, 0]
        out[at, -1] = recent_applications(sc.market, d)[seekers[at]]
    return out


def recent_applications(market, day: dt.date, days: int = RECENT_DAYS) -> np.ndarray:
    """log(1 + each seeker's applications in the `days` before `day`): how engaged they are, which
    drives their response to a mail more than the pair does."""
    recent = market.applications.between(day - dt.timedelta(days=days), day)
    return np.log1p(np.bincount(recent.seeker, minlength=len(market.seekers))).astype(np.float32)


@dataclasses.dataclass
class Funnel:
    models: dict  # name -> fitted pipeline

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(n, 3): P(response | sent), P(apply | response), P(positive | apply)."""
        return np.column_stack([self.models[m].predict_proba(x)[:, 1] for m in MODELS])


def _stage_rows(outcomes: pd.DataFrame, model: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows each model learns from and its label: all sends, the responded, the applied."""
    if model == "response":
        return np.ones(len(outcomes), bool), outcomes["responded"].to_numpy(bool)
    if model == "apply":
        return outcomes["responded"].to_numpy(bool), outcomes["applied"].to_numpy(bool)
    return outcomes["applied"].to_numpy(bool), outcomes["positive_outcome"].to_numpy(bool)


def train_funnel(x: np.ndarray, outcomes: pd.DataFrame, seed: int = 0) -> Funnel:
    """Fit the three funnel models, each on the sends of its stage: response on every send,
    apply on the responded, positive on the applied (standardised logistic regressions).

    Parameters
    ----------
    x : (n, len(FEATURES)) float array
        `pair_features` of the sends.
    outcomes : pandas.DataFrame
        n rows of the OUTCOMES booleans.
    seed : int, default 0
        The regressions' random state.

    Returns
    -------
    Funnel
        The fitted pipelines by model name (`MODELS`).

    Raises
    ------
    ValueError
        When a model's training rows hold one class only.
    """
    models = {}
    for model in MODELS:
        rows, label = _stage_rows(outcomes, model)
        if label[rows].all() or not label[rows].any():
            raise ValueError(f"funnel model {model}: one class only in {rows.sum()} training rows")
        pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
        models[model] = pipe.fit(x[rows], label[rows])
    return Funnel(models)


def calibration(funnel: Funnel, x: np.ndarray, outcomes: pd.DataFrame, bins: int = 10) -> dict:
    """Per model on held-out sends: Brier score, the base rate's Brier (predicting the mean) and
    the standard error of their paired difference, AUC, and the reliability table (mean predicted
    against observed by predicted-decile).

    Parameters
    ----------
    funnel : Funnel
        The fitted models.
    x : (n, len(FEATURES)) float array
        `pair_features` of the held-out sends.
    outcomes : pandas.DataFrame
        n rows of the OUTCOMES booleans.
    bins : int, default 10
        Quantile bins of the predictions in the reliability table.

    Returns
    -------
    dict
        Model name -> {`rows`, `base_rate`, `brier_difference_se`, `brier`,
        `brier_base_rate`, `auc`, `reliability` (a (mean predicted, observed rate, sends)
        triple per non-empty bin)}; only `rows` and a NaN `brier` when the model's rows are
        empty or hold one class.
    """
    probs = funnel.probabilities(x)
    report = {}
    for m, model in enumerate(MODELS):
        rows, label = _stage_rows(outcomes, model)
        p, y = probs[rows, m], label[rows]
        if len(y) == 0 or y.all() or not y.any():
            report[model] = {"rows": int(len(y)), "brier": float("nan")}
            continue
        edges = np.quantile(p, np.linspace(0, 1, bins + 1)[1:-1])
        which = np.searchsorted(edges, p, side="right")
        table = [
            (float(p[which == b].mean()), float(y[which == b].mean()), int((which == b).sum()))
            for b in range(bins)
            if (which == b).any()
        ]
        diff = (p - y) ** 2 - (y.mean() - y) ** 2  # per send: model's squared error - base's
        report[model] = {
            "rows": int(len(y)),
            "base_rate": float(y.mean()),
            "brier_difference_se": float(diff.std(ddof=1) / np.sqrt(len(y))),
            "brier": float(brier_score_loss(y, p)),
            "brier_base_rate": float(brier_score_loss(y, np.full(len(y), y.mean()))),
            "auc": float(roc_auc_score(y, p)),
            "reliability": table,
        }
    return report
