"""Muse.0 two-tower model: training pairs, unit embeddings, blocked embedding, seeded training,
learning a planted structure, save/load, and the early-stopping validation set."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from jobrec.evaluation.offline import splits
from jobrec.retrieval import two_tower
from tests.evaluation.test_evaluation import hand_market

CPU = torch.device("cpu")
VOCAB = {"department": 3, "occupation": 4, "skill": 6}
SMALL = two_tower.Muse0Config(
    embedding_dims=4, hidden=16, out_dims=8, batch_size=8, max_epochs=2, uniform_negatives=4
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_inputs(n: int, dims: int, seed: int) -> two_tower.TowerInputs:
    rng = np.random.default_rng(seed)
    skills = rng.integers(0, VOCAB["skill"], (n, 3))
    skills[: n // 2, 2] = 0  # some padding
    return two_tower.TowerInputs.from_arrays(
        rng.normal(size=(n, dims)).astype(np.float32),
        {
            "department": rng.integers(0, VOCAB["department"], n),
            "occupation": rng.integers(0, VOCAB["occupation"], n),
            "skills": skills,
        },
        rng.normal(size=(n, 2)).astype(np.float32),
    )


def random_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    seekers, ads = random_inputs(30, 5, seed), random_inputs(20, 7, seed + 1)
    app_s, app_a = rng.integers(0, 30, 60), rng.integers(0, 20, 60)
    pairs = two_tower.training_pairs(app_s, app_a, app_s[:5], app_a[:5], 20, 3.0)
    return seekers, ads, pairs


def new_model(seeker_dims=5, ad_dims=7, cfg=SMALL, seed=0) -> two_tower.Muse0:
    torch.manual_seed(seed)
    return two_tower.Muse0(seeker_dims, ad_dims, VOCAB, cfg).eval()


def no_ids(n: int) -> dict[str, np.ndarray]:
    z = np.zeros(n, np.int64)
    return {"department": z, "occupation": z, "skills": np.zeros((n, 1), np.int64)}


# -- training pairs ---------------------------------------------------------------------------


def test_training_pairs_deduplicate_and_add_the_hire_weight_once():
    # 3 seekers, 4 ads; seeker 0 applied twice to ad 1, seeker 1 applied to ad 2 and was hired
    # on it (the hire is recorded twice), seeker 2 applied to ad 3 and was hired on ad 0
    # without an application
    app_s, app_a = np.array([0, 0, 1, 2]), np.array([1, 1, 2, 3])
    hire_s, hire_a = np.array([1, 1, 2]), np.array([2, 2, 0])
    pairs = two_tower.training_pairs(app_s, app_a, hire_s, hire_a, n_ads=4, hire_weight=3.0)
    assert pairs.seeker.tolist() == [0, 1, 2, 2]
    assert pairs.ad.tolist() == [1, 2, 0, 3]
    assert pairs.weight.tolist() == [1.0, 4.0, 4.0, 1.0]


def test_training_pairs_without_hires():
    empty = np.array([], dtype=np.int64)
    pairs = two_tower.training_pairs(np.array([2, 0]), np.array([0, 5]), empty, empty, 6, 3.0)
    assert pairs.seeker.tolist() == [0, 2] and pairs.ad.tolist() == [5, 0]
    assert pairs.weight.tolist() == [1.0, 1.0]


def test_training_pairs_keep_each_pairs_first_day():
    # seeker 0 applied to ad 1 on days 5 and 2; seeker 1 was hired on ad 0 (day 9) without
    # an application; seeker 1 applied to ad 2 on day 4 and was hired on it on day 8
    day = np.datetime64("2026-11-01", "D")
    app_s, app_a, app_d = np.array([0, 0, 1]), np.array([1, 1, 2]), day + np.array([5, 2, 4])
    hire_s, hire_a, hire_d = np.array([1, 1]), np.array([0, 2]), day + np.array([9, 8])
    pairs = two_tower.training_pairs(app_s, app_a, hire_s, hire_a, 3, 3.0, app_d, hire_d)
    assert list(zip(pairs.seeker.tolist(), pairs.ad.tolist(), strict=True)) == [
        (0, 1),
        (1, 0),
        (1, 2),
    ]
    assert (pairs.day - day).astype(int).tolist() == [2, 9, 4]


def test_history_reads_the_latest_applications_before_the_day():
    # seeker 0: day 1 an ad of code 5, day 3 codes 7 then 8, day 6 code 9; seeker 2: day 2
    # code 4; seeker 1 never applied. Ad row j has code ad_codes[j].
    day = np.datetime64("2026-11-01", "D")
    ad_codes = np.array([5, 7, 8, 9, 4])
    history = two_tower.ApplicationHistory.of(
        np.array([0, 2, 0, 0, 0]),
        np.array([3, 4, 1, 2, 0]),
        day + np.array([6, 2, 3, 3, 1]),
        ad_codes,
    )
    seekers = np.array([0, 0, 0, 1, 2, 2])
    days = day + np.array([3, 4, 10, 10, 2, 3])
    assert history.at(seekers, days, 3).tolist() == [
        [5, 0, 0],  # strictly before day 3: the day-3 applications are not history yet
        [8, 7, 5],  # latest first; on one day in the order given
        [9, 8, 7],  # only the latest 3
        [0, 0, 0],  # no applications
        [0, 0, 0],
        [4, 0, 0],
    ]
    assert history.at(np.array([0, 2]), day + 10, 1).tolist() == [[9], [4]]  # one day for all


def test_a_model_with_history_reads_it_and_asks_for_it():
    cfg = dataclasses.replace(SMALL, history_length=2)
    model = new_model(cfg=cfg)
    seekers = random_inputs(3, 5, 0)
    with pytest.raises(ValueError, match="with_history"):
        two_tower.embed(model, "seekers", seekers)
    none = dataclasses.replace(seekers, history=torch.zeros((3, 2), dtype=torch.int64))
    some = dataclasses.replace(seekers, history=torch.tensor([[1, 0], [2, 3], [0, 0]]))
    u0, u1 = (two_tower.embed(model, "seekers", x) for x in (none, some))
    assert not np.allclose(u0[:2], u1[:2])  # a history moves the vector
    np.testing.assert_allclose(u0[2], u1[2])  # an empty one is no history
    # the ads' tower reads none
    ads = random_inputs(4, 7, 1)
    assert two_tower.embed(model, "ads", ads).shape == (4, 8)


def test_training_with_history_is_seeded_and_needs_the_pair_days():
    seekers, ads, _ = random_problem()
    rng = np.random.default_rng(5)
    day = np.datetime64("2026-11-01", "D") + rng.integers(0, 20, 60)
    app_s, app_a = rng.integers(0, 30, 60), rng.integers(0, 20, 60)
    pairs = two_tower.training_pairs(app_s, app_a, app_s[:5], app_a[:5], 20, 3.0, day, day[:5])
    history = two_tower.ApplicationHistory.of(app_s, app_a, day, ads.occupation.numpy())
    cfg = dataclasses.replace(SMALL, history_length=3)
    x = two_tower.with_history(seekers, history, np.datetime64("2026-11-21"), 3)
    assert x.history.shape == (30, 3) and seekers.history is None
    a, _ = two_tower.train_muse0(x, ads, pairs, None, VOCAB, cfg, device=CPU, history=history)
    b, _ = two_tower.train_muse0(x, ads, pairs, None, VOCAB, cfg, device=CPU, history=history)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    with pytest.raises(ValueError, match="pair days"):
        no_days = two_tower.Pairs(pairs.seeker, pairs.ad, pairs.weight)
        two_tower.train_muse0(x, ads, no_days, None, VOCAB, cfg, device=CPU, history=history)


def test_seekers_as_of_reads_the_events_before_the_day_only_for_a_model_with_history():
    day = np.datetime64("2026-11-01", "D")
    ad_occupation = np.array([0, 3, 2])
    # seeker 1 applied to ad 1 (code 3) on day 0 and ad 2 (code 2) on day 4; seeker 0 to ad 2
    # on day 2
    events = dataclasses.make_dataclass("Events", ["seeker", "ad", "day"])(
        np.array([1, 1, 0]), np.array([1, 2, 2]), day + np.array([0, 4, 2])
    )
    seekers = random_inputs(2, 5, 0)
    plain = new_model()
    assert two_tower.seekers_as_of(plain, seekers, events, ad_occupation, day + 3) is seekers
    model = new_model(cfg=dataclasses.replace(SMALL, history_length=2))
    at_3 = two_tower.seekers_as_of(model, seekers, events, ad_occupation, day + 3)
    assert at_3.history.tolist() == [[2, 0], [3, 0]]
    at_5 = two_tower.seekers_as_of(model, seekers, events, ad_occupation, day + 5)
    assert at_5.history.tolist() == [[2, 0], [2, 3]]
    # rows: inputs that hold seeker rows [1] only
    one = two_tower.seekers_as_of(
        model, random_inputs(1, 5, 0), events, ad_occupation, day + 5, rows=np.array([1])
    )
    assert one.history.tolist() == [[2, 3]]


# -- the model --------------------------------------------------------------------------------


def test_towers_give_unit_vectors_of_out_dims():
    model = new_model()
    seekers, ads = random_inputs(11, 5, 0), random_inputs(9, 7, 1)
    u, v = two_tower.embed(model, "seekers", seekers), two_tower.embed(model, "ads", ads)
    assert u.shape == (11, 8) and v.shape == (9, 8)
    assert u.dtype == np.float32 and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(u[0], u[1])  # inputs matter


def test_embedding_tables_are_shared_and_padding_is_zero():
    model = new_model().train()
    assert model.department.padding_idx == 0 and model.skills.padding_idx == 0
    assert not model.department.weight[0].any() and not model.occupation.weight[0].any()
    embeddings = (torch.nn.Embedding, torch.nn.EmbeddingBag)
    assert not any(isinstance(m, embeddings) for m in model.towers.modules())
    # both towers read (and train) the same department, occupation and skill tables
    for side, x in (("seekers", random_inputs(6, 5, 0)), ("ads", random_inputs(6, 7, 1))):
        model.zero_grad()
        model.encode(side, x)[:, 0].sum().backward()
        for table in (model.department, model.occupation, model.skills):
            assert table.weight.grad is not None and table.weight.grad.abs().sum() > 0
            assert not table.weight.grad[0].any()  # id 0 is padding: never trained


def test_rows_picks_the_rows_of_every_field_and_leaves_the_inputs_alone():
    x = random_inputs(6, 4, 3)
    before = [t.clone() for t in (x.dense, x.department, x.occupation, x.skills)]
    part = x.rows([4, 0, 4], "cpu")
    fields = (part.dense, part.department, part.occupation, part.skills)
    for got, whole in zip(fields, before, strict=True):
        torch.testing.assert_close(got, whole[[4, 0, 4]])
    part.dense += 1  # a batch is its own copy: changing it leaves the inputs as they were
    torch.testing.assert_close(x.dense, before[0])


def test_embed_in_blocks_equals_one_block_and_follows_rows():
    model = new_model()
    seekers = random_inputs(23, 5, 2)
    whole = two_tower.embed(model, "seekers", seekers, block=1000)
    np.testing.assert_allclose(
        two_tower.embed(model, "seekers", seekers, block=4), whole, atol=1e-6
    )
    np.testing.assert_allclose(
        two_tower.embed(model, "seekers", seekers, block=1), whole, atol=1e-6
    )
    rows = np.array([7, 0, 22, 7])
    np.testing.assert_allclose(
        two_tower.embed(model, "seekers", seekers, rows, block=3), whole[rows], atol=1e-6
    )
    assert two_tower.embed(model, "seekers", seekers, np.array([], dtype=np.int64)).shape == (0, 8)


# -- the distance term ---------------------------------------------------------------------------


def test_score_vectors_give_the_logits_times_the_temperature():
    model = new_model()
    seekers, ads = random_inputs(6, 5, 0), random_inputs(9, 7, 1)
    with torch.no_grad():
        logits, u = model.logits(seekers, ads)
    su = two_tower.embed(model, "seekers", seekers, scoring=True)
    sa = two_tower.embed(model, "ads", ads, scoring=True)
    assert su.shape == (6, 8 + 4) and sa.shape == (9, 8 + 4) and model.score_dims == 12
    np.testing.assert_allclose(su @ sa.T, logits.numpy() * SMALL.temperature, atol=1e-5)
    np.testing.assert_array_equal(su[:, :8], u.numpy())  # the unit part comes first
    # without the distance term the score vectors are the unit vectors
    plain = new_model(cfg=dataclasses.replace(SMALL, distance=False))
    np.testing.assert_array_equal(
        two_tower.embed(plain, "ads", ads, scoring=True), two_tower.embed(plain, "ads", ads)
    )


def test_the_distance_term_is_the_seekers_decay_times_the_squared_distance():
    # two ads alike in everything but place: one where the seeker is, one 3 and 4 standardised
    # units away on the two axes (squared distance 25): their logits differ by 25 β_u
    model = new_model()
    seeker = random_inputs(1, 5, 0)
    seeker.location[:] = torch.tensor([1.0, -2.0])
    ads = random_inputs(1, 7, 1).rows([0, 0], CPU)
    ads.location = torch.tensor([[1.0, -2.0], [4.0, 2.0]])
    with torch.no_grad():
        model.start_distance_decay(0.5)  # β = 1 / (2 × 0.5) = 1 at the start
        logits = model.logits(seeker, ads)[0][0]
        beta = float(torch.exp(model.represent("seekers", seeker)[2]))
        model.axis_log_weight[:] = torch.log(torch.tensor([1.0, 0.5]))  # metric: 9 + 4
        weighted = model.logits(seeker, ads)[0][0]
    assert float(logits[0] - logits[1]) == pytest.approx(25 * beta, rel=1e-5)
    assert float(weighted[0] - weighted[1]) == pytest.approx(13 * beta, rel=1e-5)
    assert 0.3 < beta < 3  # the seeker's own output moves it around its start of 1


def test_a_model_with_the_distance_term_asks_for_the_location():
    model = new_model()
    seekers = dataclasses.replace(random_inputs(3, 5, 0), location=None)
    with pytest.raises(ValueError, match="location"):
        two_tower.embed(model, "seekers", seekers)


def local_and_mobile(seed: int, n_seekers: int = 200, n_ads: int = 300, per_seeker: int = 8):
    """Seekers and ads spread on a plane; half the seekers (dense column 0 = 1) apply within
    ~0.15 units, the others within ~0.6: p(ad) ∝ exp(−½ (d / m_u)²). Returns the inputs, the
    training pairs, a Validation of 2 more applications a seeker, and the local mask."""
    rng = np.random.default_rng(seed)
    where_s, where_a = rng.uniform(-1, 1, (n_seekers, 2)), rng.uniform(-1, 1, (n_ads, 2))
    local = np.arange(n_seekers) % 2 == 0
    mobility = np.where(local, 0.15, 0.6)
    d2 = ((where_s[:, None] - where_a[None]) ** 2).sum(-1)
    p = np.exp(-0.5 * d2 / mobility[:, None] ** 2)
    picked = [rng.choice(n_ads, per_seeker + 2, replace=False, p=r / r.sum()) for r in p]
    xs = rng.normal(0, 1, (n_seekers, 4)).astype(np.float32)
    xs[:, 0] = local
    seekers = two_tower.TowerInputs.from_arrays(xs, no_ids(n_seekers), where_s)
    ads = two_tower.TowerInputs.from_arrays(
        rng.normal(0, 1, (n_ads, 4)).astype(np.float32), no_ids(n_ads), where_a
    )
    train_s = np.repeat(np.arange(n_seekers), per_seeker)
    train_a = np.concatenate([c[:per_seeker] for c in picked])
    empty = np.array([], dtype=np.int64)
    pairs = two_tower.training_pairs(train_s, train_a, empty, empty, n_ads, 3.0)
    val = two_tower.Validation(
        np.arange(n_seekers),
        np.arange(n_ads),
        np.repeat(np.arange(n_seekers), 2),
        np.concatenate([c[per_seeker:] for c in picked]),
        train_s,
        train_a,
    )
    return seekers, ads, pairs, val, local


def test_the_distance_term_learns_each_seekers_own_range():
    # the location reaches the towers only through the distance term (their dense inputs are
    # noise and the local flag): only it can rank by place. The local seekers' β must come out
    # far above the mobile ones' (true ratio (0.6 / 0.15)² = 16), and the place-aware model must
    # find more of the held-out applications than the same model without the term.
    seekers, ads, pairs, val, local = local_and_mobile(0)
    cfg = dataclasses.replace(PLANTED, uniform_negatives=64, max_epochs=30, learning_rate=2e-2)
    model, _ = two_tower.train_muse0(seekers, ads, pairs, None, VOCAB_NONE, cfg, device=CPU)
    with torch.no_grad():
        beta = torch.exp(model.represent("seekers", seekers)[2]).numpy()
    assert np.median(beta[local]) > 4 * np.median(beta[~local])
    plain_cfg = dataclasses.replace(cfg, distance=False)
    plain, _ = two_tower.train_muse0(seekers, ads, pairs, None, VOCAB_NONE, plain_cfg, device=CPU)
    with_term = two_tower.validation_recall(model, seekers, ads, val, 20)
    without = two_tower.validation_recall(plain, seekers, ads, val, 20)
    assert with_term > without + 0.2


# -- training -----------------------------------------------------------------------------------


def test_training_is_reproducible_with_a_seed():
    seekers, ads, pairs = random_problem()
    a, rep_a = two_tower.train_muse0(seekers, ads, pairs, None, VOCAB, SMALL, device=CPU)
    b, rep_b = two_tower.train_muse0(seekers, ads, pairs, None, VOCAB, SMALL, device=CPU)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert [h["loss"] for h in rep_a.history] == [h["loss"] for h in rep_b.history]
    assert rep_a.epochs == 2 and rep_a.best_epoch == 2 and rep_a.pairs == len(pairs.seeker)
    assert np.isnan(rep_a.best_validation_recall)  # no validation set
    # another seed trains another model
    c, _ = two_tower.train_muse0(
        seekers, ads, pairs, None, VOCAB, dataclasses.replace(SMALL, seed=1), device=CPU
    )
    assert not all(torch.equal(sa[k], c.state_dict()[k]) for k in sa)
    # training changed the weights
    init = new_model()
    assert not torch.equal(
        init.state_dict()["towers.seekers.0.weight"], sa["towers.seekers.0.weight"]
    )


def test_training_without_pairs_returns_an_untrained_model():
    seekers, ads, _ = random_problem()
    empty = np.array([], dtype=np.int64)
    pairs = two_tower.Pairs(empty, empty, np.array([], dtype=np.float64))
    model, report = two_tower.train_muse0(seekers, ads, pairs, None, VOCAB, SMALL, device=CPU)
    assert report.epochs == 0 and report.pairs == 0
    assert two_tower.embed(model, "ads", ads).shape == (20, 8)


def planted(
    seed: int = 0,
    clusters: int = 4,
    seekers_per: int = 20,
    ads_per: int = 10,
    n_train: int = 3,
    n_test: int = 2,
    dims: int = 8,
):
    """Seekers and ads of `clusters` clusters, the cluster one-hot in the first dense columns
    (the rest noise); each seeker applies to ads of its own cluster only. Returns the inputs,
    the training pairs and a Validation holding each seeker's other applications."""
    rng = np.random.default_rng(seed)
    cs, ca = np.repeat(np.arange(clusters), seekers_per), np.repeat(np.arange(clusters), ads_per)

    def dense(c):
        x = rng.normal(0, 1, (len(c), dims)).astype(np.float32)
        x[:, :clusters] = 0
        x[np.arange(len(c)), c] = 1.0
        # all at one place: the distance term is the same for every pair
        return two_tower.TowerInputs.from_arrays(x, no_ids(len(c)), np.zeros((len(c), 2)))

    train_s, train_a, test_s, test_a = [], [], [], []
    for s in range(len(cs)):
        picked = rng.choice(np.flatnonzero(ca == cs[s]), n_train + n_test, replace=False)
        train_s += [s] * n_train
        train_a += picked[:n_train].tolist()
        test_s += [s] * n_test
        test_a += picked[n_train:].tolist()
    train_s, train_a = np.array(train_s), np.array(train_a)
    empty = np.array([], dtype=np.int64)
    pairs = two_tower.training_pairs(train_s, train_a, empty, empty, len(ca), 3.0)
    val = two_tower.Validation(
        np.arange(len(cs)), np.arange(len(ca)), np.array(test_s), np.array(test_a), train_s, train_a
    )
    return dense(cs), dense(ca), pairs, val


