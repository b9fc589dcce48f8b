"""The night's shared inputs of partition D, built once after Muse.0 and read by every later stage.

Two parts, each written once to the model store:
  `features/`      (by `fit_features`) the market as known at D and Muse.0's tower inputs of
                   every seeker and ad of it, beside the fitted feature space;
  `night_inputs/`  (by `build_night_inputs`) Muse.0's unit vectors of every seeker and ad, the
                   rerankers' entity inputs [Muse.0 vector, entity numbers as of D - 7], the
                   entity tables of the pair features as of D - 7 and as of D, and the validation
                   seekers' labelled candidate lists (train and held-out) with their pair features.
The rerankers, the rerank evaluation, the redistribution and the send stage load them
(`load_night_inputs`) instead of rebuilding them.

Validation lists: the Muse.0 top-1,000 of the validation-window seekers over the ads open in
[D - 7, D) (earlier applications excluded, as the retrieval evaluation ranks them), labelled with
their applications and hires in the window. The seekers are split once, seeded: 85% train the
rerankers, 15% are held out (early stopping, the rerank and redistribution validation metrics),
each part capped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np

from jobrec.data import model_store
from jobrec.data.market import Market
from jobrec.data.run_stats import counted_build
from jobrec.evaluation.metrics import hits_matrix
from jobrec.evaluation.offline import Split, pairs_in, splits
from jobrec.features import FeatureSpace
from jobrec.pair_features import (
    CROSS_COLUMNS,
    Entities,
    build_entities,
    entity_numerics,
    list_pair_features,
    muse0_score_feature,
)
from jobrec.reranker_model import Lists
from jobrec.retrieval import ad_prior, two_tower
from jobrec.retrieval.topk import exact_topk

FEATURES = "features"  # model-store folder of the night's market and tower inputs (a cache)
FEATURE_SPACE = "feature_space"  # the fitted feature space, reused between full retrains
NIGHT_INPUTS = "night_inputs"


@dataclasses.dataclass(frozen=True)
class ValidationListSettings:
    """How the validation seekers' candidate lists are drawn."""

    list_k: int = 1000  # Muse.0's candidates per seeker, as tonight
    # 15%, not 30%: on `small` (6,400 validation seekers) the rerankers train on 5,000 lists
    # instead of 4,500 and Muse.2's forward Recall@10 rose 0.6962 -> 0.6996 (three seeds),
    # XGBoost's did not (BENCHMARKS.md, "Thirteenth session"); `medium` hits both caps anyway
    holdout_share: float = 0.15
    max_train_seekers: int = 5000
    max_holdout_seekers: int = 3000
    seed: int = 0


VALIDATION_LISTS = ValidationListSettings()


@dataclasses.dataclass
class EntityInputs:
    """Reranker entity inputs for every seeker/ad row of the market: [Muse.0 vector, numbers]."""

    seekers: np.ndarray
    ads: np.ndarray


@dataclasses.dataclass
class NightInputs:
    """What every stage after retrieval starts from (see the module docstring)."""

    market: Market
    temperature: float  # Muse.0's score scale: the candidates' scores x temperature
    inputs: EntityInputs  # [Muse.0 vector, numbers] of every seeker / ad row
    vector_dims: int  # Muse.0's output width: the first columns of the entity inputs
    train_entities: Entities  # pair features as of the training cut (D - 7)
    tonight_entities: Entities  # as of D
    train_lists: Lists
    holdout_lists: Lists
    # the ad prior's part of each ad's candidate scores tonight (τ·w·b_j, market ad rows; 0
    # where the ad is not active): taken off again before the scores become the rerankers'
    # Muse.0 column, which stays the towers' own (the ad's rate is a pair feature already)
    ad_prior_scores: np.ndarray | None = None

    @property
    def seeker_vectors(self) -> np.ndarray:
        """Muse.0 unit vectors of every seeker row (a view of the entity inputs)."""
        return self.inputs.seekers[:, : self.vector_dims]

    @property
    def ad_vectors(self) -> np.ndarray:
        return self.inputs.ads[:, : self.vector_dims]


# --- part one: the market and the tower inputs (with the feature space) -----------------------


@counted_build("tower_inputs")
def tower_inputs(
    space: FeatureSpace, market: Market
) -> tuple[two_tower.TowerInputs, two_tower.TowerInputs]:
    """Muse.0's inputs of every seeker and every ad row of the market."""
    return (
        inputs_of(space, market.seekers, "seekers"),
        inputs_of(space, market.ads, "ads"),
    )


