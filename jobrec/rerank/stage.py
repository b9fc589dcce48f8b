"""The rerank stage of partition D: training and scoring of Muse.1, Muse.2 and the XGBoost
baseline, tonight's reranked lists, and the stage's evaluation rows.

Every step starts from the night's shared inputs (jobrec.retrieval: the market, the entity inputs
and tables, the validation seekers' labelled candidate lists, built once after Muse.0). The
models train on the lists of 85% of the validation seekers and are early-stopped and evaluated on
the other 15% (held out); tonight's lists are recs.candidates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import torch

from jobrec.data import model_store, warehouse
from jobrec.data.lists import partition
from jobrec.data.market import Market, listed_seekers, read_lists
from jobrec.devices import CPU
from jobrec.evaluation import compare
from jobrec.evaluation.offline import (
    Split,
    evaluated_seekers,
    frame_of,
    metric_rows,
    oracle_sample,
    paired_difference,
    per_seeker_recall,
    positions,
    splits,
)
from jobrec.pair_features import (
    PAIR_COLUMNS,
    Entities,
    ad_features,
    list_pair_features,
    muse0_score_feature,
)
from jobrec.rerank.hiring import hire_pairs
from jobrec.rerank.training import (
    Competition,
    candidate_recall,
    per_list_recall,
    train_reranker,
)
from jobrec.rerank.xgboost_baseline import XGBConfig, load_booster, predict_lists, train_xgb
from jobrec.reranker_model import (
    Lists,
    RerankConfig,
    ScoringTables,
    load_reranker,
    save_reranker,
    score_tables,
    scoring_tables,
)
from jobrec.retrieval import (
    CANDIDATES_K,
    EntityInputs,
    NightInputs,
    load_night_inputs,
    space_facts,
    warm_start_source,
    write_warm_start_facts,
)


@dataclasses.dataclass(frozen=True)
class RerankSettings:
    """The rerank stage's tunables."""

    # list lengths kept in recs.reranked: muse2's top 300 are the redistribution's edges
    keep: tuple[tuple[str, int], ...] = (("muse2", 300), ("muse1", 100), ("xgboost", 100))
    metric_ks: tuple[int, ...] = (10, 100)
    block_seekers: int = 2000  # tonight's seekers read and written per block
    # seekers of a block whose pair features are computed and scored together: 128 (a chunk's
    # features, 10 MB, are still in the cache when both Muse models read them) made the whole
    # recs/reranked step 18% faster than the whole block at `small` and 7.5% at `medium`
    # (BENCHMARKS.md, "Issue 17, nineteenth session")
    score_chunk: int = 128
    seed: int = 0
    warm_epochs: int = 3  # at most, when Muse.1/2 start from the previous night's weights
    # the rate a warm start resumes at, near where a full training's decayed schedule ends
    # (5e-3 x 0.6^3): restarting at the full 5e-3 kept no epoch better than the start on some
    # nights and lost Muse.2's lead over XGBoost (BENCHMARKS.md, "the warm rate over three more
    # warm nights")
    warm_learning_rate: float = 1e-3
    # a warm XGBoost continues the previous night's trees with at most this many new ones
    warm_trees: int = 60
    warm_early_stopping_rounds: int = 10


SETTINGS = RerankSettings()


def warm_config(cfg: RerankConfig) -> RerankConfig:
    """`cfg` as a warm night trains it from the previous night's weights: at most
    `warm_epochs`, from `warm_learning_rate` (its hash, which decides warm starts, stays
    `cfg`'s)."""
    return dataclasses.replace(
        cfg, max_epochs=SETTINGS.warm_epochs, learning_rate=SETTINGS.warm_learning_rate
    )


RERANK_KEEP = dict(SETTINGS.keep)
MODELS = tuple(RERANK_KEEP)
# Whose lists XGBoost reranks into recs.reranked (the JOBREC_XGBOOST_SCOPE setting): nobody's
# (`evaluation`: the evaluation scores the lists it compares XGBoost on itself) or every
# seeker's (`all`). XGBoost is the comparison, never sent: scoring every pair would be the
# night's longest step at the service's scale. recs.reranked never depends on the forward
# window: which seekers the evaluation compares on tells who applies after D.
XGBOOST_SCOPES = ("evaluation", "all")


