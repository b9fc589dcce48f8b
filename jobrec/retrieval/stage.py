"""The retrieval stage of partition D, step by step (each Dagster asset calls one function).

features (the feature space, the market as known at D and Muse.0's tower inputs) -> Muse.0
model -> the night's shared inputs -> seeker / ad embeddings (embed.*) -> recs.candidates ->
evaluation (metrics.ranking rows of muse0 beside the popularity and oracle baselines).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa

from jobrec import ad_response
from jobrec.data import lists, model_store, warehouse
from jobrec.data.market import Market, read_lists, read_market
from jobrec.evaluation.offline import (
    Split,
    comparison_k,
    evaluated_seekers,
    frame_of,
    metric_rows,
    oracle_sample,
    pairs_in,
    per_seeker_recall,
    popularity_lists,
    positions,
    splits,
)
from jobrec.evaluation.oracle import OracleRankings
from jobrec.features import FeatureSpace
from jobrec.pair_features import CROSS_COLUMNS
from jobrec.retrieval import ad_prior, night_inputs, two_tower
from jobrec.retrieval.topk import exact_topk

AD_PRIOR_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)  # the ad prior's weights when it is on


@dataclasses.dataclass(frozen=True)
class RetrievalSettings:
    """The retrieval stage's tunables."""

    candidates_k: int = 1000  # candidates per seeker in recs.candidates
    metric_ks: tuple[int, ...] = (10, 100, 1000)
    seed: int = 0  # the feature space's
    # Full retrain (feature space refitted, models from scratch) at least this often; the nights
    # between reuse the space and warm-start the models from the previous night's.
    full_retrain_days: int = dataclasses.field(
        default_factory=lambda: int(os.environ.get("JOBREC_FULL_RETRAIN_DAYS", "7"))
    )
    # ... or sooner, when this share of tonight's active seekers or ads meets an occupation,
    # department or skill the space was not fitted on (FeatureSpace.unknown_share)
    max_unknown_share: float = 0.02
    # at most, on a warm night (early stopping as on a full one: the start is scored first and
    # kept unless an epoch beats it). At the full rate no warm epoch ever beat its start
    # (BENCHMARKS.md, "Muse.0: one warm epoch"); at a quarter of it they do ("Muse.0's
    # averaged weights")
    warm_epochs: int = 3
    warm_window_days: int = 28  # a warm night trains on the pairs of these days before D - 7
    warm_learning_rate: float = 5e-4  # a warm night's Adam rate (Muse0Config's is the cold one)
    # what a warm epoch must gain over the start's validation Recall@1000 to be kept: any gain.
    # A full training's 0.001 kept the start on every warm night measured, where the epochs
    # trained on the newest pairs gained less than that on validation but +0.009 Recall@10 on
    # the next week (BENCHMARKS.md, "Muse.0's averaged weights")
    warm_min_improvement: float = 0.0
    # Muse.0's ad prior (jobrec.retrieval.ad_prior): chosen after training from this grid, by
    # the validation window's Recall@k. Off unless JOBREC_AD_PRIOR=1: it lifts Muse.0's own
    # recall but not Muse.2's, and the better candidates help XGBoost more (BENCHMARKS.md,
    # "Seventeenth session"); off, the grid is w = 0 alone
    ad_prior_weights: tuple[float, ...] = dataclasses.field(
        default_factory=lambda: (
            AD_PRIOR_GRID if os.environ.get("JOBREC_AD_PRIOR") == "1" else (0.0,)
        )
    )
    ad_prior_pseudo_days: tuple[float, ...] = (1.0, 7.0)


SETTINGS = RetrievalSettings()


def warm_config(cfg: two_tower.Muse0Config) -> two_tower.Muse0Config:
    """`cfg` as a warm night trains it from the previous night's weights: at most
    `warm_epochs`, at `warm_learning_rate`, keeping an epoch that beats the start by more than
    `warm_min_improvement` (its hash, which decides warm starts, stays `cfg`'s)."""
    return dataclasses.replace(
        cfg,
        max_epochs=SETTINGS.warm_epochs,
        learning_rate=SETTINGS.warm_learning_rate,
        min_improvement=SETTINGS.warm_min_improvement,
    )


CANDIDATES_K = SETTINGS.candidates_k


