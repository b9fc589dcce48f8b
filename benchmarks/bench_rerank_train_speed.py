"""Reranker training speed on lists of a night's shapes, CPU or GPU, one process.

    python benchmarks/bench_rerank_train_speed.py --train-seekers 4339 [29000] [--device cuda]

Times one epoch of `train_reranker` (its training steps and its scoring of the held-out lists)
for Muse.1 and Muse.2 on random lists of the given sizes: `train-seekers` seekers x 1,000
candidates with 17 pair features, held-out lists for 45% as many seekers (the nightly split),
and, for Muse.2's hiring head, 40 applications per training seeker. Inputs and labels are
random (one application per list, 1% of applications hired): speed depends on shapes, not
values; the quality benchmarks use the real lists (bench_rerank_training.py). Peak memory: the
process's resident peak, and the GPU's allocator peak.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import time

import numpy as np
import torch

from jobrec.pair_features import CROSS_COLUMNS
from jobrec.rerank import train_reranker
from jobrec.reranker_model import HirePairs, Lists, RerankConfig

ENTITY_DIMS = 69  # the rerankers' seeker and ad inputs on `small` (Muse.0 embedding + numbers)


def random_lists(rng, n_lists: int, n_seekers: int, n_ads: int, k: int) -> Lists:
    ads = rng.integers(0, n_ads, (n_lists, k))  # repeats possible: speed alike
    applied = np.zeros(ads.shape, bool)
    applied[np.arange(n_lists), rng.integers(0, k, n_lists)] = True
    hired = applied & (rng.random(ads.shape) < 0.01)
    cross = rng.random((n_lists, k, len(CROSS_COLUMNS)), dtype=np.float32)
    return Lists(rng.choice(n_seekers, n_lists, replace=False), ads, cross, applied, hired)


def warm_up(device: torch.device) -> None:
    """One tiny training first, so that start-up costs (CUDA context, kernels) stay out."""
    rng = np.random.default_rng(1)
    tiny = random_lists(rng, 8, 32, 64, 50)
    x = rng.normal(0, 0.15, (64, ENTITY_DIMS)).astype(np.float32)
    cfg = dataclasses.replace(RerankConfig(kind="muse2"), max_epochs=1)
    hires = HirePairs(
        np.arange(8), np.arange(8), np.zeros((8, len(CROSS_COLUMNS)), np.float32), np.arange(8) < 2
    )
    train_reranker(x[:32], x, tiny, tiny, hires, cfg, device)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-seekers", type=int, nargs="+", default=[4339])
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "none"
    print(f"{threads} CPU threads, GPU: {gpu}, torch {torch.__version__}; one epoch each")
    warm_up(device)
    print(
        "| train seekers | held-out seekers | hire pairs | model | epoch s | peak RSS MB | "
        "peak GPU MB |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|")
    for n_train in args.train_seekers:
        rng = np.random.default_rng(0)
        n_held = int(0.45 * n_train)
        n_seekers, n_ads = 4 * (n_train + n_held), 3 * (n_train + n_held)
        seeker_x = rng.normal(0, 0.15, (n_seekers, ENTITY_DIMS)).astype(np.float32)
        ad_x = rng.normal(0, 0.15, (n_ads, ENTITY_DIMS)).astype(np.float32)
        train = random_lists(rng, n_train, n_seekers, n_ads, args.k)
        held = random_lists(rng, n_held, n_seekers, n_ads, args.k)
        n_hire = 40 * n_train
        hires = HirePairs(
            rng.integers(0, n_seekers, n_hire),
            rng.integers(0, n_ads, n_hire),
            rng.random((n_hire, len(CROSS_COLUMNS)), dtype=np.float32),
            rng.random(n_hire) < 0.03,
        )
        for kind in ("muse1", "muse2"):
            cfg = dataclasses.replace(RerankConfig(kind=kind), max_epochs=1)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            train_reranker(
                seeker_x, ad_x, train, held, hires if kind == "muse2" else None, cfg, device
            )
            seconds = time.perf_counter() - t0
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            peak_gpu = (
                f"{torch.cuda.max_memory_allocated() / 2**20:,.0f}"
                if device.type == "cuda"
                else "—"
            )
            print(
                f"| {n_train:,} | {n_held:,} | {n_hire if kind == 'muse2' else 0:,} | {kind} | "
                f"{seconds:.1f} | {rss:,.0f} | {peak_gpu} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
