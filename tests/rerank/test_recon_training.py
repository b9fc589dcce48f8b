"""Muse.2 trained with ReCon's congestion term (issue 19): the batches of competing seekers by
hand, the night's capacities and groups by hand, the term's switch, seeded determinism, and the
term spreading a contested market's top lists."""

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
    PLANTED,
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


def test_the_term_spreads_a_contested_markets_top_lists():
    """Every seeker's candidates are the same 12 ads, whose appeal is one pair feature shared by
    all, and equal capacities: trained on ranking alone the top-2 slots go to a few ads; with a
    strong ReCon term they spread over more."""
    rng = np.random.default_rng(0)
    g, k = 32, 12
    seeker_x, ad_x = entity_inputs(seed=1)
    ads = np.tile(np.arange(k), (g, 1))
    cross = rng.normal(scale=0.1, size=(g, k, C)).astype(np.float32)
    cross[..., PLANTED] = np.linspace(2.0, -2.0, k)[None, :]  # the same appeal for everyone
    applied = np.zeros((g, k), bool)
    applied[np.arange(g), rng.integers(0, 3, g)] = True  # applications to the top 3 ads
    lists = Lists(np.arange(g), ads, cross, applied, np.zeros((g, k), bool))
    comp = Competition(np.where(np.arange(N_ADS) < k, 1.0 / k, 0.0), np.zeros(g, np.int64))
    spread = {}
    for weight in (0.0, 5.0):
        cfg = small("muse2", recon_weight=weight, max_epochs=15, patience=15, seekers_per_batch=16)
        model, _ = train_reranker(seeker_x, ad_x, lists, lists, None, cfg, CPU, competition=comp)
        scores = score_lists(
            model, torch.as_tensor(seeker_x), torch.as_tensor(ad_x), lists.seeker, ads, cross, CPU
        )
        counts = np.bincount(np.argsort(-scores, axis=1)[:, :2].ravel(), minlength=k)
        spread[weight] = ((counts > 0).sum(), np.sort(counts)[-2:].sum() / counts.sum())
    # measured (data seeds 0, 1, 2): ads in some top 2, plain 4 / 4 / 3, λ = 5: 6 / 5 / 6; the
    # two most shown ads' share of the slots, plain 0.81 / 0.81 / 0.97, λ = 5: 0.61 / 0.63 / 0.92
    (plain_ads, plain_share), (recon_ads, recon_share) = spread[0.0], spread[5.0]
    assert recon_ads >= plain_ads + 2 and recon_share < plain_share - 0.1, spread


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