def fit_features(con, run_date: dt.date, models_dir, full_retrain: bool = False) -> dict:
    """Read the market as known at D from the clean tables; fit the feature space on the
    entities known before the training cut, or reuse the previous night's (`reuse_space`); save
    both with Muse.0's tower inputs of every seeker and ad (the night's shared inputs, part one).

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (the clean tables of D are read).
    run_date : date
        The partition D.
    models_dir : path
        The model store; the feature_space and features folders of D are written to it.
    full_retrain : bool, default False
        Refit whatever the previous night left.

    Returns
    -------
    dict
        `dims` (the dense feature vector's length), `fitted_on` (the night the space was
        fitted), `space` (`fitted` or `reused`) and `space_reason`, `unknown_share` (the drift
        measure on tonight's active entities), `fitted_seekers` and `fitted_ads`, and
        `vocabularies` (embedding table sizes by name).
    """
    market = read_market(con, run_date)
    seekers, ads = market.known_before(market.train_end)
    space, facts = reuse_space(models_dir, run_date, market, full_retrain)
    with model_store.writing(models_dir, run_date, night_inputs.FEATURE_SPACE) as folder:
        if space is None:
            space = FeatureSpace(SETTINGS.seed).fit(seekers, ads)
            space.save(folder)
            digest = hashlib.sha256((folder / "features.joblib").read_bytes()).hexdigest()[:16]
            facts = {**facts, "fitted_on": run_date.isoformat(), "hash": digest}
        else:  # the previous night's files as they are: the same hash, so warm starts match
            for path in facts.pop("folder").iterdir():
                if path.name != "space.json":
                    shutil.copy2(path, folder / path.name)
        (folder / "space.json").write_text(json.dumps(facts, indent=2))
    with model_store.writing(models_dir, run_date, night_inputs.FEATURES) as folder:
        night_inputs.save_market_inputs(folder, market, space)
    return {
        "dims": space.dims,
        "fitted_on": facts["fitted_on"],
        "space": facts["space"],
        "space_reason": facts["reason"],
        **({"unknown_share": facts["unknown_share"]} if "unknown_share" in facts else {}),
        "fitted_seekers": len(seekers),
        "fitted_ads": len(ads),
        "vocabularies": space.vocab_sizes(),
    }


def reuse_space(
    models_dir, run_date: dt.date, market: Market, full_retrain: bool = False
) -> tuple[FeatureSpace | None, dict]:
    """The previous night's feature space when tonight is not a full-retrain night, else None;
    with what was decided and why.

    A full retrain is due when asked, when no night before D within `full_retrain_days` has a
    space, when the space was fitted `full_retrain_days` or more before D, or when more than
    `max_unknown_share` of tonight's active seekers or ads meet vocabulary it was not fitted on.
    """
    if full_retrain:
        return None, {"space": "fitted", "reason": "full retrain asked"}
    previous = model_store.latest_before(
        models_dir, run_date, night_inputs.FEATURE_SPACE, SETTINGS.full_retrain_days
    )
    if previous is None:
        return None, {"space": "fitted", "reason": "no feature space from the last nights"}
    facts = night_inputs.space_facts(models_dir, previous)
    fitted_on = dt.date.fromisoformat(facts["fitted_on"])
    age = (run_date - fitted_on).days
    if age >= SETTINGS.full_retrain_days:
        return None, {"space": "fitted", "reason": f"weekly full retrain (space {age} days old)"}
    space = night_inputs.load_space(models_dir, previous)
    active_seekers = market.seekers[market.seekers["active"].to_numpy(bool)]
    active_ads = market.ads[market.ads["active"].to_numpy(bool)]
    share = max(
        space.unknown_share(active_seekers, "seekers"), space.unknown_share(active_ads, "ads")
    )
    if share > SETTINGS.max_unknown_share:
        return None, {
            "space": "fitted",
            "reason": f"drift: {share:.1%} of active entities meet unknown vocabulary",
            "unknown_share": share,
        }
    return space, {
        "space": "reused",
        "reason": f"space of {fitted_on} reused from {previous} ({share:.2%} unknown)",
        "fitted_on": fitted_on.isoformat(),
        "hash": facts["hash"],
        "unknown_share": share,
        "folder": model_store.model_dir(models_dir, previous, night_inputs.FEATURE_SPACE),
    }


