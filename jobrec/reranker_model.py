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

This module holds the model, its save/load, and its scoring (the folded inference tables that
later stages reuse: the redistribution scores the validation lists, the funnel scores sends);
training is the rerank stage's (jobrec.rerank.training).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch
from torch import nn

from jobrec.devices import pick_device
from jobrec.pair_features import AD_ONLY_COLUMNS, CROSS_COLUMNS, MUSE0_COLUMNS, PAIR_COLUMNS
from jobrec.reranker_kernel import ROW_STEP, pair_logits


@dataclasses.dataclass
class RerankConfig:
    kind: str = "muse2"  # muse1 | muse2
    dims: int = 8  # per head: the dot-product part of a pair costs heads x dims
    hidden: int = 128
    seekers_per_batch: int = 32
    hire_batch: int = 4096
    hire_weight: float = 5.0  # target weight of a hire against an application
    loss: str = "listwise"  # listwise softmax over each list, or "bce" with sampled negatives
    bce_negatives: int = 100  # negatives sampled per list for "bce"
    # issue 17's search on the harder market (BENCHMARKS.md, "Muse.2 against XGBoost on the
    # harder market"): a higher rate stepped down every epoch, the epoch kept by Recall@10
    learning_rate: float = 5e-3
    lr_decay: float = 0.6  # the learning rate is multiplied by this after every epoch
    max_epochs: int = 12
    patience: int = 2
    # the epoch kept: best candidate Recall@k on the valid lists; Recall@100 saturates (0.96
    # from the first epoch on `small`) while the top of the list still improves
    early_stopping_k: int = 10
    seed: int = 0
    # Polyak averaging: an exponential moving average of the weights (decay a step, from the
    # first step's weights) is what each epoch scores and keeps; 0 = the raw weights. On
    # `small` the raw weights peaked after one epoch and swung with the seed (Recall@10
    # 0.6915-0.6978 over three); averaged 0.6954-0.6967 (BENCHMARKS.md, "Thirteenth session")
    ema_decay: float = 0.99
    # a per-pair nonlinearity (issue 17): a shared MLP of this width over the pair features
    # but Muse.0's, adding to every output; 0 = none (a pair stays linear in its features)
    pair_hidden: int = 0
    # ReCon's congestion term (issue 19, jobrec.recon): λ · L_OT on each batch's OT plan of
    # the final score; 0 = off. Its batches hold seekers who compete for the same ads.
    recon_weight: float = 0.0
    recon_epsilon: float = 1.0  # the batch plan's entropy (cost = -score)
    recon_tau: float = 1.0  # the price of an ad's capacity (math.inf: balanced)
    recon_iterations: int = 10  # Sinkhorn iterations unrolled a batch
    recon_gradient: str = "unrolled"  # or "fixed": the plan held as a target
    recon_offset: bool = True  # p = sigmoid(score + β), β learned (False: β = 0, an ablation)
    recon_edges: int = 300  # each list's top edges the term sees (0: all its candidates)


