"""ReCon's congestion term (Mashayekhi et al., RecSys 2023), per training batch, in PyTorch.

ReCon trains a recommender with L = L_rec + λ · L_OT, where for the model's pair probabilities
p = sigmoid(s) (s the logits):

    M = log((1 - p) / p) = -s
    P* = the entropic OT plan of cost M between the seekers and the ads
    L_OT = ⟨P*, M⟩ - Σ log(1 - p) = Σ_e [-P*_e s_e + softplus(s_e)]

i.e. the binary cross-entropy of p against the plan: each seeker's scores are pulled towards the
assignment OT finds for all seekers together, away from ads that others want more.

Here the plan is the project's own problem (jobrec.transport) on a batch's candidate lists: the
batch's seekers (one unit of mass each) and the ads on their lists (mass b_j: the batch's share of
the ad's capacity), on the list edges only (sparse), semi-relaxed on the ads (τ; inf: balanced):

    min_P ⟨C, P⟩ + ε KL(P | a bᵀ) + τ KL(Pᵀ1 | b)   subject to  P 1 = a,  P ≥ 0 on the edges

solved by the same log-domain iterations (scaled potentials φ = f/ε, ψ = g/ε):

    φ_u = log a_u - LSE_{e∈u}(log K_e + ψ_j)
    ψ_j = τ/(τ+ε) · (log b_j - LSE_{e∈j}(log K_e + φ_u)),   log K_e = log a_u + log b_j - C_e/ε

with, for 0 < τ < inf, the translation (φ - c, ψ + c) that makes the ad masses the update aims at
sum to Σ a (as jobrec.transport does). A fixed, small number of iterations is unrolled (ReCon
uses ~10): the gradient goes through them ("unrolled"), or the plan is held as a fixed target
("fixed": the gradient of the cross-entropy alone, (sigmoid(s) - P)).

ReCon sums L_OT over all pairs; here it is averaged over the batch's seekers, so that λ is on the
scale of a per-list ranking loss whatever the batch size.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

GRADIENTS = ("unrolled", "fixed")


@dataclasses.dataclass(frozen=True)
class ReconConfig:
    """The term's settings: its weight λ (0: off), the plan's entropy ε and capacity price τ
    (math.inf: balanced), the Sinkhorn iterations unrolled a batch, how the gradient treats the
    plan (`GRADIENTS`), and the edges a list keeps: its top `edges` by the current score, as
    the redistribution keeps each seeker's Muse.2 top 300 (the rest are not recommended, and
    the term's cost grows with the edges: 1.51× a plain epoch with all 1,000, measured)."""

    weight: float = 0.0
    epsilon: float = 1.0  # cost -s: with no capacity limit, each row's b-weighted softmax of s
    tau: float = 1.0
    iterations: int = 10
    gradient: str = "unrolled"
    edges: int = 300  # each list's top edges by score the term sees (0: all)


def _ad_lse(values: torch.Tensor, cols: torch.Tensor, n_ads: int) -> torch.Tensor:
    """LSE over each ad's edges of `values` (E,), edges' ad columns `cols` (E,); -inf for an ad
    without edges. The max is detached (a constant shift: the gradient is exact)."""
    top = torch.full((n_ads,), -math.inf, dtype=values.dtype, device=values.device)
    top = top.scatter_reduce(0, cols, values.detach(), "amax", include_self=True)
    safe_top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    total = torch.zeros(n_ads, dtype=values.dtype, device=values.device)
    total = total.index_add(0, cols, torch.exp(values - safe_top.index_select(0, cols)))
    tiny = torch.finfo(total.dtype).tiny  # the log of a no-edge ad is never used
    return torch.where(total > 0, torch.log(total.clamp(min=tiny)) + safe_top, top)


def batch_plan(
    cost: torch.Tensor,
    cols: torch.Tensor,
    log_a: torch.Tensor,
    log_b: torch.Tensor,
    epsilon: float,
    tau: float,
    iterations: int,
) -> torch.Tensor:
    """The batch's transport plan after `iterations` log-domain Sinkhorn iterations (see the
    module docstring), differentiable with respect to `cost` and `log_b`.

    Parameters
    ----------
    cost : (g, K) float tensor
        Edge costs, finite on the edges (padding entries are ignored, whatever they hold).
    cols : (g, K) long tensor
        Each edge's ad column 0..m-1, -1 on padding; every row has at least one edge.
    log_a : (g,) float tensor
        log of the seekers' masses.
    log_b : (m,) float tensor
        log of the ads' masses.
    epsilon : float
        ε, the entropy's weight.
    tau : float
        τ, the price of an ad's mass off its capacity (math.inf: balanced).
    iterations : int
        Iterations run (at least 1).

    Returns
    -------
    (g, K) tensor
        The plan, 0 on padding, each row summing to a_u.
    """
    edge = cols >= 0
    safe_cols = cols.clamp(min=0)
    m = len(log_b)

    def per_edge(x):  # x[safe_cols]: index_select's backward is a plain index_add
        return x.index_select(0, safe_cols.reshape(-1)).view(safe_cols.shape)

    fi = 1.0 if math.isinf(tau) else tau / (tau + epsilon)
    shift = 0 < tau < math.inf
    neg_inf = torch.tensor(-math.inf, dtype=cost.dtype, device=cost.device)
    # padding as -inf through torch.where: no -inf ever meets a multiplication (NaN gradients)
    log_k = torch.where(
        edge, log_a[:, None] + per_edge(log_b) - torch.where(edge, cost, 0.0) / epsilon, neg_inf
    )
    on_edge = edge.reshape(-1).nonzero().squeeze(1)
    flat_cols = safe_cols.reshape(-1).index_select(0, on_edge)
    flat_k = log_k.reshape(-1).index_select(0, on_edge)
    rows = torch.div(on_edge, cols.shape[1], rounding_mode="floor")
    has_edges = torch.zeros(m, dtype=torch.bool, device=cost.device)
    has_edges[flat_cols] = True
    psi = torch.zeros(m, dtype=cost.dtype, device=cost.device)
    for _ in range(iterations):
        phi = log_a - torch.logsumexp(log_k + per_edge(psi), dim=1)
        lse = _ad_lse(flat_k + phi.index_select(0, rows), flat_cols, m)
        psi = torch.where(has_edges, fi * (log_b - torch.where(has_edges, lse, 0.0)), 0.0)
        if shift:
            scaled = epsilon / tau
            target = torch.where(has_edges, log_b - psi * scaled, neg_inf)
            c = (torch.logsumexp(target, 0) - torch.logsumexp(log_a, 0)) / scaled
            psi = torch.where(has_edges, psi + c, 0.0)
    return torch.exp(log_a)[:, None] * torch.softmax(log_k + per_edge(psi), dim=1)