def inputs_of(space: FeatureSpace, frame, side: str) -> two_tower.TowerInputs:
    """Muse.0's inputs of these rows of one side (their location read off the dense vectors)."""
    dense = space.transform(frame, side)
    location = dense[:, space.block_columns("latlon")]
    return two_tower.TowerInputs.from_arrays(dense, space.indices(frame, side), location)


def save_market_inputs(folder, market: Market, space: FeatureSpace) -> None:
    """Write the market and its tower inputs beside the feature space (in `folder`)."""
    seekers, ads = tower_inputs(space, market)
    model_store.save_mapped(market, folder / "market.pkl")
    model_store.save_mapped((seekers, ads), folder / "tower_inputs.pkl")


def load_space(models_dir, run_date: dt.date) -> FeatureSpace:
    return FeatureSpace.load(model_store.model_dir(models_dir, run_date, FEATURE_SPACE))


def space_facts(models_dir, run_date: dt.date) -> dict:
    """The night's feature space's `fitted_on` night, `hash` (of its saved file: the same when
    a night reuses it) and why it was fitted or reused."""
    folder = model_store.model_dir(models_dir, run_date, FEATURE_SPACE)
    return json.loads((folder / "space.json").read_text())


def load_market(models_dir, run_date: dt.date) -> Market:
    """The market as known at D, as the features step read it from the clean tables."""
    return model_store.load_mapped(
        model_store.model_dir(models_dir, run_date, FEATURES) / "market.pkl"
    )


def load_tower_inputs(
    models_dir, run_date: dt.date
) -> tuple[two_tower.TowerInputs, two_tower.TowerInputs]:
    return model_store.load_mapped(
        model_store.model_dir(models_dir, run_date, FEATURES) / "tower_inputs.pkl"
    )


# --- part two: everything after Muse.0 -------------------------------------------------------


def split_seekers(
    split: Split, settings: ValidationListSettings = VALIDATION_LISTS
) -> tuple[np.ndarray, np.ndarray]:
    """(train, holdout) seeker rows of a window, seeded, sorted, capped."""
    who = split.seekers(np.iinfo(np.int64).max, settings.seed)
    rng = np.random.default_rng(settings.seed + 7)
    holdout = rng.random(len(who)) < settings.holdout_share
    train, held = who[~holdout], who[holdout]
    if len(train) > settings.max_train_seekers:
        train = np.sort(rng.choice(train, settings.max_train_seekers, replace=False))
    if len(held) > settings.max_holdout_seekers:
        held = np.sort(rng.choice(held, settings.max_holdout_seekers, replace=False))
    return train, held


def labelled_lists(
    model,
    seekers_in: two_tower.TowerInputs,
    ads_in: two_tower.TowerInputs,
    ent: Entities,
    split: Split,
    who: np.ndarray,
    k: int,
    prior: ad_prior.AdPrior,
    ad_rates: np.ndarray,
) -> Lists:
    """Muse.0's top-k of `who` over the split's universe (with its ad prior), with pair
    features and labels.

    Parameters
    ----------
    model : Muse0
        The partition's Muse.0.
    seekers_in, ads_in : TowerInputs
        Muse.0's inputs of every seeker and ad row.
    ent : Entities
        The entities the pair features are taken from.
    split : Split
        The window: its universe, the pairs seen before it (excluded), its relevant events.
    who : (G,) int array
        Market seeker rows.
    k : int
        List length (at most the universe's size).
    prior : AdPrior
        Muse.0's ad prior.
    ad_rates : (len(split.universe),) float array
        The universe's log rates as known at the split's start (`ad_prior.ad_log_rates`).

    Returns
    -------
    Lists
        G lists of market ad rows (-1 padded) with pair features and application / hire labels.
    """
    u = two_tower.embed(model, "seekers", seekers_in, who, scoring=True)
    v = two_tower.embed(model, "ads", ads_in, split.universe, scoring=True)
    u, v = ad_prior.with_prior(u, v, ad_rates, prior, model.cfg.temperature)
    k = min(k, len(split.universe))
    scores, pos = exact_topk(u, v, k, *pairs_in(who, split.universe, split.seen, False))
    pos = np.where(np.isfinite(scores), pos, -1)
    ads = np.where(pos >= 0, split.universe[np.maximum(pos, 0)], -1)
    # ranked with the prior; the rerankers' column is the towers' score alone
    scores = scores - model.cfg.temperature * prior.weight * ad_rates[np.maximum(pos, 0)]
    labels = {}
    for kind in ("applications", "hires"):
        r, p = pairs_in(who, split.universe, split.relevant[kind], keep_outside=False)
        labels[kind] = hits_matrix(pos, r, p, len(split.universe))
    cross = list_pair_features(ent, who, ads, muse0_score_feature(scores, model.cfg.temperature))
    return Lists(who, ads, cross, labels["applications"], labels["hires"])


