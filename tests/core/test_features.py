"""Seeker and ad preprocessing: fixed layout, finite values, gender cannot enter, saved and
reloaded unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobrec.features import AD_COLUMNS, SEEKER_COLUMNS, FeatureSpace, _text


def test_both_sides_share_one_layout_of_finite_values(mini_space, mini_frames):
    seekers, ads = mini_frames
    xs, xa = mini_space.transform(seekers, "seekers"), mini_space.transform(ads, "ads")
    assert xs.shape == (4, mini_space.dims) and xa.shape == (4, mini_space.dims)
    assert xs.dtype == np.float32 and np.isfinite(xs).all() and np.isfinite(xa).all()
    # the family block is a one-hot of the occupation's letter: K for S1, A for S3
    assert xs[0, "ABCDEFGHIJKLMN".index("K")] == 1 and xs[2, 0] == 1
    assert xs[:, :14].sum(axis=1).tolist() == [1, 1, 1, 1]


def test_gender_cannot_enter_the_features(mini_space, mini_frames):
    seekers, _ = mini_frames
    flipped = seekers.assign(gender=seekers["gender"].map({"F": "M", "M": "F"}).fillna("F"))
    np.testing.assert_array_equal(
        mini_space.transform(seekers, "seekers"), mini_space.transform(flipped, "seekers")
    )
    read = {
        c
        for spec in (SEEKER_COLUMNS, AD_COLUMNS)
        for v in spec.values()
        for c in ([v] if isinstance(v, str) else v)
    }
    assert "gender" not in read
    with pytest.raises(KeyError):  # no fallback: a missing input column is an error
        mini_space.transform(seekers.drop(columns=["desired_occupation"]), "seekers")


def test_unknown_codes_and_missing_numbers_are_handled(mini_space, mini_frames):
    seekers, _ = mini_frames
    odd = seekers.head(1).assign(desired_occupation="N9999", desired_wage=np.nan, skills=None)
    x = mini_space.transform(odd, "seekers")
    assert np.isfinite(x).all() and x[0, "ABCDEFGHIJKLMN".index("N")] == 1


def test_saved_space_transforms_identically(mini_space, mini_frames, tmp_path):
    mini_space.save(tmp_path / "features")
    again = FeatureSpace.load(tmp_path / "features")
    seekers, ads = mini_frames
    np.testing.assert_array_equal(again.transform(ads, "ads"), mini_space.transform(ads, "ads"))
    assert (tmp_path / "features" / "features_schema.json").exists()


def test_text_joins_the_columns_of_each_row_missing_as_empty():
    frame = pd.DataFrame(
        {"title": ["cook", None, "driver"], "description": ["hot kitchen", "night shifts", None]},
        index=[7, 3, 5],
    )
    joined = _text(frame, ("title", "description"))
    assert joined.tolist() == ["cook hot kitchen", " night shifts", "driver "]
    assert joined.index.tolist() == [7, 3, 5]
    assert _text(frame, "title").tolist() == ["cook", "", "driver"]


def test_each_fourier_scale_adds_its_features_and_keeps_the_others(mini_frames):
    seekers, ads = mini_frames
    one = FeatureSpace(seed=0, fourier_scales=(2.0,)).fit(seekers, ads)
    two = FeatureSpace(seed=0, fourier_scales=(2.0, 8.0)).fit(seekers, ads)
    assert two.dims == one.dims + 16
    assert two.schema()["blocks"]["fourier"] == 32
    # the first scale's frequencies are drawn first: the same as with that scale alone
    np.testing.assert_array_equal(two.fourier_w[:, :8], one.fourier_w)
    assert np.std(two.fourier_w[:, 8:]) > 2 * np.std(two.fourier_w[:, :8])
    # each feature is a sine or cosine of one frequency's phase: sin^2 + cos^2 = 1 per frequency
    x = two.transform(seekers, "seekers")
    start = sum(v for k, v in two.schema()["blocks"].items() if k not in ("fourier", "text"))
    sin, cos = x[:, start : start + 16], x[:, start + 16 : start + 32]
    np.testing.assert_allclose(sin**2 + cos**2, 1.0, rtol=1e-5)


def test_block_columns_find_each_block_in_the_dense_vectors(mini_space, mini_frames):
    seekers, _ = mini_frames
    x = mini_space.transform(seekers, "seekers")
    # the standardised lat/lon, which Muse.0's distance term reads
    latlon = mini_space.geo_scaler.transform(seekers[["latitude", "longitude"]].to_numpy(float))
    np.testing.assert_allclose(x[:, mini_space.block_columns("latlon")], latlon, rtol=1e-6)
    assert mini_space.block_columns("family") == slice(0, 14)
    blocks = mini_space.schema()["blocks"]
    assert mini_space.block_columns("text").stop == mini_space.dims == sum(blocks.values())
    with pytest.raises(KeyError):
        mini_space.block_columns("no such block")
