"""`keras_tbx.TensorBoard`: a drop-in for `keras.callbacks.TensorBoard` without its defects."""

from __future__ import annotations

import keras

from keras_tbx._core import validation as v
from keras_tbx._core.chief import is_chief, worker_name
from keras_tbx._core.context import LogContext
from keras_tbx._core.steps import optimizer_iterations
from keras_tbx._core.writers import WriterPool
from keras_tbx.callbacks._analysis import AnalysisImages, check_analysis_args, check_layer_names, epoch_freq
from keras_tbx.callbacks._classification import Classification
from keras_tbx.callbacks._embeddings import Embeddings, check_embeddings_metadata
from keras_tbx.callbacks._hparams import HParamsSession, hparams_spec
from keras_tbx.callbacks._layouts import ScalarLayout
from keras_tbx.callbacks._model import ModelGraph, WeightSummaries
from keras_tbx.callbacks._profile import profiler_part
from keras_tbx.callbacks._scalars import BatchScalars, EpochScalars
from keras_tbx.callbacks import _health
from keras_tbx.callbacks._text import RunText
from keras_tbx._core.frequency import Frequency, check_freq
from keras_tbx.summary._layouts import parse_layout


class TensorBoard(keras.callbacks.Callback):
    """Logs a Keras training run for TensorBoard; a drop-in for `keras.callbacks.TensorBoard`.

    Every argument of `keras.callbacks.TensorBoard` keeps its meaning and the output uses
    the same run folders (`train/`, `validation/`) and tags (`epoch_loss`, `batch_loss`,
    `epoch_learning_rate`, `<weight path>/histogram`, ...). What differs:

    - An integer `update_freq` never drops epoch, validation or histogram summaries and
      never switches off other writers in the process (Keras leaves a global
      `tf.summary.record_if` behind).
    - Batch-level steps are optimizer steps (right under `steps_per_execution`) and one
      step axis continues across `fit()` calls and resumed runs (`initial_epoch`).
    - Vector metrics (e.g. `keras.metrics.F1Score(average=None)`) are written one scalar
      per component, named by `class_names` when given, instead of crashing `fit()`.
    - With `update_freq="epoch"` the callback has no per-batch hooks at all, so Keras keeps
      dispatching batches asynchronously on backends that support it.
    - With batch-level logging the learning rate is logged per step under a schedule, and
      writes are batched (one compiled call for many steps), a small fraction of Keras'
      per-scalar eager cost.
    - A failure to write warns once and training goes on.
    - A Custom Scalars layout (train and validation of each metric on one chart, ...)
      and, with `hparams`, an HParams session and experiment config.

    Args:
        log_dir: Directory for the run; `train/` and `validation/` are created under it.
        histogram_freq: Every how many epochs to write weight histograms (0: never), or
            `"N steps"` / `"batch"`: after every N-th optimizer step.
        write_graph: Write the model's conceptual graph.
        write_images: With `histogram_freq`, also write weights as images.
        write_steps_per_second: Log training speed (per epoch, and per batch when
            batch-level logging is on).
        update_freq: `"epoch"`, `"batch"` (every step) or an int N: write `batch_*`
            scalars every N optimizer steps.
        profile_batch: Optimizer steps to profile: 0 (off), an int, or `(start, stop)`;
            each profiled step gets a step marker. Start after the first steps (tracing,
            warm-up). Traces land in `train/plugins/profile/<time>/`.
        embeddings_freq: Every how many epochs to export, for TensorBoard's Projector,
            every `keras.layers.Embedding` matrix (and `embeddings_layer_outputs`) into
            `train/` (a TF checkpoint, `projector_config.pbtxt`, metadata, sprites; the
            Projector lists run `<log_dir>/train`). 0: off. Keras writes `.weights.h5`,
            which the Projector cannot open.
        embeddings_metadata: Keras' meaning: a dict Embedding layer name -> metadata
            file path (absolute, or relative to the working directory or to `log_dir`;
            copied next to the checkpoint), or one path for every layer; also a list of
            labels (one per row), or a dict layer name -> list of labels.
        class_names: Names of the classes (list of str, a number of classes, or a
            tensorflow-datasets `ClassLabel` / `DatasetInfo`). Turns on the classification
            diagnostics (per-class scalars, confusion matrices, PR curves, counted during
            fit's own passes) and names per-class components of vector metrics.
        sample: `(x, y)`: a fixed sample whose predictions are drawn every epoch as an
            image grid (mistakes marked) and a gallery of the most confident mistakes.
        max_images: Most images of `sample` used (16).
        classification_output: Name (or index) of the classified output of a
            multi-output model.
        multi_label: Force (True) or refuse (False) multi-label handling; None: decided
            from the loss (binary cross-entropy over several units).
        num_thresholds: Thresholds of the PR curves (101).
        confusion_max_classes: Past this many classes the confusion images show the
            most-confused ones (30).
        profile_epoch: Profile one whole epoch instead (its index as on the `epoch_*`
            charts, 0 = first); None: off.
        profile_options: For `profile_batch` / `profile_epoch`: a
            `tf.profiler.experimental.ProfilerOptions` or a dict of its fields
            (`host_tracer_level`, `python_tracer_level`, `device_tracer_level`,
            `delay_ms`); TensorFlow's defaults otherwise.
        layout: Custom Scalars charts, `{"Category": {"Chart": ["Multiline", [tag
            regexes]] or ["Margin", [value, lower, upper]]}}` or a list of
            `keras_tbx.summary.Category`; written once at the root of `log_dir`.
        auto_layout: Add the automatic charts (`keras_tbx.summary.automatic_layout`,
            built from the tags written by the end of the first epoch) to `layout`;
            False: write `layout` alone (nothing if it is None).
        hparams: Hyperparameter values (`{name or HParam: bool, int, float or str}`) or
            a `keras_tbx.hparams.Trial`: records an HParams session in `log_dir`
            ("success" at train end, "failure" when the last loss is not finite or, with
            the callback used as a context manager, when `fit()` raises) and the
            experiment config (metrics from the first epoch's logs).
        probe: `(x, y)` or `(x, y, sample_weight)`: a fixed batch for `gradient_freq`
            and `activation_freq`; None: `sample` is used.
        gradient_freq: Every N epochs (int) or `"N steps"`: loss gradients on `probe`
            with the current weights (TensorFlow backend): `gradients/global_norm` and
            `gradients/norm/<layer>` scalars, `gradients/<weight path>` histograms, and a
            `health/alerts` text when a norm crosses `gradient_thresholds`. 0: off.
        gradient_thresholds: `(vanishing, exploding)` norms for the alerts
            (`(1e-7, 1e3)`).
        activation_freq: Every N epochs or `"N steps"`: layer outputs on `probe` as
            `activations/<layer>` histograms, and `attention/entropy/<layer>` scalars
            (per head too) for `MultiHeadAttention` layers. 0: off.
        activation_layers: Layer names for `activation_freq`; None: every layer with one
            tensor output (at most 32), inputs excluded.
        nan_guard: None, `"warn"` or `"stop"`: check every batch's loss and metrics (and
            the probe gradients) for NaN / Inf; the first one writes a `health/alerts`
            text (step, epoch, what went bad, the last finite values) and warns;
            `"stop"` also stops training like `keras.callbacks.TerminateOnNaN`. Needs
            per-batch hooks, so Keras' asynchronous batch dispatch (JAX, torch) is off.
        write_text: Write the model summary, the compile config (and `hparams`) and run
            metadata (versions, devices, command line) as text (`run/model_summary`,
            `run/config`, `run/metadata` in `train/`) when training first begins.
        image_freq: Every how many epochs (an int; 0: off) to draw model-analysis images
            of `sample`'s first `max_images` inputs in `train/` (computed on the chief at
            epoch end): `analysis/inputs` (once), `analysis/feature_maps/<layer>`,
            `analysis/grad_cam`, and `analysis/generated` (outputs on `generator_input`,
            or, for a model whose output has its input's shape, input | reconstruction
            pairs). Needs `sample` or `generator_input`.
        feature_map_layers: Layer name(s) with 4-D outputs whose channels are drawn.
        grad_cam_layer: `"auto"` (the last layer with a 4-D output) or a layer name:
            Grad-CAM of the predicted class over each input (TensorFlow backend only).
        denormalize: How inputs were normalised, undone for display: `(mean, std)`
            (scalars or per channel) or a callable on the channels-last batch.
        channel_order: `"rgb"`, or `"bgr"` for inputs stored blue first.
        generator_input: A fixed input (e.g. noise) fed to the model every `image_freq`
            epochs; its outputs are drawn as images (a generator / decoder).
        embeddings_layer_outputs: Layer name(s) whose outputs on `sample`'s inputs are
            exported with `embeddings_freq` as Projector embeddings (a latent space),
            labelled with `sample`'s classes (`class_names`) and, for image inputs, a
            sprite of them. Unknown layer names (here and in `feature_map_layers`,
            `grad_cam_layer`, `embeddings_metadata`) raise `ValueError` when training
            begins; a failure while drawing or exporting warns once and training goes on.

    Raises:
        ValueError, TypeError: On an invalid argument, with the value received.

    Example:
        ```python
        tb = keras_tbx.TensorBoard("logs/run1", update_freq=10, histogram_freq=1)
        model.fit(x, y, validation_split=0.2, epochs=5, callbacks=[tb])
        ```
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
        *,
        class_names=None,
        sample=None,
        max_images=16,
        classification_output=None,
        multi_label=None,
        num_thresholds=101,
        confusion_max_classes=30,
        profile_epoch=None,
        profile_options=None,
        layout=None,
        auto_layout=True,
        hparams=None,
        probe=None,
        gradient_freq=0,
        gradient_thresholds=(1e-7, 1e3),
        activation_freq=0,
        activation_layers=None,
        nan_guard=None,
        write_text=True,
        image_freq=0,
        feature_map_layers=None,
        grad_cam_layer=None,
        denormalize=None,
        channel_order="rgb",
        generator_input=None,
        embeddings_layer_outputs=None,
    ):
        super().__init__()
        self.log_dir = v.check_log_dir(log_dir)
        if isinstance(histogram_freq, str):
            self._histogram_freq = check_freq("histogram_freq", histogram_freq)
        else:
            self._histogram_freq = Frequency(epochs=v.check_int("histogram_freq", histogram_freq))
        self.histogram_freq = histogram_freq
        self.write_graph = v.check_bool("write_graph", write_graph)
        self.write_images = v.check_bool("write_images", write_images)
        self.write_steps_per_second = v.check_bool(
            "write_steps_per_second", write_steps_per_second
        )
        self.update_freq = v.check_update_freq(update_freq)
        self.profile_batch = v.check_profile_batch(profile_batch)
        self.profile_epoch = v.check_profile_epoch(profile_epoch, self.profile_batch)
        self.profile_options = v.check_profile_options("profile_options", profile_options)
        self.embeddings_freq = epoch_freq("embeddings_freq", embeddings_freq)
        self.embeddings_metadata = check_embeddings_metadata(embeddings_metadata)
        self.class_names = v.check_names("class_names", class_names)
        self.sample = v.check_sample(sample, self.class_names, standalone=bool(
            image_freq or embeddings_layer_outputs is not None or gradient_freq or activation_freq))
        self.max_images = v.check_int("max_images", max_images, minimum=1)
        if classification_output is not None and (
            isinstance(classification_output, bool) or not isinstance(classification_output, (str, int))
        ):
            raise TypeError(
                "Argument `classification_output` must be None, an output name or an output "
                f"index. Received: classification_output={classification_output!r}")
        self.classification_output = classification_output
        self.multi_label = multi_label if multi_label is None else v.check_bool("multi_label", multi_label)
        self.num_thresholds = v.check_int("num_thresholds", num_thresholds, minimum=2)
        self.confusion_max_classes = v.check_int("confusion_max_classes", confusion_max_classes, minimum=2)
        self.layout = parse_layout(layout)
        self.auto_layout = v.check_bool("auto_layout", auto_layout)
        self._hparams = hparams_spec(hparams)
        self.hparams = None if self._hparams is None else dict(self._hparams.values)

        self._parts = [EpochScalars(self.write_steps_per_second)]
        if self.write_graph:
            self._parts.append(ModelGraph())
        if self._histogram_freq.per_step:
            self._parts.append(_health.WeightFrequency(
                self._histogram_freq, WeightSummaries(0, self.write_images)))
        elif self._histogram_freq:
            self._parts.append(WeightSummaries(self._histogram_freq.epochs, self.write_images))
        if self.update_freq != "epoch":
            self._parts.append(BatchScalars(self.update_freq, self.write_steps_per_second))
        profiler = profiler_part(self.profile_batch, self.profile_epoch, self.profile_options)
        if profiler is not None:
            self._parts.append(profiler)
        if self.class_names is not None:
            self._parts.append(Classification(
                self.class_names, output=classification_output, sample=self.sample,
                max_images=self.max_images, num_thresholds=self.num_thresholds,
                max_classes=self.confusion_max_classes, multi_label=self.multi_label,
                display={"denormalize": denormalize, "channel_order": channel_order}))
        if self._hparams is not None:
            self._parts.append(HParamsSession(self._hparams))
        if self.layout or self.auto_layout:
            self._parts.append(ScalarLayout(self.layout, self.auto_layout))
        self._add_health_parts(probe, gradient_freq, gradient_thresholds, activation_freq,
                               activation_layers, nan_guard, write_text)
        self._add_analysis_parts(image_freq, feature_map_layers, grad_cam_layer, denormalize,
                                 channel_order, generator_input, embeddings_layer_outputs)
        self._ctx = LogContext(
            writers=WriterPool(
                self.log_dir, lambda: is_chief(self._ctx.model), "keras_tbx.TensorBoard",
                worker_name=lambda: worker_name(self._ctx.model),
            ),
            class_names=self.class_names,
        )
        # When fit() dies (Keras then calls no callback), an idle flush first collects what
        # parts still buffer (see keras_tbx/_core/lifeline.py).
        self._ctx.writers.add_drain(self._drain)
        self._in_fit = False
        self._batch_parts = [p for p in self._parts if p.batch_hooks]
        if self._batch_parts:
            # Only now does the callback have per-batch hooks; without them Keras sees the
            # defaults and keeps its asynchronous batch dispatch.
            self.on_train_batch_begin = self._train_batch_begin
            self.on_train_batch_end = self._train_batch_end
        # Our batch hooks only queue Python values, so they may run on Keras' dispatch
        # thread; the profiler must run in step with the batches.
        # Parts whose batch work calls the model (`sync`) must run in step too.
        self.async_safe = profiler is None and not any(getattr(p, "sync", False) for p in self._batch_parts)

    def _add_health_parts(self, probe, gradient_freq, gradient_thresholds, activation_freq,
                          activation_layers, nan_guard, write_text):
        self.gradient_freq = gradient_freq
        self.activation_freq = activation_freq
        gradients = check_freq("gradient_freq", gradient_freq)
        activations = check_freq("activation_freq", activation_freq)
        self.gradient_thresholds = _health.check_thresholds(gradient_thresholds)
        self.activation_layers = _health.check_layer_names(activation_layers)
        self.nan_guard = _health.check_nan_guard(nan_guard)
        self.write_text = v.check_bool("write_text", write_text)
        self.probe = _health.check_probe(probe)
        if self.probe is None and self.sample is not None:
            self.probe = (self.sample[0], self.sample[1], None)
        if self.probe is None and (gradients or activations):
            raise ValueError(
                "Argument `probe` must be given (a batch (x, y)) when `gradient_freq` or "
                "`activation_freq` is on and there is no `sample`. Received: probe=None")
        guard = _health.NanGuard(self.nan_guard) if self.nan_guard else None
        if gradients:
            self._parts.append(_health.GradientSummaries(
                gradients, self.probe, self.gradient_thresholds, guard))
        if activations:
            self._parts.append(_health.ActivationSummaries(
                activations, self.probe[0], self.activation_layers))
        if guard is not None:
            self._parts.append(guard)
        if self.write_text:
            self._parts.insert(0, RunText(self.hparams))

    def _add_analysis_parts(self, image_freq, feature_map_layers, grad_cam_layer, denormalize,
                            channel_order, generator_input, embeddings_layer_outputs):
        args = check_analysis_args(
            image_freq=image_freq, sample=self.sample, feature_map_layers=feature_map_layers,
            grad_cam_layer=grad_cam_layer, denormalize=denormalize, channel_order=channel_order,
            generator_input=generator_input)
        self.image_freq, self.feature_map_layers = args["image_freq"], args["feature_map_layers"]
        self.grad_cam_layer, self.generator_input = grad_cam_layer, args["generator_input"]
        self.denormalize, self.channel_order = denormalize, channel_order
        self.embeddings_layer_outputs = check_layer_names("embeddings_layer_outputs", embeddings_layer_outputs)
        if self.embeddings_layer_outputs and (not self.embeddings_freq or self.sample is None):
            raise ValueError("Argument `embeddings_layer_outputs` needs `embeddings_freq` > 0 and "
                             f"`sample=(x, y)`. Received: embeddings_layer_outputs={embeddings_layer_outputs!r}")
        display = {"denormalize": denormalize, "channel_order": channel_order}
        if self.image_freq:
            self._parts.append(AnalysisImages(
                self.image_freq, sample=self.sample, max_images=self.max_images,
                feature_map_layers=self.feature_map_layers, grad_cam_layer=grad_cam_layer,
                generator_input=self.generator_input, class_names=self.class_names, **display))
        if self.embeddings_freq:
            self._parts.append(Embeddings(
                self.embeddings_freq, metadata=self.embeddings_metadata, log_dir=self.log_dir,
                layer_outputs=self.embeddings_layer_outputs, sample=self.sample,
                class_names=self.class_names, display=display))

    @property
    def writers(self) -> WriterPool:
        """The run writers (`writers.run("train")`, ...), for callbacks that extend this one."""
        return self._ctx.writers

    def set_model(self, model):
        super().set_model(model)
        self._ctx.model = model

    def set_params(self, params):
        super().set_params(params)
        self._ctx.params = params or {}

    def _each(self, method, *args):
        with self._ctx.writers.busy():
            for part in self._parts:
                getattr(part, method)(self._ctx, *args)

    def _drain(self):
        for part in self._parts:
            if hasattr(part, "drain"):
                part.drain(self._ctx)

    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._ctx.steps.train_begin()
        self._each("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self._ctx.steps.epoch_begin(
            epoch, optimizer_iterations(self._ctx.model), self._ctx.params.get("steps")
        )
        self._each("epoch_begin", self._ctx.steps.epoch(epoch))

    def _train_batch_begin(self, batch, logs=None):
        first_step = self._ctx.steps.epoch_base + batch + 1
        with self._ctx.writers.busy():
            for part in self._batch_parts:
                part.batch_begin(self._ctx, first_step)

    def _train_batch_end(self, batch, logs=None):
        step = self._ctx.steps.batch(batch)
        with self._ctx.writers.busy():
            for part in self._batch_parts:
                part.batch_end(self._ctx, step, logs or {})

    def on_test_begin(self, logs=None):
        self._each("test_begin")

    def on_test_end(self, logs=None):
        self._each("test_end", logs or {})

    def on_epoch_end(self, epoch, logs=None):
        step = self._ctx.steps.epoch(epoch)
        self._each("epoch_end", step, logs or {})
        self._ctx.steps.epoch_end(epoch)
        self._ctx.writers.flush()

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._each("train_end")
        # Flushed, not closed: the next fit() appends to the same event files.
        self._ctx.writers.flush()

    def close(self):
        """Closes the event files (they reopen if the callback is used again)."""
        self._ctx.writers.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        """Closes the event files. When the block raised during `fit()` (Keras then calls
        no callback), the HParams session is recorded as failed and the parts finish as
        at train end."""
        if exc_type is not None and self._in_fit:
            for part in self._parts:
                if isinstance(part, HParamsSession):
                    part.end(self._ctx, "failure")
            self.on_train_end()
        self.close()
        return False

