"""Model-analysis images part: input grid, feature maps, Grad-CAM overlays and generated
samples (or autoencoder reconstructions) of a fixed sample, every `image_freq` epochs."""

from __future__ import annotations

import warnings

import numpy as np

from keras_tbx._core.context import LogContext, Part
from keras_tbx._core.frequency import check_freq

RUN = "train"


def epoch_freq(name, value) -> int:
    """A `*_freq` in epochs (0: off); "N steps" is refused for these arguments."""
    freq = check_freq(name, value)
    if freq.per_step:
        raise ValueError(f'Argument `{name}` must be 0 or a positive integer (epochs); "N steps" is not '
                         f"supported for it. Received: {name}={value!r}")
    return freq.epochs


def check_layer_names(name, value):
    """None, one layer name, or a list of layer names -> None or a list of str."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"Argument `{name}` must be None, a layer name or a non-empty list of layer "
                        f"names. Received: {name}={value!r}")
    return list(names)


def check_analysis_args(*, image_freq, sample, feature_map_layers, grad_cam_layer, denormalize,
                        channel_order, generator_input) -> dict:
    """Validates the facade's analysis-image arguments; returns them normalised."""
    import keras

    freq = epoch_freq("image_freq", image_freq)
    layers = check_layer_names("feature_map_layers", feature_map_layers)
    if grad_cam_layer is not None and (not isinstance(grad_cam_layer, str) or not grad_cam_layer):
        raise TypeError('Argument `grad_cam_layer` must be None, "auto" or a layer name. '
                        f"Received: grad_cam_layer={grad_cam_layer!r}")
    if grad_cam_layer is not None and keras.backend.backend() != "tensorflow":
        raise ValueError("Argument `grad_cam_layer` needs the TensorFlow backend (Grad-CAM uses "
                         f"tf.GradientTape); the backend is {keras.backend.backend()!r}. "
                         f"Received: grad_cam_layer={grad_cam_layer!r}")
    if channel_order not in ("rgb", "bgr"):
        raise ValueError(f'Argument `channel_order` must be "rgb" or "bgr". Received: channel_order={channel_order!r}')
    if denormalize is not None and not callable(denormalize) and not (
            isinstance(denormalize, (tuple, list)) and len(denormalize) == 2):
        raise TypeError("Argument `denormalize` must be None, a callable or a pair (mean, std). "
                        f"Received: denormalize={denormalize!r}")
    needs_freq = {"feature_map_layers": layers, "grad_cam_layer": grad_cam_layer, "generator_input": generator_input}
    for arg, value in needs_freq.items():
        if value is not None and not freq:
            raise ValueError(f"Argument `{arg}` needs `image_freq` > 0 (every how many epochs to draw). "
                             f"Received: image_freq={image_freq!r}")
    if freq and sample is None and generator_input is None:
        raise ValueError("Argument `image_freq` needs `sample=(x, y)` (images to analyse) or "
                         f"`generator_input`. Received: image_freq={image_freq!r}")
    if (layers or grad_cam_layer) and sample is None:
        raise ValueError("Arguments `feature_map_layers` and `grad_cam_layer` need `sample=(x, y)`.")
    if freq and sample is not None and (isinstance(sample[0], (dict, list, tuple)) or np.ndim(sample[0]) < 2):
        raise ValueError("Argument `image_freq` needs `sample` inputs that are one array (a batch of "
                         "images); multi-input models are not supported. Received: sample inputs of type "
                         f"{type(sample[0]).__name__}")
    return {"image_freq": freq, "feature_map_layers": layers, "grad_cam_layer": grad_cam_layer,
            "generator_input": None if generator_input is None else np.asarray(generator_input)}