PLANTED = two_tower.Muse0Config(
    embedding_dims=4,
    hidden=32,
    out_dims=16,
    temperature=0.1,
    batch_size=32,
    uniform_negatives=16,
    learning_rate=1e-2,
    max_epochs=8,
    patience=3,
)
VOCAB_NONE = {"department": 1, "occupation": 1, "skill": 1}


def test_training_learns_a_planted_structure():
    seekers, ads, pairs, val = planted()
    k = 5
    # 40 ads, 3 applied to excluded: a random list finds 5/37 of the held-out ads; a model that
    # knows the clusters ranks the 7 unseen ads of the seeker's cluster first: 5/7
    untrained = new_model(8, 8, PLANTED, seed=PLANTED.seed)
    before = two_tower.validation_recall(untrained, seekers, ads, val, k)
    model, report = two_tower.train_muse0(
        seekers, ads, pairs, None, VOCAB_NONE, PLANTED, device=CPU
    )
    after = two_tower.validation_recall(model, seekers, ads, val, k)
    assert before < 0.3
    assert after > 0.55 and after > before + 0.3
    assert report.history[-1]["loss"] < report.history[0]["loss"]


def test_early_stopping_keeps_the_best_validation_epoch():
    seekers, ads, pairs, val = planted(seed=1)
    logged = []
    cfg = dataclasses.replace(PLANTED, validation_k=5, max_epochs=6)
    model, report = two_tower.train_muse0(
        seekers, ads, pairs, val, VOCAB_NONE, cfg, device=CPU, log=logged.append
    )
    recalls = [h["validation_recall"] for h in report.history]
    assert report.epochs == len(report.history) == len(logged) <= 6
    assert report.best_validation_recall == pytest.approx(max(recalls))
    assert recalls[report.best_epoch - 1] == report.best_validation_recall
    assert report.validation_k == 5 and report.best_validation_recall > 0.5
    assert two_tower.validation_recall(model, seekers, ads, val, 5) == pytest.approx(
        report.best_validation_recall
    )