def train(con, run_date: dt.date, models_dir, cfg: two_tower.Muse0Config | None = None, log=None):
    """Train Muse.0 on the events before D - 7, early-stopped on [D - 7, D); save it.

    Parameters
    ----------
    con : DuckDB connection
        Unused (the market comes from the features folder); kept so every step has one
        signature.
    run_date : date
        The partition D.
    models_dir : path
        The model store: the features folder is read, `muse0` (the model and its
        training.json) is written.
    cfg : two_tower.Muse0Config, optional
        Training settings (default `Muse0Config()`); `validation_k` is replaced by
        `comparison_k` of the validation universe (10 when that is 0).
    log : callable, optional
        Progress lines (one an epoch).

    Returns
    -------
    two_tower.TrainingReport
        Epochs, best epoch, the best validation Recall@k, the history, seconds, training
        pairs and device.
    """
    cfg = cfg or two_tower.Muse0Config()
    market = night_inputs.load_market(models_dir, run_date)
    space = night_inputs.load_space(models_dir, run_date)
    seekers, ads = night_inputs.load_tower_inputs(models_dir, run_date)
    validation = splits(market)[0]
    source, start = warm_start_source(
        models_dir, run_date, "muse0", night_inputs.space_facts(models_dir, run_date)["hash"], cfg
    )
    init_state, first_day = None, dt.date.min
    if source is not None:
        init_state = two_tower.load_model(source / "muse0.pt")[0].state_dict()
        first_day = market.train_end - dt.timedelta(days=SETTINGS.warm_window_days)
    seen = validation.seen.between(first_day, market.train_end)
    hires = market.hires.between(first_day, market.train_end)
    history, days = None, ()
    if cfg.history_length:  # a pair reads the applications before its own day, validation
        apps = market.applications  # those before the window
        history = two_tower.ApplicationHistory.of(apps.seeker, apps.ad, apps.day, ads.occupation)
        seekers = two_tower.with_history(seekers, history, market.train_end, cfg.history_length)
        days = (seen.day, hires.day)
    pairs = two_tower.training_pairs(
        *(seen.seeker, seen.ad, hires.seeker, hires.ad, len(market.ads), cfg.hire_weight), *days
    )
    # early stopping looks at Recall@1000, or at a smaller k when the window holds too few ads
    # for Recall@1000 to tell epochs apart (it is 1 for any model when k ≥ the ads)
    train_cfg = dataclasses.replace(
        cfg if source is None else warm_config(cfg),
        validation_k=comparison_k(len(validation.universe)) or 10,
    )
    val = two_tower.validation_set(validation, train_cfg.validation_seekers, train_cfg.seed)
    model, report = two_tower.train_muse0(
        *(seekers, ads, pairs, val, space.vocab_sizes(), train_cfg),
        log=log,
        init_state=init_state,
        history=history,
    )
    prior, grid = fit_ad_prior(
        model, seekers, ads, market, val, train_cfg.validation_k, report.best_validation_recall
    )
    report = dataclasses.replace(
        report,
        warm_from=source.parent.name if source else None,
        start=start,
        ad_prior={**dataclasses.asdict(prior), "grid": grid},
    )
    with model_store.writing(models_dir, run_date, "muse0") as folder:
        two_tower.save_model(model, report, folder / "muse0.pt")
        (folder / "training.json").write_text(json.dumps(dataclasses.asdict(report), indent=2))
        write_warm_start_facts(folder, models_dir, run_date, cfg)
    return report


def fit_ad_prior(
    model, seekers, ads, market: Market, val: two_tower.Validation, k: int, own_recall: float
):
    """The ad prior of the trained `model`, chosen on early stopping's validation set (the
    ads' rates as known at its start): (AdPrior, the grid's recalls). With the prior off (a
    grid of w = 0 alone) its one point is the model's own validation Recall@k, `own_recall`,
    which early stopping has scored already."""
    if not len(val.seekers):
        return ad_prior.AdPrior(), []
    if set(SETTINGS.ad_prior_weights) == {0.0}:
        off = ad_prior.AdPrior()
        return off, [{"weight": 0.0, "pseudo_days": off.pseudo_days, "recall": own_recall}]
    u = two_tower.embed(model, "seekers", seekers, val.seekers, scoring=True)
    v = two_tower.embed(model, "ads", ads, val.ads, scoring=True)
    return ad_prior.fit(
        u,
        v,
        ad_response.ad_history(market, market.train_end, val.ads),
        relevant=(val.rel_seeker, val.rel_ad),
        excluded=(val.exclude_seeker, val.exclude_ad),
        temperature=model.cfg.temperature,
        k=k,
        weights=SETTINGS.ad_prior_weights,
        pseudo_days=SETTINGS.ad_prior_pseudo_days,
    )


