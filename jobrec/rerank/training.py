"""Training of Muse.1 and Muse.2 (the pair model of jobrec.reranker_model) on candidate lists.

Training lists are the candidate lists of the validation-window seekers (Muse.0 was trained
before the window, so its scores on them are honest); a held-out share of those seekers drives
early stopping on Recall@100 and gives the rerank stage's validation metrics.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from jobrec.devices import pick_device
from jobrec.early_stopping import EarlyStopping
from jobrec.recon import ReconConfig, recon_loss
from jobrec.reranker_model import HirePairs, Lists, RerankConfig, Reranker, score_lists


@dataclasses.dataclass
class RerankReport:
    kind: str
    epochs: int
    best_epoch: int
    best_validation_recall: float
    history: list[dict]
    seconds: float
    train_seekers: int
    device: str
    warm_from: str | None = None  # the previous night's model it started from, if any
    start: str = "full retrain"  # why it started from scratch or from the previous model
    # each epoch's seconds on its batches (the validation scoring left out); beside the
    # history, which stays the same number for number when a training is repeated
    epoch_seconds: list[float] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Competition:
    """Who competes with whom, for the ReCon term (`RerankConfig.recon_weight` > 0): each ad
    row's capacity per seeker of the night (its positions over all positions of the night's
    candidate ads) and each training list's locality group (the seeker's desired occupation and
    department, sorted), so that a batch holds seekers who want the same ads."""

    capacity: np.ndarray  # (N_a,) float
    group: np.ndarray  # (G,) int, one per training list


def recon_settings(cfg: RerankConfig) -> ReconConfig:
    """The ReCon term's settings of a reranker configuration."""
    return ReconConfig(
        cfg.recon_weight,
        cfg.recon_epsilon,
        cfg.recon_tau,
        cfg.recon_iterations,
        cfg.recon_gradient,
        cfg.recon_edges,
    )


def batches(
    lists: np.ndarray, size: int, rng: np.random.Generator, group: np.ndarray | None = None
) -> list[np.ndarray]:
    """An epoch's batches of `lists` (training list indices): shuffled, or with `group`
    (one label per training list) cut from the lists sorted by group, shuffled within a group,
    and the batches taken in a shuffled order."""
    order = rng.permutation(lists)
    if group is None:
        return [order[lo : lo + size] for lo in range(0, len(order), size)]
    order = order[np.argsort(group[order], kind="stable")]
    cut = [order[lo : lo + size] for lo in range(0, len(order), size)]
    return [cut[i] for i in rng.permutation(len(cut))]


def _listwise_loss(scores: torch.Tensor, target: torch.Tensor, valid: torch.Tensor):
    """Softmax cross-entropy of each list against its normalised target weights (lists without
    a positive are skipped)."""
    scores = scores.masked_fill(~valid, float("-inf"))
    log_p = torch.log_softmax(scores, dim=1)
    mass = target.sum(1)
    has = mass > 0
    if not has.any():
        return scores.new_zeros(())
    t = target[has] / mass[has, None]
    return -(t * log_p[has].masked_fill(~valid[has], 0.0)).sum(1).mean()


