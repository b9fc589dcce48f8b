"""The rerank stage of partition D: lists with pair features, training and scoring of Muse.1,
Muse.2 and the XGBoost baseline, and the evaluation rows.

Training lists: the Muse.0 top-1,000 of the validation-window seekers (ranked over the ads open
in [D - 7, D), earlier applications excluded, as the retrieval evaluation ranks them), labelled
with their applications and hires in the window. The seekers are split once, seeded: 70% train
the rerankers, 30% are held out (early stopping, and the rerank stage's validation metrics,
with Muse.0 scored on the same held-out seekers beside them). Tonight's lists are
recs.candidates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import torch

from jobrec import modelstore
from jobrec import muse0 as m0
from jobrec import warehouse as wh
from jobrec.cross import (
    CROSS_COLUMNS,
    Entities,
    build_entities,
    cross_features,
    entity_numerics,
)
from jobrec.evaluation import (
    Split,
    metric_rows,
    pairs_in,
    per_seeker_recall,
    positions,
    splits,
)
from jobrec.market import Market, load_market
from jobrec.metrics import hits_matrix
from jobrec.rerank import (
    HirePairs,
    Lists,
    RerankConfig,
    ScoringTables,
    load_reranker,
    per_list_recall,
    recall_at,
    save_reranker,
    score_tables,
    scoring_tables,
    train_reranker,
)
from jobrec.retrieval import exact_topk
from jobrec.retrieval_pipeline import (
    CANDIDATES_K,
    EVALUATION_SEEKERS,
    load_features,
    load_muse0,
    oracle_sample,
    paired_difference,
    read_lists,
    tower_inputs,
)
from jobrec.xgb_baseline import load_booster, train_xgb
from jobrec.xgb_baseline import score_lists as score_xgb

HOLDOUT_SHARE = 0.3
CPU = torch.device("cpu")
MAX_TRAIN_SEEKERS = 5000
MAX_HOLDOUT_SEEKERS = 3000


@dataclasses.dataclass
class EntityInputs:
    """Reranker entity inputs for every seeker/ad row of the market: [Muse.0 vector, numbers]."""

    seekers: np.ndarray
    ads: np.ndarray


def entity_inputs(model, seekers: m0.TowerInputs, ads: m0.TowerInputs, ent: Entities):
    return EntityInputs(
        np.hstack([m0.embed(model, "seekers", seekers), entity_numerics(ent.seekers, False)]),
        np.hstack([m0.embed(model, "ads", ads), entity_numerics(ent.ads, True)]),
    )


def split_seekers(split: Split, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, holdout) seeker rows of a window, seeded, sorted, capped."""
    who = split.seekers(np.iinfo(np.int64).max, seed)
    rng = np.random.default_rng(seed + 7)
    holdout = rng.random(len(who)) < HOLDOUT_SHARE
    train, held = who[~holdout], who[holdout]
    if len(train) > MAX_TRAIN_SEEKERS:
        train = np.sort(rng.choice(train, MAX_TRAIN_SEEKERS, replace=False))
    if len(held) > MAX_HOLDOUT_SEEKERS:
        held = np.sort(rng.choice(held, MAX_HOLDOUT_SEEKERS, replace=False))
    return train, held


def labelled_lists(
    model,
    seekers_in: m0.TowerInputs,
    ads_in: m0.TowerInputs,
    ent: Entities,
    split: Split,
    who: np.ndarray,
    k: int,
) -> Lists:
    """Muse.0's top-k of `who` over the split's universe, with pair features and labels."""
    u = m0.embed(model, "seekers", seekers_in, who)
    v = m0.embed(model, "ads", ads_in, split.universe)
    k = min(k, len(split.universe))
    scores, pos = exact_topk(u, v, k, *pairs_in(who, split.universe, split.seen, False))
    pos = np.where(np.isfinite(scores), pos, -1)
    return _lists(ent, who, split, pos, scores * model.cfg.temperature)


