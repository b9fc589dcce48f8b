"""The send stage's figure: the thresholds' objective per segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jobrec.plotting import plt, save_figure
from jobrec.send import thresholds


def segment_objective_plot(
    tables, default, chosen: dict[str, tuple[int, int, int]], names: list[str], path: Path
) -> Path:
    """Per segment, the objective Σ λ_i Δ_i over (θ_JA, θ_PO) at the segment's chosen θ_JR (the
    paper's figure 4); admissible cells (all Δ_i > 0, SLOs met) dotted, the chosen cell ringed."""
    cols = 5
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), dpi=90, squeeze=False)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    for ax, (s, name) in zip(axes.ravel(), enumerate(names), strict=False):
        triple = chosen[name]
        counts = tables.counts[s]
        m = thresholds.metrics_of(counts[:, triple[0]])
        base = {
            k: float(v) for k, v in thresholds.metrics_of(counts[(slice(None), *default)]).items()
        }
        d = thresholds.deltas(m, base)
        score = thresholds.objective(d)
        ok = thresholds.admissible(m, d)
        finite = np.where(np.isfinite(score), score, np.nan)
        image = ax.imshow(finite.T, origin="lower", cmap="viridis", aspect="auto")
        fig.colorbar(image, ax=ax, fraction=0.046)
        ja, po = np.nonzero(ok)
        ax.scatter(ja, po, s=4, color="white")
        ax.scatter([triple[1]], [triple[2]], s=80, facecolors="none", edgecolors="red")
        ax.set_title(f"{name}: θ_JR step {triple[0]}", fontsize=8)
        ax.set_xlabel("θ_JA step", fontsize=7)
        ax.set_ylabel("θ_PO step", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle("Objective over (θ_JA, θ_PO) at each segment's chosen θ_JR", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
