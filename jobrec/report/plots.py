"""The report's own figure: the gender gaps by source."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jobrec.plotting import plt, save_figure


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
    fig.suptitle(
        "Average gender gap women face (women − men) given search parameters, 95% intervals",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path)
