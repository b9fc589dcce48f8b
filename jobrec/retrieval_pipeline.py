"""The retrieval stage of partition D, step by step (each Dagster asset calls one function).

features -> Muse.0 model -> seeker / ad embeddings (embed.*) -> recs.candidates -> evaluation
(metrics.ranking rows of muse0 beside the popularity and oracle baselines).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa

from jobrec import modelstore
from jobrec import muse0 as m0
from jobrec import warehouse as wh
from jobrec.evaluation import (
    Split,
    metric_rows,
    oracle_lists,
    pairs_in,
    per_seeker_recall,
    popularity_lists,
    positions,
    splits,
)
from jobrec.features import FeatureSpace
from jobrec.market import Market, load_market
from jobrec.retrieval import exact_topk
from jobrec.synth.oracle import load_oracle, oracle_dir

CANDIDATES_K = 1000
METRIC_KS = (10, 100, 1000)
EVALUATION_SEEKERS = 20_000  # a seeded sample bounds the evaluation's cost at large scales
ORACLE_SEEKERS = 300
SEED = 0


def fit_features(con, run_date: dt.date, models_dir) -> dict:
    """Fit the feature space on the entities known before the training cut; save it."""
    market = load_market(con, run_date)
    seekers, ads = market.known_before(market.train_end)
    space = FeatureSpace(SEED).fit(seekers, ads)
    with modelstore.writing(models_dir, run_date, "features") as folder:
        space.save(folder)
    return {
        "dims": space.dims,
        "fitted_seekers": len(seekers),
        "fitted_ads": len(ads),
        "vocabularies": space.vocab_sizes(),
    }


def load_features(models_dir, run_date: dt.date) -> FeatureSpace:
    return FeatureSpace.load(modelstore.model_dir(models_dir, run_date, "features"))


def tower_inputs(space: FeatureSpace, market: Market) -> tuple[m0.TowerInputs, m0.TowerInputs]:
    return (
        m0.TowerInputs.from_arrays(
            space.transform(market.seekers, "seekers"), space.indices(market.seekers, "seekers")
        ),
        m0.TowerInputs.from_arrays(
            space.transform(market.ads, "ads"), space.indices(market.ads, "ads")
        ),
    )


def train(con, run_date: dt.date, models_dir, cfg: m0.Muse0Config | None = None, log=None):
    """Train Muse.0 on the events before D - 7, early-stopped on [D - 7, D); save it."""
    cfg = cfg or m0.Muse0Config()
    market = load_market(con, run_date)
    space = load_features(models_dir, run_date)
    seekers, ads = tower_inputs(space, market)
    validation = splits(market)[0]
    hires = market.hires.between(dt.date.min, market.train_end)
    pairs = m0.training_pairs(
        validation.seen.seeker,
        validation.seen.ad,
        hires.seeker,
        hires.ad,
        len(market.ads),
        cfg.hire_weight,
    )
    # early stopping looks at Recall@1000, or at a smaller k when the window holds too few ads
    # for Recall@1000 to tell epochs apart (it is 1 for any model when k ≥ the ads)
    cfg = dataclasses.replace(cfg, validation_k=comparison_k(len(validation.universe)) or 10)
    val = m0.validation_set(validation, cfg.validation_seekers, cfg.seed)
    model, report = m0.train_muse0(seekers, ads, pairs, val, space.vocab_sizes(), cfg, log=log)
    with modelstore.writing(models_dir, run_date, "muse0") as folder:
        m0.save_model(model, report, folder / "muse0.pt")
        (folder / "training.json").write_text(json.dumps(dataclasses.asdict(report), indent=2))
    return report


def load_muse0(models_dir, run_date: dt.date):
    return m0.load_model(modelstore.model_dir(models_dir, run_date, "muse0") / "muse0.pt")


EMBEDDING_SIDES = {
    # side -> (table, id column, market frame attribute)
    "seekers": ("embed.jobseekers", "jobseeker_id"),
    "ads": ("embed.job_ads", "ad_id"),
}


def write_embeddings(con, run_date: dt.date, models_dir, side: str) -> dict:
    """Embed every active seeker (or ad) of D and replace the partition of embed.*."""
    table, id_column = EMBEDDING_SIDES[side]
    market = load_market(con, run_date)
    space = load_features(models_dir, run_date)
    model, _ = load_muse0(models_dir, run_date)
    frame = market.seekers if side == "seekers" else market.ads
    rows = market.active_seekers() if side == "seekers" else market.active_ads()
    inputs = m0.TowerInputs.from_arrays(
        space.transform(frame.iloc[rows], side), space.indices(frame.iloc[rows], side)
    )
    vectors = m0.embed(model, side, inputs)
    con.execute(wh.sql("create_embeddings"))
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
    return {"rows": len(rows), "dims": dims}


def read_embeddings(con, run_date: dt.date, side: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids sorted, vectors) of one side's embeddings of D."""
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
    k: int = CANDIDATES_K,
    budget_bytes: int = 256 * 2**20,
    block_seekers: int = 1024,
) -> dict:
    """Exact top-k active ads per active seeker by Muse.0 score, ads already applied to left
    out; written block by block, so memory is bounded whatever the number of seekers."""
    seeker_ids, u = read_embeddings(con, run_date, "seekers")
    ad_ids, v = read_embeddings(con, run_date, "ads")
    seen = con.execute(
        "SELECT jobseeker_id, ad_id FROM clean.applications WHERE run_date = ?", [run_date]
    ).df()
    ex_s = pd.Index(seeker_ids).get_indexer(seen["jobseeker_id"])
    ex_a = pd.Index(ad_ids).get_indexer(seen["ad_id"])
    ok = (ex_s >= 0) & (ex_a >= 0)
    ex_s, ex_a = ex_s[ok], ex_a[ok]
    con.execute(wh.sql("create_recs_candidates"))
    con.execute("DELETE FROM recs.candidates WHERE run_date = ?", [run_date])
    rows = 0
    for lo in range(0, len(seeker_ids), block_seekers):
        hi = min(len(seeker_ids), lo + block_seekers)
        sel = (ex_s >= lo) & (ex_s < hi)
        scores, index = exact_topk(u[lo:hi], v, k, ex_s[sel] - lo, ex_a[sel], budget_bytes)
        index = np.where(np.isfinite(scores), index, -1)  # fewer unseen ads than k
        rows += wh.insert_ranked(
            con, "recs.candidates", run_date, seeker_ids, ad_ids, np.arange(lo, hi), index, scores
        )
    return {
        "rows": rows,
        "seekers": len(seeker_ids),
        "ads": len(ad_ids),
        "k": k,
        "excluded_pairs": int(len(ex_s)),
    }


