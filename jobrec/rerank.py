"""Muse.1 and Muse.2: rerankers of each seeker's Muse.0 candidates, factored for speed.

Both score a pair as products of per-entity vectors plus a light cross-feature term, so the
expensive part (the entity towers) runs once per seeker and once per ad, not once per pair:
  seeker tower  [Muse.0 seeker embedding, seeker numbers] -> H heads x D dims
  ad tower      [Muse.0 ad embedding, ad numbers]         -> H heads x D dims
  pair logit_h  <seeker_h, ad_h> + cross_mlp(cross features)_h       (~D·H + 300 operations)
Muse.1: one head, trained listwise on applications (hires weighted up).
Muse.2: an application head (listwise on the candidate lists' applications), a hiring head
(P(hire | application), binary cross-entropy on every application before the training cut, Muse.0
features masked out since Muse.0 trained on those pairs) and a top head that gives the final hiring
score: log P(apply) + log P(hire | apply) + a small learned correction over [both logits, cross
features], trained listwise on applications and hires.

Training lists are the candidate lists of the validation-window seekers (Muse.0 was trained
before the window, so its scores on them are honest); a held-out share of those seekers drives
early stopping on Recall@100 and gives the rerank stage's validation metrics.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np
import torch
from torch import nn

from jobrec.cross import CROSS_COLUMNS, MUSE0_COLUMNS
from jobrec.retrieval import pick_device


@dataclasses.dataclass
class RerankConfig:
    kind: str = "muse2"  # muse1 | muse2
    dims: int = 32
    hidden: int = 128
    cross_hidden: int = 16
    seekers_per_batch: int = 32
    hire_batch: int = 4096
    hire_weight: float = 5.0  # listwise target weight of a hire against an application
    learning_rate: float = 3e-3
    max_epochs: int = 12
    patience: int = 2
    seed: int = 0


class Reranker(nn.Module):
    def __init__(self, seeker_dims: int, ad_dims: int, cfg: RerankConfig):
        super().__init__()
        self.cfg = cfg
        self.heads = 2 if cfg.kind == "muse2" else 1
        n_cross = len(CROSS_COLUMNS)
        out = cfg.dims * self.heads
        self.seeker = nn.Sequential(nn.Linear(seeker_dims, cfg.hidden), nn.ReLU(),
                                    nn.Linear(cfg.hidden, out))  # fmt: skip
        self.ad = nn.Sequential(nn.Linear(ad_dims, cfg.hidden), nn.ReLU(),
                                nn.Linear(cfg.hidden, out))  # fmt: skip
        self.cross = nn.Sequential(nn.Linear(n_cross, cfg.cross_hidden), nn.ReLU(),
                                   nn.Linear(cfg.cross_hidden, self.heads))  # fmt: skip
        mask = torch.ones(self.heads, n_cross)
        if self.heads == 2:
            mask[1, list(MUSE0_COLUMNS)] = 0.0  # the hiring head never sees Muse.0's score
            self.hire_cross = nn.Sequential(nn.Linear(n_cross, cfg.cross_hidden), nn.ReLU(),
                                            nn.Linear(cfg.cross_hidden, 1))  # fmt: skip
            self.top = nn.Sequential(nn.Linear(2 + n_cross, cfg.cross_hidden), nn.ReLU(),
                                     nn.Linear(cfg.cross_hidden, 1))  # fmt: skip
        self.register_buffer("hire_mask", mask[-1])

    def entities(self, side: str, x: torch.Tensor) -> torch.Tensor:
        """(N, heads, dims) entity vectors: computed once per entity."""
        net = self.seeker if side == "seekers" else self.ad
        return net(x).view(*x.shape[:-1], self.heads, self.cfg.dims)

    def head_logits(self, s: torch.Tensor, a: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """(P, heads) logits for pairs given their entity vectors (P, heads, dims) and cross
        features (P, C)."""
        dots = (s * a).sum(-1)
        if self.heads == 1:
            return dots + self.cross(c)
        app = dots[:, :1] + self.cross(c)[:, :1]
        hire = dots[:, 1:] + self.hire_cross(c * self.hire_mask)
        return torch.cat([app, hire], dim=1)

    def final(self, logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """(P,) the ranking score: the single head (Muse.1) or the top head (Muse.2)."""
        if self.heads == 1:
            return logits[:, 0]
        app, hire = logits[:, 0], logits[:, 1]
        base = app + nn.functional.logsigmoid(hire)
        return base + self.top(torch.cat([logits, c], dim=1))[:, 0]


@dataclasses.dataclass
class Lists:
    """Candidate lists: G seekers x K candidates, with labels for training/evaluation."""

    seeker: np.ndarray  # (G,) seeker rows
    ads: np.ndarray  # (G, K) ad rows (-1: padding)
    cross: np.ndarray  # (G, K, C) float32
    applied: np.ndarray  # (G, K) bool
    hired: np.ndarray  # (G, K) bool


@dataclasses.dataclass
class HirePairs:
    """Applications with their outcome, for the hiring head."""

    seeker: np.ndarray
    ad: np.ndarray
    cross: np.ndarray  # (P, C)
    hired: np.ndarray  # (P,) bool


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


def score_lists(model: Reranker, seeker_x: torch.Tensor, ad_x: torch.Tensor, lists_seeker,
                lists_ads, cross, device, block: int = 256) -> np.ndarray:  # fmt: skip
    """(G, K) final scores (-inf on padding), seeker block by seeker block. Entity vectors are
    computed once for the seekers and ads involved."""
    model.eval()
    out = np.full(lists_ads.shape, -np.inf, dtype=np.float32)
    with torch.no_grad():
        s_all = model.entities("seekers", seeker_x.to(device))
        a_all = model.entities("ads", ad_x.to(device))
        for lo in range(0, len(lists_seeker), block):
            hi = min(len(lists_seeker), lo + block)
            ads = torch.as_tensor(lists_ads[lo:hi], device=device)
            valid = ads >= 0
            g, k = ads.shape
            s = s_all[torch.as_tensor(lists_seeker[lo:hi], device=device)]
            s = s[:, None].expand(g, k, *s.shape[1:])[valid]
            a = a_all[ads[valid]]
            c = torch.as_tensor(cross[lo:hi], device=device)[valid]
            block_scores = torch.full((g, k), float("-inf"), device=device)
            block_scores[valid] = model.final(model.head_logits(s, a, c), c)
            out[lo:hi] = block_scores.cpu().numpy()
    return out


def recall_at(scores: np.ndarray, applied: np.ndarray, k: int) -> float:
    """Mean Recall@k over the lists with at least one application (positives outside the
    candidate list are not counted here: the stage metrics in metrics.ranking count them)."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    found = np.take_along_axis(applied, top, axis=1).sum(1)
    n = applied.sum(1)
    has = n > 0
    return float(np.mean(found[has] / n[has])) if has.any() else float("nan")


