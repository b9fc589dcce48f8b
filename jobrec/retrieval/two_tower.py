"""Muse.0: the two-tower retrieval model.

Each tower maps one side's dense feature vector (jobrec.features) plus learned embeddings of its
department, occupation code and skills (an embedding bag) through an MLP to a unit vector of
`out_dims`; the score of a pair is the cosine of its two vectors divided by a temperature. The
embedding tables are shared by the two towers, so that a code or a skill means the same on both
sides from the start.

Distance term (`distance`, on by default): the seeker tower also outputs the log of the
seeker's own distance decay β_u, and the logit gains −β_u · ‖W(x_u − x_j)‖², x the standardised
lat/lon and W a learned diagonal metric. Seekers tolerate distance in proportion to their own
mobility; a cosine over Fourier features of the location can only approximate that, worst in
the tails, where Muse.0 lost far-away applications (BENCHMARKS.md, issue 17: the term took
the forward Recall@1000 of a cold `medium` night from 0.9776 to 0.9814, Recall@10 +8%). The
term is still a dot product, so retrieval stays an exact top-k over a matrix product
(`score_vectors`):
seeker [u, 2τβ_u Wx_u, −τβ_u, −τβ_u‖Wx_u‖²] · ad [v, Wx_j, ‖Wx_j‖², 1] = cos − τβ_u‖W(x_u − x_j)‖²,
the logit times the temperature.

Training: applications before the training cut (D - 7 days), hires weighted up, with an in-batch
sampled softmax: every other ad of the batch is a negative. In-batch negatives are drawn in
proportion to their popularity, so their logits are corrected by log Q (the expected count of the
ad in a batch; Yi et al. 2019). Uniformly drawn catalogue ads can be mixed in as further
negatives (mixed negative sampling, Yang et al. 2020, `uniform_negatives`); measured on `small`
they brought no gain for a slower epoch (BENCHMARKS.md), so they are off by default. Early
stopping on validation Recall@k (events in [D - 7, D), never trained on). Seeded; CPU by
default, a GPU when present.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from jobrec.devices import pick_device
from jobrec.early_stopping import EarlyStopping
from jobrec.evaluation.metrics import ranking_metrics
from jobrec.evaluation.offline import Split, pairs_in
from jobrec.retrieval.topk import exact_topk


@dataclasses.dataclass
class TowerInputs:
    """One side's model inputs, row-aligned with the market's entity frame."""

    dense: torch.Tensor  # (N, F) float32
    department: torch.Tensor  # (N,) int64, 0 = unknown
    occupation: torch.Tensor  # (N,)
    skills: torch.Tensor  # (N, L) int64, 0 = padding
    # standardised (lat, lon), (N, 2) float32: the distance term's coordinates; None where the
    # model has no distance term
    location: torch.Tensor | None = None
    # seekers: the occupations of their latest applications before some day (`with_history`),
    # (N, H) int64, 0 = padding; None where the model reads no history (and for ads)
    history: torch.Tensor | None = None

    @classmethod
    def from_arrays(
        cls, dense: np.ndarray, ids: dict[str, np.ndarray], location: np.ndarray | None = None
    ) -> TowerInputs:
        return cls(
            torch.as_tensor(dense, dtype=torch.float32),
            torch.as_tensor(ids["department"], dtype=torch.int64),
            torch.as_tensor(ids["occupation"], dtype=torch.int64),
            torch.as_tensor(ids["skills"], dtype=torch.int64),
            None if location is None else torch.as_tensor(location, dtype=torch.float32),
        )

    def rows(self, index, device) -> TowerInputs:
        index = torch.as_tensor(index, dtype=torch.int64)
        # the fields one by one: dataclasses.astuple deep-copies every whole tensor first
        # (measured: 70% of a `medium` epoch went to those copies)
        fields = (getattr(self, f.name) for f in dataclasses.fields(self))
        return TowerInputs(*(None if t is None else t[index].to(device) for t in fields))


@dataclasses.dataclass
class Muse0Config:
    embedding_dims: int = 32
    hidden: int = 256
    out_dims: int = 64
    temperature: float = 0.05
    batch_size: int = 1024
    uniform_negatives: int = 0  # > 0: mix in uniformly drawn negatives (measured: no gain)
    log_q: bool = True  # correct the logits by the log of each negative's sampling rate
    hire_weight: float = 3.0  # a hired pair counts this much more than an application
    learning_rate: float = 2e-3
    weight_decay: float = 1e-6
    lr_decay: float = 1.0  # the rate is multiplied by this after each epoch (1: constant)
    # > 0: every epoch scores and keeps an exponential moving average of the weights instead
    # of the raw weights, over about this many epochs (a step's decay is 1 - 1 / (this × the
    # steps of an epoch), so the average spans as much of the data at every scale); 0: the raw
    # weights. The raw weights peaked after one epoch at `medium` and lost validation recall
    # after it (BENCHMARKS.md, "Muse.0's averaged weights")
    ema_epochs: float = 1.0
    max_epochs: int = 20
    patience: int = 2
    min_improvement: float = 0.001  # of validation recall, to count as better
    validation_k: int = 1000
    validation_seekers: int = 5000  # early stopping looks at a fixed sample of this size
    seed: int = 0
    # > 0: the seeker tower also reads the mean embedding of the occupations of the seeker's
    # last this many applications (career changers show their target there); 0: no history
    history_length: int = 0
    # the learned per-seeker distance term (module docstring); needs TowerInputs.location
    distance: bool = True


class Muse0(nn.Module):
    def __init__(self, seeker_dims: int, ad_dims: int, vocab_sizes: dict, cfg: Muse0Config):
        super().__init__()
        e = cfg.embedding_dims
        self.cfg = cfg
        self.department = nn.Embedding(vocab_sizes["department"], e, padding_idx=0)
        self.occupation = nn.Embedding(vocab_sizes["occupation"], e, padding_idx=0)
        self.skills = nn.EmbeddingBag(vocab_sizes["skill"], e, mode="mean", padding_idx=0)
        self.towers = nn.ModuleDict(
            {  # with the distance term, the seeker tower's last output is log β_u
                "seekers": _mlp(
                    seeker_dims + self.embedded_dims("seekers"),
                    cfg.hidden,
                    cfg.out_dims + int(cfg.distance),
                ),
                "ads": _mlp(ad_dims + self.embedded_dims("ads"), cfg.hidden, cfg.out_dims),
            }
        )
        if cfg.distance:  # log of the metric's weight on each standardised axis
            self.axis_log_weight = nn.Parameter(torch.zeros(2))

    @property
    def score_dims(self) -> int:
        """The width of `score_vectors` (both sides)."""
        return self.cfg.out_dims + (4 if self.cfg.distance else 0)

    def embedded_dims(self, side: str) -> int:
        """The width the embedding tables add to a tower's input (the history's included)."""
        e = self.cfg.embedding_dims
        return 3 * e + (e if side == "seekers" and self.cfg.history_length else 0)

    def encode(self, side: str, x: TowerInputs) -> torch.Tensor:
        """The unit vectors (N, out_dims)."""
        return self.represent(side, x)[0]

    def represent(self, side: str, x: TowerInputs):
        """(unit vectors, metric coordinates Wx or None, log β_u or None (ads: None))."""
        parts = [
            x.dense,
            self.department(x.department),
            self.occupation(x.occupation),
            self.skills(x.skills),
        ]
        if side == "seekers" and self.cfg.history_length:
            if x.history is None:
                raise ValueError("this Muse.0 reads the seekers' history: use with_history")
            # the same occupation table as the codes; a seeker without history reads zeros
            parts.append(
                nn.functional.embedding_bag(
                    x.history, self.occupation.weight, mode="mean", padding_idx=0
                )
            )
        out = self.towers[side](torch.cat(parts, dim=1))
        unit = nn.functional.normalize(out[:, : self.cfg.out_dims], dim=1)
        if not self.cfg.distance:
            return unit, None, None
        if x.location is None:
            raise ValueError("this Muse.0 has a distance term: TowerInputs need their location")
        coords = x.location * torch.exp(self.axis_log_weight)
        return unit, coords, out[:, -1] if side == "seekers" else None

    def logits(self, seekers: TowerInputs, ads: TowerInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """(S, A) logits of every seeker against every ad, and the seekers' unit vectors.

        One product of the score vectors, as retrieval ranks: forward and backward 2.2× faster
        than the cosine plus the distance term as its own (S, A) product, 1.2× the cosine
        alone (BENCHMARKS.md, bench_muse0_logits)."""
        u, *seeker_rest = self.represent("seekers", seekers)
        su = self._score_vectors("seekers", u, *seeker_rest)
        sa = self._score_vectors("ads", *self.represent("ads", ads))
        return su @ sa.T / self.cfg.temperature, u

    def score_vectors(self, side: str, x: TowerInputs) -> torch.Tensor:
        """Vectors whose dot products are the logits times the temperature (module docstring):
        the unit vectors alone without the distance term."""
        return self._score_vectors(side, *self.represent(side, x))

    def _score_vectors(self, side: str, unit, coords, log_beta) -> torch.Tensor:
        if not self.cfg.distance:
            return unit
        sq = coords.square().sum(dim=1, keepdim=True)
        if side == "ads":
            return torch.cat([unit, coords, sq, torch.ones_like(sq)], dim=1)
        decay = self.cfg.temperature * torch.exp(log_beta)[:, None]
        return torch.cat([unit, 2 * decay * coords, -decay, -decay * sq], dim=1)

    @torch.no_grad()
    def start_distance_decay(self, squared_distance: float) -> None:
        """Start every seeker's β at 1 / (2 × the training pairs' median squared distance)."""
        if self.cfg.distance:
            self.towers["seekers"][-1].bias[-1] = -float(np.log(2 * max(squared_distance, 1e-6)))


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_out),
    )


@torch.no_grad()
def embed(
    model: Muse0, side: str, x: TowerInputs, rows=None, block: int = 8192, scoring: bool = False
) -> np.ndarray:
    """Unit vectors (len(rows), out_dims) float32, or with `scoring` the score vectors that
    retrieval ranks by (`Muse0.score_vectors`, `score_dims` wide), computed in blocks.

    Parameters
    ----------
    model : Muse0
        The model (put in eval mode; it runs on its own device).
    side : str
        "seekers" or "ads": the tower.
    x : TowerInputs
        That side's inputs of every entity row.
    rows : (n,) int array, optional
        Rows of `x` to embed; default all.
    block : int, default 8192
        Rows encoded together.
    scoring : bool, default False
        The score vectors instead of the unit vectors.

    Returns
    -------
    (n, out_dims) or (n, score_dims) float32 array
        Row-aligned with `rows`.
    """
    model.eval()
    device = next(model.parameters()).device
    rows = np.arange(len(x.dense)) if rows is None else np.asarray(rows)
    encode = model.score_vectors if scoring else model.encode
    out = np.empty((len(rows), model.score_dims if scoring else model.cfg.out_dims), np.float32)
    for lo in range(0, len(rows), block):
        part = rows[lo : lo + block]
        out[lo : lo + len(part)] = encode(side, x.rows(part, device)).cpu().numpy()
    return out


@dataclasses.dataclass
class Pairs:
    """Training pairs (seeker row, ad row, weight; the pair's first day, when given)."""

    seeker: np.ndarray
    ad: np.ndarray
    weight: np.ndarray
    day: np.ndarray | None = None  # datetime64[D]


def training_pairs(
    app_s, app_a, hire_s, hire_a, n_ads: int, hire_weight: float, app_day=None, hire_day=None
) -> Pairs:
    """Distinct (seeker, ad) pairs applied to or hired on; a hire adds `hire_weight`. With the
    events' days, each pair also gets the first day it was applied to (or hired on)."""
    keys = np.concatenate([app_s * n_ads + app_a, hire_s * n_ads + hire_a]).astype(np.int64)
    uniq = np.unique(keys)
    hired = np.isin(uniq, hire_s.astype(np.int64) * n_ads + hire_a)
    pairs = Pairs(uniq // n_ads, uniq % n_ads, 1.0 + hire_weight * hired)
    if app_day is not None and hire_day is not None:
        days = np.concatenate([app_day, hire_day]).astype("datetime64[D]")
        order = np.lexsort((days, keys))  # by pair, then day: a pair's first event first
        _, first = np.unique(keys[order], return_index=True)
        pairs.day = days[order][first]
    return pairs


@dataclasses.dataclass
class ApplicationHistory:
    """Applications as (seeker row, day, occupation id of the ad), sorted by seeker then day:
    what the seeker tower's history is read from."""

    seeker: np.ndarray
    day: np.ndarray  # datetime64[D]
    occupation: np.ndarray  # vocabulary ids (0 = unknown)

    @classmethod
    def of(cls, seeker, ad, day, ad_occupation) -> ApplicationHistory:
        """From application events (seeker rows, ad rows, days) and every ad row's occupation
        id (the ads' TowerInputs.occupation)."""
        day = np.asarray(day).astype("datetime64[D]")
        order = np.lexsort((day, seeker))
        occupation = np.asarray(ad_occupation)[np.asarray(ad)[order]]
        return cls(np.asarray(seeker)[order], day[order], occupation)

    def at(self, seekers, days, length: int) -> np.ndarray:
        """(Q, length) int64: the occupation ids of each seeker's latest `length` applications
        made strictly before its day (latest first, 0-padded).

        Parameters
        ----------
        seekers : (Q,) int array
            Seeker rows.
        days : datetime64[D] array of shape (Q,), or one date
            The as-of day of each seeker (a training pair's own day, or the window's start).
        length : int
            Applications kept a seeker.
        """
        seekers = np.asarray(seekers, dtype=np.int64)
        span = np.int64(1) << 32  # days since 1970 fit far below this
        key = self.seeker.astype(np.int64) * span + self.day.astype(np.int64)
        days = np.broadcast_to(np.asarray(days, dtype="datetime64[D]"), seekers.shape)
        lo = np.searchsorted(key, seekers * span, side="left")
        hi = np.searchsorted(key, seekers * span + days.astype(np.int64), side="left")
        idx = hi[:, None] - 1 - np.arange(length)[None, :]
        valid = idx >= lo[:, None]
        return np.where(valid, self.occupation[np.maximum(idx, 0)], 0).astype(np.int64)


def with_history(
    x: TowerInputs, history: ApplicationHistory, day, length: int, rows=None
) -> TowerInputs:
    """The seekers' inputs with each seeker's history as of `day` (applications before it);
    `x` itself unchanged. Length 0: `x` as it is. `rows`: the seeker rows `x` holds (default
    all, in order)."""
    if not length:
        return x
    rows = np.arange(len(x.dense)) if rows is None else np.asarray(rows)
    return dataclasses.replace(x, history=torch.as_tensor(history.at(rows, day, length)))


def seekers_as_of(model: Muse0, x: TowerInputs, applications, ad_occupation, day, rows=None):
    """`x` ready for `model`'s seeker tower on `day`: with the history of `applications`
    (events with seeker, ad and day; ad rows -> `ad_occupation`) before `day` when the model
    reads one, else `x` as it is."""
    length = model.cfg.history_length
    if not length:
        return x
    a = applications
    history = ApplicationHistory.of(a.seeker, a.ad, a.day, ad_occupation)
    return with_history(x, history, day, length, rows)


@dataclasses.dataclass
class Validation:
    """Held-out relevance for early stopping: its seekers, the ads open in the window, and the
    training pairs to exclude from their lists."""

    seekers: np.ndarray  # seeker rows
    ads: np.ndarray  # ad rows (the candidate universe)
    rel_seeker: np.ndarray  # positions into `seekers`
    rel_ad: np.ndarray  # positions into `ads`
    exclude_seeker: np.ndarray  # positions into `seekers`
    exclude_ad: np.ndarray  # positions into `ads`


def validation_set(split: Split, limit: int, seed: int) -> Validation:
    """Early stopping's held-out applications: a fixed sample (at most `limit`) of the split's
    seekers, ranked over its universe, their earlier applications excluded."""
    seekers = split.seekers(limit, seed)
    rel = pairs_in(seekers, split.universe, split.relevant["applications"], keep_outside=True)
    seen = pairs_in(seekers, split.universe, split.seen, keep_outside=False)
    return Validation(seekers, split.universe, *rel, *seen)


def validation_recall(model, seekers: TowerInputs, ads: TowerInputs, val: Validation, k: int):
    u = embed(model, "seekers", seekers, val.seekers, scoring=True)
    v = embed(model, "ads", ads, val.ads, scoring=True)
    scores, top = exact_topk(
        u, v, k, val.exclude_seeker, val.exclude_ad, device=next(model.parameters()).device
    )
    top = np.where(np.isfinite(scores), top, -1)  # fewer ads than k left after exclusions
    return ranking_metrics(top, val.rel_seeker, val.rel_ad, len(val.ads) + 1, (k,))[0].recall


@dataclasses.dataclass
class TrainingReport:
    epochs: int
    best_epoch: int
    validation_k: int
    best_validation_recall: float
    history: list[dict]
    seconds: float
    pairs: int
    device: str
    warm_from: str | None = None  # the previous night's model it started from, if any
    start: str = "full retrain"  # why it started from scratch or from the previous model
    # the ad prior chosen after training (jobrec.retrieval.ad_prior): weight, pseudo_days and
    # the validation recall of each grid point; None: none fitted (off)
    ad_prior: dict | None = None


def train_muse0(
    seekers: TowerInputs,
    ads: TowerInputs,
    pairs: Pairs,
    val: Validation | None,
    vocab_sizes: dict,
    cfg: Muse0Config | None = None,
    device: torch.device | None = None,
    log=None,
    init_state: dict | None = None,
    history: ApplicationHistory | None = None,
) -> tuple[Muse0, TrainingReport]:
    """Train on `pairs`; keep the epoch with the best validation Recall@k (the last one when
    there is no validation set). With `cfg.ema_epochs` > 0 each epoch is scored and kept as the
    moving average of its weights (over about that many epochs of steps), not the raw weights.

    With `init_state` (a warm start from the previous night's weights), the starting weights
    are scored first as epoch 0: the kept model is never worse on validation than the one it
    started from.

    In-batch sampled softmax with log-Q correction (and, when `cfg.uniform_negatives` > 0,
    uniformly drawn extra negatives), the pairs weighted by `pairs.weight`; full batches
    only. Early stopping on `val`'s Recall@`cfg.validation_k`.

    Parameters
    ----------
    seekers : TowerInputs
        Inputs of every seeker row.
    ads : TowerInputs
        Inputs of every ad row.
    pairs : Pairs
        Training pairs (seeker row, ad row, weight).
    val : Validation or None
        Early stopping's held-out applications; None (or no seekers): train for
        `cfg.max_epochs` and keep the last epoch.
    vocab_sizes : dict
        Embedding table sizes ("department", "occupation", "skill").
    cfg : Muse0Config, optional
        Default `Muse0Config()`.
    device : torch.device, optional
        Default `pick_device()`.
    log : callable, optional
        A line an epoch.
    init_state : dict, optional
        Starting weights (a state dict of a Muse0 with the same shapes).
    history : ApplicationHistory, optional
        Needed when `cfg.history_length` > 0, with `pairs.day`: each training pair reads the
        seeker's applications before the pair's own day (never the pair itself), while
        validation reads `seekers.history` (set by `with_history` at the window's start).

    Returns
    -------
    model : Muse0
        The kept epoch's model, in eval mode, on `device`.
    report : TrainingReport
        Epochs, best epoch, validation k and best recall (NaN without validation), the
        history, seconds, training pairs and device.
    """
    cfg = cfg or Muse0Config()
    device = device or pick_device()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = Muse0(seekers.dense.shape[1], ads.dense.shape[1], vocab_sizes, cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    epochs_seen, stopper = [], EarlyStopping(cfg.patience, cfg.min_improvement)
    if init_state is not None:
        model.load_state_dict(init_state)
        if val is not None and len(val.seekers):
            model.eval()
            stopper.update(model, 0, validation_recall(model, seekers, ads, val, cfg.validation_k))
    n_ads = len(ads.dense)
    counts = np.bincount(pairs.ad, minlength=n_ads).astype(np.float64)
    batch = max(2, min(cfg.batch_size, len(pairs.seeker)))
    # log of each ad's expected count in a batch of positives, and in the uniform draw
    log_q = torch.as_tensor(
        np.log(np.maximum(counts, 1) / max(len(pairs.ad), 1) * batch),
        dtype=torch.float32,
        device=device,
    )
    n_uniform = min(cfg.uniform_negatives, n_ads)
    log_q_uniform = float(np.log(max(n_uniform, 1) / n_ads))
    weights = torch.as_tensor(pairs.weight, dtype=torch.float32)
    if init_state is None and cfg.distance and len(pairs.seeker):
        gap = seekers.location[pairs.seeker] - ads.location[pairs.ad]
        model.start_distance_decay(float(gap.square().sum(dim=1).median()))
    # torch's AveragedModel starts the average at the weights after the first step
    averaged = None
    if cfg.ema_epochs > 0 and len(pairs.seeker):
        decay = 1 - 1 / max(cfg.ema_epochs * (len(pairs.seeker) // batch), 1)
        averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))
    pair_history = None
    if cfg.history_length:
        if history is None or pairs.day is None:
            raise ValueError("history_length > 0 needs the application history and pair days")
        pair_history = torch.as_tensor(history.at(pairs.seeker, pairs.day, cfg.history_length))
    t0 = time.perf_counter()
    for epoch in range(1, cfg.max_epochs + 1 if len(pairs.seeker) else 1):
        model.train()
        order = rng.permutation(len(pairs.seeker))
        total, n_batches = 0.0, 0
        for lo in range(0, len(order) - batch + 1, batch):  # full batches: a fixed softmax size
            idx = order[lo : lo + batch]
            s_rows, a_rows = pairs.seeker[idx], pairs.ad[idx]
            s_in = seekers.rows(s_rows, device)
            if pair_history is not None:  # the history as of the pair's day, not the window's
                s_in.history = pair_history[idx].to(device)
            a_t = torch.as_tensor(a_rows, device=device)
            # the seeker tower once a batch: its score vectors serve both kinds of negatives
            seeker_scoring = model.score_vectors("seekers", s_in) / cfg.temperature
            logits = seeker_scoring @ model.score_vectors("ads", ads.rows(a_rows, device)).T
            if cfg.log_q:
                logits = logits - log_q[a_t][None, :]
            # another positive of the same ad in the batch is not a negative
            same = (a_t[None, :] == a_t[:, None]) & ~torch.eye(
                len(idx), dtype=torch.bool, device=device
            )
            logits = logits.masked_fill(same, float("-inf"))
            if n_uniform:
                neg = rng.choice(n_ads, n_uniform, replace=False)
                extra = seeker_scoring @ model.score_vectors("ads", ads.rows(neg, device)).T
                extra = extra - log_q_uniform if cfg.log_q else extra
                extra = extra.masked_fill(
                    torch.as_tensor(neg, device=device)[None, :] == a_t[:, None], float("-inf")
                )
                logits = torch.cat([logits, extra], dim=1)
            target = torch.arange(len(idx), device=device)
            loss_each = nn.functional.cross_entropy(logits, target, reduction="none")
            w = weights[idx].to(device)
            loss = (loss_each * w).sum() / w.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if averaged is not None:
                averaged.update_parameters(model)
            total += loss.item()
            n_batches += 1
        for group in opt.param_groups:
            group["lr"] *= cfg.lr_decay
        kept = model if averaged is None else averaged.module
        entry = {"epoch": epoch, "loss": total / max(n_batches, 1)}
        if val is not None and len(val.seekers):
            entry["validation_recall"] = validation_recall(
                kept, seekers, ads, val, cfg.validation_k
            )
        epochs_seen.append(entry)
        if log:
            log(
                f"muse0 epoch {epoch}: "
                + ", ".join(f"{k}={v:.4f}" for k, v in entry.items() if k != "epoch")
            )
        if stopper.update(kept, epoch, entry.get("validation_recall", float(epoch))):
            break
    stopper.restore(model)
    validated = val is not None and len(val.seekers)
    report = TrainingReport(
        epochs=len(epochs_seen),
        best_epoch=stopper.best_epoch,
        validation_k=cfg.validation_k,
        best_validation_recall=float(stopper.best) if validated else np.nan,
        history=epochs_seen,
        seconds=time.perf_counter() - t0,
        pairs=len(pairs.seeker),
        device=str(device),
    )
    return model.eval(), report


def save_model(model: Muse0, report: TrainingReport, path) -> None:
    torch.save(
        {
            "state": {k: v.cpu() for k, v in model.state_dict().items()},
            "config": dataclasses.asdict(model.cfg),
            "dims": {  # the dense inputs' widths: the towers' inputs less the embeddings
                side: model.towers[side][0].in_features - model.embedded_dims(side)
                for side in ("seekers", "ads")
            },
            "vocab_sizes": {
                "department": model.department.num_embeddings,
                "occupation": model.occupation.num_embeddings,
                "skill": model.skills.num_embeddings,
            },
            "report": dataclasses.asdict(report),
        },
        path,
    )


def load_model(path, device: torch.device | None = None) -> tuple[Muse0, dict]:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    # models saved before the distance term have none
    cfg = Muse0Config(**{"distance": False, **saved["config"]})
    model = Muse0(saved["dims"]["seekers"], saved["dims"]["ads"], saved["vocab_sizes"], cfg)
    model.load_state_dict(saved["state"])
    return model.to(device or pick_device()).eval(), saved["report"]
