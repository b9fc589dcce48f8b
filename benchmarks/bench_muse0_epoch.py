"""One Muse.0 training epoch with the batch gather as it is against the one before (a deep copy
of every whole input tensor per batch, `dataclasses.astuple`), side by side, on a night's inputs.

    python benchmarks/bench_muse0_epoch.py --models-dir M --day D [--rounds 2] [--pairs N]

Reads the night's features folder (the market and Muse.0's tower inputs), trains from scratch
on the pairs before the training cut for one epoch, no validation, in turns; both arms start
from the same seed and must end with the same weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import platform
import time

import numpy as np
import torch

from jobrec.evaluation.offline import splits
from jobrec.retrieval import night_inputs, two_tower


def rows_before(self, index, device):
    """TowerInputs.rows before the change: astuple deep-copies each whole tensor first."""
    index = torch.as_tensor(index, dtype=torch.int64)
    fields = dataclasses.astuple(self)
    return two_tower.TowerInputs(*(None if t is None else t[index].to(device) for t in fields))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models-dir", required=True)
    parser.add_argument("--day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pairs", type=int, help="train on the first N pairs of a seeded shuffle")
    args = parser.parse_args()
    market = night_inputs.load_market(args.models_dir, args.day)
    space = night_inputs.load_space(args.models_dir, args.day)
    seekers, ads = night_inputs.load_tower_inputs(args.models_dir, args.day)
    seen = splits(market)[0].seen
    hires = market.hires.between(dt.date.min, market.train_end)
    cfg = dataclasses.replace(two_tower.Muse0Config(), max_epochs=1)
    pairs = two_tower.training_pairs(
        seen.seeker, seen.ad, hires.seeker, hires.ad, len(market.ads), cfg.hire_weight
    )
    if args.pairs:
        keep = np.sort(np.random.default_rng(0).permutation(len(pairs.seeker))[: args.pairs])
        pairs = two_tower.Pairs(pairs.seeker[keep], pairs.ad[keep], pairs.weight[keep])
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads; {args.day}: "
        f"{len(market.seekers):,} seekers x {seekers.dense.shape[1]} dims, {len(market.ads):,} "
        f"ads x {ads.dense.shape[1]}; {len(pairs.seeker):,} pairs, batch {cfg.batch_size}"
    )
    print("| round | gather | epoch s |")
    print("|---:|---|---:|")
    current, seconds, states = two_tower.TowerInputs.rows, {}, {}
    for r in range(args.rounds):
        for arm, rows in (("fields (now)", current), ("astuple (before)", rows_before)):
            two_tower.TowerInputs.rows = rows
            t0 = time.perf_counter()
            model, _ = two_tower.train_muse0(
                seekers, ads, pairs, None, space.vocab_sizes(), cfg, device=torch.device("cpu")
            )
            seconds.setdefault(arm, []).append(time.perf_counter() - t0)
            states[arm] = model.state_dict()
            print(f"| {r + 1} | {arm} | {seconds[arm][-1]:.1f} |", flush=True)
    two_tower.TowerInputs.rows = current
    now_state, before_state = states["fields (now)"], states["astuple (before)"]
    same = all(torch.equal(now_state[k], v) for k, v in before_state.items())
    before, now = np.median(seconds["astuple (before)"]), np.median(seconds["fields (now)"])
    print(
        f"median epoch: before {before:.1f} s, now {now:.1f} s, {before / now:.1f}x; "
        f"the same weights: {same}"
    )


if __name__ == "__main__":
    main()
