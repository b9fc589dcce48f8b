"""ReCon's congestion term (jobrec.recon): the batch plan against POT and against the project's
numpy solver, the loss recomputed from their plans, its gradient against finite differences and
by hand, a contested ad by hand, padding and -inf, determinism."""

from __future__ import annotations

import math

import numpy as np
import ot as pot
import pytest
import torch

from jobrec import transport
from jobrec.recon import ReconConfig, batch_plan, plan_loss, recon_loss

F64 = torch.float64


def dense_instance(seed=0, u=4, j=5):
    rng = np.random.default_rng(seed)
    cost = rng.normal(size=(u, j))
    a = np.ones(u)
    b = rng.uniform(0.5, 2.0, j)
    return cost, a, b / b.sum() * u


def plan_of(cost, cols, a, b, eps, tau, iterations):
    return batch_plan(
        torch.tensor(cost, dtype=F64),
        torch.as_tensor(cols),
        torch.tensor(np.log(a), dtype=F64),
        torch.tensor(np.log(b), dtype=F64),
        eps,
        tau,
        iterations,
    ).numpy()


@pytest.mark.parametrize("epsilon", [0.3, 1.0])
def test_balanced_plan_equals_pot_sinkhorn(epsilon):
    cost, a, b = dense_instance()
    cols = np.tile(np.arange(len(b)), (len(a), 1))
    ref = pot.sinkhorn(
        a, b, cost, reg=epsilon, method="sinkhorn_log", numItermax=20000, stopThr=1e-14
    )
    got = plan_of(cost, cols, a, b, epsilon, math.inf, 3000)
    np.testing.assert_allclose(got, ref, atol=1e-10)


@pytest.mark.parametrize("epsilon,tau", [(0.5, 1.0), (1.0, 10.0)])
def test_semi_relaxed_plan_equals_pot_unbalanced(epsilon, tau):
    cost, a, b = dense_instance(seed=1)
    cols = np.tile(np.arange(len(b)), (len(a), 1))
    ref = pot.unbalanced.sinkhorn_unbalanced(
        a,
        b,
        cost,
        reg=epsilon,
        reg_m=(float("inf"), tau),
        reg_type="kl",
        method="sinkhorn_stabilized",
        numItermax=100000,
        stopThr=1e-15,
    )
    got = plan_of(cost, cols, a, b, epsilon, tau, 2000)
    np.testing.assert_allclose(got, ref, atol=1e-9)


@pytest.mark.parametrize("tau", [2.0, math.inf])
def test_sparse_plan_equals_the_projects_solver(tau):
    ads = np.array([[0, 1, 2, -1], [1, 2, 3, 4], [0, 4, -1, -1], [3, -1, -1, -1]])
    rng = np.random.default_rng(2)
    cost = np.where(ads >= 0, rng.normal(size=ads.shape), 0.0)
    b = np.array([1.0, 0.5, 0.7, 1.2, 0.6])
    b = b / b.sum() * len(ads) if math.isinf(tau) else b
    graph = transport.EdgeGraph(ads, cost, np.ones(len(ads)), b)
    ref = transport.solve(graph, transport.OTConfig(0.7, tau, 1e-14, 200000)).plan
    got = plan_of(cost, ads, np.ones(len(ads)), b, 0.7, tau, 20000 if math.isinf(tau) else 3000)
    np.testing.assert_allclose(got, ref, atol=1e-9)
    assert (got[ads < 0] == 0).all()
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-12)


def sparse_batch(seed=3, dtype=F64):
    rng = np.random.default_rng(seed)
    ads = np.array([[4, 7, 9, -1], [7, 9, 2, 4], [2, 4, -1, -1]])
    scores = torch.tensor(np.where(ads >= 0, rng.normal(size=ads.shape), -np.inf), dtype=dtype)
    capacity = torch.tensor(rng.uniform(0.05, 0.2, 10), dtype=dtype)
    return scores, torch.as_tensor(ads), capacity