def _pair_features(ent: Entities, who: np.ndarray, ads: np.ndarray, cosine: np.ndarray):
    """(G, K, C) pair features of lists (ad rows, -1 padded) with their Muse.0 cosines."""
    g, k = ads.shape
    valid = ads >= 0
    rows = np.repeat(who, k).reshape(g, k)
    rank = np.tile(np.arange(1, k + 1), (g, 1))
    cross = np.zeros((g, k, len(CROSS_COLUMNS)), dtype=np.float32)
    cross[valid] = cross_features(ent, rows[valid], ads[valid], cosine[valid], rank[valid])
    return cross


def _lists(ent: Entities, who: np.ndarray, split: Split, pos: np.ndarray, cosine: np.ndarray):
    ads = np.where(pos >= 0, split.universe[np.maximum(pos, 0)], -1)
    labels = {}
    for kind in ("applications", "hires"):
        r, p = pairs_in(who, split.universe, split.relevant[kind], keep_outside=False)
        labels[kind] = hits_matrix(pos, r, p, len(split.universe))
    return Lists(
        who, ads, _pair_features(ent, who, ads, cosine), labels["applications"], labels["hires"]
    )


def hire_pairs(market: Market, ent: Entities, before: dt.date) -> HirePairs:
    """Every application before `before`, labelled hired or not (the hiring head's data)."""
    apps = market.applications.between(dt.date.min, before)
    hires = market.hires.between(dt.date.min, before)
    n_ads = len(market.ads)
    hired = np.isin(
        apps.seeker.astype(np.int64) * n_ads + apps.ad,
        hires.seeker.astype(np.int64) * n_ads + hires.ad,
    )
    zeros = np.zeros(len(apps), np.float32)  # Muse.0 features: masked for this head anyway
    cross = cross_features(ent, apps.seeker, apps.ad, zeros, zeros)
    return HirePairs(apps.seeker, apps.ad, cross, hired)


def tonight_lists(
    con, run_date: dt.date, market: Market, ent: Entities, temperature: float, seekers: np.ndarray
) -> Lists:
    """recs.candidates of D for `seekers` (market rows) with pair features; labels from the
    forward window when the raw data holds it."""
    ads, scores = read_lists(con, "recs.candidates", run_date, market, seekers, CANDIDATES_K)
    cosine = np.nan_to_num(scores) * temperature
    keys = seekers.astype(np.int64)[:, None] * len(market.ads) + ads
    labels = []
    for events in (market.forward_applications, market.forward_hires):
        if events is None:
            labels.append(np.zeros(ads.shape, bool))
        else:
            known = events.seeker.astype(np.int64) * len(market.ads) + events.ad
            labels.append(np.isin(keys, known) & (ads >= 0))
    return Lists(seekers, ads, _pair_features(ent, seekers, ads, cosine), *labels)


