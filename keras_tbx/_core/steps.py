"""One step axis for a callback's whole training history.

Batch-level summaries use the optimizer step (`optimizer.iterations`), which counts real
updates under `steps_per_execution` and keeps counting across `fit()` calls. Epoch-level
summaries use the epoch index, shifted so that a second `fit()` without `initial_epoch`
continues after the first instead of drawing over it.
"""

from __future__ import annotations


def optimizer_iterations(model) -> int:
    """The model optimizer's update count (0 when there is no optimizer yet)."""
    optimizer = getattr(model, "optimizer", None)
    iterations = getattr(optimizer, "iterations", None)
    if iterations is None:
        return 0
    import numpy as np
    from keras import ops

    return int(np.asarray(ops.convert_to_numpy(iterations)))


class StepAxis:
    """Maps Keras' per-fit `epoch` and `batch` indices onto continuing steps."""

    def __init__(self):
        self.next_epoch = 0  # first epoch step not yet written
        self._new_fit = True
        self._epoch_offset = 0
        self._step_offset = 0
        self.epoch_base = 0
        self.last_step = 0
        self._steps_per_epoch = None

    def train_begin(self) -> None:
        self._new_fit = True

    def epoch_begin(self, epoch: int, iterations: int, steps_per_epoch) -> None:
        """Records where an epoch starts.

        On the first epoch of a `fit()`: an epoch index behind what was already written
        (a repeated `fit()`) is shifted forward; a resumed run (`initial_epoch > 0`) whose
        optimizer starts from 0 is placed at `initial_epoch * steps_per_epoch`.
        """
        if self._new_fit:
            self._new_fit = False
            self._epoch_offset = max(0, self.next_epoch - epoch)
            self._step_offset = 0
            if iterations == 0 and epoch > 0 and steps_per_epoch:
                self._step_offset = epoch * int(steps_per_epoch)
        self.epoch_base = iterations + self._step_offset
        self.last_step = self.epoch_base
        self._steps_per_epoch = int(steps_per_epoch) if steps_per_epoch else None

    def epoch(self, epoch: int) -> int:
        """The step for epoch-level summaries of Keras' `epoch` index."""
        return epoch + self._epoch_offset

    def epoch_end(self, epoch: int) -> None:
        self.next_epoch = max(self.next_epoch, self.epoch(epoch) + 1)

    def batch(self, end_step: int) -> int:
        """The optimizer step reached after Keras' batch index `end_step` in this epoch."""
        if self._steps_per_epoch:
            # Keras reports the last, partial execution of an epoch under
            # `steps_per_execution` as if it were whole (6 steps, 4 per call: 3, then 7).
            end_step = min(end_step, self._steps_per_epoch - 1)
        self.last_step = self.epoch_base + end_step + 1
        return self.last_step

    def optimizer_step(self, iterations: int) -> int:
        """The step of an optimizer iteration count read now."""
        return iterations + self._step_offset