class AnalysisImages(Part):
    """Writes, in `train/`, every `image_freq` epochs (computed on the chief only, at
    epoch end, never per batch):

    - `analysis/inputs`: the sample's inputs as a grid (once);
    - `analysis/feature_maps/<layer>`: per input, one tile per channel (first 16);
    - `analysis/grad_cam`: Grad-CAM of the predicted class over each input;
    - `analysis/generated`: the model's outputs on `generator_input`, or, without it, the
      sample next to its reconstruction when the model's output has the input's shape.

    Unknown layer names raise `ValueError` at train begin, naming the argument. A failure
    while drawing warns once and training goes on.
    """

    def __init__(self, image_freq, *, sample=None, max_images=16, feature_map_layers=None,
                 grad_cam_layer=None, denormalize=None, channel_order="rgb", generator_input=None,
                 class_names=None):
        self.freq = image_freq
        self.x = None if sample is None else np.asarray(sample[0])[:max_images]
        self.layers = feature_map_layers or []
        self.grad_cam_layer = grad_cam_layer
        self.display = {"denormalize": denormalize, "channel_order": channel_order}
        self.generator_input = generator_input
        self.class_names = class_names
        self._inputs_written = False
        self._reconstruct = False
        self._warned = set()

    def train_begin(self, ctx: LogContext) -> None:
        from keras_tbx.summary._model_analysis import get_layer, last_conv_layer

        model = ctx.model
        for name in self.layers:
            get_layer(model, name, "keras_tbx.TensorBoard", "feature_map_layers")
        if self.grad_cam_layer == "auto":
            try:
                last_conv_layer(model)
            except ValueError:
                raise ValueError('Argument `grad_cam_layer` is "auto" but the model has no layer with a '
                                 '4-D output (a conv layer). Received: grad_cam_layer="auto"') from None
        elif self.grad_cam_layer is not None:
            get_layer(model, self.grad_cam_layer, "keras_tbx.TensorBoard", "grad_cam_layer")
        outputs = getattr(model, "outputs", None) or [None]
        self._reconstruct = (self.generator_input is None and self.x is not None and self.x.ndim >= 3
                             and tuple(getattr(outputs[0], "shape", ())[1:]) == self.x.shape[1:])

    def epoch_end(self, ctx: LogContext, epoch: int, logs: dict) -> None:
        if not self.freq or epoch % self.freq or not ctx.writers.chief:
            return
        from keras_tbx.summary import _analysis_write as w

        writer = ctx.writers.run(RUN)
        jobs = []
        if self.x is not None and self.x.ndim >= 3 and not self._inputs_written:
            jobs.append(("inputs", lambda: w.input_grid_pb("analysis/inputs", self.x, **self.display)))
            self._inputs_written = True
        for name in self.layers:
            jobs.append((name, lambda name=name: w.feature_maps_pb(
                f"analysis/feature_maps/{name}", ctx.model, name, self.x)))
        if self.grad_cam_layer is not None:
            layer = None if self.grad_cam_layer == "auto" else self.grad_cam_layer
            jobs.append(("grad_cam", lambda: w.grad_cam_pb(
                "analysis/grad_cam", ctx.model, self.x, layer_name=layer,
                captions=self._captions(ctx.model), **self.display)))
        if self.generator_input is not None:
            jobs.append(("generated", lambda: w.generated_pb("analysis/generated", ctx.model,
                                                             self.generator_input)))
        elif self._reconstruct:
            jobs.append(("generated", lambda: w.reconstructions_pb("analysis/generated", ctx.model,
                                                                   self.x, **self.display)))
        for key, job in jobs:
            try:
                writer.write_pb(job(), epoch)
            except Exception as e:  # noqa: BLE001 - analysis images never stop training
                self._warn_once(key, f"keras_tbx.TensorBoard could not draw analysis image {key!r}: "
                                f"{type(e).__name__}: {e}")

    def _captions(self, model):
        from keras import ops

        preds = np.asarray(ops.convert_to_numpy(model(self.x, training=False)))
        if preds.ndim != 2:
            return None
        names = self.class_names or [str(i) for i in range(preds.shape[1])]
        return [f"pred {names[i]}" if i < len(names) else f"pred {i}" for i in preds.argmax(axis=1)]

    def _warn_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
