"""Did the run learn? A run can end "done" with a constant predictor (a learning rate far too small for the
model, too few steps): say so in one warning line, and record it, instead of leaving the numbers to be read.

Signs (any one is enough):
- the task's own (`Task.not_learned`): all validation predictions one class, or the metric no better than
  always predicting the majority class (within sampling noise); for NER, no entity found;
- the training loss of the last window of steps is not below that of the first window.
The check only reports; it never changes what the run trains or saves.
"""

from __future__ import annotations

import logging
import math

from nlptl.training.checkpoints import LoopState

logger = logging.getLogger("nlptl")


def loss_window(total_steps: int, log_every: int) -> int:
    """Steps per loss window: a fifth of the run, at most `log_every`, so the first and last windows never meet."""
    return max(1, min(log_every, total_steps // 5))


def record_loss(state: LoopState, loss: float, window: int) -> None:
    """Keep the first `window` step losses and the most recent `window` (in the loop state, so resume keeps them)."""
    if len(state.first_losses) < window:
        state.first_losses.append(loss)
    state.recent_losses = [*state.recent_losses, loss][-window:]


def loss_sign(state: LoopState, window: int) -> str | None:
    """The loss sign, once the run has two separate windows of steps."""
    if state.step < 2 * window or len(state.first_losses) < window:
        return None
    first = sum(state.first_losses) / len(state.first_losses)
    recent = sum(state.recent_losses) / len(state.recent_losses)
    if recent < first:
        return None
    return f"training loss {recent:.4f} over the last {window} steps has not fallen below {first:.4f} (first {window})"


def majority_sign(accuracy: float, true_counts: list[int], label_names: list[str], split: str) -> str | None:
    """Accuracy within two standard errors of always predicting the most frequent class."""
    n = sum(true_counts)
    if n == 0 or len(true_counts) < 2:
        return None
    top = max(range(len(true_counts)), key=true_counts.__getitem__)
    rate = true_counts[top] / n
    noise = 2 * math.sqrt(rate * (1 - rate) / n)
    if accuracy > rate + noise:
        return None
    return (f"{split} accuracy {100 * accuracy:.1f}% is at the majority-class rate {100 * rate:.1f}% "
            f"(always {label_names[top]!r}; ±{100 * noise:.1f} noise)")


def one_class_sign(predicted_counts: list[int], label_names: list[str], split: str) -> str | None:
    used = [i for i, count in enumerate(predicted_counts) if count]
    if len(used) != 1 or len(predicted_counts) < 2:
        return None
    return f"all {predicted_counts[used[0]]} {split} predictions are {label_names[used[0]]!r}"


def check_learning(task, metrics: dict | None, state: LoopState, window: int, split: str = "validation") -> list[str]:
    """Every sign that the run did not learn (empty: it did, as far as these figures tell)."""
    signs = list(task.not_learned(metrics, split)) if metrics else []
    loss = loss_sign(state, window)
    return signs + ([loss] if loss else [])


def warning_line(signs: list[str], lr: float | str) -> str:
    rate = lr if isinstance(lr, str) else f"{lr:.3g}"
    return (f"the run did not learn: {'; '.join(signs)}. Try a larger learning rate (this run: {rate}; "
            "`nlptl lr-find RECIPE` or --train.lr auto measures one), more steps (--epochs, --train.min_steps)")


def warn(signs: list[str], lr: float | str) -> None:
    if signs:
        logger.warning(warning_line(signs, lr))