def test_early_stopping_returns_the_best_epoch_not_the_last():
    # an improvement must exceed 0.5 of recall: after epoch 1 (recall < 0.5 on this problem)
    # no epoch counts as better, so training stops after `patience` more epochs and the
    # returned model is epoch 1's, although later epochs score higher
    seekers, ads, pairs, val = planted(seed=1)
    cfg = dataclasses.replace(
        PLANTED, validation_k=5, max_epochs=6, patience=2, min_improvement=0.5
    )
    model, report = two_tower.train_muse0(seekers, ads, pairs, val, VOCAB_NONE, cfg, device=CPU)
    recalls = [h["validation_recall"] for h in report.history]
    assert report.epochs == 3 and report.best_epoch == 1
    assert report.best_validation_recall == recalls[0] and recalls[2] > recalls[0]
    assert two_tower.validation_recall(model, seekers, ads, val, 5) == pytest.approx(recalls[0])


# -- save / load --------------------------------------------------------------------------------


def test_save_and_load_give_the_same_embeddings(tmp_path):
    seekers, ads, pairs = random_problem()
    model, report = two_tower.train_muse0(seekers, ads, pairs, None, VOCAB, SMALL, device=CPU)
    two_tower.save_model(model, report, tmp_path / "muse0.pt")
    again, saved = two_tower.load_model(tmp_path / "muse0.pt", device=CPU)
    assert again.cfg == model.cfg
    for side, x in (("seekers", seekers), ("ads", ads)):
        np.testing.assert_array_equal(
            two_tower.embed(again, side, x), two_tower.embed(model, side, x)
        )
    assert saved["epochs"] == report.epochs and saved["pairs"] == report.pairs
    assert saved["history"] == report.history