def train_reranker(
    seeker_x: np.ndarray,
    ad_x: np.ndarray,
    train: Lists,
    valid: Lists,
    hires: HirePairs | None,
    cfg: RerankConfig,
    device: torch.device | None = None,
    log=None,
) -> tuple[Reranker, RerankReport]:
    """Train on `train` lists (and, for Muse.2, the hiring head on `hires`); keep the epoch with
    the best Recall@100 on the `valid` lists."""
    device = device or pick_device()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = Reranker(seeker_x.shape[1], ad_x.shape[1], cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    sx, ax = torch.as_tensor(seeker_x), torch.as_tensor(ad_x)
    sx_dev, ax_dev = sx.to(device), ax.to(device)
    has_positive = np.flatnonzero(train.applied.any(1) | train.hired.any(1))
    history, best, best_state, best_epoch, stale = [], -1.0, None, 0, 0
    t0 = time.perf_counter()
    for epoch in range(1, cfg.max_epochs + 1):
        model.train()
        order = rng.permutation(has_positive)
        hire_order = rng.permutation(len(hires.seeker)) if hires is not None else None
        total, steps = 0.0, 0
        for b, lo in enumerate(range(0, len(order), cfg.seekers_per_batch)):
            idx = order[lo : lo + cfg.seekers_per_batch]
            ads = torch.as_tensor(train.ads[idx], device=device)
            valid_mask = ads >= 0
            g, k = ads.shape
            s = model.entities("seekers", sx_dev[torch.as_tensor(train.seeker[idx])])
            s = s[:, None].expand(g, k, *s.shape[1:])
            a = model.entities("ads", ax_dev[ads.clamp(min=0)])
            c = torch.as_tensor(train.cross[idx], device=device)
            logits = model.head_logits(s.reshape(g * k, *s.shape[2:]),
                                       a.reshape(g * k, *a.shape[2:]),
                                       c.reshape(g * k, -1))  # fmt: skip
            applied = torch.as_tensor(train.applied[idx], dtype=torch.float32, device=device)
            hired = torch.as_tensor(train.hired[idx], dtype=torch.float32, device=device)
            combined = applied + cfg.hire_weight * hired
            final = model.final(logits, c.reshape(g * k, -1)).view(g, k)
            loss = _listwise_loss(final, combined, valid_mask)
            if model.heads == 2:
                loss = loss + _listwise_loss(logits[:, 0].view(g, k), applied, valid_mask)
                if hires is not None and len(hires.seeker):
                    lo_h = (b * cfg.hire_batch) % len(hires.seeker)
                    h_idx = hire_order[lo_h : lo_h + cfg.hire_batch]
                    hs = model.entities("seekers", sx_dev[torch.as_tensor(hires.seeker[h_idx])])
                    ha = model.entities("ads", ax_dev[torch.as_tensor(hires.ad[h_idx])])
                    hc = torch.as_tensor(hires.cross[h_idx], device=device)
                    h_logit = model.head_logits(hs, ha, hc)[:, 1]
                    h_target = torch.as_tensor(hires.hired[h_idx], dtype=torch.float32,
                                               device=device)  # fmt: skip
                    loss = loss + nn.functional.binary_cross_entropy_with_logits(h_logit, h_target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        scores = score_lists(model, sx, ax, valid.seeker, valid.ads, valid.cross, device)
        recall = recall_at(scores, valid.applied, 100)
        history.append({"epoch": epoch, "loss": total / max(steps, 1), "validation_recall": recall})
        if log:
            log(f"{cfg.kind} epoch {epoch}: loss={history[-1]['loss']:.4f}, "
                f"candidate Recall@100={recall:.4f}")  # fmt: skip
        if recall > best + 1e-4:
            best, best_epoch, stale = recall, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    report = RerankReport(cfg.kind, len(history), best_epoch, best, history,
                          time.perf_counter() - t0, len(has_positive), str(device))  # fmt: skip
    return model.eval(), report


def save_reranker(model: Reranker, report: RerankReport, path) -> None:
    torch.save({"state": {k: v.cpu() for k, v in model.state_dict().items()},
                "config": dataclasses.asdict(model.cfg),
                "dims": (model.seeker[0].in_features, model.ad[0].in_features),
                "report": dataclasses.asdict(report)}, path)  # fmt: skip


def load_reranker(path, device: torch.device | None = None) -> tuple[Reranker, dict]:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = Reranker(*saved["dims"], RerankConfig(**saved["config"]))
    model.load_state_dict(saved["state"])
    return model.to(device or pick_device()).eval(), saved["report"]
