"""The XGBoost baseline (jobrec.xgb_baseline): flat pair rows, the sampled training groups,
learning a planted structure with both objectives, scoring against the library's own predict,
and the booster's save/load round trip."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xgboost as xgb

from jobrec.pair_features import CROSS_COLUMNS
from jobrec.rerank import xgboost_baseline
from jobrec.rerank.training import candidate_recall
from jobrec.rerank.xgboost_baseline import (
    XGBConfig,
    _sampled,
    load_booster,
    pair_rows,
    predict_lists,
    train_xgb,
)
from jobrec.reranker_model import Lists

C = len(CROSS_COLUMNS)
N_SEEKERS, N_ADS = 40, 120
PLANTED = CROSS_COLUMNS.index("skill_overlap")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny boosters: one thread is far faster (OpenMP threads spin when the cores are busy)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(xgboost_baseline.os, "cpu_count", lambda: 1)
        yield


def test_pair_rows_layout_by_hand():
    seeker_x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # float64: rows come out float32
    ad_x = np.array([[10.0, 11.0, 12.0], [20.0, 21.0, 22.0]], dtype=np.float32)
    cross = np.array([[0.5] * C, [-0.5] * C], dtype=np.float32)
    rows = pair_rows(seeker_x, ad_x, np.array([2, 0]), np.array([1, 1]), cross)
    assert rows.dtype == np.float32 and rows.shape == (2, 2 + 3 + C)
    assert rows[0].tolist() == [5.0, 6.0, 20.0, 21.0, 22.0] + [0.5] * C
    assert rows[1].tolist() == [1.0, 2.0, 20.0, 21.0, 22.0] + [-0.5] * C


def hand_lists() -> Lists:
    """4 lists of 8 candidates; the ad row is also each candidate's ad_x value, so the sampled
    rows tell which candidates were kept."""
    ads = np.array(
        [
            [0, 1, 2, 3, 4, 5, 6, 7],  # applied to 1 and 5, hired on 5: 6 negatives
            [10, 11, 12, -1, -1, -1, -1, -1],  # applied to 12: 2 negatives (fewer than 3)
            [20, 21, 22, 23, 24, 25, 26, 27],  # no positive: left out
            [30, 31, -1, 33, 34, 35, 36, -1],  # hired (not applied) on 36, padding in between
        ]
    )
    applied = np.zeros(ads.shape, bool)
    hired = np.zeros(ads.shape, bool)
    applied[0, [1, 5]] = applied[1, 2] = True
    hired[0, 5] = hired[3, 6] = True
    cross = np.zeros((4, 8, C), np.float32)
    cross[..., 0] = np.arange(8)[None, :]  # the candidate's slot
    return Lists(np.array([3, 1, 0, 2]), ads, cross, applied, hired)


def test_sampled_keeps_positives_and_caps_negatives():
    lists = hand_lists()
    seeker_x = np.arange(4, dtype=np.float32)[:, None] * 100  # seeker row r -> 100 r
    ad_x = np.arange(40, dtype=np.float32)[:, None]  # ad row j -> j
    cfg = XGBConfig(negatives_per_seeker=3, hire_weight=5.0)
    rows, labels, sizes = _sampled(lists, seeker_x, ad_x, cfg, np.random.default_rng(0))
    assert rows.shape == (sizes.sum(), 1 + 1 + C) and labels.shape == (sizes.sum(),)
    assert sizes.tolist() == [2 + 3, 1 + 2, 1 + 3]  # list 2 has no positive
    groups = np.split(np.arange(len(rows)), np.cumsum(sizes)[:-1])
    for group, g, positives in zip(
        groups, [0, 1, 3], [{1: 1.0, 5: 6.0}, {12: 1.0}, {36: 5.0}], strict=True
    ):
        assert (rows[group, 0] == 100 * lists.seeker[g]).all()
        ads = rows[group, 1].astype(int)
        assert (np.diff(ads) > 0).all()  # kept in list order (ad rows increase along a list)
        assert set(positives) <= set(ads.tolist())  # every positive kept
        assert set(ads.tolist()) <= set(lists.ads[g][lists.ads[g] >= 0].tolist())  # no padding
        slots = [list(lists.ads[g]).index(a) for a in ads]
        assert rows[group, 2].tolist() == slots  # cross features of the same candidates
        want = [positives.get(a, 0.0) for a in ads.tolist()]
        assert labels[group].tolist() == want  # applied + 5 x hired
    # seeded: the same generator state gives the same sample, another usually another
    again = _sampled(lists, seeker_x, ad_x, cfg, np.random.default_rng(0))
    np.testing.assert_array_equal(again[0], rows)
    samples = {
        tuple(_sampled(lists, seeker_x, ad_x, cfg, np.random.default_rng(s))[0][:, 1])
        for s in range(10)
    }
    assert len(samples) > 1


def test_sampled_keeps_all_negatives_under_the_cap():
    lists = hand_lists()
    cfg = XGBConfig(negatives_per_seeker=100)
    seeker_x, ad_x = np.zeros((4, 1), np.float32), np.arange(40, dtype=np.float32)[:, None]
    rows, labels, sizes = _sampled(lists, seeker_x, ad_x, cfg, np.random.default_rng(0))
    assert sizes.tolist() == [8, 3, 6]  # every valid candidate of the lists with a positive
    assert rows[:, 1].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 30, 31, 33, 34, 35, 36]


# -- training -----------------------------------------------------------------------------------


def planted_lists(seekers: np.ndarray, k: int, seed: int) -> Lists:
    """The applications of each list: its 3 candidates with the largest PLANTED pair feature;
    the hire: the largest. Two padded slots in every fourth list."""
    rng = np.random.default_rng(seed)
    g = len(seekers)
    ads = np.stack([rng.choice(N_ADS, k, replace=False) for _ in range(g)])
    ads[::4, -2:] = -1
    cross = rng.normal(size=(g, k, C)).astype(np.float32)
    key = np.where(ads >= 0, cross[..., PLANTED], -np.inf)
    order = np.argsort(-key, axis=1)
    applied = np.zeros((g, k), bool)
    hired = np.zeros((g, k), bool)
    np.put_along_axis(applied, order[:, :3], True, axis=1)
    np.put_along_axis(hired, order[:, :1], True, axis=1)
    return Lists(seekers, ads, cross, applied, hired)


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(5)
    seeker_x = rng.normal(size=(N_SEEKERS, 4)).astype(np.float32)
    ad_x = rng.normal(size=(N_ADS, 3)).astype(np.float32)
    train = planted_lists(np.arange(30), 30, seed=6)
    valid = planted_lists(np.arange(30, 40), 30, seed=7)
    test = planted_lists(np.arange(40), 30, seed=8)
    return seeker_x, ad_x, train, valid, test


SMALL = dict(n_estimators=20, max_depth=3, negatives_per_seeker=10, early_stopping_rounds=5)


@pytest.fixture(scope="module", params=["rank:ndcg", "binary:logistic"])
def trained(request, planted):
    seeker_x, ad_x, train, valid, _ = planted
    cfg = XGBConfig(objective=request.param, **SMALL)
    booster, report = train_xgb(seeker_x, ad_x, train, valid, cfg)
    return cfg, booster, report


def test_training_learns_the_planted_feature(planted, trained):
    seeker_x, ad_x, _, _, test = planted
    cfg, booster, report = trained
    scores = predict_lists(booster, seeker_x, ad_x, test)
    got = candidate_recall(scores, test.applied, 5)
    rng = np.random.default_rng(0)
    random = candidate_recall(
        np.where(test.ads >= 0, rng.random(test.ads.shape), -np.inf), test.applied, 5
    )
    assert random < 0.35 and got > 0.6 and got > random + 0.3, (cfg.objective, random, got)
    # 30 training lists x (3 positives + 10 sampled negatives)
    assert report.train_rows == 30 * 13 and report.trees == 20 and report.threads == 1
    assert 0 <= report.best_iteration < 20
    assert booster.attr("best_iteration") == str(report.best_iteration)


def predict_reference(booster, seeker_x, ad_x, lists: Lists, last: int) -> np.ndarray:
    """The library's own predict on rows built pair by pair."""
    out = np.full(lists.ads.shape, -np.inf, dtype=np.float32)
    g, k = np.nonzero(lists.ads >= 0)
    rows = np.stack(
        [
            np.concatenate([seeker_x[lists.seeker[a]], ad_x[lists.ads[a, b]], lists.cross[a, b]])
            for a, b in zip(g, k, strict=True)
        ]
    )
    out[g, k] = booster.predict(
        xgb.DMatrix(rows), iteration_range=(0, last + 1), output_margin=True
    )
    return out


