"""What a model computes, as arrays: feature maps of a layer and Grad-CAM heat maps.

Both need a Functional or Sequential model (layer outputs are tapped with
`keras.Model(model.inputs, layer.output)`); Grad-CAM needs the TensorFlow backend.
"""

from __future__ import annotations

import contextlib

import numpy as np

from keras_tbx.summary._analysis import _data_format
from keras_tbx.summary._images import normalize_images
from keras_tbx.summary._grids import image_grid


def get_layer(model, layer_name, fn, arg="layer_name"):
    """`model.get_layer(layer_name)`, or a ValueError naming the argument and the layers."""
    try:
        return model.get_layer(layer_name)
    except ValueError:
        names = [layer.name for layer in model.layers]
        raise ValueError(f"`{fn}`: argument `{arg}` must name a layer of the model ({names}). "
                         f"Received: {arg}={layer_name!r}") from None


def model_inputs(model):
    """`model.inputs`, unwrapped when there is one input (so a tensor matches its structure)."""
    inputs = model.inputs
    return inputs[0] if isinstance(inputs, (list, tuple)) and len(inputs) == 1 else inputs


def _sub_model(model, layer_name, fn):
    import keras

    layer = get_layer(model, layer_name, fn)
    try:
        return layer, keras.Model(model_inputs(model), layer.output)
    except (AttributeError, ValueError, TypeError) as error:
        raise ValueError(f"`{fn}` needs a Functional or Sequential model with known inputs "
                         f"(a subclassed model has no layer outputs to tap): {error}") from None


def _channels_of(layer, output: np.ndarray) -> np.ndarray:
    """A 4-D layer output as (k, channels, h, w)."""
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return output
    return np.transpose(output, (0, 3, 1, 2))


def feature_maps(model, layer_name, x, *, max_channels=16) -> np.ndarray:
    """The output of a conv (or any 4-D) layer on `x`, one normalised map per channel.

    Args:
        model: A Functional or Sequential Keras model.
        layer_name: Name of a layer with a 4-D output.
        x: Model input (a batch).
        max_channels: The first this many channels are kept.

    Returns:
        float32 `(k, channels, h, w)` in [0, 1]: each map stretched on its own min and max
        (a constant map is 0.5). `feature_map_grids` lays them out.

    Raises:
        ValueError: If the layer is unknown or its output is not 4-D.
    """
    from keras import ops

    layer, sub = _sub_model(model, layer_name, "feature_maps")
    out = np.asarray(ops.convert_to_numpy(sub(x, training=False)))
    if out.ndim != 4:
        raise ValueError(f"`feature_maps`: layer {layer_name!r} must have a 4-D output (a conv or "
                         f"pooling layer). Received output shape {out.shape}.")
    maps = _channels_of(layer, out)[:, : int(max_channels)]
    k, c, h, w = maps.shape
    return normalize_images(maps.reshape(k * c, h, w)).reshape(k, c, h, w)


def feature_map_grids(maps, *, title=None) -> list[np.ndarray]:
    """One grid image per input of `feature_maps`' output (tiles captioned by channel)."""
    maps = np.asarray(maps)
    captions = [f"channel {i}" for i in range(maps.shape[1])]
    return [image_grid(list(per_input), captions, title=title) for per_input in maps]


def last_conv_layer(model):
    """The last layer of `model.layers` whose output is 4-D (Grad-CAM's default layer)."""
    for layer in reversed(model.layers):
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if shape is not None and len(shape) == 4:
            return layer
    raise ValueError("`grad_cam`: the model has no layer with a 4-D output (a conv layer); "
                     "Grad-CAM needs one.")