def test_a_model_saved_before_the_distance_term_loads_without_it(tmp_path):
    model = new_model(cfg=dataclasses.replace(SMALL, distance=False))
    report = two_tower.TrainingReport(0, 0, 10, float("nan"), [], 0.0, 0, "cpu")
    two_tower.save_model(model, report, tmp_path / "muse0.pt")
    saved = torch.load(tmp_path / "muse0.pt", weights_only=False)
    del saved["config"]["distance"]  # as written before the option existed
    torch.save(saved, tmp_path / "muse0.pt")
    again, _ = two_tower.load_model(tmp_path / "muse0.pt", device=CPU)
    assert not again.cfg.distance
    ads = random_inputs(5, 7, 1)
    np.testing.assert_array_equal(
        two_tower.embed(again, "ads", ads, scoring=True), two_tower.embed(model, "ads", ads)
    )


def test_a_model_with_history_saves_and_loads(tmp_path):
    model = new_model(cfg=dataclasses.replace(SMALL, history_length=2))
    report = two_tower.TrainingReport(0, 0, 10, float("nan"), [], 0.0, 0, "cpu")
    two_tower.save_model(model, report, tmp_path / "muse0.pt")
    again, _ = two_tower.load_model(tmp_path / "muse0.pt", device=CPU)
    seekers = dataclasses.replace(
        random_inputs(4, 5, 0), history=torch.tensor([[1, 2], [0, 0], [3, 0], [2, 2]])
    )
    np.testing.assert_array_equal(
        two_tower.embed(again, "seekers", seekers), two_tower.embed(model, "seekers", seekers)
    )


