"""Early stopping shared by the torch models: keep the best epoch's weights by a validation
score, stop after `patience` epochs without an improvement of more than `min_improvement`."""

from __future__ import annotations

import copy

from torch import nn


class EarlyStopping:
    def __init__(self, patience: int, min_improvement: float):
        self.patience, self.min_improvement = patience, min_improvement
        self.best, self.best_epoch, self.best_state, self.stale = float("-inf"), 0, None, 0

    def update(self, model: nn.Module, epoch: int, score: float) -> bool:
        """Record an epoch's score; True when training should stop."""
        if score > self.best + self.min_improvement:
            self.best, self.best_epoch, self.stale = score, epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore(self, model: nn.Module) -> None:
        """Load the best epoch's weights back into the model."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