def config_hash(cfg) -> str:
    """A model configuration's hash (a dataclass): a warm start needs the same."""
    text = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_warm_start_facts(folder, models_dir, run_date: dt.date, cfg) -> None:
    """Record beside a model what a later night needs to start from it: the feature space's and
    the configuration's hashes."""
    facts = {
        "feature_space_hash": night_inputs.space_facts(models_dir, run_date)["hash"],
        "config_hash": config_hash(cfg),
        "pair_features": list(CROSS_COLUMNS),
    }
    (folder / "warm_start.json").write_text(json.dumps(facts, indent=2))


def warm_start_source(models_dir, run_date: dt.date, name: str, space_hash: str, cfg):
    """The previous night's model folder of `name` to start tonight's training from, or None
    for a full retrain; with the reason.

    A warm start needs a model of a night before D within `full_retrain_days`, fitted on the
    same feature space (hash) with the same configuration (hash): a full-retrain night refits
    the space, so its models start from scratch. A model downstream of Muse.0 (its vectors are
    inputs) also needs tonight's Muse.0 to have continued a previous one: a Muse.0 trained from
    scratch has vectors in another basis.
    """
    night = model_store.latest_before(models_dir, run_date, name, SETTINGS.full_retrain_days)
    if night is None:
        return None, "full retrain: no model from the last nights"
    space = model_store.model_dir(models_dir, run_date, night_inputs.FEATURE_SPACE)
    fitted_tonight = (space / "space.json").exists() and (
        night_inputs.space_facts(models_dir, run_date)["space"] == "fitted"
    )
    if fitted_tonight:
        return None, "full retrain: the feature space was fitted tonight"
    if name != "muse0" and not muse0_continued(models_dir, run_date):
        return None, "full retrain: Muse.0 of D was trained from scratch"
    folder = model_store.model_dir(models_dir, night, name)
    facts_path = folder / "warm_start.json"
    if not facts_path.exists():
        return None, f"full retrain: the model of {night} records no hashes"
    facts = json.loads(facts_path.read_text())
    if facts["feature_space_hash"] != space_hash:
        return None, f"full retrain: the feature space differs from {night}'s"
    if facts["config_hash"] != config_hash(cfg):
        return None, f"full retrain: the configuration differs from {night}'s"
    # the rerankers read the pair features (Muse.0 does not); facts written before issue 17
    # record no columns: their models had its first 17
    columns = facts.get("pair_features", list(CROSS_COLUMNS[:17]))
    if name != "muse0" and columns != list(CROSS_COLUMNS):
        return None, f"full retrain: the pair features differ from {night}'s"
    return folder, f"warm start from {night}"


def muse0_continued(models_dir, run_date: dt.date) -> bool:
    """Whether Muse.0 of D started from a previous night's Muse.0 (its training report says)."""
    report = model_store.model_dir(models_dir, run_date, "muse0") / "training.json"
    return report.exists() and json.loads(report.read_text()).get("warm_from") is not None


def load_muse0(models_dir, run_date: dt.date):
    return two_tower.load_model(model_store.model_dir(models_dir, run_date, "muse0") / "muse0.pt")


def write_night_inputs(models_dir, run_date: dt.date) -> dict:
    """Build the night's shared inputs (part two) once and save them; their sizes.

    Part two: Muse.0's unit vectors of every seeker and ad, the entity inputs and pair-feature
    entities of the rerankers, and the validation seekers' labelled candidate lists (train and
    held out), built once after Muse.0 so that every later stage starts from them.

    Parameters
    ----------
    models_dir : path
        The model store (the features folder and Muse.0 are read, the night's inputs written).
    run_date : date
        The partition D.

    Returns
    -------
    dict
        `bytes` and `features_folder_bytes` (the two folders' sizes on disk),
        `train_seekers`, `holdout_seekers` and `list_k` (candidates a list).
    """
    model, report = load_muse0(models_dir, run_date)
    seekers_in, ads_in = night_inputs.load_tower_inputs(models_dir, run_date)
    market = night_inputs.load_market(models_dir, run_date)
    prior = ad_prior.AdPrior.from_report(report)
    night = night_inputs.build_night_inputs(market, model, seekers_in, ads_in, prior)
    return night_inputs.save_night_inputs(models_dir, run_date, night)


