"""Model parts: the conceptual graph, and weights as histograms and images."""

from __future__ import annotations

import numpy as np

from keras_tbx._core.context import LogContext, Part
from keras_tbx.summary._weights import (
    histograms_pb, kernel_mosaic, keras_model_pb, weight_image, weight_tag)

MAX_WEIGHT_IMAGES = 64  # per weight and step


class ModelGraph(Part):
    """The model's config as TensorBoard's conceptual graph (`train/`, tag `keras`), once."""

    def __init__(self):
        self._written = False

    def train_begin(self, ctx: LogContext) -> None:
        if self._written:
            return
        self._written = True
        ctx.writers.run("train").write_pb(keras_model_pb(ctx.model), step=0)


def _named_weights(model):
    seen = set()
    for weight in model.weights:
        path = getattr(weight, "path", None) or weight.name
        if path not in seen:
            seen.add(path)
            yield path, weight


class WeightSummaries(Part):
    """Every weight as a histogram (`<path>/histogram`) and, with `write_images`, as an
    image (`<path>/image`) every `histogram_freq` epochs, in `train/`."""

    def __init__(self, histogram_freq: int, write_images: bool):
        self.histogram_freq = histogram_freq
        self.write_images = write_images

    def epoch_end(self, ctx: LogContext, epoch: int, logs: dict) -> None:
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self.write(ctx, epoch)

    def write(self, ctx: LogContext, step: int) -> None:
        """Writes the histograms (and images) of the current weights at `step`."""
        from keras import backend, ops

        # Read on every process: a weight synchronized on read (a custom layer's
        # `synchronization="on_read"` variable) is summed across workers when read, a
        # collective that every worker must join. Mirrored weights read locally.
        arrays = [
            (path, np.asarray(ops.convert_to_numpy(w))) for path, w in _named_weights(ctx.model)
        ]
        if not ctx.writers.chief:
            return
        writer = ctx.writers.run("train")
        writer.write_pb(histograms_pb((weight_tag(p, "histogram"), a) for p, a in arrays), step)
        if not self.write_images:
            return
        images = [(weight_tag(p, "image"), _weight_image(a, backend.image_data_format())) for p, a in arrays]
        images = [(tag, img) for tag, img in images if img is not None]
        if images:
            writer.write_with(lambda: _images(images), step)


def _weight_image(array, data_format):
    # Keras' layouts, plus a filter mosaic for 4-D conv kernels (Keras skips those).
    img = weight_image(array, data_format)
    return kernel_mosaic(array) if img is None else img


def _images(images):
    from keras_tbx.summary._images import image

    for tag, img in images:
        # Every image of a weight (Keras stops at 3 of a 1-D conv kernel's channels).
        image(tag, img, max_outputs=min(len(img), MAX_WEIGHT_IMAGES))