# -- validation set -----------------------------------------------------------------------------


def test_validation_set_on_the_hand_market():
    split = splits(hand_market())[0]
    val = two_tower.validation_set(split, limit=10, seed=0)
    assert val.seekers.tolist() == [0, 1, 2] and val.ads.tolist() == [0, 2, 3, 5]
    # window applications as (seeker position, universe position); A1 is outside: position 4
    rel = sorted(zip(val.rel_seeker.tolist(), val.rel_ad.tolist(), strict=True))
    assert rel == [(0, 1), (0, 1), (1, 2), (2, 0), (2, 4)]
    # applications before the window, those on ads of the universe only (S0-A1 is outside)
    ex = sorted(zip(val.exclude_seeker.tolist(), val.exclude_ad.tolist(), strict=True))
    assert ex == [(0, 0), (1, 0), (2, 1), (2, 3)]


def test_validation_set_limits_the_seekers_and_keeps_positions_right():
    split = splits(hand_market())[0]
    val = two_tower.validation_set(split, limit=2, seed=3)
    assert len(val.seekers) == 2 and set(val.seekers.tolist()) <= {0, 1, 2}
    picked = set(val.seekers.tolist())
    # map positions back to (seeker row, ad row) and compare with the split's events
    apps = split.relevant["applications"]
    want = sorted(
        (s, a if a in val.ads else -1)
        for s, a in zip(apps.seeker.tolist(), apps.ad.tolist(), strict=True)
        if s in picked
    )
    ads_or_outside = np.append(val.ads, -1)
    got = sorted(
        zip(val.seekers[val.rel_seeker].tolist(), ads_or_outside[val.rel_ad].tolist(), strict=True)
    )
    assert got == want
    seen = split.seen
    want = sorted(
        (s, a)
        for s, a in zip(seen.seeker.tolist(), seen.ad.tolist(), strict=True)
        if s in picked and a in val.ads
    )
    got = sorted(
        zip(val.seekers[val.exclude_seeker].tolist(), val.ads[val.exclude_ad].tolist(), strict=True)
    )
    assert got == want and len(got) > 0