def _sampled_bce(
    scores: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor,
    negatives: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Binary cross-entropy on every positive and about `negatives` sampled negatives per list,
    positives weighted by their target weight (hires count more)."""
    keep_rate = negatives / valid.sum(1, keepdim=True).clamp(min=1)
    draw = torch.rand(scores.shape, generator=generator, device=scores.device)
    keep = valid & ((target > 0) | (draw < keep_rate))
    weight = torch.where(target > 0, target, torch.ones_like(target))[keep]
    loss = nn.functional.binary_cross_entropy_with_logits(
        scores[keep], (target[keep] > 0).float(), weight=weight, reduction="sum"
    )
    return loss / weight.sum().clamp(min=1)


def _list_loss(cfg, scores, target, valid, generator) -> torch.Tensor:
    if cfg.loss == "listwise":
        return _listwise_loss(scores, target, valid)
    return _sampled_bce(scores, target, valid, cfg.bce_negatives, generator)


def per_list_recall(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """Recall@k of each list with at least one relevant candidate (relevant ads outside the
    candidate list are not counted here: the stage metrics in metrics.ranking count them).

    Parameters
    ----------
    scores : (G, K) float array
        A model's scores of the candidates, -inf on padding.
    relevant : (G, K) bool array
        The relevant candidates (e.g. `Lists.applied`).
    k : int
        The cut-off.

    Returns
    -------
    (G',) float array
        Recall@k of each of the G' lists holding a relevant candidate, in list order.
    """
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    found = np.take_along_axis(relevant, top, axis=1).sum(1)
    n = relevant.sum(1)
    has = n > 0
    return found[has] / n[has]


def candidate_recall(scores: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Mean Recall@k over the lists with a relevant candidate (see per_list_recall).

    Parameters
    ----------
    scores : (G, K) float array
        A model's scores of the candidates, -inf on padding.
    relevant : (G, K) bool array
        The relevant candidates.
    k : int
        The cut-off.

    Returns
    -------
    float
        The mean, NaN when no list holds a relevant candidate.
    """
    each = per_list_recall(scores, relevant, k)
    return float(each.mean()) if len(each) else float("nan")


def train_reranker(
    seeker_x: np.ndarray,
    ad_x: np.ndarray,
    train: Lists,
    valid: Lists,
    hires: HirePairs | None,
    cfg: RerankConfig,
    device: torch.device | None = None,
    log=None,
    init_state: dict | None = None,
    competition: Competition | None = None,
) -> tuple[Reranker, RerankReport]:
    """Train on `train` lists (and, for Muse.2, the hiring head on `hires`); keep the epoch with
    the best Recall@k (`cfg.early_stopping_k`) on the `valid` lists; with `cfg.ema_decay` > 0
    each epoch scores and keeps the exponential moving average of the weights over the steps,
    not the last step's weights (a 0.99 average needs a few hundred steps). With `init_state`
    (a warm start from the previous night's weights) the starting weights are scored first, as
    epoch 0: the kept model is never worse on `valid` than the one it started from.

    Each batch holds `cfg.seekers_per_batch` training lists with at least one application or
    hire; the loss (`cfg.loss`: listwise softmax or sampled binary cross-entropy) is taken on
    the final score against applications + `cfg.hire_weight` × hires, plus, for Muse.2, on the
    application head against applications and a binary cross-entropy of the hiring head on a
    batch of `hires`. With `cfg.recon_weight` λ > 0, each batch also adds λ × ReCon's
    congestion term on the final scores (`jobrec.recon.recon_loss`), its batches grouped by
    `competition.group`. Early stopping: after `cfg.patience` epochs without a gain of more
    than 1e-4 in candidate Recall@k (`cfg.early_stopping_k`) on `valid`, or at
    `cfg.max_epochs`.

    Parameters
    ----------
    seeker_x : (N_s, S) float32 array
        Entity inputs of every seeker row.
    ad_x : (N_a, A) float32 array
        Entity inputs of every ad row.
    train : Lists
        Training lists (seeker rows, (G, K) candidates, pair features, labels).
    valid : Lists
        Held-out lists for early stopping.
    hires : HirePairs or None
        The hiring head's applications and outcomes (used by Muse.2 only; None for Muse.1).
    cfg : RerankConfig
        Model and training settings (`kind` selects Muse.1 or Muse.2).
    device : torch.device, optional
        Default `pick_device()`.
    log : callable, optional
        A progress line an epoch.
    init_state : dict, optional
        Starting weights (a state dict of a Reranker of the same shapes).
    competition : Competition, optional
        The ads' capacities and the lists' groups; required when `cfg.recon_weight` > 0.
        Given, batches are cut by group (also with λ = 0: a benchmark's control of the
        batches alone).

    Returns
    -------
    model : Reranker
        The best epoch's model, in eval mode, on `device`.
    report : RerankReport
        Epochs, best epoch and its validation recall, the history, seconds, the training
        lists with a positive, and the device.
    """
    device = device or pick_device()
    recon = recon_settings(cfg)
    if recon.weight > 0 and competition is None:
        raise ValueError("the ReCon term (recon_weight > 0) needs the ads' capacities")
    group = competition.group if competition is not None else None
    capacity = None
    if recon.weight > 0:
        capacity = torch.as_tensor(competition.capacity, dtype=torch.float32, device=device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    model = Reranker(seeker_x.shape[1], ad_x.shape[1], cfg).to(device)
    params = list(model.parameters())
    offset = None
    if capacity is not None and cfg.recon_offset:
        # the term's p = sigmoid(score + β): a learned level (ReCon's model has its global bias),
        # since a listwise score has none; from p ≈ 1/K, the plan's mass of an even row
        offset = nn.Parameter(torch.tensor(-math.log(train.ads.shape[1]), device=device))
        params.append(offset)
    opt = torch.optim.Adam(params, lr=cfg.learning_rate)
    averaged = None
    sx, ax = torch.as_tensor(seeker_x), torch.as_tensor(ad_x)
    sx_dev, ax_dev = sx.to(device), ax.to(device)
    has_positive = np.flatnonzero(train.applied.any(1) | train.hired.any(1))
    history, stopper = [], EarlyStopping(cfg.patience, min_improvement=1e-4)
    epoch_seconds = []
    t0 = time.perf_counter()
    if init_state is not None:
        model.load_state_dict(init_state)
        model.eval()
        scores = score_lists(model, sx, ax, valid.seeker, valid.ads, valid.cross, device)
        stopper.update(model, 0, candidate_recall(scores, valid.applied, cfg.early_stopping_k))
    if cfg.ema_decay > 0:  # the average starts at the first step's weights (AveragedModel)
        averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay))
    for epoch in range(1, cfg.max_epochs + 1):
        model.train()
        epoch_batches = batches(has_positive, cfg.seekers_per_batch, rng, group)
        hire_order = rng.permutation(len(hires.seeker)) if hires is not None else None
        total, congestion, steps = 0.0, 0.0, 0
        epoch_start = time.perf_counter()
        for b, idx in enumerate(epoch_batches):
            ads = torch.as_tensor(train.ads[idx], device=device)
            valid_mask = ads >= 0
            s_dot, s_w = model.entities("seekers", sx_dev[torch.as_tensor(train.seeker[idx])])
            a = model.entities("ads", ax_dev[ads.clamp(min=0)])
            c = torch.as_tensor(train.cross[idx], device=device)
            logits = model.pair_logits((s_dot[:, None], s_w[:, None]), a, c)  # (g, k, outputs)
            applied = torch.as_tensor(train.applied[idx], dtype=torch.float32, device=device)
            hired = torch.as_tensor(train.hired[idx], dtype=torch.float32, device=device)
            combined = applied + cfg.hire_weight * hired
            final = model.final(logits)
            loss = _list_loss(cfg, final, combined, valid_mask, gen)
            if capacity is not None:
                term = recon_loss(final, ads, capacity, recon, offset)
                loss = loss + recon.weight * term
                congestion += term.item()
            if model.heads == 2:
                loss = loss + _list_loss(cfg, logits[..., 0], applied, valid_mask, gen)
                if hires is not None and len(hires.seeker):
                    lo_h = (b * cfg.hire_batch) % len(hires.seeker)
                    h_idx = hire_order[lo_h : lo_h + cfg.hire_batch]
                    hs = model.entities("seekers", sx_dev[torch.as_tensor(hires.seeker[h_idx])])
                    ha = model.entities("ads", ax_dev[torch.as_tensor(hires.ad[h_idx])])
                    hc = torch.as_tensor(hires.cross[h_idx], device=device)
                    h_logit = model.pair_logits(hs, ha, hc)[:, 1]
                    h_target = torch.as_tensor(
                        hires.hired[h_idx], dtype=torch.float32, device=device
                    )
                    loss = loss + nn.functional.binary_cross_entropy_with_logits(h_logit, h_target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if averaged is not None:
                averaged.update_parameters(model)
            total += loss.item()
            steps += 1
        epoch_seconds.append(time.perf_counter() - epoch_start)
        for param_group in opt.param_groups:  # a step down each epoch (lr_decay 1: a constant rate)
            param_group["lr"] *= cfg.lr_decay
        kept = model if averaged is None else averaged.module
        scores = score_lists(kept, sx, ax, valid.seeker, valid.ads, valid.cross, device)
        recall = candidate_recall(scores, valid.applied, cfg.early_stopping_k)
        at_10 = candidate_recall(scores, valid.applied, 10)
        history.append(
            {
                "epoch": epoch,
                "loss": total / max(steps, 1),
                "recon_loss": congestion / max(steps, 1),
                "recon_offset": float(offset.detach()) if offset is not None else 0.0,
                "validation_recall": recall,
                "validation_recall_at_10": at_10,
            }
        )
        if log:
            log(
                f"{cfg.kind} epoch {epoch}: loss={history[-1]['loss']:.4f}, candidate "
                f"Recall@{cfg.early_stopping_k}={recall:.4f}, Recall@10={at_10:.4f}"
                + (f", ReCon term={history[-1]['recon_loss']:.4f}" if capacity is not None else "")
            )
        if stopper.update(kept, epoch, recall):
            break
    stopper.restore(model)
    report = RerankReport(
        cfg.kind,
        len(history),
        stopper.best_epoch,
        stopper.best,
        history,
        time.perf_counter() - t0,
        len(has_positive),
        str(device),
        epoch_seconds=epoch_seconds,
    )
    return model.eval(), report