def test_the_loss_is_the_cross_entropy_against_the_converged_plan():
    scores, ads, capacity = sparse_batch()
    cfg = ReconConfig(epsilon=0.8, tau=3.0, iterations=3000, gradient="fixed")
    got = recon_loss(scores, ads, capacity, cfg)
    # the same plan from the project's numpy solver, columns built by hand
    used = np.unique(ads[ads >= 0])
    cols = np.where(ads >= 0, np.searchsorted(used, ads.numpy()), -1)
    edge = ads.numpy() >= 0
    s = np.where(edge, scores.numpy(), 0.0)
    b = capacity.numpy()[used] * len(ads)
    graph = transport.EdgeGraph(cols, np.where(edge, -s, 0.0), np.ones(len(ads)), b)
    plan = transport.solve(graph, transport.OTConfig(0.8, 3.0, 1e-14, 100000)).plan
    by_hand = np.where(edge, -plan * s + np.logaddexp(0.0, s), 0.0).sum(1).mean()
    assert float(got) == pytest.approx(by_hand, abs=1e-10)
    # ReCon's identity: ⟨P, M⟩ - Σ log(1 - p) is the binary cross-entropy of p against P
    t = torch.tensor(plan)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(s)[edge], t[edge], reduction="sum"
    )
    assert float(got) == pytest.approx(float(bce) / len(ads), abs=1e-10)


@pytest.mark.parametrize("gradient", ["unrolled", "fixed"])
def test_gradient_matches_finite_differences(gradient):
    scores, ads, capacity = sparse_batch()
    edge = ads >= 0
    cfg = ReconConfig(epsilon=0.8, tau=3.0, iterations=10, gradient=gradient)

    def loss_of(edge_scores):  # only the edges vary: padding stays -inf
        full = torch.full(ads.shape, -math.inf, dtype=F64).masked_scatter(edge, edge_scores)
        return recon_loss(full, ads, capacity, cfg)

    if gradient == "unrolled":
        values = scores[edge].clone().requires_grad_(True)
        assert torch.autograd.gradcheck(loss_of, (values,), eps=1e-6, atol=1e-7)
    else:  # the plan is a constant: the gradient is (sigmoid(s) - P) / rows
        values = scores[edge].clone().requires_grad_(True)
        loss_of(values).backward()
        plan = batch_plan_of(scores, ads, capacity, cfg)
        expected = (torch.sigmoid(scores[edge]) - plan[edge]) / len(ads)
        torch.testing.assert_close(values.grad, expected, atol=1e-12, rtol=0)


def batch_plan_of(scores, ads, capacity, cfg):
    edge = ads >= 0
    used, inverse = torch.unique(ads[edge], return_inverse=True)
    cols = torch.full_like(ads, -1)
    cols[edge] = inverse
    return batch_plan(
        torch.where(edge, -scores, 0.0),
        cols,
        torch.zeros(len(ads), dtype=F64),
        torch.log(capacity[used] * len(ads)),
        cfg.epsilon,
        cfg.tau,
        cfg.iterations,
    )


@pytest.mark.parametrize("gradient", ["unrolled", "fixed"])
def test_two_seekers_contesting_one_ad_are_moved_apart(gradient):
    """Both seekers prefer ad 0, which has room for one: seeker 0 by far, seeker 1 barely. The
    plan sends seeker 1 mostly to ad 1, and descending the term alone turns seeker 1 towards ad 1
    while seeker 0 keeps ad 0: their top ads differ."""
    ads = torch.tensor([[0, 1], [0, 1]])
    scores = torch.tensor([[3.0, 0.0], [0.3, 0.0]], dtype=F64, requires_grad=True)
    capacity = torch.tensor([0.5, 0.5], dtype=F64)  # one seeker's worth each
    cfg = ReconConfig(epsilon=0.2, tau=math.inf, iterations=50, gradient=gradient)
    plan = batch_plan_of(scores.detach(), ads, capacity, cfg)
    assert plan[0, 0] > 0.9 and plan[1, 1] > 0.9
    opt = torch.optim.SGD([scores], lr=1.0)
    for _ in range(200):
        opt.zero_grad()
        recon_loss(scores, ads, capacity, cfg).backward()
        opt.step()
    s = scores.detach()
    assert s[0, 0] > s[0, 1]  # seeker 0 keeps ad 0 first
    assert s[1, 1] > s[1, 0]  # seeker 1 now prefers ad 1
    # without competition (each seeker alone in its batch) seeker 1 keeps ad 0 first
    alone = torch.tensor([[0.3, 0.0]], dtype=F64, requires_grad=True)
    opt = torch.optim.SGD([alone], lr=1.0)
    for _ in range(200):
        opt.zero_grad()
        recon_loss(alone, ads[:1], capacity, cfg).backward()
        opt.step()
    assert alone[0, 0] > alone[0, 1]


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("gradient", ["unrolled", "fixed"])
def test_padding_and_minus_infinity_stay_finite(dtype, gradient):
    scores, ads, capacity = sparse_batch(dtype=dtype)
    ads = torch.cat([ads, torch.full((1, ads.shape[1]), -1)])  # a list without candidates
    scores = torch.cat([scores, torch.full((1, scores.shape[1]), -math.inf, dtype=dtype)])
    scores.requires_grad_(True)
    loss = recon_loss(scores, ads, capacity, ReconConfig(gradient=gradient))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(scores.grad).all()
    assert (scores.grad[ads < 0] == 0).all()
    empty = torch.full((2, 3), -1)
    assert float(recon_loss(torch.zeros(2, 3), empty, capacity, ReconConfig())) == 0.0