EMBEDDING_SIDES = {
    # side -> (table, id column, market frame attribute)
    "seekers": ("embed.jobseekers", "jobseeker_id"),
    "ads": ("embed.job_ads", "ad_id"),
}


def write_embeddings(con, run_date: dt.date, models_dir, side: str) -> dict:
    """Score vectors (`Muse0.score_vectors`: the tower's unit vector, then the distance
    term's values, then the ad prior's: τ·w for seekers, the ad's log rate for ads) of every
    active seeker (or ad) of D; the partition of embed.* replaced.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (embed.jobseekers or embed.job_ads is written).
    run_date : date
        The partition D.
    models_dir : path
        The model store (the features folder and Muse.0).
    side : str
        "seekers" or "ads" (a key of `EMBEDDING_SIDES`).

    Returns
    -------
    dict
        `rows` (entities embedded), `dims` (the vectors' length) and `unit_dims` (the
        unit part's).
    """
    table, id_column = EMBEDDING_SIDES[side]
    market = night_inputs.load_market(models_dir, run_date)
    space = night_inputs.load_space(models_dir, run_date)
    model, report = load_muse0(models_dir, run_date)
    prior = ad_prior.AdPrior.from_report(report)
    frame = market.seekers if side == "seekers" else market.ads
    rows = market.active_seekers() if side == "seekers" else market.active_ads()
    inputs = night_inputs.inputs_of(space, frame.iloc[rows], side)
    if side == "seekers" and model.cfg.history_length:  # every application before D
        ad_occupation = night_inputs.load_tower_inputs(models_dir, run_date)[1].occupation
        inputs = two_tower.seekers_as_of(
            model, inputs, market.applications, ad_occupation, run_date, rows
        )
    vectors = two_tower.embed(model, side, inputs, scoring=True)
    prior_column = (
        ad_prior.seeker_column(len(rows), prior, model.cfg.temperature)
        if side == "seekers"
        else ad_prior.ad_log_rates(market, rows, run_date, prior)[:, None]
    )
    vectors = np.hstack([vectors, prior_column])
    con.execute(warehouse.sql("create_embeddings"))
    con.execute(f"DELETE FROM {table} WHERE run_date = ?", [run_date])
    dims = vectors.shape[1]
    block = pa.table(
        {
            id_column: pa.array(frame[id_column].to_numpy()[rows], pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dims),
        }
    )
    con.register("embedding_block", block)
    try:
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT CAST(? AS DATE) AS run_date, {id_column}, "
            f"CAST(embedding AS FLOAT[]) AS embedding FROM embedding_block ORDER BY {id_column}",
            [run_date],
        )
    finally:
        con.unregister("embedding_block")
    return {
        "rows": len(rows),
        "dims": dims,
        "unit_dims": model.cfg.out_dims,
        "ad_prior_weight": prior.weight,
    }


def read_embeddings(con, run_date: dt.date, side: str) -> tuple[np.ndarray, np.ndarray]:
    """One side's embeddings of D, as written by `write_embeddings`.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse.
    run_date : date
        The partition D.
    side : str
        "seekers" or "ads".

    Returns
    -------
    ids : (N,) array
        The entity ids, sorted.
    vectors : (N, dims) float32 array
        Their score vectors, row-aligned with `ids` ((0, 0) when the partition is empty).
    """
    table, id_column = EMBEDDING_SIDES[side]
    result = con.sql(
        f"SELECT {id_column}, embedding FROM {table} WHERE run_date = ? ORDER BY {id_column}",
        params=[run_date],
    ).to_arrow_table()
    ids = result.column(id_column).to_numpy(zero_copy_only=False)
    emb = result.column("embedding").combine_chunks()
    n = len(ids)
    vectors = emb.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    return ids, vectors.reshape(n, -1) if n else vectors.reshape(0, 0)


