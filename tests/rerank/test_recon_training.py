"""Muse.2 trained with ReCon's congestion term (issue 19): the batches of competing seekers by
hand, the night's capacities and groups by hand, the setting, the term's switch, seeded
determinism, the term and its level optimised, and training on a GPU."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
import torch

from jobrec.data.settings import Settings
from jobrec.rerank import competition
from jobrec.rerank.training import Competition, batches, candidate_recall, train_reranker
from jobrec.reranker_model import Lists, score_lists
from tests.rerank.test_reranker import (
    CPU,
    N_ADS,
    C,
    entity_inputs,
    planted_hires,
    planted_lists,
    small,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_plain_batches_are_the_shuffled_lists_in_order():
    lists = np.arange(10, 20)
    got = batches(lists, 4, np.random.default_rng(3))
    order = np.random.default_rng(3).permutation(lists)  # what training drew before issue 19
    assert [b.tolist() for b in got] == [
        order[:4].tolist(),
        order[4:8].tolist(),
        order[8:].tolist(),
    ]


def test_grouped_batches_hold_neighbouring_groups_and_every_list_once():
    lists = np.arange(12)
    group = np.array([2, 2, 1, 1, 0, 0, 1, 2, 0, 3, 3, 3])  # three lists a group
    got = batches(lists, 3, np.random.default_rng(0), group)
    assert sorted(np.concatenate(got).tolist()) == lists.tolist()
    assert [len(b) for b in got].count(3) == 4
    # cut from the lists sorted by group: each batch spans a run of groups, runs do not overlap
    spans = sorted((group[b].min(), group[b].max()) for b in got)
    assert spans == [(0, 0), (1, 1), (2, 2), (3, 3)]
    # shuffled within a group and in batch order: another seed gives other batches
    other = batches(lists, 3, np.random.default_rng(1), group)
    assert [b.tolist() for b in other] != [b.tolist() for b in got]


def test_competition_capacities_and_groups_by_hand():
    market = types.SimpleNamespace(
        ads=pd.DataFrame({"positions": [1, 2, 3, 4]}),
        seekers=pd.DataFrame(
            {
                "desired_occupation": ["B", "A", "A", "B"],
                "department": ["75", "13", "75", "75"],
            }
        ),
    )
    lists = Lists(
        seeker=np.array([3, 0, 1, 2]),
        ads=np.array([[0, -1], [2, 0], [2, -1], [0, 2]]),
        cross=np.zeros((4, 2, C), np.float32),
        applied=np.zeros((4, 2), bool),
        hired=np.zeros((4, 2), bool),
    )
    got = competition(market, lists)
    # ads 0 and 2 are on the lists: positions 1 and 3 of 4; the others have no capacity
    np.testing.assert_allclose(got.capacity, [0.25, 0.0, 0.75, 0.0])
    # groups (A, 13) < (A, 75) < (B, 75), per list's seeker: 3 -> B75, 0 -> B75, 1 -> A13, 2 -> A75
    assert got.group.tolist() == [2, 2, 0, 1]


def test_recon_weight_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("JOBREC_RECON_WEIGHT", "0.25")
    assert Settings.from_env().recon_weight == 0.25
    monkeypatch.delenv("JOBREC_RECON_WEIGHT")
    assert Settings.from_env().recon_weight == 0.0
    for bad in ("-1", "nan", "lots"):
        monkeypatch.setenv("JOBREC_RECON_WEIGHT", bad)
        with pytest.raises(ValueError, match="JOBREC_RECON_WEIGHT"):
            Settings.from_env()


# -- training ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted():
    seeker_x, ad_x = entity_inputs(seed=5)
    train = planted_lists(np.arange(30), 30, seed=6)
    valid = planted_lists(np.arange(30, 40), 30, seed=7)
    capacity = np.full(N_ADS, 1.0 / N_ADS)
    group = np.arange(30) // 8  # four groups of neighbouring seekers
    return seeker_x, ad_x, train, valid, Competition(capacity, group)


def _train(planted, **cfg):
    seeker_x, ad_x, train, valid, comp = planted
    return train_reranker(
        seeker_x,
        ad_x,
        train,
        valid,
        planted_hires(train),
        small("muse2", **cfg),
        CPU,
        competition=comp,
    )


def test_the_term_needs_the_capacities(planted):
    seeker_x, ad_x, train, valid, _ = planted
    with pytest.raises(ValueError, match="capacities"):
        train_reranker(seeker_x, ad_x, train, valid, None, small("muse2", recon_weight=0.1), CPU)


def test_training_with_the_term_is_seeded_and_records_it(planted):
    model, report = _train(planted, recon_weight=0.5)
    again, report2 = _train(planted, recon_weight=0.5)
    for name, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[name]), name
    assert report.history == report2.history
    assert all(h["recon_loss"] > 0 for h in report.history)
    assert len(report.epoch_seconds) == report.epochs
    plain, plain_report = _train(planted)  # λ = 0: the term is not computed
    assert all(h["recon_loss"] == 0 for h in plain_report.history)
    assert not torch.equal(plain.state_dict()["ad.0.weight"], model.state_dict()["ad.0.weight"])


def test_the_term_is_optimised_with_its_own_level(planted):
    """Training descends the term: its epoch mean falls, and its level β (p = sigmoid(s + β))
    leaves its start -log K; without the offset (the ablation) β stays 0 and the term starts
    far higher (the listwise scores' level is arbitrary: softplus of every score counts). Its
    effect on the lists' congestion is the benchmark's to measure (BENCHMARKS.md, ReCon)."""
    _, with_offset = _train(planted, recon_weight=1.0, max_epochs=4, patience=5)
    _, without = _train(planted, recon_weight=1.0, recon_offset=False, max_epochs=4, patience=5)
    terms = [h["recon_loss"] for h in with_offset.history]
    assert terms[-1] < terms[0]
    start = -np.log(30)  # 30 candidates a list
    assert all(h["recon_offset"] != pytest.approx(start) for h in with_offset.history)
    assert all(h["recon_offset"] == 0.0 for h in without.history)
    assert without.history[0]["recon_loss"] > terms[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_with_the_term_on_a_gpu(planted):
    """pick_device() prefers a GPU: Muse.2 trains there with the term (capacities moved to the
    device) and learns the planted feature as on the CPU."""
    seeker_x, ad_x, train, valid, comp = planted
    cuda = torch.device("cuda")
    model, report = train_reranker(
        seeker_x,
        ad_x,
        train,
        valid,
        planted_hires(train),
        small("muse2", recon_weight=0.5),
        cuda,
        competition=comp,
    )
    assert report.device.startswith("cuda") and all(h["recon_loss"] > 0 for h in report.history)
    test = planted_lists(np.arange(40), 30, seed=8)
    x = (torch.as_tensor(seeker_x), torch.as_tensor(ad_x))
    scores = score_lists(model.cpu(), *x, test.seeker, test.ads, test.cross, CPU)
    assert candidate_recall(scores, test.applied, 5) > 0.5