def test_validation_recall_never_counts_an_excluded_ad():
    # one seeker, 3 ads; ad 0 was applied to before the window (excluded) and again in it;
    # ad 1 is also relevant. The list may only hold ads 1 and 2: recall 1/2 at any k.
    model = new_model(4, 4, SMALL)
    rng = np.random.default_rng(0)
    seekers = two_tower.TowerInputs.from_arrays(
        rng.normal(size=(1, 4)).astype(np.float32), no_ids(1), rng.normal(size=(1, 2))
    )
    ads = two_tower.TowerInputs.from_arrays(
        rng.normal(size=(3, 4)).astype(np.float32), no_ids(3), rng.normal(size=(3, 2))
    )
    val = two_tower.Validation(
        np.array([0]),
        np.arange(3),
        np.array([0, 0]),
        np.array([0, 1]),
        np.array([0]),
        np.array([0]),
    )
    assert two_tower.validation_recall(model, seekers, ads, val, 2) == 0.5
    assert two_tower.validation_recall(model, seekers, ads, val, 3) == 0.5


# -- warm start ---------------------------------------------------------------------------------


def test_a_warm_start_is_never_worse_on_validation_than_its_start():
    seekers, ads, pairs, val = planted(seed=2)
    cfg = dataclasses.replace(PLANTED, validation_k=5, max_epochs=8)
    trained, _ = two_tower.train_muse0(seekers, ads, pairs, val, VOCAB_NONE, cfg, device=CPU)
    start = two_tower.validation_recall(trained, seekers, ads, val, 5)
    # one epoch at a learning rate that wrecks the weights: the starting weights are kept
    wreck = dataclasses.replace(cfg, max_epochs=1, learning_rate=5.0, min_improvement=0.0)
    model, report = two_tower.train_muse0(
        seekers, ads, pairs, val, VOCAB_NONE, wreck, device=CPU, init_state=trained.state_dict()
    )
    assert report.history[0]["validation_recall"] < start
    assert report.best_epoch == 0 and report.best_validation_recall == pytest.approx(start)
    assert two_tower.validation_recall(model, seekers, ads, val, 5) == pytest.approx(start)
    # from an untrained start, a warm start trains as usual
    torch.manual_seed(5)
    fresh = two_tower.Muse0(8, 8, VOCAB_NONE, PLANTED)
    _, report = two_tower.train_muse0(
        seekers, ads, pairs, val, VOCAB_NONE, cfg, device=CPU, init_state=fresh.state_dict()
    )
    assert report.best_epoch > 0 and report.best_validation_recall > 0.5