def write_candidates(
    con,
    run_date: dt.date,
    k: int = SETTINGS.candidates_k,
    budget_bytes: int = 256 * 2**20,
    block_seekers: int = 1024,
) -> dict:
    """Exact top-k active ads per active seeker by Muse.0 score, ads already applied to left
    out; written block by block, so memory is bounded whatever the number of seekers.

    Parameters
    ----------
    con : DuckDB connection
        The warehouse: embed.* and clean.applications of D are read, the partition of
        recs.candidates is replaced.
    run_date : date
        The partition D.
    k : int, default SETTINGS.candidates_k
        Candidates a seeker (fewer when fewer unseen ads remain: the lists are not padded).
    budget_bytes : int, default 256 MiB
        Memory budget of one score block in `exact_topk`.
    block_seekers : int, default 1024
        Seekers ranked and written a block.

    Returns
    -------
    dict
        `rows` written, `seekers` and `ads` embedded, `k`, and `excluded_pairs` (the
        (seeker, ad) applications left out of the lists).
    """
    seeker_ids, u = read_embeddings(con, run_date, "seekers")
    ad_ids, v = read_embeddings(con, run_date, "ads")
    seen = con.execute(
        "SELECT jobseeker_id, ad_id FROM clean.applications WHERE run_date = ?", [run_date]
    ).df()
    ex_s = pd.Index(seeker_ids).get_indexer(seen["jobseeker_id"])
    ex_a = pd.Index(ad_ids).get_indexer(seen["ad_id"])
    ok = (ex_s >= 0) & (ex_a >= 0)
    ex_s, ex_a = ex_s[ok], ex_a[ok]
    with lists.partition(con, "recs.candidates", run_date) as writer:
        for lo in range(0, len(seeker_ids), block_seekers):
            hi = min(len(seeker_ids), lo + block_seekers)
            sel = (ex_s >= lo) & (ex_s < hi)
            scores, index = exact_topk(u[lo:hi], v, k, ex_s[sel] - lo, ex_a[sel], budget_bytes)
            index = np.where(np.isfinite(scores), index, -1)  # fewer unseen ads than k
            writer.append(seeker_ids, ad_ids, np.arange(lo, hi), index, scores)
    rows = writer.rows
    return {
        "rows": rows,
        "seekers": len(seeker_ids),
        "ads": len(ad_ids),
        "k": k,
        "excluded_pairs": int(len(ex_s)),
    }


def candidate_lists(
    con, run_date: dt.date, market: Market, split: Split, seekers: np.ndarray, k: int
) -> np.ndarray:
    """recs.candidates of `seekers` as (len(seekers), k) universe positions (-1 padded)."""
    ads, _ = read_lists(con, "recs.candidates", run_date, market, seekers, k)
    return np.where(ads >= 0, positions(split.universe, ads.reshape(-1)).reshape(ads.shape), -1)


@dataclasses.dataclass
class RetrievalEvaluation:
    rows: pd.DataFrame  # metrics.ranking rows
    # per split: (muse0 per-seeker Recall@k on the oracle sample, the oracle's), paired
    oracle_pairs: dict[str, tuple[int, np.ndarray, np.ndarray]]
    # validation, at comparison_k: (k, muse0 per-seeker recall, popularity's), paired
    popularity_pairs: tuple[int, np.ndarray, np.ndarray] | None
    universe: dict[str, int]