@counted_build("night_inputs")
def build_night_inputs(
    market: Market,
    model,
    seekers_in: two_tower.TowerInputs,
    ads_in: two_tower.TowerInputs,
    prior: ad_prior.AdPrior | None = None,
    settings: ValidationListSettings = VALIDATION_LISTS,
) -> NightInputs:
    """Everything the stages after retrieval share (see the module docstring).

    Parameters
    ----------
    market : Market
        The market as known at D.
    model : Muse0
        The partition's Muse.0.
    seekers_in, ads_in : TowerInputs
        Muse.0's inputs of every seeker and ad row of the market.
    prior : AdPrior, optional
        Muse.0's ad prior (default off).
    settings : ValidationListSettings
        How the validation lists are drawn.

    Returns
    -------
    NightInputs
    """
    cut = market.train_end
    train_entities = build_entities(market, cut, cut)
    # the seekers as known at the cut: the rerankers train on lists dated there
    seekers_in = two_tower.seekers_as_of(
        model, seekers_in, market.applications, ads_in.occupation, cut
    )
    seeker_vectors = two_tower.embed(model, "seekers", seekers_in)
    ad_vectors = two_tower.embed(model, "ads", ads_in)
    inputs = EntityInputs(
        np.hstack([seeker_vectors, entity_numerics(train_entities.seekers, False)]),
        np.hstack([ad_vectors, entity_numerics(train_entities.ads, True)]),
    )
    validation = splits(market)[0]
    prior = prior or ad_prior.AdPrior()
    rates = ad_prior.ad_log_rates(market, validation.universe, validation.start, prior)
    train, held = (
        labelled_lists(
            *(model, seekers_in, ads_in, train_entities, validation, who, settings.list_k),
            prior,
            rates,
        )
        for who in split_seekers(validation, settings)
    )
    return NightInputs(
        market,
        float(model.cfg.temperature),
        inputs,
        seeker_vectors.shape[1],
        train_entities,
        build_entities(market, market.run_date, market.run_date),
        train,
        held,
        ad_prior.tonight_scores(market, prior, float(model.cfg.temperature)),
    )


def save_night_inputs(models_dir, run_date: dt.date, night: NightInputs) -> dict:
    """Write the night's inputs (the market stays in the features folder); their sizes."""
    with model_store.writing(models_dir, run_date, NIGHT_INPUTS) as folder:
        model_store.save_mapped(
            dataclasses.replace(night, market=None), folder / "night_inputs.pkl"
        )
    folder = model_store.model_dir(models_dir, run_date, NIGHT_INPUTS)
    return {
        "bytes": sum(p.stat().st_size for p in folder.iterdir()),
        "features_folder_bytes": sum(
            p.stat().st_size
            for p in model_store.model_dir(models_dir, run_date, FEATURES).iterdir()
        ),
        "train_seekers": len(night.train_lists.seeker),
        "holdout_seekers": len(night.holdout_lists.seeker),
        "list_k": int(night.train_lists.ads.shape[1]),
    }


def load_night_inputs(models_dir, run_date: dt.date) -> NightInputs:
    """The night's inputs of partition D, with its market; refused when they were built with
    another set of pair features (a column added since: re-materialise `models/night_inputs`)."""
    path = model_store.model_dir(models_dir, run_date, NIGHT_INPUTS) / "night_inputs.pkl"
    night = model_store.load_mapped(path)
    columns = night.train_lists.cross.shape[-1]
    if columns != len(CROSS_COLUMNS):
        raise ValueError(
            f"{path}: its lists hold {columns} pair features, this code reads "
            f"{len(CROSS_COLUMNS)}: re-materialise models/night_inputs for {run_date}"
        )
    return dataclasses.replace(night, market=load_market(models_dir, run_date))
