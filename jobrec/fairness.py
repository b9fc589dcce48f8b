"""Gender-gap audit by double machine learning: the partially linear model
Y = θ·female + g(X) + ε with cross-fitting (Chernozhukov et al. 2018, "partialling out").

Per fold k of K (seeded): fit l(X) = E[Y | X] and m(X) = E[female | X] on the other folds,
predict on fold k; with the residuals Ỹ = Y - l̂(X) and D̃ = female - m̂(X):
    θ = Σ D̃ Ỹ / Σ D̃²                      (the pooled moment, DoubleML's "dml2")
    ψ = (Ỹ - θ D̃) D̃,  J = mean(D̃²),  SE = sqrt(mean(ψ²) / J² / n)
θ is the gap between women and men with the same X (search parameters and qualifications),
with its 95% interval θ ± 1.96 SE. Checked against DoubleML's `DoubleMLPLR` in a test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from sklearn.base import RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold

Z95 = 1.959964


@dataclasses.dataclass(frozen=True)
class Gap:
    gap: float
    std_error: float
    ci_low: float
    ci_high: float
    n: int


def default_learner(seed: int = 0) -> RegressorMixin:
    """Gradient-boosted trees for both nuisances (non-linear in the search parameters)."""
    return HistGradientBoostingRegressor(max_iter=200, learning_rate=0.1, max_leaf_nodes=31,
                                         min_samples_leaf=40, random_state=seed)  # fmt: skip


def fold_splits(n: int, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(KFold(folds, shuffle=True, random_state=seed).split(np.zeros(n)))


def plr_gap(y: np.ndarray, female: np.ndarray, x: np.ndarray, folds: int = 5, seed: int = 0,
            learner: Callable[[int], RegressorMixin] = default_learner,
            splits: list | None = None) -> Gap:  # fmt: skip
    """θ of the partially linear model with cross-fitted nuisances (see the module docstring)."""
    y = np.asarray(y, np.float64)
    d = np.asarray(female, np.float64)
    x = np.asarray(x, np.float64)
    n = len(y)
    if n < 2 * folds or d.min() == d.max():
        raise ValueError(f"{n} rows with {int(d.sum())} women: too few to estimate a gap")
    y_res, d_res = np.empty(n), np.empty(n)
    for train, test in splits or fold_splits(n, folds, seed):
        model = clone(learner(seed))
        y_res[test] = y[test] - model.fit(x[train], y[train]).predict(x[test])
        model = clone(learner(seed))
        d_res[test] = d[test] - model.fit(x[train], d[train]).predict(x[test])
    theta = float(d_res @ y_res / (d_res @ d_res))
    psi = (y_res - theta * d_res) * d_res
    j = np.mean(d_res**2)
    se = float(np.sqrt(np.mean(psi**2) / j**2 / n))
    return Gap(theta, se, theta - Z95 * se, theta + Z95 * se, n)