def test_score_lists_equals_the_library_predict(planted, trained):
    seeker_x, ad_x, _, _, test = planted
    _, booster, report = trained
    got = predict_lists(booster, seeker_x, ad_x, test, block=7)  # several blocks
    want = predict_reference(booster, seeker_x, ad_x, test, report.best_iteration)
    assert (np.isneginf(got) == (test.ads < 0)).all()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_score_lists_stops_at_the_best_iteration(planted, trained):
    """Whatever best_iteration the booster carries is the number of trees score_lists uses."""
    seeker_x, ad_x, _, _, test = planted
    _, booster, _ = trained
    booster = booster.copy()
    assert booster.num_boosted_rounds() >= 5
    booster.set_attr(best_iteration="2")
    got = predict_lists(booster, seeker_x, ad_x, test)
    np.testing.assert_allclose(
        got, predict_reference(booster, seeker_x, ad_x, test, 2), rtol=1e-6, atol=1e-6
    )
    every = predict_reference(booster, seeker_x, ad_x, test, booster.num_boosted_rounds() - 1)
    assert np.abs(got[test.ads >= 0] - every[test.ads >= 0]).max() > 1e-3


def test_load_booster_round_trip(planted, trained, tmp_path):
    seeker_x, ad_x, _, _, test = planted
    _, booster, report = trained
    path = tmp_path / "xgboost.json"
    booster.save_model(path)
    loaded = load_booster(path)
    assert loaded.attr("best_iteration") == str(report.best_iteration)
    np.testing.assert_array_equal(
        predict_lists(loaded, seeker_x, ad_x, test), predict_lists(booster, seeker_x, ad_x, test)
    )