def evaluate(
    con,
    run_date: dt.date,
    models_dir,
    raw_dir,
    log=None,
    evaluation_seekers: int | None = None,
) -> RetrievalEvaluation:
    """metrics.ranking rows of muse0 (stage retrieval) and of the baselines (stage baseline).

    Parameters
    ----------
    con : DuckDB connection
        The warehouse (tonight's candidates, for the forward window).
    run_date : date
        The partition D.
    models_dir : path
        The model store (Muse.0, the night's inputs).
    raw_dir : path
        The raw folder: the oracle's rankings of D are read from it when it holds them.
    log : callable, optional
        Progress lines.
    evaluation_seekers : int, optional
        Cap on the seekers scored per split (default: the evaluations' common sample).

    Returns
    -------
    RetrievalEvaluation
        The rows of muse0 (all seekers, the oracle sample, the rerankers' held-out seekers),
        popularity and the oracle, and the paired per-seeker recalls the checks judge.
    """
    night = night_inputs.load_night_inputs(models_dir, run_date)
    market = night.market
    model, report = load_muse0(models_dir, run_date)
    prior = ad_prior.AdPrior.from_report(report)
    seekers, ads = night_inputs.load_tower_inputs(models_dir, run_date)
    # the validation window's seekers as known at its start
    seekers = two_tower.seekers_as_of(
        model, seekers, market.applications, ads.occupation, market.train_end
    )
    oracle = OracleRankings.load(raw_dir, run_date)
    ks = SETTINGS.metric_ks
    rows, oracle_pairs, universe, popularity_pairs = [], {}, {}, None
    for split in splits(market):
        who = (
            evaluated_seekers(split)
            if evaluation_seekers is None
            else evaluated_seekers(split, evaluation_seekers)
        )
        universe[split.name] = len(split.universe)
        if not len(who):
            continue
        k = min(SETTINGS.candidates_k, len(split.universe))
        if split.name == "validation":
            u = two_tower.embed(model, "seekers", seekers, who, scoring=True)
            v = two_tower.embed(model, "ads", ads, split.universe, scoring=True)
            rates = ad_prior.ad_log_rates(market, split.universe, split.start, prior)
            u, v = ad_prior.with_prior(u, v, rates, prior, model.cfg.temperature)
            ex = pairs_in(who, split.universe, split.seen, keep_outside=False)
            scores, muse0 = exact_topk(u, v, k, *ex)
            muse0 = np.where(np.isfinite(scores), muse0, -1)
        else:  # tonight's lists as written
            muse0 = candidate_lists(con, run_date, market, split, who, k)
        labels = {"population": "all"}
        rows += metric_rows(muse0, split, who, ks, stage="retrieval", model="muse0", **labels)
        popular = popularity_lists(market, split, who, k)
        k_cmp = comparison_k(len(split.universe))
        if split.name == "validation" and k_cmp:
            popularity_pairs = (
                k_cmp,
                per_seeker_recall(muse0, split, who, k_cmp),
                per_seeker_recall(popular, split, who, k_cmp),
            )
        rows += metric_rows(popular, split, who, ks, stage="baseline", model="popularity", **labels)
        if split.name == "validation":
            rows += _holdout_rows(night, split)
        if oracle is not None:
            pick = oracle_sample(len(who))
            pairs = _oracle_rows(oracle, market, split, who[pick], muse0[pick], k)
            if pairs is None:
                if log:
                    log(
                        f"the oracle's rankings of {run_date} do not hold this {split.name} "
                        "sample: no oracle rows"
                    )
            else:
                rows += pairs[0]
                oracle_pairs[split.name] = pairs[1]
        if log:
            log(f"evaluated {split.name}: {len(who)} seekers, {len(split.universe)} ads")
    return RetrievalEvaluation(frame_of(rows, run_date), oracle_pairs, popularity_pairs, universe)


def _holdout_rows(night: night_inputs.NightInputs, validation: Split) -> list[dict]:
    """Muse.0's rows on the rerankers' held-out seekers (population rerank_holdout): its own
    order of their lists, the reference the rerank stage's rows are read against."""
    held = night.holdout_lists
    pos = np.where(held.ads >= 0, positions(validation.universe, held.ads), -1)
    return metric_rows(
        pos,
        validation,
        held.seeker,
        (10, 100),
        stage="retrieval",
        model="muse0",
        population="rerank_holdout",
    )


def _oracle_rows(oracle, market, split, sample, muse0_sample, k):
    """(rows, (k, muse0's per-seeker recall, the oracle's)) on the oracle sample; None when
    the oracle's file does not hold this sample."""
    truth = {kind: oracle.lists(market, split, sample, kind, k) for kind in ("apply", "hire")}
    if any(t is None for t in truth.values()):
        return None
    labels = {"population": "oracle_sample"}
    ks = SETTINGS.metric_ks
    rows = metric_rows(muse0_sample, split, sample, ks, stage="retrieval", model="muse0", **labels)
    for kind, relevance in (("apply", "applications"), ("hire", "hires")):
        rows += [
            r
            for r in metric_rows(
                truth[kind], split, sample, ks, stage="baseline", model="oracle", **labels
            )
            if r["relevance"] == relevance
        ]
    paired = (
        k,
        per_seeker_recall(muse0_sample, split, sample, k),
        per_seeker_recall(truth["apply"], split, sample, k),
    )
    return rows, paired


def write_evaluation(con, run_date: dt.date, evaluation: RetrievalEvaluation) -> int:
    """Replace this stage's rows of D in metrics.ranking (stages retrieval and baseline).

    Parameters
    ----------
    con : DuckDB connection
        The warehouse.
    run_date : date
        The partition D.
    evaluation : RetrievalEvaluation
        The output of `evaluate`.

    Returns
    -------
    int
        The rows written.
    """
    con.execute(warehouse.sql("create_metrics_ranking"))
    owned = {"stage": ["retrieval", "baseline"]}
    return warehouse.replace_rows(con, "metrics.ranking", run_date, evaluation.rows, owned)
