"""Muse.0 with the seekers' application history on (`Muse0Config.history_length`) and its ad
prior forced on, through the retrieval stage on the tiny market: trained with each pair's own
history, tonight's seeker vectors read every application before D, the prior ranks the
candidates but stays out of the rerankers' Muse.0 column, and the stage's checks pass."""

from __future__ import annotations

import dataclasses
import functools

import duckdb
import numpy as np

from jobrec import pair_features, rerank, retrieval
from jobrec.retrieval import ad_prior, night_inputs, two_tower
from tests.conftest import TINY_DAY


def test_the_retrieval_stage_with_history(tiny_settings, monkeypatch):
    from dagster import AssetKey, AssetSelection, materialize

    from assets.resources import build_resources
    from orchestration.definitions import ALL_ASSETS

    with_history = functools.partial(two_tower.Muse0Config, history_length=3)
    # the tiny market's validation picks w = 0: force the prior on to see where it goes
    forced = dataclasses.replace(
        retrieval.stage.SETTINGS, ad_prior_weights=(0.75,), ad_prior_pseudo_days=(7.0,)
    )
    monkeypatch.setattr(retrieval.stage, "SETTINGS", forced)
    monkeypatch.setattr(two_tower, "Muse0Config", with_history)
    keys = [
        ["metrics", "ranking_retrieval"],
        ["embed", "jobseekers_embeddings"],
        ["recs", "candidates"],
    ]
    result = materialize(
        ALL_ASSETS,
        selection=AssetSelection.assets(*(AssetKey(k) for k in keys)).upstream(),
        partition_key=TINY_DAY.isoformat(),
        resources=build_resources(tiny_settings),
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    model, report = retrieval.load_muse0(tiny_settings.models_dir, TINY_DAY)
    assert model.cfg.history_length == 3 and report["pairs"] > 0
    # tonight's score vectors (embed.*): each active seeker's history as of D, not as of the cut
    market = night_inputs.load_market(tiny_settings.models_dir, TINY_DAY)
    seekers, ads = night_inputs.load_tower_inputs(tiny_settings.models_dir, TINY_DAY)
    rows = market.active_seekers()
    vectors = {}
    for day in (market.run_date, market.train_end):
        x = two_tower.seekers_as_of(model, seekers, market.applications, ads.occupation, day)
        vectors[day] = two_tower.embed(model, "seekers", x, rows, scoring=True)
    with duckdb.connect(str(tiny_settings.warehouse), read_only=True) as con:
        ids, written = retrieval.stage.read_embeddings(con, TINY_DAY, "seekers")
    order = np.argsort(market.seekers["jobseeker_id"].to_numpy()[rows])
    assert list(ids) == list(market.seekers["jobseeker_id"].to_numpy()[rows][order])
    # the score vector, then the ad prior's column: τ·w for every seeker
    np.testing.assert_allclose(written[:, :-1], vectors[market.run_date][order], atol=1e-5)
    prior = ad_prior.AdPrior.from_report(report)
    np.testing.assert_allclose(written[:, -1], model.cfg.temperature * prior.weight, atol=1e-7)
    # the week between the cut and D moved some seekers' histories, and so their vectors
    moved = ~np.isclose(vectors[market.run_date], vectors[market.train_end], atol=1e-5).all(1)
    assert moved.any() and not moved.all()
    assert dataclasses.asdict(model.cfg)["history_length"] == 3
    _check_prior_off_the_rerankers_column(tiny_settings, model, market, seekers, ads)


def _check_prior_off_the_rerankers_column(settings, model, market, seekers_in, ads_in):
    prior = ad_prior.AdPrior.from_report(retrieval.load_muse0(settings.models_dir, TINY_DAY)[1])
    assert prior == ad_prior.AdPrior(0.75, 7.0)
    night = night_inputs.load_night_inputs(settings.models_dir, TINY_DAY)
    assert np.abs(night.ad_prior_scores[market.active_ads()]).max() > 0
    column = pair_features.CROSS_COLUMNS.index("muse0_cosine")

    def towers_feature(su, sv, valid):
        scores = (np.repeat(su, valid.sum(1), axis=0) * sv).sum(1)
        return pair_features.muse0_score_feature(scores, night.temperature)

    # tonight's lists: ranked with the prior (the candidates' order), the column without it
    who = market.active_seekers()[:3]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        lists = rerank.stage.tonight_lists(con, TINY_DAY, night, who)
    x = two_tower.seekers_as_of(model, seekers_in, market.applications, ads_in.occupation, TINY_DAY)
    valid = lists.ads >= 0
    su = two_tower.embed(model, "seekers", x, who, scoring=True)
    sv = two_tower.embed(model, "ads", ads_in, lists.ads[valid], scoring=True)
    got = lists.cross[valid][:, column]
    np.testing.assert_allclose(got, towers_feature(su, sv, valid), rtol=1e-4, atol=1e-5)
    # the training lists too (the rates as known at the cut)
    lists = night.train_lists
    x = two_tower.seekers_as_of(
        model, seekers_in, market.applications, ads_in.occupation, market.train_end
    )
    valid = lists.ads[:3] >= 0
    su = two_tower.embed(model, "seekers", x, lists.seeker[:3], scoring=True)
    sv = two_tower.embed(model, "ads", ads_in, lists.ads[:3][valid], scoring=True)
    got = lists.cross[:3][valid][:, column]
    np.testing.assert_allclose(got, towers_feature(su, sv, valid), rtol=1e-4, atol=1e-5)