def plan_loss(scores: torch.Tensor, plan: torch.Tensor, edge: torch.Tensor) -> torch.Tensor:
    """Σ over the edges of [-P_e s_e + softplus(s_e)] (the binary cross-entropy of sigmoid(s)
    against P), averaged over the rows with an edge."""
    s = torch.where(edge, scores, 0.0)
    per_edge = torch.where(edge, nn.functional.softplus(s) - plan * s, 0.0)
    rows = edge.any(dim=1)
    return per_edge.sum(dim=1)[rows].mean()


def recon_loss(
    scores: torch.Tensor,
    ads: torch.Tensor,
    capacity: torch.Tensor,
    cfg: ReconConfig,
    offset: torch.Tensor | None = None,
) -> torch.Tensor:
    """ReCon's L_OT of a batch of candidate lists (not multiplied by `cfg.weight`: the caller
    adds λ · this).

    Each list keeps its top `cfg.edges` candidates by score (all with 0). The batch's seekers
    with at least one candidate carry one unit of mass each; each ad on
    their lists carries the batch's share of its capacity, b_j = (rows) × capacity_j; the
    cost of an edge is -s (M = log((1 - p)/p) for p = sigmoid(s)).

    Parameters
    ----------
    scores : (g, K) float tensor
        The model's logits of the lists (padding entries may hold anything, -inf included).
    ads : (g, K) long tensor
        Market ad rows of the candidates, -1 on padding.
    capacity : (N_a,) float tensor
        Each ad row's capacity per seeker of the night (its positions over all positions of
        the night's candidate ads); positive for every ad on a list.
    cfg : ReconConfig
        ε, τ, the iterations and the gradient's treatment of the plan.
    offset : scalar tensor, optional
        β in p = sigmoid(s + β): the term's own level (a ranking score's level is arbitrary);
        the plan does not depend on it (a constant shift of every cost), the cross-entropy
        does. Default 0.

    Returns
    -------
    scalar tensor
        Σ_e [-P_e s_e + softplus(s_e)] over each seeker's edges, averaged over the seekers
        with an edge (0 when there is none).

    Raises
    ------
    ValueError
        For an unknown `cfg.gradient`.
    """
    if cfg.gradient not in GRADIENTS:
        raise ValueError(f"unknown ReCon gradient {cfg.gradient!r}: one of {GRADIENTS}")
    rows = (ads >= 0).any(dim=1)
    if not rows.any():
        return scores.new_zeros(())
    keep = rows.nonzero().squeeze(1)  # index_select: no boolean indexing in the backward
    s, ads = scores.index_select(0, keep), ads.index_select(0, keep)
    if 0 < cfg.edges < s.shape[1]:
        ranked = s.detach().masked_fill(ads < 0, -math.inf)
        top = torch.topk(ranked, cfg.edges, dim=1, sorted=False).indices
        s, ads = s.gather(1, top), ads.gather(1, top)
    if offset is not None:
        s = s + offset
    edge = ads >= 0
    used, inverse = torch.unique(ads[edge], return_inverse=True)
    cols = torch.full_like(ads, -1)
    cols[edge] = inverse
    # the plan in float64, as jobrec.transport's potentials: in float32 the unrolled gradient
    # differed in its last bits between a process's first training and the next (measured),
    # so a re-run in one process did not reproduce its weights
    wide = s.dtype if s.device.type == "mps" else torch.float64
    log_a = torch.zeros(len(s), dtype=wide, device=s.device)
    log_b = torch.log(capacity[used].to(wide) * len(s))
    cost = torch.where(edge, -s, 0.0).to(wide)
    plan = batch_plan(cost, cols, log_a, log_b, cfg.epsilon, cfg.tau, cfg.iterations)
    if cfg.gradient == "fixed":
        plan = plan.detach()
    return plan_loss(s.to(wide), plan, edge).to(s.dtype)
