"""Model-analysis images as summaries: tf.summary-style writers and their `*_pb` siblings.

Each `*_pb` builds PNG image summaries without writing (several images under one tag are
TensorBoard's samples of that tag, as `tf.summary.image` with `max_outputs`); each writer
writes its `*_pb` to the default `tf.summary` writer.
"""

from __future__ import annotations

import io

import numpy as np
from tensorboard.compat.proto import summary_pb2, types_pb2
from tensorboard.plugins.image import metadata as image_metadata

from keras_tbx.summary import _analysis as a
from keras_tbx.summary import _model_analysis as m
from keras_tbx.summary._raw import write_summary_pb
from keras_tbx.summary._grids import image_grid


def images_pb(name, images, *, description=None):
    """uint8 images of one size under one tag, as `tf.summary.image` writes a batch.

    Args:
        name: Tag.
        images: Sequence of uint8 `(h, w)`, `(h, w, 1)` or `(h, w, 3)` arrays, same size.
        description: Optional markdown description.

    Returns:
        A `Summary` proto for TensorBoard's Images dashboard (one sample per image).
    """
    from PIL import Image

    arrays = [np.asarray(img, np.uint8) for img in images]
    if not arrays or any(img.shape[:2] != arrays[0].shape[:2] for img in arrays):
        raise ValueError(f"`images_pb`: argument `images` must be one or more images of one size. "
                         f"Received shapes {[img.shape for img in arrays]}.")
    summary = summary_pb2.Summary()
    meta = image_metadata.create_summary_metadata(display_name=None, description=description)
    value = summary.value.add(tag=name, metadata=meta)
    value.tensor.dtype = types_pb2.DT_STRING
    value.tensor.tensor_shape.dim.add(size=2 + len(arrays))
    height, width = arrays[0].shape[:2]
    value.tensor.string_val.extend([str(width).encode(), str(height).encode()])
    for img in arrays:
        buffer = io.BytesIO()
        Image.fromarray(img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img).save(
            buffer, format="PNG", compress_level=1)
        value.tensor.string_val.append(buffer.getvalue())
    return summary


def input_grid_pb(name, images, *, description=None, **kwargs):
    """`input_grid(images, **kwargs)` as one image under tag `name`."""
    return images_pb(name, [a.input_grid(images, **kwargs)], description=description)


def input_grid_image(name, images, step=None, *, description=None, **kwargs) -> bool:
    """Writes a grid of model inputs, de-normalised and in RGB order, as one image.

    Args:
        name: Tag.
        images: A batch of inputs (see `display_images`).
        step: Step; defaults to `tf.summary.experimental.get_step()`.
        description: Optional markdown description.
        **kwargs: `input_grid`'s `denormalize`, `channel_order`, `data_format`,
            `captions`, `value_range`, `cols`, `title`, `tile_size`.

    Returns:
        True if written, False if no default writer is set or recording is off.

    Example:
        >>> import tensorflow as tf
        >>> with tf.summary.create_file_writer("/tmp/logs").as_default():
        ...     input_grid_image("inputs", x_val[:16], step=0, denormalize=(mean, std))
    """
    return write_summary_pb(input_grid_pb(name, images, description=description, **kwargs), step)


def feature_maps_pb(name, model, layer_name, x, *, max_channels=16, max_outputs=3, description=None):
    """`feature_maps` of the first `max_outputs` inputs: one grid per input (its samples)."""
    maps = m.feature_maps(model, layer_name, np.asarray(x)[:max_outputs], max_channels=max_channels)
    return images_pb(name, m.feature_map_grids(maps, title=layer_name), description=description)


def feature_maps_image(name, model, layer_name, x, step=None, *, max_channels=16, max_outputs=3,
                       description=None) -> bool:
    """Writes a layer's feature maps: per input image, a grid with one tile per channel.

    Args:
        name: Tag (e.g. "feature_maps/conv1").
        model: A Functional or Sequential model.
        layer_name: A layer with a 4-D output.
        x: Input batch.
        step: Step; defaults to `tf.summary.experimental.get_step()`.
        max_channels: Most channels shown (the first ones).
        max_outputs: Most inputs shown (the first ones), one image each.
        description: Optional markdown description.

    Returns:
        True if written, False if no default writer is set or recording is off.
    """
    pb = feature_maps_pb(name, model, layer_name, x, max_channels=max_channels, max_outputs=max_outputs,
                         description=description)
    return write_summary_pb(pb, step)


def grad_cam_pb(name, model, x, *, layer_name=None, class_index=None, alpha=0.4, captions=None,
                description=None, **display):
    """Grad-CAM overlays of `x` laid out in one grid image (see `grad_cam`)."""
    heat = m.grad_cam(model, x, layer_name=layer_name, class_index=class_index)
    overlays = a.grad_cam_overlay(x, heat, alpha, **display)
    return images_pb(name, [image_grid(list(overlays), captions)], description=description)


def grad_cam_image(name, model, x, step=None, *, layer_name=None, class_index=None, alpha=0.4,
                   captions=None, description=None, **display) -> bool:
    """Writes Grad-CAM heat maps over the inputs as one grid image (TensorFlow backend).

    Args:
        name: Tag.
        model: A Functional or Sequential classifier.
        x: Input batch.
        step: Step; defaults to `tf.summary.experimental.get_step()`.
        layer_name, class_index: As `grad_cam`.
        alpha: Weight of the heat map over the image.
        captions: Optional caption per image.
        description: Optional markdown description.
        **display: `display_images`' `denormalize`, `channel_order`, `data_format`,
            `value_range` for showing `x`.

    Returns:
        True if written, False if no default writer is set or recording is off.
    """
    pb = grad_cam_pb(name, model, x, layer_name=layer_name, class_index=class_index, alpha=alpha,
                     captions=captions, description=description, **display)
    return write_summary_pb(pb, step)


def generated_pb(name, model_or_fn, noise, *, description=None, **display):
    """`generated_samples(model_or_fn, noise)` in one grid image."""
    return images_pb(name, [image_grid(list(a.generated_samples(model_or_fn, noise, **display)))],
                     description=description)


def generated_image(name, model_or_fn, noise, step=None, *, description=None, **display) -> bool:
    """Writes a generator's outputs on a fixed input (`noise`) as one grid image.

    Args:
        name: Tag.
        model_or_fn: A Keras model or a callable from `noise` to images.
        noise: The fixed input.
        step: Step; defaults to `tf.summary.experimental.get_step()`.
        description: Optional markdown description.
        **display: `display_images` keyword arguments for the outputs.

    Returns:
        True if written, False if no default writer is set or recording is off.
    """
    return write_summary_pb(generated_pb(name, model_or_fn, noise, description=description, **display), step)


def reconstructions_pb(name, model, x, *, description=None, **display):
    """`reconstructions(model, x)` (input | reconstruction pairs) in one grid image."""
    pairs = a.reconstructions(model, x, **display)
    return images_pb(name, [image_grid(list(pairs), ["input | output"] * len(pairs))],
                     description=description)