def test_continuing_keeps_the_previous_trees_and_adds_at_most_the_cap(planted, trained):
    seeker_x, ad_x, train, valid, test = planted
    cfg, booster, report = trained
    more = dataclasses.replace(cfg, n_estimators=6, early_stopping_rounds=3)
    continued, again = train_xgb(seeker_x, ad_x, train, valid, more, init=booster)
    start = report.best_iteration + 1  # the previous model up to its best iteration
    assert again.start_trees == start
    assert start <= continued.num_boosted_rounds() <= start + 6
    assert again.best_iteration >= start - 1
    assert continued.attr("best_iteration") == str(again.best_iteration)
    # the first `start` trees are the previous model's
    np.testing.assert_allclose(
        predict_reference(continued, seeker_x, ad_x, test, start - 1),
        predict_reference(booster, seeker_x, ad_x, test, start - 1),
        rtol=1e-6,
        atol=1e-6,
    )
    assert again.start_score is not None
    # a new best tree, or the previous model kept with its own score
    assert again.best_iteration >= start or again.best_score == again.start_score


def test_a_saved_model_continued_is_scored_with_the_training_metric(planted, trained, tmp_path):
    # the night continues last night's booster as loaded from its file, which has forgotten
    # its eval_metric: its starting score must still be the one it was early-stopped on
    seeker_x, ad_x, train, valid, _ = planted
    cfg, booster, report = trained
    booster.save_model(tmp_path / "xgboost.json")
    loaded = load_booster(tmp_path / "xgboost.json")
    idle = dataclasses.replace(cfg, n_estimators=2, learning_rate=0.0, early_stopping_rounds=1)
    _, again = train_xgb(seeker_x, ad_x, train, valid, idle, init=loaded)
    assert again.start_score == pytest.approx(report.best_score, rel=1e-5)


def test_continuing_with_no_useful_tree_keeps_the_previous_model(planted, trained):
    seeker_x, ad_x, train, valid, test = planted
    cfg, booster, report = trained
    # learning rate 0: tonight's trees change no score, so none beats the start
    idle = dataclasses.replace(cfg, n_estimators=4, learning_rate=0.0, early_stopping_rounds=2)
    continued, again = train_xgb(seeker_x, ad_x, train, valid, idle, init=booster)
    assert again.best_iteration == report.best_iteration
    assert again.best_score == again.start_score
    np.testing.assert_array_equal(
        predict_lists(continued, seeker_x, ad_x, test), predict_lists(booster, seeker_x, ad_x, test)
    )