@dataclasses.dataclass(frozen=True)
class ComparedSeekers:
    """The seekers whose lists of tonight the rerank evaluation compares the models on."""

    forward: np.ndarray  # (U,) sorted market rows: the forward split's evaluated seekers
    oracle: np.ndarray  # (O,) sorted positions in `forward`: the oracle sample


def compared_seekers(all_splits: list[Split]) -> ComparedSeekers:
    """The seekers whose lists of tonight the rerank evaluation compares the models on: the
    forward split's evaluated seekers (none without a forward window), the oracle sample among
    them. The validation rows need none of tonight's lists: they score the held-out seekers'
    lists built as of D - 7 (the night inputs).

    Parameters
    ----------
    all_splits : list of Split
        `jobrec.evaluation.offline.splits` of the night's market: [validation] or
        [validation, forward].

    Returns
    -------
    ComparedSeekers
        `forward` (sorted market rows, empty without a forward split) and `oracle` (positions
        in `forward` of the fixed oracle sample, a subset of it).
    """
    forward = [s for s in all_splits if s.name == "forward"]
    if not forward:
        return ComparedSeekers(np.empty(0, np.int64), np.empty(0, np.int64))
    who = evaluated_seekers(forward[0])
    return ComparedSeekers(who, oracle_sample(len(who)))


def xgboost_seekers(tonight: np.ndarray, scope: str = "evaluation") -> np.ndarray:
    """The seekers whose lists of tonight XGBoost reranks into recs.reranked: every one with
    scope `all`, none with `evaluation` (the evaluation scores the lists it compares XGBoost on,
    `compared_lists`).

    Parameters
    ----------
    tonight : (n,) int array
        Market rows of the seekers with candidates tonight, in scoring order.
    scope : {"evaluation", "all"}
        The JOBREC_XGBOOST_SCOPE setting.

    Returns
    -------
    (n,) or (0,) int array
        `tonight` or none of it.
    """
    if scope not in XGBOOST_SCOPES:
        raise ValueError(f"unknown XGBoost scope {scope!r}: expected one of {XGBOOST_SCOPES}")
    return tonight if scope == "all" else tonight[:0]


def tonight_lists(con, run_date: dt.date, night: NightInputs, seekers: np.ndarray) -> Lists:
    """recs.candidates of D for `seekers` (market rows) with pair features; labels from the
    forward window when the raw data holds it.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (recs.candidates of D).
    run_date : date
        The partition D.
    night : NightInputs
        The night's inputs: the market as known at D, its pair-feature entities as of D
        (`tonight_entities`), Muse.0's temperature and the ad prior's part of the scores
        (the pair features' Muse.0 score as in the night's training lists).
    seekers : (G,) int array
        Market seeker rows.

    Returns
    -------
    Lists
        `seeker` (G,), `ads` (G, CANDIDATES_K) market ad rows in Muse.0 order (-1 padded),
        `cross` (G, CANDIDATES_K, C) float32 pair features, `applied` and `hired`
        (G, CANDIDATES_K) bool from the forward window (all False without one).
    """
    ads, muse0 = tonight_candidates(
        con, run_date, night.market, night.temperature, seekers, night.ad_prior_scores
    )
    return candidate_lists(night.market, night.tonight_entities, seekers, ads, muse0)