# -- averaged weights and a decaying rate -------------------------------------------------------


def test_weight_averaging_keeps_the_average_of_the_steps():
    # the two ends of the exponential average (torch's AveragedModel starts it at the weights
    # after the first step): a horizon under a step follows every step, an endless one holds
    # that first step
    seekers, ads, pairs, val = planted(seed=3)
    cfg = dataclasses.replace(PLANTED, validation_k=5, max_epochs=3, patience=5, ema_epochs=0)
    raw, _ = two_tower.train_muse0(seekers, ads, pairs, val, VOCAB_NONE, cfg, device=CPU)
    follows, _ = two_tower.train_muse0(
        *(seekers, ads, pairs, val, VOCAB_NONE, dataclasses.replace(cfg, ema_epochs=1e-9)),
        device=CPU,
    )
    still, report = two_tower.train_muse0(
        *(seekers, ads, pairs, val, VOCAB_NONE, dataclasses.replace(cfg, ema_epochs=1e15)),
        device=CPU,
    )
    for name, value in raw.state_dict().items():
        torch.testing.assert_close(follows.state_dict()[name], value, rtol=1e-5, atol=1e-6)
    name = "towers.seekers.0.weight"
    assert not torch.allclose(still.state_dict()[name], raw.state_dict()[name])
    # every epoch scores the average, which an endless horizon holds at the first step's weights
    assert len({h["validation_recall"] for h in report.history}) == 1
    assert report.best_epoch == 1
    # one step from the same start and seed gives those weights
    one_step = dataclasses.replace(cfg, max_epochs=1, batch_size=len(pairs.seeker))
    first, _ = two_tower.train_muse0(seekers, ads, pairs, None, VOCAB_NONE, one_step, device=CPU)
    single = dataclasses.replace(one_step, ema_epochs=1e15, max_epochs=3)
    held, _ = two_tower.train_muse0(seekers, ads, pairs, None, VOCAB_NONE, single, device=CPU)
    for name, value in first.state_dict().items():
        torch.testing.assert_close(held.state_dict()[name], value)


