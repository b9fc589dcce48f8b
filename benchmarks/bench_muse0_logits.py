"""Muse.0's in-batch logits, forward and backward: the cosine alone, the cosine plus the distance
term as its own (B, B) product, and one product of the score vectors (what `Muse0.logits` does).

    python benchmarks/bench_muse0_logits.py [--batch 1024] [--rounds 3] [--steps 50]

The three forms run in turn in each round, on the same random unit vectors, coordinates and
decays, so their times compare side by side; the first two forms' logits are checked equal to
the third's.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

TEMPERATURE = 0.05


def cosine_only(u, v, xu, xa, log_beta):
    return u @ v.T / TEMPERATURE


def cosine_plus_distance(u, v, xu, xa, log_beta):
    squared = xu.square().sum(1, keepdim=True) + xa.square().sum(1)[None, :] - 2 * xu @ xa.T
    return u @ v.T / TEMPERATURE - torch.exp(log_beta)[:, None] * squared


def score_vectors(u, v, xu, xa, log_beta):
    decay = TEMPERATURE * torch.exp(log_beta)[:, None]
    su, sa = xu.square().sum(1, keepdim=True), xa.square().sum(1, keepdim=True)
    seekers = torch.cat([u, 2 * decay * xu, -decay, -decay * su], 1)
    ads = torch.cat([v, xa, sa, torch.ones_like(sa)], 1)
    return seekers @ ads.T / TEMPERATURE


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    b, d = args.batch, args.dims
    u = torch.nn.functional.normalize(torch.randn(b, d, generator=g), dim=1).requires_grad_()
    v = torch.nn.functional.normalize(torch.randn(b, d, generator=g), dim=1).requires_grad_()
    xu, xa = (torch.randn(b, 2, generator=g).requires_grad_() for _ in range(2))
    log_beta = (torch.randn(b, generator=g) + 2).requires_grad_()
    inputs = (u, v, xu, xa, log_beta)
    target = torch.arange(b)
    with torch.no_grad():
        reference = score_vectors(*inputs)
        gap = (cosine_plus_distance(*inputs) - reference).abs().max().item()
    forms = (cosine_only, cosine_plus_distance, score_vectors)
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch "
        f"{torch.__version__}; batch {b}, {d} dimensions, {args.steps} steps a timing; "
        f"largest logit gap between the two distance forms {gap:.2e}"
    )
    times = {f.__name__: [] for f in forms}
    for _ in range(args.rounds):
        for form in forms:
            start = time.perf_counter()
            for _ in range(args.steps):
                torch.nn.functional.cross_entropy(form(*inputs), target).backward()
            times[form.__name__].append((time.perf_counter() - start) / args.steps * 1e3)
    print("| logits | ms a batch (forward + backward), each round | best |")
    print("|---|---|---:|")
    for name, ms in times.items():
        print(f"| {name} | {', '.join(f'{t:.2f}' for t in ms)} | {min(ms):.2f} |")


if __name__ == "__main__":
    main()