def tonight_candidates(
    con,
    run_date: dt.date,
    market: Market,
    temperature: float,
    seekers: np.ndarray,
    prior_scores: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """recs.candidates of D for `seekers` (market rows): (ads (G, CANDIDATES_K) market ad rows
    in Muse.0 order, -1 padded; their Muse.0 scores as the pair features take them: less the
    ad prior's part `prior_scores` (per market ad row, the night's `ad_prior_scores`), times
    `temperature`)."""
    ads, scores = read_lists(con, "recs.candidates", run_date, market, seekers, CANDIDATES_K)
    scores = np.nan_to_num(scores)
    if prior_scores is not None:
        scores = scores - np.where(ads >= 0, prior_scores[np.maximum(ads, 0)], 0)
    return ads, muse0_score_feature(scores, temperature)


def candidate_lists(
    market: Market,
    ent: Entities,
    seekers: np.ndarray,
    ads: np.ndarray,
    muse0: np.ndarray,
    labelled: bool = True,
    columns: tuple[int, ...] | None = None,
) -> Lists:
    """Lists of the candidates `ads` (G, K) of `seekers` (G,) with their pair features (Muse.0
    scores `muse0` (G, K), see `tonight_candidates`; the CROSS_COLUMNS `columns`, None: all);
    labels from the forward window when `labelled` and the raw data holds it (all False
    without one; None when not `labelled`)."""
    labels = [None, None]
    if labelled:
        keys = seekers.astype(np.int64)[:, None] * len(market.ads) + ads
        for i, events in enumerate((market.forward_applications, market.forward_hires)):
            labels[i] = np.zeros(ads.shape, bool)
            if events is not None:
                known = events.seeker.astype(np.int64) * len(market.ads) + events.ad
                labels[i] = np.isin(keys, known) & (ads >= 0)
    return Lists(seekers, ads, list_pair_features(ent, seekers, ads, muse0, columns), *labels)


def top_of(scores: np.ndarray, lists: Lists, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each list's k best (ad rows, scores), best first (-1 / -inf padding).

    Parameters
    ----------
    scores : (G, K) float array
        A model's scores of `lists`, -inf on padding.
    lists : Lists
        The scored lists (their `ads` (G, K) market ad rows).
    k : int
        Entries kept a list (at most K).

    Returns
    -------
    top_ads : (G, min(k, K)) int array
        Market ad rows, best first, -1 where the score is not finite.
    top_scores : (G, min(k, K)) float array
        Their scores.
    """
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top_scores = np.take_along_axis(scores, order, axis=1)
    top_ads = np.where(np.isfinite(top_scores), np.take_along_axis(lists.ads, order, axis=1), -1)
    return top_ads, top_scores


def train_model(
    models_dir,
    run_date: dt.date,
    kind: str,
    log=None,
    pair_hidden: int = 0,
    recon_weight: float = 0.0,
) -> dict:
    """Train one reranker and save it under the models folder.

    Parameters
    ----------
    models_dir : path
        The model store: the night's inputs are read from it, the model is written to it.
    run_date : date
        The partition D.
    kind : str
        `muse1`, `muse2` or `xgboost`.
    log : callable, optional
        Progress lines.
    pair_hidden : int, default 0
        Muse.1/2's per-pair MLP width (`RerankConfig.pair_hidden`; 0: none).
    recon_weight : float, default 0.0
        Muse.2's ReCon congestion term's λ (`RerankConfig.recon_weight`; 0: off). Muse.1 and
        XGBoost ignore it.

    Returns
    -------
    dict
        The training report, with the held-out candidate Recall@10/100 of the model and of
        Muse.0's own order, and the paired Recall@10 gain over Muse.0 with its standard error.
    """
    night = load_night_inputs(models_dir, run_date)
    train, held = night.train_lists, night.holdout_lists
    with model_store.writing(models_dir, run_date, kind) as folder:
        space_hash = space_facts(models_dir, run_date)["hash"]
        hires = None  # Muse.2's hiring head's applications
        if kind == "xgboost":
            cfg = XGBConfig(seed=SETTINGS.seed)
            source, start = warm_start_source(models_dir, run_date, kind, space_hash, cfg)
            init = None if source is None else load_booster(source / "xgboost.json")
            model, report = train_xgb(
                night.inputs.seekers,
                night.inputs.ads,
                train,
                held,
                cfg
                if source is None
                else dataclasses.replace(
                    cfg,
                    n_estimators=SETTINGS.warm_trees,
                    early_stopping_rounds=SETTINGS.warm_early_stopping_rounds,
                ),
                init=init,
            )
            report = dataclasses.replace(
                report, warm_from=source.parent.name if source else None, start=start
            )
            model.save_model(folder / "xgboost.json")
            write_warm_start_facts(folder, models_dir, run_date, cfg)
            scores = predict_lists(model, night.inputs.seekers, night.inputs.ads, held)
        else:
            cfg = RerankConfig(
                kind=kind,
                seed=SETTINGS.seed,
                pair_hidden=pair_hidden,
                recon_weight=recon_weight if kind == "muse2" else 0.0,
            )
            hires = (
                hire_pairs(night.market, night.train_entities, night.market.train_end)
                if kind == "muse2"
                else None
            )
            source, start = warm_start_source(models_dir, run_date, kind, space_hash, cfg)
            init_state = None
            if source is not None:
                init_state = load_reranker(source / "model.pt")[0].state_dict()
            model, report = train_reranker(
                night.inputs.seekers,
                night.inputs.ads,
                train,
                held,
                hires,
                cfg if source is None else warm_config(cfg),
                log=log,
                init_state=init_state,
                competition=competition(night.market, train) if cfg.recon_weight > 0 else None,
            )
            report = dataclasses.replace(
                report, warm_from=source.parent.name if source else None, start=start
            )
            save_reranker(model, report, folder / "model.pt")
            write_warm_start_facts(folder, models_dir, run_date, cfg)
            scores = _score_muse(model, night.inputs, held)
        stats = dataclasses.asdict(report)
        if hires is not None:
            # the hiring head's data: its settled applications and their hire rate
            stats.update(
                hire_settle_days=hires.settle_days,
                hire_applications=len(hires.hired),
                hire_rate=float(hires.hired.mean()) if len(hires.hired) else 0.0,
            )
        muse0_scores = _muse0_order(held)
        for k in (10, 100):
            stats[f"holdout_candidate_recall_at_{k}"] = candidate_recall(scores, held.applied, k)
            stats[f"muse0_candidate_recall_at_{k}"] = candidate_recall(
                muse0_scores, held.applied, k
            )
        diff, se = paired_difference(
            per_list_recall(scores, held.applied, 10),
            per_list_recall(muse0_scores, held.applied, 10),
        )
        stats["recall_at_10_gain_over_muse0"], stats["recall_at_10_gain_se"] = diff, se
        (folder / "training.json").write_text(json.dumps(stats, indent=2, default=float))
    stats.update(train_seekers=len(train.seeker), holdout_seekers=len(held.seeker))
    return stats


def competition(market: Market, lists: Lists) -> Competition:
    """Who competes in the ReCon term's batches: each ad row's capacity per seeker (its positions
    over all positions of the ads in `lists`, 0 for others) and each list's group (the seeker's
    desired occupation and department, in sorted order).

    Parameters
    ----------
    market : Market
        The market as known at D.
    lists : Lists
        The training lists (seeker and ad rows of the market).

    Returns
    -------
    Competition
        `capacity` (N_a,) and `group` (G,).
    """
    used = np.unique(lists.ads[lists.ads >= 0])
    positions = market.ads["positions"].to_numpy(np.float64)
    capacity = np.zeros(len(positions))
    capacity[used] = positions[used] / positions[used].sum()
    who = market.seekers.iloc[lists.seeker]
    group = who.groupby(["desired_occupation", "department"], sort=True, dropna=False).ngroup()
    return Competition(capacity, group.to_numpy(np.int64))


def _muse0_order(lists: Lists) -> np.ndarray:
    """Scores that keep Muse.0's order of the lists (rank 1 best)."""
    k = lists.ads.shape[1]
    return np.where(lists.ads >= 0, -np.arange(k, dtype=np.float32)[None, :], -np.inf)


def muse_tables(
    model,
    inputs: EntityInputs,
    ads: np.ndarray | None = None,
    seekers: np.ndarray | None = None,
    ad_pair_features: np.ndarray | None = None,
) -> ScoringTables:
    """A Muse model's folded tables over the seekers `seekers` and the ads `ads` (None: all of
    the market's), on the CPU wherever it trained: with the pair features on the host, the
    fused CPU kernel beat a GPU's eager path on the same machine (measured: BENCHMARKS.md,
    "Rerank inference").

    Parameters
    ----------
    model : Reranker
        Muse.1 or Muse.2, on any device (a GPU model is copied to the CPU).
    inputs : EntityInputs
        The night's entity inputs (`seekers` (N_s, S), `ads` (N_a, A)).
    ads : (N_r,) int array, optional
        Market ad rows to build rows for, in table order; None: every ad in row order.
    seekers : (N_t,) int array, optional
        Market seeker rows to build rows for (the lists' seekers); None: every seeker.
    ad_pair_features : (N_a, len(AD_ONLY_COLUMNS)) float array, optional
        Every ad's ad-only pair features on the lists' day (`ad_features`): folded into the
        ad rows, so the lists need only their PAIR_COLUMNS (not for a model with a per-pair
        MLP, which reads all of a pair's columns: its tables stay unfolded).

    Returns
    -------
    ScoringTables
        Ready for `score_tables`.
    """
    if model.pair_mlp is not None:
        ad_pair_features = None
    return scoring_tables(
        model,
        torch.as_tensor(inputs.seekers),
        torch.as_tensor(inputs.ads),
        ads,
        seekers,
        ad_pair_features,
    )


def _score_muse(model, inputs: EntityInputs, lists: Lists) -> np.ndarray:
    return score_tables(muse_tables(model, inputs), lists.seeker, lists.ads, lists.cross)


def load_scorers(
    models_dir,
    run_date: dt.date,
    inputs: EntityInputs,
    ads: np.ndarray | None = None,
    seekers: np.ndarray | None = None,
    ad_pair_features: np.ndarray | None = None,
) -> dict:
    """The three trained rerankers of D, ready to score lists of the seekers `seekers` whose
    candidates are among `ads` (None: any of the market's): Muse's tables are built once here
    (entity towers over those seekers and ads, the ad-only pair features folded in when given:
    `muse_tables`), XGBoost as loaded.

    Parameters
    ----------
    models_dir : path
        The model store (the `muse2`, `muse1` and `xgboost` folders of D).
    run_date : date
        The partition D.
    inputs : EntityInputs
        The night's entity inputs.
    ads : (N_r,) int array, optional
        Market ad rows the lists' candidates are drawn from (e.g. `tonight_ads`); None: all.
    seekers : (N_t,) int array, optional
        Market seeker rows whose lists will be scored (e.g. `tonight_seekers`); None: all.
    ad_pair_features : (N_a, len(AD_ONLY_COLUMNS)) float array, optional
        The ads' ad-only pair features on the lists' day (`ad_features`).

    Returns
    -------
    dict
        "muse2" and "muse1": ScoringTables; "xgboost": the xgboost.Booster.
    """
    folder = lambda kind: model_store.model_dir(models_dir, run_date, kind)  # noqa: E731
    scorers = {
        kind: muse_tables(
            load_reranker(folder(kind) / "model.pt", CPU)[0], inputs, ads, seekers, ad_pair_features
        )
        for kind in ("muse2", "muse1")
    }
    scorers["xgboost"] = load_booster(folder("xgboost") / "xgboost.json")
    return scorers


def score_all(scorers: dict, inputs: EntityInputs, lists: Lists) -> dict[str, np.ndarray]:
    """Score the same lists with every scorer of `load_scorers`.

    Parameters
    ----------
    scorers : dict
        Model name -> ScoringTables (Muse) or xgboost.Booster ("xgboost").
    inputs : EntityInputs
        The night's entity inputs (XGBoost's flat rows are built from them).
    lists : Lists
        G lists of K candidates (their ads must have rows in the Muse tables).

    Returns
    -------
    dict of (G, K) float32 arrays
        Each model's scores, -inf on padding.
    """
    return {
        kind: predict_lists(scorer, inputs.seekers, inputs.ads, lists)
        if kind == "xgboost"
        else score_tables(scorer, lists.seeker, lists.ads, lists.cross)
        for kind, scorer in scorers.items()
    }


def scored_columns(scorers: dict) -> tuple[int, ...] | None:
    """The CROSS_COLUMNS the lists must hold for every scorer of `load_scorers`: PAIR_COLUMNS
    when they are all Muse tables with the ad-only columns folded in, else None (all)."""
    folded = all(
        kind != "xgboost" and scorer.pair_columns == PAIR_COLUMNS
        for kind, scorer in scorers.items()
    )
    return PAIR_COLUMNS if folded else None


def locality_order(market: Market, seekers: np.ndarray) -> np.ndarray:
    """`seekers` (market rows) grouped by desired occupation: seekers of one occupation share
    most of their candidates, so scored one after another their ads' rows stay in the core's
    cache (with `tonight_ads`, it makes a night's pair part faster; measured: BENCHMARKS.md,
    "Rerank inference", "Locality").

    Parameters
    ----------
    market : Market
        The market as known at D.
    seekers : (n,) int array
        Market seeker rows.

    Returns
    -------
    (n,) int array
        The same rows, ordered by desired occupation (sorted), ascending within one.
    """
    return _grouped_by(seekers, market.seekers["desired_occupation"])


def tonight_ads(market: Market) -> np.ndarray:
    """The ads tonight's candidates come from (the active ones), grouped by occupation: the row
    order of Muse's compact ad table, so that seekers scored together (`locality_order`) gather
    from a narrow band of it.

    Parameters
    ----------
    market : Market
        The market as known at D.

    Returns
    -------
    (n_active,) int array
        The active ads' market rows, ordered by occupation (sorted), ascending within one.
    """
    return _grouped_by(market.active_ads(), market.ads["occupation"])


def _grouped_by(rows: np.ndarray, labels: pd.Series) -> np.ndarray:
    """`rows` ordered by their label (labels sorted), ascending within one label."""
    codes = pd.factorize(labels, sort=True)[0][rows]
    return rows[np.lexsort((rows, codes))]


def tonight_seekers(con, run_date: dt.date, market: Market) -> np.ndarray:
    """The seekers with candidates tonight (market rows), in the order they are scored
    (`locality_order`).

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (recs.candidates of D).
    run_date : date
        The partition D.
    market : Market
        The market as known at D.

    Returns
    -------
    (n,) int array
        Market seeker rows grouped by desired occupation.
    """
    return locality_order(market, listed_seekers(con, "recs.candidates", run_date, market))


def write_reranked(
    con,
    run_date: dt.date,
    models_dir,
    block_seekers: int = SETTINGS.block_seekers,
    xgboost_scope: str = "evaluation",
    log=None,
    score_chunk: int = SETTINGS.score_chunk,
) -> dict:
    """Rerank tonight's candidates of every active seeker with Muse.2 and Muse.1, and with
    XGBoost when `xgboost_scope` is `all`, seeker block by seeker block (seekers of one
    occupation together, see `locality_order`), and replace the partition of recs.reranked.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse: recs.candidates of D is read, the partition of recs.reranked replaced.
    run_date : date
        The partition D.
    models_dir : path
        The model store (the night's inputs, the three rerankers).
    block_seekers : int, default SETTINGS.block_seekers
        Seekers whose lists are read and written together.
    xgboost_scope : {"evaluation", "all"}, default "evaluation"
        Whose lists XGBoost reranks here (the JOBREC_XGBOOST_SCOPE setting, `xgboost_seekers`).
    log : callable, optional
        A progress line a block.
    score_chunk : int, default SETTINGS.score_chunk
        Seekers of a block whose pair features are computed and scored together.

    Returns
    -------
    dict
        `seekers` reranked by Muse, `rows_<model>` written per model (each keeps its
        `RERANK_KEEP` top entries a seeker), `xgboost_scope` and `xgboost_seekers` (how many
        seekers XGBoost reranked).
    """
    night = load_night_inputs(models_dir, run_date)
    seekers = tonight_seekers(con, run_date, night.market)
    by_xgboost = xgboost_seekers(seekers, xgboost_scope)
    scorers = load_scorers(
        models_dir,
        run_date,
        night.inputs,
        tonight_ads(night.market),
        seekers,
        ad_features(night.tonight_entities),
    )
    if not len(by_xgboost):
        del scorers["xgboost"]
    columns = scored_columns(scorers)  # Muse alone: a pair's own columns, no ad-only ones
    temperature = night.temperature
    seeker_ids = night.market.seekers["jobseeker_id"].to_numpy()
    ad_ids = night.market.ads["ad_id"].to_numpy()
    rows = dict.fromkeys(MODELS, 0)
    with partition(con, "recs.reranked", run_date) as writer:
        for lo in range(0, len(seekers), block_seekers):
            who = seekers[lo : lo + block_seekers]
            ads, muse0 = tonight_candidates(
                con, run_date, night.market, temperature, who, night.ad_prior_scores
            )
            tops = {kind: [] for kind in scorers}
            for c in range(0, len(who), score_chunk):
                chunk = candidate_lists(
                    night.market,
                    night.tonight_entities,
                    who[c : c + score_chunk],
                    ads[c : c + score_chunk],
                    muse0[c : c + score_chunk],
                    labelled=False,
                    columns=columns,
                )
                for kind, scores in score_all(scorers, night.inputs, chunk).items():
                    tops[kind].append(top_of(scores, chunk, RERANK_KEEP[kind]))
            for kind, parts in tops.items():
                top_ads, top_scores = (np.concatenate(part) for part in zip(*parts, strict=True))
                rows[kind] += writer.append(
                    seeker_ids, ad_ids, who, top_ads, top_scores, {"model": kind}
                )
            if log:
                log(f"reranked {min(lo + block_seekers, len(seekers))}/{len(seekers)} seekers")
    return {
        "seekers": len(seekers),
        **{f"rows_{k}": v for k, v in rows.items()},
        "xgboost_scope": xgboost_scope,
        "xgboost_seekers": len(by_xgboost),
    }


def compared_lists(
    con,
    run_date: dt.date,
    night: NightInputs,
    booster,
    who: np.ndarray,
    k: int,
    block_seekers: int = SETTINGS.block_seekers,
) -> np.ndarray:
    """XGBoost's top k of tonight's candidates of `who`, scored as `write_reranked` scores them
    with scope `all` (a pair's score depends on that pair only), block by block.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (recs.candidates of D).
    run_date : date
        The partition D.
    night : NightInputs
        The night's shared inputs (`load_night_inputs`).
    booster : xgboost.Booster
        XGBoost of D.
    who : (n,) int array
        Market seeker rows (`compared_seekers`); those without candidates tonight get no list.
    k : int
        List length.
    block_seekers : int, default SETTINGS.block_seekers
        Seekers whose lists are read and scored together.

    Returns
    -------
    (n, k) int64 array
        Market ad rows, best first, -1 padded: what `reranked_lists` reads back of them.
    """
    out = np.full((len(who), k), -1, dtype=np.int64)
    listed = np.isin(who, listed_seekers(con, "recs.candidates", run_date, night.market))
    at = np.flatnonzero(listed)
    for lo in range(0, len(at), block_seekers):
        block = at[lo : lo + block_seekers]
        lists = tonight_lists(con, run_date, night, who[block])
        scores = predict_lists(booster, night.inputs.seekers, night.inputs.ads, lists)
        top = top_of(scores, lists, k)[0]
        out[block, : top.shape[1]] = top
    return out


@dataclasses.dataclass
class RerankEvaluation:
    rows: pd.DataFrame
    holdout_recall_at_100: dict[str, np.ndarray]  # per held-out seeker with applications
    xgboost_forward_seekers: int = 0  # whose lists of tonight XGBoost scored for the forward rows
    pairs: pd.DataFrame | None = None  # metrics.ranking_pairs rows (against XGBoost)


REFERENCE = "xgboost"  # the model Muse.1/2 are compared with, seeker by seeker


def headline_pairs(pairs: pd.DataFrame | None) -> pd.DataFrame:
    """The night's headline among metrics.ranking_pairs rows: every model against REFERENCE at
    k = 10 on the whole population (slice `all`), both splits and metrics; empty without rows."""
    if pairs is None or not len(pairs):
        return pd.DataFrame()
    return pairs[(pairs["slice"] == "all") & (pairs["k"] == 10)]


def _sliced(lists, split: Split, seekers, market: Market, ks, population: str):
    """metrics.ranking rows of the slices other than `all` (the `all` rows are metric_rows'),
    and the paired differences against REFERENCE on every slice (jobrec.evaluation.compare)."""
    relevant = split.relevant["applications"]
    sl = compare.slices(market, seekers, relevant, split.start)
    metric, pairs = compare.compare(lists, split.universe, seekers, sl, ks, REFERENCE)
    labels = {
        "stage": "rerank",
        "relevance": "applications",
        "split": split.name,
        "population": population,
    }
    rows = [{**labels, **r} for r in metric if r["slice"] != "all"]
    return rows, [{**labels, **r} for r in pairs]


def evaluate(
    con, run_date: dt.date, models_dir, has_oracle: bool = False, log=None
) -> RerankEvaluation:
    """metrics.ranking rows of the rerank stage (k 10 and 100, both relevances).

    Validation: on the held-out seekers of the validation window, their lists as of D - 7
    scored here (Muse.0's rows on the same seekers are the retrieval evaluation's). Forward,
    when the raw data holds the forward window: tonight's lists of `compared_seekers`, Muse's
    from recs.reranked, XGBoost's scored here (`compared_lists`: the lists recs.reranked holds
    with JOBREC_XGBOOST_SCOPE=all, whatever the scope), and on the oracle's seeker sample among
    them when the partition has oracle rankings (the oracle's own rows come from the retrieval
    evaluation; on the validation window the rerankers trained on part of that sample, so only
    the forward window gives them oracle-sample rows).

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (recs.reranked, for the forward window).
    run_date : date
        The partition D.
    models_dir : path
        The model store (the night's inputs, the three rerankers).
    has_oracle : bool
        Whether the partition has oracle rankings (oracle-sample rows are written then).
    log : callable, optional
        Progress lines.

    Returns
    -------
    RerankEvaluation
        The rows, each model's (and Muse.0's) per-seeker held-out Recall@100, and how many
        seekers' lists of tonight XGBoost scored.
    """
    night = load_night_inputs(models_dir, run_date)
    scorers = load_scorers(models_dir, run_date, night.inputs)
    all_splits = splits(night.market)
    validation = all_splits[0]
    compared = compared_seekers(all_splits)
    scored = 0
    held = night.holdout_lists
    ks = SETTINGS.metric_ks
    rows = []
    lists_by_model = {"muse0": np.where(held.ads >= 0, held.ads, -1)}
    for kind, scores in score_all(scorers, night.inputs, held).items():
        lists_by_model[kind] = top_of(scores, held, 100)[0]
    each, compared_pos = {}, {}
    for kind, ads in lists_by_model.items():
        pos = np.where(ads >= 0, positions(validation.universe, ads), -1)
        if kind != "muse0":  # Muse.0's rows here are the retrieval evaluation's
            compared_pos[kind] = pos
            rows += metric_rows(
                pos,
                validation,
                held.seeker,
                ks,
                stage="rerank",
                model=kind,
                population="rerank_holdout",
            )
        each[kind] = per_seeker_recall(pos, validation, held.seeker, 100)
    sliced, pairs = _sliced(
        compared_pos, validation, held.seeker, night.market, ks, "rerank_holdout"
    )
    rows += sliced
    if len(all_splits) > 1:
        forward = all_splits[1]
        who, pick = compared.forward, compared.oracle  # the oracle's seekers among `who`
        compared_pos = {}
        for kind in scorers:
            if kind == "xgboost":
                ads = compared_lists(con, run_date, night, scorers[kind], who, 100)
                scored = int((ads[:, 0] >= 0).sum())
            else:
                ads = reranked_lists(con, run_date, night.market, who, kind, 100)
            pos = np.where(ads >= 0, positions(forward.universe, ads), -1)
            compared_pos[kind] = pos
            rows += metric_rows(pos, forward, who, ks, stage="rerank", model=kind, population="all")
            if has_oracle:
                rows += metric_rows(
                    pos[pick],
                    forward,
                    who[pick],
                    ks,
                    stage="rerank",
                    model=kind,
                    population="oracle_sample",
                )
        sliced, forward_pairs = _sliced(compared_pos, forward, who, night.market, ks, "all")
        rows += sliced
        pairs += forward_pairs
    if log:
        log(f"rerank evaluation: {len(held.seeker)} held-out seekers")
    frame = frame_of(rows, run_date)
    frame["slice"] = frame["slice"].fillna("all") if "slice" in frame else "all"
    return RerankEvaluation(frame, each, scored, frame_of(pairs, run_date))


def reranked_lists(con, run_date, market: Market, who: np.ndarray, kind: str, k: int):
    """recs.reranked of `who` for one model as (len(who), k) ad rows (-1 padded).

    Parameters
    ----------
    con : DuckDB connection
        The warehouse.
    run_date : date
        The partition D.
    market : Market
        The market as known at D (ids to rows).
    who : (n,) int array
        Market seeker rows.
    kind : str
        The model: "muse2", "muse1" or "xgboost".
    k : int
        List length read.

    Returns
    -------
    (n, k) int64 array
        Market ad rows, rank 1 first, -1 padded.
    """
    return read_lists(con, "recs.reranked", run_date, market, who, k, model=kind)[0]


def write_evaluation(con, run_date: dt.date, evaluation: RerankEvaluation) -> int:
    """Replace this stage's rows of D in metrics.ranking (stage rerank: it writes no other).

    Parameters
    ----------
    con : DuckDB connection
        The warehouse.
    run_date : date
        The partition D.
    evaluation : RerankEvaluation
        The output of `evaluate`.

    Returns
    -------
    int
        The rows written.
    """
    con.execute(warehouse.sql("create_metrics_ranking"))
    con.execute(warehouse.sql("create_metrics_ranking_pairs"))
    owned = {"stage": ["rerank"]}
    pairs = evaluation.pairs if evaluation.pairs is not None else pd.DataFrame()
    warehouse.replace_rows(con, "metrics.ranking_pairs", run_date, pairs, owned)
    return warehouse.replace_rows(con, "metrics.ranking", run_date, evaluation.rows, owned)