class Reranker(nn.Module):
    """Per pair, for each head h (+ the top head's correction t):
        logit_h = <s_h, a_h> + <w_{u,h}, c> + b_{j,h}
    s_h and a_h: the towers' dot vectors; w_{u,h}: the seeker's own weights on the pair features
    (so a seeker can weigh distance, wage or skills its own way); b_{j,h}: the ad's bias. A pair
    costs heads x (dims + C) multiply-adds, whatever the towers' size."""

    def __init__(self, seeker_dims: int, ad_dims: int, cfg: RerankConfig):
        super().__init__()
        self.cfg = cfg
        self.heads = 2 if cfg.kind == "muse2" else 1
        self.outputs = self.heads + (1 if self.heads == 2 else 0)  # + the top correction
        n_cross = len(CROSS_COLUMNS)
        self.n_cross = n_cross
        self.seeker = nn.Sequential(
            nn.Linear(seeker_dims, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, self.heads * cfg.dims + self.outputs * n_cross),
        )
        self.ad = nn.Sequential(
            nn.Linear(ad_dims, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, self.heads * cfg.dims + self.outputs),
        )
        self.pair_columns = [i for i in range(n_cross) if i not in MUSE0_COLUMNS]
        self.pair_mlp = None
        if cfg.pair_hidden:
            self.pair_mlp = nn.Sequential(
                nn.Linear(len(self.pair_columns), cfg.pair_hidden),
                nn.ReLU(),
                nn.Linear(cfg.pair_hidden, self.outputs),
            )
            nn.init.zeros_(self.pair_mlp[2].weight)  # starts as the linear model
            nn.init.zeros_(self.pair_mlp[2].bias)
        mask = torch.ones(self.outputs, n_cross)
        if self.heads == 2:
            mask[1, list(MUSE0_COLUMNS)] = 0.0  # the hiring head never sees Muse.0's score
            self.top_mix = nn.Parameter(torch.zeros(2))  # top correction: γ_app, γ_hire
        self.register_buffer("cross_mask", mask)

    def entities(self, side: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per entity: (dot vectors (..., heads, dims), seeker cross weights (..., outputs, C)
        or ad biases (..., outputs)). Computed once per entity."""
        return self.parts(side, (self.seeker if side == "seekers" else self.ad)(x))

    def parts(self, side: str, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`entities` from a tower's output `out` (..., F)."""
        d = self.heads * self.cfg.dims
        if side == "seekers":
            weights = out[..., d:].unflatten(-1, (self.outputs, self.n_cross)) * self.cross_mask
            return out[..., :d].unflatten(-1, (self.heads, self.cfg.dims)), weights
        return out[..., :d].unflatten(-1, (self.heads, self.cfg.dims)), out[..., d:]

    def pair_logits(self, seeker, ad, c: torch.Tensor) -> torch.Tensor:
        """(..., outputs) for pairs given broadcastable entity parts and pair features c
        (..., C): head logits, then the top correction."""
        (s_dot, s_w), (a_dot, a_b) = seeker, ad
        dots = (s_dot * a_dot).sum(-1)
        if self.heads == 2:
            dots = torch.cat([dots, torch.zeros_like(dots[..., :1])], dim=-1)
        logits = dots + (s_w * c.unsqueeze(-2)).sum(-1) + a_b
        if self.pair_mlp is not None:
            logits = logits + self.pair_term(c)
        return logits

    def pair_term(self, c: torch.Tensor) -> torch.Tensor:
        """(..., outputs): the per-pair MLP over the pair features but Muse.0's (which the
        hiring head must not see)."""
        return self.pair_mlp(c[..., self.pair_columns])

    def final(self, logits: torch.Tensor) -> torch.Tensor:
        """The ranking score: the single head (Muse.1), or the top head (Muse.2): log P(apply)
        + log P(hire | apply) + a learned correction."""
        if self.heads == 1:
            return logits[..., 0]
        app, hire, correction = logits[..., 0], logits[..., 1], logits[..., 2]
        mix = self.top_mix
        return app + nn.functional.logsigmoid(hire) + correction + mix[0] * app + mix[1] * hire


@dataclasses.dataclass
class Lists:
    """Candidate lists: G seekers x K candidates, with labels for training/evaluation."""

    seeker: np.ndarray  # (G,) seeker rows
    ads: np.ndarray  # (G, K) ad rows (-1: padding)
    cross: np.ndarray  # (G, K, C) float32: CROSS_COLUMNS, or the subset the lists were built with
    applied: np.ndarray  # (G, K) bool
    hired: np.ndarray  # (G, K) bool


@dataclasses.dataclass
class HirePairs:
    """Applications with their outcome, for the hiring head."""

    seeker: np.ndarray
    ad: np.ndarray
    cross: np.ndarray  # (P, C)
    hired: np.ndarray  # (P,) bool
    settle_days: int = 0  # applications younger than this at the cut were left out


def inference_tables(model: Reranker, seeker_x: torch.Tensor, ad_x: torch.Tensor):
    """Per-ad rows [dot vectors, biases] (N_a, H·D + O) and per-seeker matrices
    ([block-diagonal dot vectors; identity] (N_s, H·D + O, O), cross weights (N_s, C, O)), so
    that a block of pairs costs one gather and two batched matrix products."""
    h, d, o = model.heads, model.cfg.dims, model.outputs
    a_dot, a_b = model.entities("ads", ad_x)
    ad_rows = torch.cat([a_dot.reshape(len(ad_x), h * d), a_b], dim=1).contiguous()
    s_dot, s_w = model.entities("seekers", seeker_x)
    device = ad_x.device
    seeker_mats = torch.zeros(len(seeker_x), h * d + o, o, device=device)
    for head in range(h):
        seeker_mats[:, head * d : (head + 1) * d, head] = s_dot[:, head]
    seeker_mats[:, h * d :, :] = torch.eye(o, device=device)
    cross_w = s_w.transpose(1, 2)
    fold = output_fold(model)
    if fold is not None:
        seeker_mats, cross_w = seeker_mats @ fold, cross_w @ fold
    return ad_rows, seeker_mats.contiguous(), cross_w.contiguous()


def output_fold(model: Reranker) -> torch.Tensor | None:
    """Muse.2's (outputs, 2) matrix folding the top head's linear part in: columns (the score's
    linear part, the hire logit); None for Muse.1."""
    if model.heads != 2:
        return None
    m0, m1 = model.top_mix
    return torch.stack(
        [
            torch.stack([1.0 + m0, m0 * 0]),
            torch.stack([m1, m1 * 0 + 1]),
            torch.stack([m0 * 0 + 1, m0 * 0]),
        ]
    )


def folded_pair_term(model: Reranker, cross: torch.Tensor) -> torch.Tensor:
    """(..., 2) the per-pair MLP's part of (the score's linear part, the hire logit), as the
    scoring tables fold the outputs; (..., 0 padded) for Muse.1."""
    term = model.pair_term(cross)
    fold = output_fold(model)
    if fold is not None:
        return term @ fold
    return torch.cat([term, torch.zeros_like(term)], dim=-1)


@dataclasses.dataclass
class ScoringTables:
    """A reranker's entity parts as the fused CPU kernel reads them (numpy), its outputs folded
    to two a pair: (the score's linear part, the hire logit) for Muse.2, (score, 0) for Muse.1.
    Built once (`scoring_tables`), then any number of seeker blocks is scored from them
    (`score_tables`): a night runs the ad towers once, not once a block."""

    # (N_r, W >= D + 2) uint16, float16 bits: [dot vectors, both outputs' biases, zero padding]
    # of the candidate ads (half the bytes the kernel gathers at random; the seeker side and the
    # sums stay float32)
    ad_rows: np.ndarray
    ad_slot: np.ndarray  # (N_a,) int32: each ad's row in ad_rows, -1 when it has none
    # (N_t, 2, W): the seeker's side of both outputs' dot products with an ad row (D dot values,
    # then 1 against the output's own bias, zeros)
    seeker_mats: np.ndarray
    cross_weights: np.ndarray  # (N_t, 2, C): the seeker's weights on the pair features
    seeker_slot: np.ndarray  # (N_s,) int32: each seeker's row in the two above, -1: none
    hire_term: bool  # add log-sigmoid(second output): Muse.2's log P(hire | apply)
    model: Reranker | None = None  # the model (CPU) when it has a per-pair MLP, else None
    # the CROSS_COLUMNS the kernel reads a pair (cross_weights' order): all of them, or
    # PAIR_COLUMNS when the ad-only columns are folded into the ad rows' dot vectors
    pair_columns: tuple[int, ...] = tuple(range(len(CROSS_COLUMNS)))


def _subset(x: torch.Tensor, rows: np.ndarray | None) -> tuple[torch.Tensor, np.ndarray]:
    """(the rows `rows` of x (None: all), each row of x's position among them, -1: absent)."""
    slot = np.arange(len(x), dtype=np.int32)
    if rows is None:
        return x, slot
    slot = np.full(len(x), -1, dtype=np.int32)
    slot[rows] = np.arange(len(rows), dtype=np.int32)
    return torch.index_select(x, 0, torch.as_tensor(rows)), slot  # 4x faster than x[rows]


def scoring_tables(
    model: Reranker,
    seeker_x: torch.Tensor,
    ad_x: torch.Tensor,
    ads: np.ndarray | None = None,
    seekers: np.ndarray | None = None,
    ad_pair_features: np.ndarray | None = None,
) -> ScoringTables:
    """The folded tables of the seekers `seekers` (rows of `seeker_x`; None: all) and of the
    ads `ads` (rows of `ad_x`, in the order their rows are to be stored; None: every ad in row
    order), computed on the CPU (a model on a GPU is copied there: the caller's stays where it
    is). Tonight's candidates are the active ads only, a quarter of the market's at `small`:
    rows for them alone, grouped by occupation, keep the gathered table in cache (measured:
    BENCHMARKS.md, "Rerank inference"); tonight's seekers are about half the market's at
    `medium`: the seeker towers run for them alone.

    With `ad_pair_features` (the ads' AD_ONLY_COLUMNS as of the lists' date), those columns'
    part of a pair, <feature(ad), seeker weights>, is a dot product of an ad vector and a
    seeker vector: it moves into the ad rows and seeker matrices, and a pair's own input shrinks
    to the PAIR_COLUMNS (27 to 19 floats). The night then computes 19 columns a pair, not 27
    (27% less time); the kernel's speed stays the same (measured: BENCHMARKS.md, "Issue 17,
    fifth session"). Same scores to float32 rounding, but for the ad rows' entries, stored
    as float16 (`half_bits`): each is off by at most 2^-11 of itself (2^-25 below 2^-14).

    Parameters
    ----------
    model : Reranker
        Muse.1 or Muse.2, on any device.
    seeker_x : (N_s, S) float32 tensor
        Entity inputs of every seeker row (lists name their seeker as a row here).
    ad_x : (N_a, A) float32 tensor
        Entity inputs of every ad row.
    ads : (N_r,) int array, optional
        Rows of `ad_x` to build ad rows for, in table order; None: all N_a, in row order.
    seekers : (N_t,) int array, optional
        Rows of `seeker_x` to build seeker rows for (distinct); None: all N_s.
    ad_pair_features : (N_a, len(AD_ONLY_COLUMNS)) float array, optional
        Every ad row's ad-only pair features (`pair_features.ad_features`) on the day of the
        lists to be scored; None: no fold, the kernel reads all CROSS_COLUMNS. Not with a
        per-pair MLP (it reads every column of a pair).

    Returns
    -------
    ScoringTables
        `ad_rows` (N_r, W) float16 bits (D dot values, both outputs' biases, zeros to W, a
        multiple of ROW_HALVES), `ad_slot` (N_a,) int32 (-1: no row), `seeker_mats` (N_t, 2, W)
        (the D dot values, then 1 against the output's own bias, zeros), `cross_weights`
        (N_t, 2, C), all float32 (D = heads x dims, + len(AD_ONLY_COLUMNS) folded),
        `hire_term` (True for Muse.2), `seeker_slot` (N_s,) int32 (-1: no row) and
        `pair_columns` (the C columns, CROSS_COLUMNS or PAIR_COLUMNS).
    """
    fold_ads = ad_pair_features is not None
    if fold_ads and model.pair_mlp is not None:
        raise ValueError("a model with a per-pair MLP reads every pair column: no ad-only fold")
    if fold_ads and ad_pair_features.shape != (len(ad_x), len(AD_ONLY_COLUMNS)):
        raise ValueError(
            f"ad_pair_features is {ad_pair_features.shape}: expected one row of "
            f"{len(AD_ONLY_COLUMNS)} ad-only pair features for each of the {len(ad_x)} ads"
        )
    model = copy.deepcopy(model).cpu().eval()  # the caller's stays where it is, as it is
    n_ads = len(ad_x)
    ad_x, slot = _subset(ad_x.cpu(), ads)
    seeker_x, seeker_slot = _subset(seeker_x.cpu(), seekers)
    with torch.inference_mode():
        # the tables are affine in each tower's hidden layer: the towers' last layers and all
        # that follows them fold into one matrix a side, one product an entity (no elementwise
        # passes over the tables: measured, BENCHMARKS.md, "Issue 17, sixth session")
        seeker_w, seeker_b = _folded_last_layer(
            model, "seekers", lambda m, out: _seeker_table(m, out, fold_ads)
        )
        ad_w, ad_b = _folded_last_layer(model, "ads", _ad_table)
        seeker_hidden, ad_hidden = model.seeker[0](seeker_x).relu_(), model.ad[0](ad_x).relu_()
        width = seeker_w.shape[1] // 2
        pair_columns = PAIR_COLUMNS if fold_ads else tuple(range(len(CROSS_COLUMNS)))
        dot_width = width - len(pair_columns)
        columns = torch.arange(seeker_w.shape[1]).view(2, width)
        dot_cols, cross_cols = columns[:, :dot_width].flatten(), columns[:, dot_width:].flatten()
        # a row of whole, aligned 64-byte cache lines: the kernel gathers rows at random, and a
        # row across a line's end costs a second line (BENCHMARKS.md, "Issue 17, nineteenth
        # session")
        row_width = -(-(dot_width + 2) // ROW_HALVES) * ROW_HALVES
        # the seeker's side as wide as an ad row, 1 against each output's own bias: a pair's
        # output is one dot product of the whole row (its entries past D + 2 are zeros)
        hidden = seeker_hidden.shape[1]
        mats_w = seeker_w.new_zeros(hidden, 2, row_width)
        mats_w[:, :, :dot_width] = seeker_w[:, dot_cols].view(hidden, 2, dot_width)
        mats_b = seeker_b.new_zeros(2, row_width)
        mats_b[:, :dot_width] = seeker_b[dot_cols].view(2, dot_width)
        mats_b[0, dot_width], mats_b[1, dot_width + 1] = 1.0, 1.0
        seeker_mats = torch.addmm(mats_b.flatten(), seeker_hidden, mats_w.flatten(1))
        cross_w = torch.addmm(seeker_b[cross_cols], seeker_hidden, seeker_w[:, cross_cols])
        ad_part = torch.addmm(ad_b, ad_hidden, ad_w)  # (N_r, dims + 2)
        dims = ad_part.shape[1] - 2
        ad_rows = np.zeros((len(ad_part), row_width), dtype=np.float32)
        ad_rows[:, :dims] = ad_part[:, :dims].numpy()
        if fold_ads:
            rows = np.arange(n_ads) if ads is None else np.asarray(ads)
            ad_rows[:, dims:dot_width] = np.asarray(ad_pair_features, np.float32)[rows]
        ad_rows[:, dot_width : dot_width + 2] = ad_part[:, dims:].numpy()
    return ScoringTables(
        half_bits(ad_rows, "the scoring tables' ad rows"),
        slot,
        seeker_mats.view(len(seeker_mats), 2, row_width).numpy(),  # (no -1: zero seekers)
        cross_w.view(len(cross_w), 2, len(pair_columns)).numpy(),
        seeker_slot,
        model.heads == 2,
        model if model.pair_mlp is not None else None,
        pair_columns,
    )


ROW_HALVES = ROW_STEP  # an ad row's width is a multiple of this many float16s (64-byte lines)
LINE_BYTES = 64
HALF_MAX = float(np.finfo(np.float16).max)  # 65,504


def half_bits(values: np.ndarray, what: str) -> np.ndarray:
    """The float16 bit patterns (uint16) of float32 `values` (N, W), what the fused kernel
    reads an ad row as, stored from a 64-byte boundary. The night's ad rows hold values of a
    few units (dot vectors, biases, the ad-only pair features); one float16 cannot hold is an
    error, not an inf.

    Raises
    ------
    ValueError
        When a value is not finite or beyond HALF_MAX: how many, their columns and rows.
    """
    bad = ~(np.abs(values) <= HALF_MAX)  # NaN too
    if bad.any():
        rows, columns = np.nonzero(bad)
        raise ValueError(
            f"{what}: {bad.sum()} values are not finite or beyond float16's range "
            f"(|x| <= {HALF_MAX:g}), in columns {np.unique(columns)[:10].tolist()}, e.g. rows "
            f"{np.unique(rows)[:5].tolist()}: {values[rows[:5], columns[:5]].tolist()}"
        )
    # on a 64-byte boundary, so that a row of 32 halves is one cache line (numpy places a large
    # array 16 bytes past a page start: every such row would span two)
    space = np.empty(values.size * 2 + LINE_BYTES, dtype=np.uint8)
    skip = -space.ctypes.data % LINE_BYTES
    out = space[skip : skip + values.size * 2].view(np.uint16).reshape(values.shape)
    out[...] = values.astype(np.float16).view(np.uint16)
    return out


def _seeker_table(model: Reranker, out: torch.Tensor, fold_ads: bool) -> torch.Tensor:
    """(N, 2, D + C) from the seeker tower's outputs `out` (N, F): per folded output (the
    score's linear part and the hire logit; Muse.1's one output and zeros), the seeker's dot
    side (its dot vectors, then with `fold_ads` its weights on the AD_ONLY_COLUMNS), then its
    weights on the pair columns the kernel reads."""
    h, d = model.heads, model.cfg.dims
    s_dot, s_w = model.parts("seekers", out)
    mats = out.new_zeros(len(out), h * d, model.outputs)
    for head in range(h):
        mats[:, head * d : (head + 1) * d, head] = s_dot[:, head]
    cross_w = s_w.transpose(1, 2)  # (N, C, O)
    fold = output_fold(model)
    if fold is not None:
        mats, cross_w = mats @ fold.to(out.dtype), cross_w @ fold.to(out.dtype)
    if fold_ads:
        mats = torch.cat([mats, cross_w[:, list(AD_ONLY_COLUMNS)]], dim=1)
        cross_w = cross_w[:, list(PAIR_COLUMNS)]
    both = torch.cat([mats, cross_w], dim=1).transpose(1, 2)
    if both.shape[1] == 1:
        both = torch.cat([both, torch.zeros_like(both)], dim=1)
    return both


def _ad_table(model: Reranker, out: torch.Tensor) -> torch.Tensor:
    """(N, dims + 2) from the ad tower's outputs `out`: the ad's dot vectors, then its bias of
    each folded output (0 for Muse.1's second)."""
    a_dot, a_b = model.parts("ads", out)
    fold = output_fold(model)
    biases = a_b if fold is None else a_b @ fold.to(out.dtype)
    if biases.shape[1] == 1:
        biases = torch.cat([biases, torch.zeros_like(biases)], dim=1)
    return torch.cat([a_dot.flatten(1), biases], dim=1)


def _folded_last_layer(model: Reranker, side: str, table) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, b), float32, with table(model, last(h)).flatten(1) = h @ W + b for every hidden
    activation h of the tower `side` (`last` its last layer): the table is affine in the last
    layer's output, so it is read off at h = 0 and the unit vectors, in float64."""
    exact = copy.deepcopy(model).double()
    last = (exact.seeker if side == "seekers" else exact.ad)[-1]
    probe = torch.cat([torch.zeros(1, last.in_features), torch.eye(last.in_features)]).double()
    out = table(exact, last(probe)).flatten(1)
    return (out[1:] - out[:1]).float(), out[0].float()


def score_tables(
    tables: ScoringTables,
    lists_seeker: np.ndarray,
    lists_ads: np.ndarray,
    cross: np.ndarray,
    block: int = 512,
) -> np.ndarray:
    """(G, K) final scores (-inf on padding) of lists whose seekers are rows of the tables: the
    fused kernel's logits with the top head's log-sigmoid (`reranker_kernel.log_sigmoid`, added
    by the kernel; in PyTorch after the per-pair MLP's part when the model has one), in blocks
    of seekers so that the second logit's buffer is reused and stays in cache (larger blocks
    measured slower). A candidate whose ad has no row in the tables is an error.

    Parameters
    ----------
    tables : ScoringTables
        From `scoring_tables`.
    lists_seeker : (G,) int array
        Each list's seeker, as a row of the seeker inputs the tables were built from; each
        must have a row in the tables.
    lists_ads : (G, K) int array
        Candidates as ad rows of the market (-1: padding); each must have a row in the tables.
    cross : (G, K, C) float array
        Pair features: the tables' `pair_columns` (what the night computes for folded tables),
        or all CROSS_COLUMNS (the columns the tables read are taken from them, block by block).
    block : int, default 512
        Lists scored together.

    Returns
    -------
    (G, K) float32 array
        The final scores, -inf on padding.

    Raises
    ------
    ValueError
        When a list's seeker or a candidate's ad has no row in the tables, or `cross` holds
        neither the tables' pair columns nor all of them.
    """
    width = cross.shape[-1]
    if width not in (len(tables.pair_columns), len(CROSS_COLUMNS)):
        raise ValueError(
            f"the pair features hold {width} columns: the scoring tables read "
            f"{len(tables.pair_columns)} (their pair_columns) or take them from all "
            f"{len(CROSS_COLUMNS)}"
        )
    take = None if width == len(tables.pair_columns) else list(tables.pair_columns)
    seeker_rows = tables.seeker_slot[np.asarray(lists_seeker)]
    if (seeker_rows < 0).any():
        absent = np.unique(np.asarray(lists_seeker)[seeker_rows < 0])
        raise ValueError(
            f"the seekers of {(seeker_rows < 0).sum()} lists have no row in the scoring tables "
            f"(seeker rows {absent[:5].tolist()}): tables of a subset must cover every list's "
            "seeker"
        )
    if not len(tables.ad_rows):  # tables of no ads (a night without active ads): padding only
        if (lists_ads >= 0).any():
            raise ValueError("the scoring tables hold no ads, the lists name some")
        return np.full(lists_ads.shape, -np.inf, dtype=np.float32)
    out = np.empty(lists_ads.shape, dtype=np.float32)  # every entry written below
    second = np.empty((min(block, len(lists_ads)), lists_ads.shape[1]), dtype=np.float32)
    for lo in range(0, len(lists_ads), block):
        hi = min(len(lists_ads), lo + block)
        who, ads = seeker_rows[lo:hi], np.ascontiguousarray(lists_ads[lo:hi])
        fused = tables.hire_term and tables.model is None  # the kernel adds the hire term
        missing = pair_logits(
            tables.ad_rows,
            tables.ad_slot,
            tables.seeker_mats[who],
            tables.cross_weights[who],
            ads,
            np.ascontiguousarray(
                cross[lo:hi] if take is None else cross[lo:hi][..., take], dtype=np.float32
            ),
            out[lo:hi],
            second[: hi - lo],
            fused,
        )
        if missing:
            absent = np.unique(ads[(ads >= 0) & (tables.ad_slot[np.maximum(ads, 0)] < 0)])
            raise ValueError(
                f"{missing} candidate pairs name ads the scoring tables were not "
                f"built for (ad rows {absent[:5].tolist()}): tables of a subset "
                "must cover every candidate"
            )
        if tables.model is not None:  # the per-pair MLP's part of both outputs
            with torch.inference_mode():
                term = folded_pair_term(tables.model, torch.from_numpy(cross[lo:hi]).float())
            torch.from_numpy(out[lo:hi]).add_(term[..., 0])
            torch.from_numpy(second[: hi - lo]).add_(term[..., 1])
        if tables.hire_term and not fused:  # + log P(hire | apply), after the MLP's part
            hire = torch.from_numpy(second[: hi - lo])
            torch.from_numpy(out[lo:hi]).add_(nn.functional.logsigmoid(hire))
    return out


def score_lists(
    model: Reranker,
    seeker_x: torch.Tensor,
    ad_x: torch.Tensor,
    lists_seeker,
    lists_ads,
    cross,
    device,
    block: int | None = None,
    fused: bool | None = None,
) -> np.ndarray:
    """(G, K) final scores (-inf on padding) of a model on candidate lists, from the entity
    inputs.

    Entity parts are computed once for the seekers and ads involved; per pair only a gather of
    the ad's row and two dot products remain (see `inference_tables`). On the CPU one fused
    loop does the pair part (`reranker_kernel`; `fused` None = whenever the device is the CPU),
    512 seekers a block; otherwise eager PyTorch, 128 seekers a block on the CPU (their
    gathered rows stay in cache), 4,096 on a GPU (fewer host-device round trips); measured:
    BENCHMARKS.md, "Rerank inference".

    Parameters
    ----------
    model : Reranker
        Muse.1 or Muse.2 (put in eval mode).
    seeker_x : (N_s, S) float32 tensor
        Entity inputs of every seeker row.
    ad_x : (N_a, A) float32 tensor
        Entity inputs of every ad row.
    lists_seeker : (G,) int array
        Each list's seeker row.
    lists_ads : (G, K) int array
        Candidates as ad rows (-1: padding).
    cross : (G, K, C) float array
        Pair features.
    device : torch.device
        Where the eager path runs; the fused path always runs on the CPU.
    block : int, optional
        Seekers a block (default: 512 fused, 128 eager on the CPU, 4,096 on a GPU).
    fused : bool, optional
        Use the fused CPU kernel; default: when `device` is the CPU.

    Returns
    -------
    (G, K) float32 array
        The final scores, -inf on padding.
    """
    model.eval()
    fused = device.type == "cpu" if fused is None else fused
    if fused:
        # one table row per distinct seeker: callers pass many one-pair lists of one seeker
        # (the funnel's sends), whose repeated rows would otherwise fill memory (18.8 GB for
        # the 11M pairs of a `medium` night's send list)
        distinct, row = np.unique(np.asarray(lists_seeker), return_inverse=True)
        tables = scoring_tables(model, seeker_x[torch.as_tensor(distinct)], ad_x)
        return score_tables(tables, row.reshape(-1), lists_ads, cross, block or 512)
    out = np.empty(lists_ads.shape, dtype=np.float32)  # every entry written below
    with torch.inference_mode():
        who = torch.as_tensor(lists_seeker, device=device)
        ad_rows, seeker_mats, cross_w = inference_tables(
            model, seeker_x.to(device)[who], ad_x.to(device)
        )
        block = block or (128 if device.type == "cpu" else 4096)
        for lo in range(0, len(lists_seeker), block):
            hi = min(len(lists_seeker), lo + block)
            ads = torch.as_tensor(lists_ads[lo:hi], device=device)
            padded = bool((ads < 0).any())
            index = (ads.clamp(min=0) if padded else ads).reshape(-1)
            pairs = torch.index_select(ad_rows, 0, index).view(*ads.shape, -1)
            c = torch.as_tensor(cross[lo:hi], device=device)
            logits = torch.baddbmm(torch.bmm(c, cross_w[lo:hi]), pairs, seeker_mats[lo:hi])
            if model.pair_mlp is not None:
                logits = logits + folded_pair_term(model, c)
            scores = logits[..., 0]
            if model.heads == 2:  # + log P(hire | apply)
                scores = scores + nn.functional.logsigmoid(logits[..., 1])
            if padded:
                scores = scores.masked_fill(ads < 0, float("-inf"))
            out[lo:hi] = scores.cpu().numpy()
    return out


def save_reranker(model: Reranker, report, path) -> None:
    """Save a reranker with its configuration, input sizes and training report.

    Parameters
    ----------
    model : Reranker
        The model (its weights are saved from the CPU).
    report : dataclass
        The training report (`RerankReport`), saved as a dict.
    path : path
        The file to write (torch.save).
    """
    torch.save(
        {
            "state": {k: v.cpu() for k, v in model.state_dict().items()},
            "config": dataclasses.asdict(model.cfg),
            "dims": (model.seeker[0].in_features, model.ad[0].in_features),
            "report": dataclasses.asdict(report),
        },
        path,
    )


def load_reranker(path, device: torch.device | None = None) -> tuple[Reranker, dict]:
    """Load a reranker saved by `save_reranker`.

    Parameters
    ----------
    path : path
        The saved file (our own: loaded with weights_only=False).
    device : torch.device, optional
        Default `pick_device()`.

    Returns
    -------
    model : Reranker
        In eval mode, on `device`.
    report : dict
        The training report as saved.
    """
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = Reranker(*saved["dims"], RerankConfig(**saved["config"]))
    model.load_state_dict(saved["state"])
    return model.to(device or pick_device()).eval(), saved["report"]
