"""The XGBoost reranking baseline: the same information as Muse.2 as one flat row per pair.

Row = [seeker inputs (Muse.0 seeker vector, seeker numbers), ad inputs (Muse.0 ad vector, ad
numbers), pair features] — what the Muse rerankers see, only not factored. Trained (with
`rank:ndcg` grouped by seeker by default, or `binary:logistic`) on each training seeker's
positives and a seeded sample of its other candidates (memory stays bounded), early-stopped on
the held-out seekers' lists sampled the same way. Inference builds the rows seeker block by
seeker block.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import xgboost as xgb

from jobrec.reranker_model import Lists


@dataclasses.dataclass
class XGBConfig:
    # the best of the 24-configuration search (benchmarks/bench_xgb_search.py, BENCHMARKS.md)
    # on the harder `small` market by held-out candidate Recall@10, the headline the Muse
    # rerankers now early-stop on too (tied with depth 8, rate 0.05: the fewer trees kept)
    max_depth: int = 6
    learning_rate: float = 0.15
    n_estimators: int = 600  # early stopping picks the number of trees
    min_child_weight: float = 1.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    objective: str = "rank:ndcg"
    negatives_per_seeker: int = 100
    early_stopping_rounds: int = 20
    hire_weight: float = 5.0  # relevance label of a hire (an application is 1)
    seed: int = 0


def pair_rows(seeker_x, ad_x, seekers, ads, cross) -> np.ndarray:
    """(P, S + A + C) float32 flat rows for pairs given their rows and pair features.

    Parameters
    ----------
    seeker_x : (N_s, S) float array
        Entity inputs of every seeker row.
    ad_x : (N_a, A) float array
        Entity inputs of every ad row.
    seekers, ads : (P,) int arrays
        Each pair's seeker and ad row.
    cross : (P, C) float array
        Each pair's pair features.

    Returns
    -------
    (P, S + A + C) float32 array
        [seeker inputs, ad inputs, pair features] a pair.
    """
    return np.hstack([seeker_x[seekers], ad_x[ads], cross]).astype(np.float32, copy=False)


def _sampled(lists: Lists, seeker_x, ad_x, cfg: XGBConfig, rng) -> tuple:
    """Positives and up to `negatives_per_seeker` other candidates of each list with a positive:
    (rows, labels, group sizes), all lists at once."""
    positive = (lists.applied | lists.hired) & (lists.ads >= 0)
    groups = np.flatnonzero(positive.any(1))
    if not len(groups):
        raise ValueError("no candidate list holds an application or a hire: nothing to learn")
    ads, pos = lists.ads[groups], positive[groups]
    # a random key per negative; a list keeps its `negatives_per_seeker` smallest keys
    key = np.where(pos | (ads < 0), np.inf, rng.random(ads.shape))
    n = min(cfg.negatives_per_seeker, ads.shape[1])
    kth = np.sort(key, axis=1)[:, n - 1 : n] if n else np.full((len(key), 1), -np.inf)
    take = pos | ((key <= kth) & np.isfinite(key))
    g, k = np.nonzero(take)  # row-major: grouped by list, candidates in rank order
    rows = pair_rows(seeker_x, ad_x, lists.seeker[groups][g], ads[g, k], lists.cross[groups[g], k])
    labels = lists.applied[groups[g], k] + cfg.hire_weight * lists.hired[groups[g], k]
    return rows, labels.astype(np.float32), take.sum(1)


@dataclasses.dataclass
class XGBReport:
    trees: int
    best_iteration: int
    best_score: float
    seconds: float
    train_rows: int
    threads: int
    start_trees: int = 0  # trees kept from the previous night's model (0: from scratch)
    start_score: float | None = None  # their held-out score, before tonight's trees
    warm_from: str | None = None  # the previous night's model it continued, if any
    start: str = "full retrain"  # why it started from scratch or from the previous model


def train_xgb(
    seeker_x,
    ad_x,
    train: Lists,
    valid: Lists,
    cfg: XGBConfig | None = None,
    init: xgb.Booster | None = None,
):
    """Train the XGBoost baseline on sampled rows of `train`, early-stopped on `valid`; or,
    given the previous night's booster `init`, continue it (its trees up to its best iteration)
    with at most `cfg.n_estimators` new trees on tonight's rows.

    Each list with a positive contributes its positives and up to `cfg.negatives_per_seeker`
    other candidates (seeded), for both sets. `rank:*` objectives learn from the groups (label:
    applied + `cfg.hire_weight` × hired); `binary:logistic` from the rows (label: applied or
    hired).

    Parameters
    ----------
    seeker_x : (N_s, S) float array
        Entity inputs of every seeker row.
    ad_x : (N_a, A) float array
        Entity inputs of every ad row.
    train : Lists
        Training lists.
    valid : Lists
        Held-out lists (the early-stopping set).
    cfg : XGBConfig, optional
        Default `XGBConfig()`.
    init : xgboost.Booster, optional
        A booster to continue (the previous night's, same features and configuration). When
        no new tree improves its held-out score, it is kept as it was.

    Returns
    -------
    booster : xgboost.Booster
        The trained booster, its `best_iteration` attribute set (saved with the model;
        `predict_lists` reads it).
    report : XGBReport
        The tree cap, best iteration and score, training seconds, training rows, threads.

    Raises
    ------
    ValueError
        When no list of `train` or `valid` holds an application or a hire.
    """
    cfg = cfg or XGBConfig()
    rng = np.random.default_rng(cfg.seed)
    x_tr, y_tr, g_tr = _sampled(train, seeker_x, ad_x, cfg, rng)
    x_va, y_va, g_va = _sampled(valid, seeker_x, ad_x, cfg, rng)
    ranking = cfg.objective.startswith("rank:")
    if not ranking:
        y_tr, y_va = (y_tr > 0).astype(np.float32), (y_va > 0).astype(np.float32)
    d_tr = xgb.DMatrix(x_tr, label=y_tr, group=g_tr if ranking else None, nthread=-1)
    d_va = xgb.DMatrix(x_va, label=y_va, group=g_va if ranking else None, nthread=-1)
    threads = os.cpu_count() or 1
    params = {
        "objective": cfg.objective,
        "max_depth": cfg.max_depth,
        "eta": cfg.learning_rate,
        "min_child_weight": cfg.min_child_weight,
        "subsample": cfg.subsample,
        "colsample_bytree": cfg.colsample_bytree,
        "tree_method": "hist",
        "nthread": threads,
        "seed": cfg.seed,
        "eval_metric": "ndcg@10" if ranking else "logloss",
    }
    if ranking:
        params["lambdarank_pair_method"] = "topk"
    t0 = time.perf_counter()
    start_trees, start_score = 0, None
    if init is not None:
        init = init[: int(init.attr("best_iteration")) + 1]
        start_trees = init.num_boosted_rounds()
        start_score = _score(init, d_va, params["eval_metric"])
    booster = xgb.train(
        params,
        d_tr,
        num_boost_round=cfg.n_estimators,
        evals=[(d_va, "valid")],
        early_stopping_rounds=cfg.early_stopping_rounds,
        verbose_eval=False,
        xgb_model=init,
    )
    best, best_score = int(booster.best_iteration), float(booster.best_score)
    if start_score is not None and not _better(best_score, start_score, params["eval_metric"]):
        best, best_score = start_trees - 1, start_score  # tonight's trees did not help
    booster.set_attr(best_iteration=str(best))
    report = XGBReport(
        start_trees + cfg.n_estimators,  # the cap
        best,
        best_score,
        time.perf_counter() - t0,
        len(y_tr),
        threads,
        start_trees,
        start_score,
    )
    return booster, report


def _score(booster: xgb.Booster, data: xgb.DMatrix, metric: str) -> float:
    """The booster's `metric` on `data` (all its trees), as xgboost's evaluation prints it."""
    scorer = booster.copy()  # a loaded booster has forgotten its eval_metric (rank:ndcg: @32)
    scorer.set_param({"eval_metric": metric})
    text = scorer.eval_set([(data, "valid")])  # "[0]\tvalid-logloss:0.123"
    return float(text.rsplit(f"valid-{metric}:", 1)[1].split()[0])


def _better(score: float, than: float, metric: str) -> bool:
    return score > than if metric.startswith(("ndcg", "map", "auc")) else score < than


def load_booster(path) -> xgb.Booster:
    """A booster saved by the rerank stage, set to predict on all the machine's cores.

    Parameters
    ----------
    path : path
        The saved model (xgboost.json).

    Returns
    -------
    xgboost.Booster
        Ready for `predict_lists` (it carries `best_iteration`).
    """
    booster = xgb.Booster()
    booster.load_model(path)
    booster.set_param({"nthread": os.cpu_count() or 1})
    return booster


def predict_lists(
    booster: xgb.Booster,
    seeker_x,
    ad_x,
    lists: Lists,
    block: int = 128,
    timings: dict | None = None,
) -> np.ndarray:
    """(G, K) scores (-inf on padding), rows built and scored block by block.

    Parameters
    ----------
    booster : xgboost.Booster
        A booster with a `best_iteration` attribute (`train_xgb`, `load_booster`); the
        trees up to it are used.
    seeker_x : (N_s, S) float array
        Entity inputs of every seeker row.
    ad_x : (N_a, A) float array
        Entity inputs of every ad row.
    lists : Lists
        G lists of K candidates (-1: padding).
    block : int, default 128
        Lists whose rows are built and predicted together.
    timings : dict, optional
        When given, accumulates seconds spent building rows ("rows") and predicting
        ("predict").

    Returns
    -------
    (G, K) float32 array
        The margins (raw scores, before the objective's link), -inf on padding.
    """
    limit = (0, int(booster.attr("best_iteration")) + 1)
    out = np.full(lists.ads.shape, -np.inf, dtype=np.float32)
    for lo in range(0, len(lists.seeker), block):
        hi = min(len(lists.seeker), lo + block)
        t0 = time.perf_counter()
        valid = lists.ads[lo:hi] >= 0
        g, k = valid.shape
        seekers = np.repeat(lists.seeker[lo:hi], k).reshape(g, k)[valid]
        rows = pair_rows(
            seeker_x, ad_x, seekers, lists.ads[lo:hi][valid], lists.cross[lo:hi][valid]
        )
        t1 = time.perf_counter()
        scores = booster.inplace_predict(rows, iteration_range=limit, predict_type="margin")
        t2 = time.perf_counter()
        block_out = out[lo:hi]
        block_out[valid] = scores
        if timings is not None:
            timings["rows"] = timings.get("rows", 0.0) + t1 - t0
            timings["predict"] = timings.get("predict", 0.0) + t2 - t1
    return out
