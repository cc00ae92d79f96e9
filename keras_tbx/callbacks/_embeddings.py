"""Embeddings part: Keras' `embeddings_freq`, written so TensorBoard's Projector opens it.

Keras 3 saves `.weights.h5`, which the Projector cannot read (FACTS.md D7). This part
writes, every `embeddings_freq` epochs, a TF checkpoint, `projector_config.pbtxt`, metadata
and sprites into `<log_dir>/train/` (the `train` run folder, which holds the epoch scalars'
event file, so the Projector lists it as run `<run>/train`).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from keras_tbx._core.context import LogContext, Part

RUN = "train"


def check_embeddings_metadata(value):
    """Keras' `embeddings_metadata`: None, one file path (for every layer), a dict layer
    name -> file path or list of labels, or one list of labels for every layer."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return value
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return dict(value)
    elif isinstance(value, (list, tuple, np.ndarray)):
        return list(value)
    raise TypeError("Argument `embeddings_metadata` must be None, a metadata file path, a list of "
                    "labels, or a dict layer name -> file path or list of labels. "
                    f"Received: embeddings_metadata={value!r}")


def embedding_layers(model):
    """Every `keras.layers.Embedding` in `model`, nested models included, in order."""
    import keras

    found, stack = [], list(reversed(getattr(model, "layers", [])))
    while stack:
        layer = stack.pop()
        if isinstance(layer, keras.layers.Embedding):
            found.append(layer)
        stack.extend(reversed(getattr(layer, "layers", []) or []))
    return found


class Embeddings(Part):
    """Every `embeddings_freq` epochs: each Embedding layer's matrix (named by the layer,
    with `embeddings_metadata`), and each layer of `layer_outputs` applied to the
    sample's inputs (a latent space, labelled with the sample's classes and, for
    images, a sprite of the inputs). Unknown layer names raise `ValueError` at train
    begin, naming the argument; a failure to export warns once and training goes on.
    """

    def __init__(self, freq, *, metadata=None, layer_outputs=None, sample=None, class_names=None,
                 display=None, log_dir="logs"):
        self.freq = freq
        self.metadata = metadata
        self.layer_outputs = layer_outputs or []
        self.sample = sample
        self.class_names = class_names
        self.display = display or {}
        self.log_dir = log_dir
        self._layers = []
        self._taps = {}
        self._images = False
        self._warned = set()

    def train_begin(self, ctx: LogContext) -> None:
        import keras

        from keras_tbx.summary._model_analysis import get_layer, model_inputs

        model = ctx.model
        self._layers = embedding_layers(model)
        names = [layer.name for layer in self._layers]
        if isinstance(self.metadata, dict):
            unknown = sorted(set(self.metadata) - set(names))
            if unknown:
                raise ValueError(f"Argument `embeddings_metadata` must map Embedding layer names ({names}) "
                                 f"to metadata. Received unknown names: {unknown}")
        self._taps = {}
        for name in self.layer_outputs:
            layer = get_layer(model, name, "keras_tbx.TensorBoard", "embeddings_layer_outputs")
            self._taps[name] = keras.Model(model_inputs(model), layer.output)
        self._images = False
        if self._taps and np.ndim(self.sample[0]) in (3, 4):
            from keras_tbx.summary._analysis import display_images

            try:  # sample inputs that are images also give the points a sprite
                display_images(np.asarray(self.sample[0])[:1], **self.display)
                self._images = True
            except (ValueError, TypeError):
                pass
        if not self._layers and not self._taps:
            self._warn_once("none", "keras_tbx.TensorBoard: `embeddings_freq` is set but the model has no "
                            "Embedding layer (and `embeddings_layer_outputs` names none): nothing to export.")

    def epoch_end(self, ctx: LogContext, epoch: int, logs: dict) -> None:
        if not self.freq or epoch % self.freq or not ctx.writers.chief:
            return
        if not self._layers and not self._taps:
            return
        from keras_tbx.summary._projector import write_embeddings

        try:
            tensors, metadata, sprites = self._collect(ctx)
            write_embeddings(os.path.join(ctx.writers.log_dir, RUN), tensors, metadata=metadata,
                             sprite=sprites, step=epoch, **self.display)
        except Exception as e:  # noqa: BLE001 - the export never stops training
            self._warn_once("write", f"keras_tbx.TensorBoard could not export embeddings: "
                            f"{type(e).__name__}: {e}")

    def _collect(self, ctx):
        from keras import ops

        tensors, metadata, sprites = {}, {}, {}
        for layer in self._layers:
            tensors[layer.name] = np.asarray(ops.convert_to_numpy(layer.embeddings))
            labels = self.metadata.get(layer.name) if isinstance(self.metadata, dict) else self.metadata
            if labels is not None:
                metadata[layer.name] = self._resolve(labels)
        if self._taps:
            x, y = self.sample
            labels = self._sample_labels(y)
            images = np.asarray(x) if self._images else None
            for name, tap in self._taps.items():
                out = np.asarray(ops.convert_to_numpy(tap(x, training=False)))
                key = f"{name}_outputs" if name in tensors else name
                tensors[key] = out.reshape(len(out), -1)
                if labels is not None:
                    metadata[key] = labels
                if images is not None:
                    sprites[key] = images
        return tensors, metadata, sprites

    def _resolve(self, labels):
        """A metadata file path as Keras means it (absolute, from the working directory,
        or inside `log_dir`), or labels as they are."""
        if not isinstance(labels, (str, os.PathLike)):
            return labels
        for path in (os.fspath(labels), os.path.join(self.log_dir, os.fspath(labels))):
            if os.path.isfile(path):
                return path
        raise FileNotFoundError(f"Argument `embeddings_metadata`: no file {os.fspath(labels)!r} "
                                f"(looked in the working directory and in {self.log_dir!r})")

    def _sample_labels(self, y):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            y = y.argmax(axis=1)
        y = y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y
        if self.class_names is not None and y.dtype.kind in "iu":
            return [self.class_names[i] if 0 <= i < len(self.class_names) else str(i) for i in y]
        return [str(v) for v in y] if y.dtype.kind in "iuUSOb" else None

    def _warn_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