def top_of(scores: np.ndarray, lists: Lists, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each list's k best (ad rows, scores), best first (-1 / -inf padding)."""
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top_scores = np.take_along_axis(scores, order, axis=1)
    top_ads = np.where(np.isfinite(top_scores), np.take_along_axis(lists.ads, order, axis=1), -1)
    return top_ads, top_scores


def frame_of(rows: list[dict], run_date: dt.date) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if len(frame):
        frame.insert(0, "run_date", run_date)
    return frame


RERANK_KEEP = {"muse2": 300, "muse1": 100, "xgboost": 100}  # list lengths in recs.reranked
RERANK_KS = (10, 100)
SEED = 0


@dataclasses.dataclass
class Prepared:
    """What every rerank step of partition D starts from."""

    market: Market
    muse0: object
    seekers_in: m0.TowerInputs
    ads_in: m0.TowerInputs
    inputs: EntityInputs
    train_entities: Entities  # pair features as of the training cut (D - 7)
    tonight_entities: Entities  # as of D


def prepare(con, run_date: dt.date, models_dir) -> Prepared:
    market = load_market(con, run_date)
    space = load_features(models_dir, run_date)
    muse0, _ = load_muse0(models_dir, run_date)
    seekers_in, ads_in = tower_inputs(space, market)
    t = market.train_end
    train_ent = build_entities(market, t, t)
    return Prepared(
        market,
        muse0,
        seekers_in,
        ads_in,
        entity_inputs(muse0, seekers_in, ads_in, train_ent),
        train_ent,
        build_entities(market, run_date, run_date),
    )


def training_lists(p: Prepared, k: int = 1000) -> tuple[Lists, Lists]:
    """(train, holdout) labelled lists of the validation window's seekers."""
    validation = splits(p.market)[0]
    train, held = split_seekers(validation, SEED)
    return tuple(
        labelled_lists(p.muse0, p.seekers_in, p.ads_in, p.train_entities, validation, who, k)
        for who in (train, held)
    )


def train_model(con, run_date: dt.date, models_dir, kind: str, log=None) -> dict:
    """Train one reranker (muse1, muse2 or xgboost) and save it under the models folder."""
    p = prepare(con, run_date, models_dir)
    train, held = training_lists(p)
    with modelstore.writing(models_dir, run_date, kind) as folder:
        if kind == "xgboost":
            model, report = train_xgb(p.inputs.seekers, p.inputs.ads, train, held)
            model.save_model(folder / "xgboost.json")
            scores = score_xgb(model, p.inputs.seekers, p.inputs.ads, held)
        else:
            cfg = RerankConfig(kind=kind, seed=SEED)
            hires = (
                hire_pairs(p.market, p.train_entities, p.market.train_end)
                if kind == "muse2"
                else None
            )
            model, report = train_reranker(
                p.inputs.seekers, p.inputs.ads, train, held, hires, cfg, log=log
            )
            save_reranker(model, report, folder / "model.pt")
            scores = _score_muse(model, p.inputs, held)
        stats = dataclasses.asdict(report)
        muse0_scores = _muse0_order(held)
        for k in (10, 100):
            stats[f"holdout_candidate_recall_at_{k}"] = recall_at(scores, held.applied, k)
            stats[f"muse0_candidate_recall_at_{k}"] = recall_at(muse0_scores, held.applied, k)
        diff, se = paired_difference(
            per_list_recall(scores, held.applied, 10),
            per_list_recall(muse0_scores, held.applied, 10),
        )
        stats["recall_at_10_gain_over_muse0"], stats["recall_at_10_gain_se"] = diff, se
        (folder / "training.json").write_text(json.dumps(stats, indent=2, default=float))
    stats.update(train_seekers=len(train.seeker), holdout_seekers=len(held.seeker))
    return stats


def _muse0_order(lists: Lists) -> np.ndarray:
    """Scores that keep Muse.0's order of the lists (rank 1 best)."""
    k = lists.ads.shape[1]
    return np.where(lists.ads >= 0, -np.arange(k, dtype=np.float32)[None, :], -np.inf)


def muse_tables(model, inputs: EntityInputs, ads: np.ndarray | None = None) -> ScoringTables:
    """A Muse model's folded tables over every seeker of the market and the ads `ads` (None:
    all), on the CPU wherever it trained: with the pair features on the host, the fused CPU
    kernel beat a GPU's eager path on the same machine (16 cores against an H200: 2.8x at
    `small` shapes; BENCHMARKS.md, "Rerank inference")."""
    return scoring_tables(model, torch.as_tensor(inputs.seekers), torch.as_tensor(inputs.ads), ads)


def _score_muse(model, inputs: EntityInputs, lists: Lists) -> np.ndarray:
    return score_tables(muse_tables(model, inputs), lists.seeker, lists.ads, lists.cross)


def load_scorers(
    models_dir, run_date: dt.date, inputs: EntityInputs, ads: np.ndarray | None = None
) -> dict:
    """The three trained rerankers of D, ready to score lists whose candidates are among `ads`
    (None: any ad of the market): Muse's tables are built once here (entity towers over every
    seeker and those ads), XGBoost as loaded."""
    folder = lambda kind: modelstore.model_dir(models_dir, run_date, kind)  # noqa: E731
    scorers = {
        kind: muse_tables(load_reranker(folder(kind) / "model.pt", CPU)[0], inputs, ads)
        for kind in ("muse2", "muse1")
    }
    scorers["xgboost"] = load_booster(folder("xgboost") / "xgboost.json")
    return scorers


def score_all(scorers: dict, inputs: EntityInputs, lists: Lists) -> dict[str, np.ndarray]:
    return {
        kind: score_xgb(scorer, inputs.seekers, inputs.ads, lists)
        if kind == "xgboost"
        else score_tables(scorer, lists.seeker, lists.ads, lists.cross)
        for kind, scorer in scorers.items()
    }


def locality_order(market: Market, seekers: np.ndarray) -> np.ndarray:
    """`seekers` (market rows) grouped by desired occupation: seekers of one occupation share
    most of their candidates, so scored one after another their ads' rows stay in the core's
    cache (with `tonight_ads`, a `medium` night's pair part took 13.7 against 18.0 ns a pair;
    BENCHMARKS.md, "Rerank inference")."""
    return _grouped_by(seekers, market.seekers["desired_occupation"])


def tonight_ads(market: Market) -> np.ndarray:
    """The ads tonight's candidates come from (the active ones), grouped by occupation: the row
    order of Muse's compact ad table, so that seekers scored together (`locality_order`) gather
    from a narrow band of it."""
    return _grouped_by(market.active_ads(), market.ads["occupation"])


def _grouped_by(rows: np.ndarray, labels: pd.Series) -> np.ndarray:
    """`rows` ordered by their label (labels sorted), ascending within one label."""
    codes = pd.factorize(labels, sort=True)[0][rows]
    return rows[np.lexsort((rows, codes))]


def tonight_seekers(con, run_date: dt.date, market: Market) -> np.ndarray:
    """The seekers with candidates tonight (market rows), in the order they are scored
    (`locality_order`)."""
    ids = con.execute(
        "SELECT DISTINCT jobseeker_id FROM recs.candidates WHERE run_date = ? ORDER BY 1",
        [run_date],
    ).df()["jobseeker_id"]
    return locality_order(market, market.seeker_index(ids))


def write_reranked(con, run_date: dt.date, models_dir, block_seekers: int = 2000, log=None):
    """Rerank tonight's candidates of every active seeker with the three models, seeker block
    by seeker block (seekers of one occupation together, see `locality_order`), and replace the
    partition of recs.reranked."""
    p = prepare(con, run_date, models_dir)
    scorers = load_scorers(models_dir, run_date, p.inputs, tonight_ads(p.market))
    temperature = p.muse0.cfg.temperature
    con.execute(wh.sql("create_recs_reranked"))
    con.execute("DELETE FROM recs.reranked WHERE run_date = ?", [run_date])
    seekers = tonight_seekers(con, run_date, p.market)
    seeker_ids = p.market.seekers["jobseeker_id"].to_numpy()
    ad_ids = p.market.ads["ad_id"].to_numpy()
    rows = dict.fromkeys(scorers, 0)
    for lo in range(0, len(seekers), block_seekers):
        lists = tonight_lists(
            con,
            run_date,
            p.market,
            p.tonight_entities,
            temperature,
            seekers[lo : lo + block_seekers],
        )
        for kind, scores in score_all(scorers, p.inputs, lists).items():
            top_ads, top_scores = top_of(scores, lists, RERANK_KEEP[kind])
            rows[kind] += wh.insert_ranked(
                con,
                "recs.reranked",
                run_date,
                seeker_ids,
                ad_ids,
                lists.seeker,
                top_ads,
                top_scores,
                {"model": kind},
            )
        if log:
            log(f"reranked {min(lo + block_seekers, len(seekers))}/{len(seekers)} seekers")
    return {"seekers": len(seekers), **{f"rows_{k}": v for k, v in rows.items()}}


@dataclasses.dataclass
class RerankEvaluation:
    rows: pd.DataFrame
    holdout_recall_at_100: dict[str, np.ndarray]  # per held-out seeker with applications


def evaluate(
    con, run_date: dt.date, models_dir, has_oracle: bool = False, log=None
) -> RerankEvaluation:
    """metrics.ranking rows of the rerank stage (k 10 and 100, both relevances): validation on
    the held-out seekers of the validation window (Muse.0 beside them on the same seekers),
    forward from recs.reranked when the raw data holds the forward window (and on the oracle's
    seeker sample when the market has an oracle: the oracle's own rows come from the retrieval
    evaluation; on the validation window the rerankers trained on part of that sample, so only
    the forward window gives them oracle-sample rows)."""
    p = prepare(con, run_date, models_dir)
    scorers = load_scorers(models_dir, run_date, p.inputs)
    all_splits = splits(p.market)
    validation = all_splits[0]
    _, held = training_lists(p)
    rows = []
    muse0_top = np.where(held.ads >= 0, held.ads, -1)
    lists_by_model = {"muse0": muse0_top}
    for kind, scores in score_all(scorers, p.inputs, held).items():
        lists_by_model[kind] = top_of(scores, held, 100)[0]
    each = {}
    for kind, ads in lists_by_model.items():
        pos = np.where(ads >= 0, positions(validation.universe, ads), -1)
        stage = "retrieval" if kind == "muse0" else "rerank"
        rows += metric_rows(
            pos,
            validation,
            held.seeker,
            RERANK_KS,
            stage=stage,
            model=kind,
            population="rerank_holdout",
        )
        each[kind] = per_seeker_recall(pos, validation, held.seeker, 100)
    if len(all_splits) > 1:
        forward = all_splits[1]
        who = forward.seekers(EVALUATION_SEEKERS, SEED)
        pick = oracle_sample(len(who))  # the retrieval evaluation's oracle seekers
        for kind in scorers:
            ads = reranked_lists(con, run_date, p.market, who, kind, 100)
            pos = np.where(ads >= 0, positions(forward.universe, ads), -1)
            rows += metric_rows(
                pos, forward, who, RERANK_KS, stage="rerank", model=kind, population="all"
            )
            if has_oracle:
                rows += metric_rows(
                    pos[pick],
                    forward,
                    who[pick],
                    RERANK_KS,
                    stage="rerank",
                    model=kind,
                    population="oracle_sample",
                )
    if log:
        log(f"rerank evaluation: {len(held.seeker)} held-out seekers")
    return RerankEvaluation(frame_of(rows, run_date), each)


def reranked_lists(con, run_date, market: Market, who: np.ndarray, kind: str, k: int):
    """recs.reranked of `who` for one model as (len(who), k) ad rows (-1 padded)."""
    return read_lists(con, "recs.reranked", run_date, market, who, k, model=kind)[0]


def write_evaluation(con, run_date: dt.date, evaluation: RerankEvaluation) -> int:
    """Replace this stage's rows of D: every rerank row, and Muse.0's rows on the held-out
    seekers (the retrieval evaluation owns Muse.0's other rows)."""
    con.execute(wh.sql("create_metrics_ranking"))
    con.execute(
        "DELETE FROM metrics.ranking WHERE run_date = ? AND (stage = 'rerank' OR "
        "(stage = 'retrieval' AND population = 'rerank_holdout'))",
        [run_date],
    )
    con.register("rerank_rows", evaluation.rows)
    try:
        con.execute("INSERT INTO metrics.ranking BY NAME SELECT * FROM rerank_rows")
    finally:
        con.unregister("rerank_rows")
    return len(evaluation.rows)