def test_the_average_spans_the_same_epochs_whatever_the_steps_of_an_epoch():
    # a horizon of one epoch: a step's decay is 1 - 1 / (steps an epoch), so with one step an
    # epoch the average is the raw weights, and with more it lags behind them
    seekers, ads, pairs, _ = planted(seed=3)
    one_step = dataclasses.replace(PLANTED, max_epochs=3, batch_size=len(pairs.seeker))
    raw, _ = two_tower.train_muse0(
        *(seekers, ads, pairs, None, VOCAB_NONE, dataclasses.replace(one_step, ema_epochs=0)),
        device=CPU,
    )
    averaged, _ = two_tower.train_muse0(
        *(seekers, ads, pairs, None, VOCAB_NONE, dataclasses.replace(one_step, ema_epochs=1)),
        device=CPU,
    )
    for name, value in raw.state_dict().items():
        torch.testing.assert_close(averaged.state_dict()[name], value)
    steps = dataclasses.replace(PLANTED, max_epochs=3)  # 7 steps an epoch
    raw, _ = two_tower.train_muse0(
        *(seekers, ads, pairs, None, VOCAB_NONE, dataclasses.replace(steps, ema_epochs=0)),
        device=CPU,
    )
    averaged, _ = two_tower.train_muse0(
        *(seekers, ads, pairs, None, VOCAB_NONE, dataclasses.replace(steps, ema_epochs=1)),
        device=CPU,
    )
    assert not torch.allclose(averaged.state_dict()[name], raw.state_dict()[name])


def test_a_zero_rate_decay_stops_learning_after_the_first_epoch():
    seekers, ads, pairs, val = planted(seed=3)
    cfg = dataclasses.replace(PLANTED, validation_k=5, max_epochs=3, patience=5, ema_epochs=0)
    _, frozen = two_tower.train_muse0(
        *(seekers, ads, pairs, val, VOCAB_NONE, dataclasses.replace(cfg, lr_decay=0.0)),
        device=CPU,
    )
    _, steady = two_tower.train_muse0(seekers, ads, pairs, val, VOCAB_NONE, cfg, device=CPU)
    recalls = [h["validation_recall"] for h in frozen.history]
    steady_recalls = [h["validation_recall"] for h in steady.history]
    assert len(recalls) == 3 and recalls[0] == recalls[1] == recalls[2]
    assert recalls[0] == steady_recalls[0]  # the same first epoch
    assert [h["loss"] for h in frozen.history][1:] != [h["loss"] for h in steady.history][1:]