def test_repeated_calls_are_bit_identical():
    scores, ads, capacity = sparse_batch(dtype=torch.float32)
    out = []
    for _ in range(2):
        s = scores.clone().requires_grad_(True)
        loss = recon_loss(s, ads, capacity, ReconConfig())
        loss.backward()
        out.append((loss.detach(), s.grad))
    assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])


def test_plan_loss_by_hand_and_unknown_gradient():
    s = torch.tensor([[0.0, 1.0]], dtype=F64)
    p = torch.tensor([[0.25, 0.75]], dtype=F64)
    edge = torch.tensor([[True, True]])
    by_hand = (math.log(2) - 0) + (math.log(1 + math.e) - 0.75)
    assert float(plan_loss(s, p, edge)) == pytest.approx(by_hand, abs=1e-12)
    with pytest.raises(ValueError, match="gradient"):
        recon_loss(s, torch.tensor([[0, 1]]), torch.ones(2), ReconConfig(gradient="implicit"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("gradient", ["unrolled", "fixed"])
def test_the_term_on_a_gpu_equals_the_cpu(gradient):
    """Training runs where pick_device() says, a GPU when there is one: the term (its plan in
    float64 there too) gives the CPU's loss and gradient."""
    scores, ads, capacity = sparse_batch(dtype=torch.float32)
    cfg = ReconConfig(gradient=gradient)
    out = []
    for device in ("cpu", "cuda"):
        s = scores.detach().to(device).clone().requires_grad_(True)
        loss = recon_loss(s, ads.to(device), capacity.to(device), cfg)
        loss.backward()
        out.append((loss.item(), s.grad.cpu()))
    assert out[1][0] == pytest.approx(out[0][0], rel=1e-6)
    torch.testing.assert_close(out[1][1], out[0][1], rtol=1e-5, atol=1e-7)


def test_the_offset_moves_the_cross_entropy_not_the_plan():
    """p = sigmoid(s + β): the loss with β is the loss of the shifted scores, and with the plan
    held fixed d loss / d β = Σ_e (sigmoid(s_e + β) - P_e) / rows."""
    scores, ads, capacity = sparse_batch()
    cfg = ReconConfig(gradient="fixed")
    beta = torch.tensor(-2.0, dtype=F64, requires_grad=True)
    loss = recon_loss(scores, ads, capacity, cfg, beta)
    assert float(loss.detach()) == pytest.approx(
        float(recon_loss(scores - 2.0, ads, capacity, cfg))
    )
    loss.backward()
    edge = ads >= 0
    plan = batch_plan_of(scores, ads, capacity, cfg)  # the plan of the unshifted scores
    torch.testing.assert_close(plan, batch_plan_of(scores - 2.0, ads, capacity, cfg))
    expected = (torch.sigmoid(scores[edge] - 2.0) - plan[edge]).sum() / len(ads)
    assert float(beta.grad) == pytest.approx(float(expected), abs=1e-12)


def test_a_list_keeps_its_top_edges_by_score():
    """With `edges` = 2 the term is the term of each list's two best candidates (a list with
    fewer keeps what it has), and the others get no gradient."""
    scores, ads, capacity = sparse_batch()
    s = scores.clone().requires_grad_(True)
    loss = recon_loss(s, ads, capacity, ReconConfig(edges=2))
    loss.backward()
    ranked = torch.where(ads >= 0, scores, -math.inf)
    top = torch.topk(ranked, 2, dim=1).indices
    by_hand = recon_loss(scores.gather(1, top), ads.gather(1, top), capacity, ReconConfig(edges=0))
    assert float(loss.detach()) == pytest.approx(float(by_hand), abs=1e-12)
    outside = torch.ones_like(ads, dtype=torch.bool).scatter(1, top, False)
    assert (s.grad[outside] == 0).all() and (s.grad.gather(1, top) != 0).all()