def grad_cam(model, x, *, layer_name=None, class_index=None) -> np.ndarray:
    """Grad-CAM heat maps (Selvaraju et al., 2017): where the model looked for a class.

    The layer's channels are weighted by the mean gradient of the class score over
    their positions; the weighted sum is rectified, divided by its maximum (per image)
    and resized (bilinear) to the input's spatial size. The class score is the logit: when
    the output layer ends in a softmax or sigmoid (its `activation`, or a separate
    `Activation` layer), the score before it, as in the original method (the gradient of
    a confident probability is close to 0 and would leave the map empty); otherwise the
    output as it is. For a multi-output model, the first output.

    Backend: TensorFlow only (a `tf.GradientTape` over
    `keras.Model(model.inputs, [layer.output, model.output])`); other backends raise
    `NotImplementedError`.

    Args:
        model: A Functional or Sequential classifier with an `(k, classes)` output.
        x: Input batch (images as the model takes them).
        layer_name: Layer with a 4-D output; None: the last such layer (`last_conv_layer`).
        class_index: Class explained: None (the predicted class of each image), an int,
            or one int per image.

    Returns:
        float32 `(k, H, W)` in [0, 1] (all 0 where nothing speaks for the class).

    Raises:
        NotImplementedError: On a backend other than TensorFlow.
        ValueError: On an unknown layer, a layer whose output is not 4-D, or a bad
            `class_index`.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError("`grad_cam` needs the TensorFlow backend (it differentiates with "
                                  f"tf.GradientTape). Current backend: {keras.backend.backend()!r}")
    import tensorflow as tf

    layer = last_conv_layer(model) if layer_name is None else get_layer(model, layer_name, "grad_cam")
    outputs = model.outputs[0]  # `model.output` is undefined on a Sequential model never called
    head = _squashing_head(outputs)
    if isinstance(head, keras.layers.Activation):
        outputs = head.input  # the score before a separate softmax / sigmoid layer
    tapped = keras.Model(model_inputs(model), [layer.output, outputs])
    with tf.GradientTape() as tape, _linear(head):
        conv, preds = tapped(x, training=False)
        if len(preds.shape) != 2:
            raise ValueError(f"`grad_cam` needs a (batch, classes) output. Received {preds.shape}.")
        k, n = int(preds.shape[0]), int(preds.shape[-1])
        if class_index is None:
            classes = tf.argmax(preds, axis=-1)
        else:
            chosen = np.asarray(class_index)
            if chosen.dtype.kind not in "iu" or chosen.ndim > 1 or chosen.size not in (1, k) \
                    or chosen.min() < 0 or chosen.max() >= n:
                raise ValueError(f"`grad_cam`: argument `class_index` must be None, or one int or one "
                                 f"int per image ({k}) in [0, {n}). Received: class_index={class_index!r}")
            classes = tf.constant(np.broadcast_to(chosen.astype(np.int64).reshape(-1), (k,)))
        score = tf.gather(preds, classes, axis=1, batch_dims=1)
    grads = tape.gradient(score, conv)
    if len(conv.shape) != 4:
        raise ValueError(f"`grad_cam`: layer {layer.name!r} must have a 4-D output. "
                         f"Received shape {tuple(conv.shape)}.")
    conv, grads = (_channels_of(layer, np.asarray(t, np.float64)) for t in (conv, grads))
    weights = grads.mean(axis=(2, 3))  # (k, c)
    cam = np.maximum(np.einsum("kc,kchw->khw", weights, conv), 0.0)
    peak = cam.max(axis=(1, 2), keepdims=True)
    cam = np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)
    size = _spatial_size(model, x)
    if cam.shape[1:] != size:
        cam = tf.image.resize(cam[..., None], size, method="bilinear").numpy()[..., 0]
    return np.clip(cam, 0.0, 1.0).astype(np.float32)


def _squashing_head(output):
    """The layer that made `output` when it ends in a softmax or sigmoid, else None."""
    import keras

    history = getattr(output, "_keras_history", None)
    layer = history[0] if history else None
    squash = (keras.activations.softmax, keras.activations.sigmoid)
    if isinstance(layer, keras.layers.Activation) and layer.activation in squash:
        return layer
    return layer if getattr(layer, "activation", None) in squash else None


@contextlib.contextmanager
def _linear(head):
    """Runs `head` (a layer with a softmax or sigmoid `activation`) without it, so Grad-CAM
    differentiates the class score (the logit) as the method prescribes: a confident
    softmax output is flat, and its gradient would leave most maps empty."""
    import keras

    if head is None or isinstance(head, keras.layers.Activation):
        yield
        return
    saved = head.activation
    head.activation = keras.activations.linear
    try:
        yield
    finally:
        head.activation = saved


def _spatial_size(model, x) -> tuple[int, int]:
    shape = np.shape(x[0] if isinstance(x, (list, tuple)) else x)
    if len(shape) == 3:
        return tuple(shape[1:3])
    first = getattr(model.layers[0], "data_format", None) if model.layers else None
    fmt = first or _data_format(None, "grad_cam")
    return tuple(shape[2:4]) if fmt == "channels_first" else tuple(shape[1:3])
