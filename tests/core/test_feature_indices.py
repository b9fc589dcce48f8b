"""FeatureSpace.indices / vocab_sizes: vocabulary ids for the Muse.0 embedding tables, checked by
hand on the hand-written market (0 = unknown or padding)."""

from __future__ import annotations

import numpy as np


def test_vocabularies_are_sorted_and_sizes_count_the_unknown_id(mini_space):
    # departments 69, 75; occupations A1101, K2204 (both sides); skills SK1, SK2, SK3
    assert list(mini_space.vocab["department"]) == ["69", "75"]
    assert list(mini_space.vocab["occupation"]) == ["A1101", "K2204"]
    assert list(mini_space.vocab["skill"]) == ["SK1", "SK2", "SK3"]
    assert mini_space.vocab_sizes() == {"department": 3, "occupation": 3, "skill": 4}
    assert mini_space.schema()["vocabularies"] == mini_space.vocab_sizes()


def test_seeker_indices_by_hand(mini_space, mini_frames):
    seekers, _ = mini_frames
    ids = mini_space.indices(seekers, "seekers")
    # S1 75 K2204 [SK1, SK2]; S2 75 K2204 [SK1]; S3 69 A1101 []; S4 69 A1101 [SK3]
    assert ids["department"].tolist() == [2, 2, 1, 1]
    assert ids["occupation"].tolist() == [2, 2, 1, 1]
    assert ids["skills"].tolist() == [[1, 2], [1, 0], [0, 0], [3, 0]]  # padded to the longest
    assert ids["skills"].dtype == np.int64


def test_ad_indices_read_the_ad_occupation_column(mini_space, mini_frames):
    _, ads = mini_frames
    ids = mini_space.indices(ads, "ads")
    assert ids["department"].tolist() == [2, 2, 2, 2]
    assert ids["occupation"].tolist() == [2, 2, 1, 1]  # K2204, K2204, A1101, A1101
    assert ids["skills"].tolist() == [[2, 1, 1]] * 4  # [SK2, SK1, SK1]: order and repeats kept


def test_unknown_values_and_missing_skills_map_to_zero(mini_space, mini_frames):
    seekers, _ = mini_frames
    odd = seekers.iloc[[0, 1, 2]].assign(
        department=["13", None, "75"],
        desired_occupation=["Z9999", "A1101", None],
        skills=[["NEW", "SK3", "SK1"], None, np.array(["SK2"])],
    )
    ids = mini_space.indices(odd, "seekers")
    assert ids["department"].tolist() == [0, 0, 2]
    assert ids["occupation"].tolist() == [0, 1, 0]
    assert ids["skills"].tolist() == [[0, 3, 1], [0, 0, 0], [2, 0, 0]]


def test_rows_of_a_subset_with_its_own_index(mini_space, mini_frames):
    seekers, _ = mini_frames
    sub = seekers.iloc[[3, 0]]  # the frame index is [3, 0], not 0..n-1
    ids = mini_space.indices(sub, "seekers")
    assert ids["department"].tolist() == [1, 2]
    assert ids["skills"].tolist() == [[3, 0], [1, 2]]


def test_no_skills_at_all_gives_one_padding_column(mini_space, mini_frames):
    seekers, _ = mini_frames
    ids = mini_space.indices(seekers.assign(skills=None), "seekers")
    assert ids["skills"].shape == (4, 1) and not ids["skills"].any()


def test_ids_fit_their_tables(mini_space, mini_frames):
    seekers, ads = mini_frames
    sizes = mini_space.vocab_sizes()
    for frame, side in ((seekers, "seekers"), (ads, "ads")):
        ids = mini_space.indices(frame, side)
        assert ids["department"].min() >= 0 and ids["department"].max() < sizes["department"]
        assert ids["occupation"].min() >= 0 and ids["occupation"].max() < sizes["occupation"]
        assert ids["skills"].min() >= 0 and ids["skills"].max() < sizes["skill"]


def test_empty_frame_gives_empty_ids(mini_space, mini_frames):
    seekers, _ = mini_frames
    ids = mini_space.indices(seekers.iloc[[]], "seekers")
    assert ids["department"].shape == (0,) and ids["occupation"].shape == (0,)
    assert ids["skills"].shape == (0, 1)
