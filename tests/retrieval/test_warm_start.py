"""Warm-started nights: the previous night's model is the start only with the same feature space
and configuration (hashes) within the full-retrain period; the feature space is reused until the
weekly full retrain or a vocabulary drift."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest

from jobrec.data import model_store
from jobrec.features import FeatureSpace
from jobrec.pair_features import CROSS_COLUMNS
from jobrec.reranker_model import RerankConfig
from jobrec.retrieval import stage as retrieval_stage
from jobrec.retrieval import two_tower
from jobrec.retrieval.night_inputs import FEATURE_SPACE

D = dt.date(2026, 3, 10)
CFG = two_tower.Muse0Config()


def _model(root, day, space_hash="s1", cfg=CFG, facts=True):
    folder = model_store.model_dir(root, day, "muse0")
    folder.mkdir(parents=True)
    if facts:
        facts = {"feature_space_hash": space_hash, "config_hash": retrieval_stage.config_hash(cfg)}
        facts["pair_features"] = list(CROSS_COLUMNS)
        (folder / "warm_start.json").write_text(json.dumps(facts))
    return folder


def test_warm_start_source_needs_a_recent_model_with_the_same_hashes(tmp_path):
    source = retrieval_stage.warm_start_source
    assert source(tmp_path, D, "muse0", "s1", CFG) == (
        None,
        "full retrain: no model from the last nights",
    )
    _model(tmp_path, D - dt.timedelta(days=8))  # beyond the full-retrain period
    assert source(tmp_path, D, "muse0", "s1", CFG)[0] is None
    _model(tmp_path, D - dt.timedelta(days=3), facts=False)
    assert source(tmp_path, D, "muse0", "s1", CFG)[1].endswith("records no hashes")
    folder = _model(tmp_path, D - dt.timedelta(days=2))
    assert source(tmp_path, D, "muse0", "s1", CFG) == (
        folder,
        f"warm start from {D - dt.timedelta(days=2)}",
    )
    assert source(tmp_path, D, "muse0", "s2", CFG)[1] == (
        f"full retrain: the feature space differs from {D - dt.timedelta(days=2)}'s"
    )
    other = dataclasses.replace(CFG, hidden=CFG.hidden * 2)
    assert "configuration differs" in source(tmp_path, D, "muse0", "s1", other)[1]
    _model(tmp_path, D)  # tonight's own model (a re-run) is never its own start
    assert source(tmp_path, D, "muse0", "s1", CFG)[0] == folder


def test_a_reranker_of_other_pair_features_is_not_continued(tmp_path, monkeypatch):
    monkeypatch.setattr(retrieval_stage, "muse0_continued", lambda *a: True)
    cfg = RerankConfig()
    folder = model_store.model_dir(tmp_path, D - dt.timedelta(days=1), "muse2")
    folder.mkdir(parents=True)
    facts = {"feature_space_hash": "s1", "config_hash": retrieval_stage.config_hash(cfg)}
    (folder / "warm_start.json").write_text(json.dumps(facts))  # before issue 17: 17 columns
    why = retrieval_stage.warm_start_source(tmp_path, D, "muse2", "s1", cfg)
    assert why == (
        None,
        f"full retrain: the pair features differ from {D - dt.timedelta(days=1)}'s",
    )
    facts["pair_features"] = list(CROSS_COLUMNS)
    (folder / "warm_start.json").write_text(json.dumps(facts))
    assert retrieval_stage.warm_start_source(tmp_path, D, "muse2", "s1", cfg)[0] == folder


def test_models_on_muse0_vectors_start_warm_only_after_a_warm_muse0(tmp_path):
    folder = model_store.model_dir(tmp_path, D - dt.timedelta(days=1), "muse0")
    _model(tmp_path, D - dt.timedelta(days=1))
    for name in ("muse2", "xgboost"):
        prev = model_store.model_dir(tmp_path, D - dt.timedelta(days=1), name)
        prev.mkdir(parents=True)
        (prev / "warm_start.json").write_text((folder / "warm_start.json").read_text())
    tonight = model_store.model_dir(tmp_path, D, "muse0")
    tonight.mkdir(parents=True)
    source = retrieval_stage.warm_start_source
    for warm_from, expected in ((None, None), ("2026-03-09", "warm start from 2026-03-09")):
        (tonight / "training.json").write_text(json.dumps({"warm_from": warm_from}))
        for name in ("muse2", "xgboost"):
            got = source(tmp_path, D, name, "s1", CFG)
            if expected is None:
                assert got == (None, "full retrain: Muse.0 of D was trained from scratch")
            else:
                assert got[1] == expected
        # Muse.0 itself does not depend on its own report of tonight
        assert source(tmp_path, D, "muse0", "s1", CFG)[0] is not None


def test_a_night_that_fits_its_feature_space_trains_every_model_from_scratch(tmp_path):
    folder = _model(tmp_path, D - dt.timedelta(days=1))
    space = model_store.model_dir(tmp_path, D, FEATURE_SPACE)
    space.mkdir(parents=True)
    for kind, expected in (("reused", folder), ("fitted", None)):
        (space / "space.json").write_text(json.dumps({"space": kind, "hash": "s1"}))
        got = retrieval_stage.warm_start_source(tmp_path, D, "muse0", "s1", CFG)
        assert got[0] == expected
    assert got[1] == "full retrain: the feature space was fitted tonight"


def test_full_retrain_setting(monkeypatch):
    from jobrec.data.settings import Settings

    for value, expected in (("", False), ("0", False), ("1", True), ("true", True)):
        monkeypatch.setenv("JOBREC_FULL_RETRAIN", value)
        assert Settings.from_env().full_retrain is expected
    monkeypatch.setenv("JOBREC_FULL_RETRAIN", "sometimes")
    with pytest.raises(ValueError, match="JOBREC_FULL_RETRAIN"):
        Settings.from_env()


class _Market:
    def __init__(self, seekers, ads):
        self.seekers, self.ads = seekers, ads


def _frames(mini_frames, occupation=None):
    seekers, ads = (f.assign(active=True) for f in mini_frames)
    if occupation:
        seekers = seekers.assign(desired_occupation=occupation)
    return seekers, ads


def _save_space(root, day, fitted_on, mini_frames):
    space = FeatureSpace(0).fit(*mini_frames)
    folder = model_store.model_dir(root, day, FEATURE_SPACE)
    space.save(folder)
    (folder / "space.json").write_text(
        json.dumps({"fitted_on": fitted_on.isoformat(), "hash": "h", "space": "fitted"})
    )
    return space


def test_the_space_is_reused_until_the_weekly_refit_or_a_drift(tmp_path, mini_frames):
    reuse = retrieval_stage.reuse_space
    market = _Market(*_frames(mini_frames))
    space, facts = reuse(tmp_path, D, market)
    assert space is None and facts["reason"] == "no feature space from the last nights"
    _save_space(tmp_path, D - dt.timedelta(days=1), D - dt.timedelta(days=3), mini_frames)
    space, facts = reuse(tmp_path, D, market)
    assert space is not None and facts["space"] == "reused"
    assert facts["fitted_on"] == str(D - dt.timedelta(days=3)) and facts["unknown_share"] == 0
    assert facts["hash"] == "h"  # the reused space keeps its hash: warm starts match it
    assert reuse(tmp_path, D, market, full_retrain=True)[0] is None
    # fitted a week before tonight: the weekly full retrain
    space, facts = reuse(tmp_path, D + dt.timedelta(days=4), market)
    assert space is None and facts["reason"] == "weekly full retrain (space 7 days old)"
    # every seeker now seeks an occupation the space never saw
    drifted = _Market(*_frames(mini_frames, occupation="N9999"))
    space, facts = reuse(tmp_path, D, drifted)
    assert space is None and facts["reason"].startswith("drift: 100.0% of active entities")


def test_unknown_share_counts_rows_with_any_unknown_vocabulary(mini_frames):
    seekers, ads = mini_frames
    space = FeatureSpace(0).fit(seekers, ads)
    assert space.unknown_share(seekers, "seekers") == 0.0
    changed = seekers.copy()
    changed.loc[0, "department"] = "99"  # an unknown department
    changed.at[1, "skills"] = ["NEW-SKILL"]
    assert space.unknown_share(changed, "seekers") == pytest.approx(2 / len(seekers))
    assert space.unknown_share(pd.DataFrame(columns=seekers.columns), "seekers") == 0.0
