"""Figures of the nightly report (PNG files), drawn off-screen."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on the batch machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from jobrec import thresholds as th  # noqa: E402


def tradeoff_plot(curve: pd.DataFrame, path: Path) -> Path:
    """Recall@100 against Congestion@100 of the OT grid (one line per (τ, α), ε labelled), Muse.2's
    lists as the reference point, the recall floor dashed and the chosen point circled."""
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    base = curve[curve["model"] == "muse2"].iloc[0]
    ot = curve[curve["model"] == "ot"]
    for (tau, alpha), group in ot.groupby(["tau", "alpha"]):
        group = group.sort_values("epsilon")
        ax.plot(
            group["congestion_at_100"],
            group["recall_at_100"],
            marker="o",
            label=f"OT, τ = {tau:g}, α = {alpha:g}",
        )
        for r in group.itertuples():
            ax.annotate(
                f"ε={r.epsilon:g}",
                (r.congestion_at_100, r.recall_at_100),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.scatter(
        [base["congestion_at_100"]],
        [base["recall_at_100"]],
        marker="s",
        color="black",
        label="Muse.2",
        zorder=3,
    )
    chosen = curve[curve["chosen"]]
    if len(chosen):
        ax.scatter(
            chosen["congestion_at_100"],
            chosen["recall_at_100"],
            s=160,
            facecolors="none",
            edgecolors="red",
            label="chosen",
            zorder=4,
        )
    ax.axhline(
        0.95 * base["recall_at_100"],
        color="grey",
        linestyle="--",
        linewidth=1,
        label="95% of Muse.2's recall",
    )
    ax.set_xlabel("Congestion@100 (-1: perfectly spread)")
    ax.set_ylabel("Recall@100, applications (validation)")
    ax.set_title("Redistribution: recall against congestion")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Write the figure atomically (a reader never sees half a PNG) and free it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path


def markdown_image(path: Path, alt: str) -> str:
    """The PNG inlined in Markdown (Dagster's UI renders it in the asset's metadata)."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"![{alt}](data:image/png;base64,{data})"


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
        m = th.metrics_of(counts[:, triple[0]])
        base = {k: float(v) for k, v in th.metrics_of(counts[(slice(None), *default)]).items()}
        d = th.deltas(m, base)
        score = th.objective(d)
        ok = th.admissible(m, d)
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
    return _save(fig, path)


def fairness_plot(rows: pd.DataFrame, path: Path) -> Path:
    """θ with its 95% interval per source, one panel per outcome; applications and hires are
    the reference the recommenders are read against."""
    outcomes = list(dict.fromkeys(rows["outcome"]))
    fig, axes = plt.subplots(
        1, len(outcomes), figsize=(3.4 * len(outcomes), 3.2), dpi=100, squeeze=False
    )
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        part = rows[rows["outcome"] == outcome].reset_index(drop=True)
        y = range(len(part))
        ax.errorbar(
            part["gap"],
            y,
            xerr=[part["gap"] - part["ci_low"], part["ci_high"] - part["gap"]],
            fmt="o",
            capsize=3,
        )
        ax.axvline(0, color="grey", linewidth=1)
        ax.set_yticks(list(y), part["source"], fontsize=8)
        ax.set_title(outcome, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("Gender gap (women − men) given search parameters, 95% intervals", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