def read_lists(
    con,
    table: str,
    run_date: dt.date,
    market: Market,
    seekers: np.ndarray,
    k: int,
    model: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A ranked-list table's (recs.candidates, recs.reranked) lists of `seekers` (market rows)
    as (len(seekers), k) ad rows and scores, rank 1 first (-1 / NaN padded)."""
    ids = market.seekers["jobseeker_id"].to_numpy()[seekers]
    con.register("wanted_seekers", pa.table({"jobseeker_id": ids, "pos": np.arange(len(ids))}))
    try:
        frame = con.execute(
            f'SELECT w.pos, t.ad_id, t."rank", t.score FROM {wh.checked_name(table)} AS t '
            "JOIN wanted_seekers AS w USING (jobseeker_id) "
            f'WHERE t.run_date = $day AND t."rank" <= $k'
            + (" AND t.model = $model" if model else ""),
            {"day": run_date, "k": k, **({"model": model} if model else {})},
        ).df()
    finally:
        con.unregister("wanted_seekers")
    ads = np.full((len(seekers), k), -1, dtype=np.int64)
    scores = np.full((len(seekers), k), np.nan, dtype=np.float32)
    at = (frame["pos"].to_numpy(), frame["rank"].to_numpy() - 1)
    ads[at] = market.ad_index(frame["ad_id"])
    scores[at] = frame["score"].to_numpy(np.float32)
    return ads, scores


def candidate_lists(
    con, run_date: dt.date, market: Market, split: Split, seekers: np.ndarray, k: int
) -> np.ndarray:
    """recs.candidates of `seekers` as (len(seekers), k) universe positions (-1 padded)."""
    ads, _ = read_lists(con, "recs.candidates", run_date, market, seekers, k)
    return np.where(ads >= 0, positions(split.universe, ads.reshape(-1)).reshape(ads.shape), -1)


def oracle_sample(n_seekers: int, size: int = ORACLE_SEEKERS) -> np.ndarray:
    """Positions (sorted) of the fixed oracle sample among a split's evaluated seekers: every
    stage scores the same seekers, so their rows compare with the oracle's."""
    n = min(size, n_seekers)
    return np.sort(np.random.default_rng(SEED + 1).choice(n_seekers, n, replace=False))


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean of a - b over paired per-seeker values, and its standard error."""
    diff = np.asarray(a, float) - np.asarray(b, float)
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return (float(diff.mean()) if len(diff) else 0.0), se


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
    evaluation_seekers: int = EVALUATION_SEEKERS,
    oracle_seekers: int = ORACLE_SEEKERS,
) -> RetrievalEvaluation:
    """metrics.ranking rows of muse0 (stage retrieval) and of the baselines (stage baseline)."""
    market = load_market(con, run_date)
    space = load_features(models_dir, run_date)
    model, _ = load_muse0(models_dir, run_date)
    seekers, ads = tower_inputs(space, market)
    folder = oracle_dir(raw_dir)
    oracle = load_oracle(folder) if folder else None
    rows, oracle_pairs, universe, popularity_pairs = [], {}, {}, None
    for split in splits(market):
        who = split.seekers(evaluation_seekers, SEED)
        universe[split.name] = len(split.universe)
        if not len(who):
            continue
        k = min(CANDIDATES_K, len(split.universe))
        if split.name == "validation":
            u = m0.embed(model, "seekers", seekers, who)
            v = m0.embed(model, "ads", ads, split.universe)
            ex = pairs_in(who, split.universe, split.seen, keep_outside=False)
            scores, muse0 = exact_topk(u, v, k, *ex)
            muse0 = np.where(np.isfinite(scores), muse0, -1)
        else:  # tonight's lists as written
            muse0 = candidate_lists(con, run_date, market, split, who, k)
        labels = {"population": "all"}
        rows += metric_rows(
            muse0, split, who, METRIC_KS, stage="retrieval", model="muse0", **labels
        )
        popular = popularity_lists(market, split, who, k)
        k_cmp = comparison_k(len(split.universe))
        if split.name == "validation" and k_cmp:
            popularity_pairs = (
                k_cmp,
                per_seeker_recall(muse0, split, who, k_cmp),
                per_seeker_recall(popular, split, who, k_cmp),
            )
        rows += metric_rows(
            popular, split, who, METRIC_KS, stage="baseline", model="popularity", **labels
        )
        if oracle is not None:
            pick = oracle_sample(len(who), oracle_seekers)
            sample = who[pick]
            sample_labels = {"population": "oracle_sample"}
            rows += metric_rows(
                muse0[pick],
                split,
                sample,
                METRIC_KS,
                stage="retrieval",
                model="muse0",
                **sample_labels,
            )
            for kind, relevance in (("apply", "applications"), ("hire", "hires")):
                truth = oracle_lists(oracle, market, split, sample, k, kind)
                rows += [
                    r
                    for r in metric_rows(
                        truth,
                        split,
                        sample,
                        METRIC_KS,
                        stage="baseline",
                        model="oracle",
                        **sample_labels,
                    )
                    if r["relevance"] == relevance
                ]
                if kind == "apply":
                    oracle_pairs[split.name] = (
                        k,
                        per_seeker_recall(muse0[pick], split, sample, k),
                        per_seeker_recall(truth, split, sample, k),
                    )
        if log:
            log(f"evaluated {split.name}: {len(who)} seekers, {len(split.universe)} ads")
    frame = pd.DataFrame(rows)
    if len(frame):
        frame.insert(0, "run_date", pd.Timestamp(run_date).date())
    return RetrievalEvaluation(frame, oracle_pairs, popularity_pairs, universe)


def write_evaluation(con, run_date: dt.date, evaluation: RetrievalEvaluation) -> int:
    con.execute(wh.sql("create_metrics_ranking"))
    owned = {"stage": ["retrieval", "baseline"]}
    return wh.replace_rows(con, "metrics.ranking", run_date, evaluation.rows, owned)


def comparison_k(universe: int) -> int:
    """The k at which models are compared: 1000 unless the universe is too small for Recall@k
    to tell models apart (at least 10 ads per list slot)."""
    for k in (1000, 100, 10):
        if universe >= 10 * k:
            return k
    return 0


def recall_at(
    rows: pd.DataFrame,
    model: str,
    k: int,
    split: str = "validation",
    relevance: str = "applications",
    population: str = "all",
):
    """The recall of one metrics row, None when absent."""
    sel = rows[
        (rows.model == model)
        & (rows.k == k)
        & (rows.split == split)
        & (rows.relevance == relevance)
        & (rows.population == population)
    ]
    return None if sel.empty else float(sel.recall.iloc[0])
