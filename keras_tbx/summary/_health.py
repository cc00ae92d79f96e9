"""Training health on a probe batch: loss gradients and their norms, layer activations,
attention entropy. Pure functions: they return numbers and arrays, nothing is written.

Gradients and activations are computed with the TensorFlow backend (`tf.GradientTape`).
"""

from __future__ import annotations

import math
import weakref

import numpy as np

# Past this many layers the default activation selection stops (histograms of hundreds
# of layers every few steps cost more than they tell).
MAX_ACTIVATION_LAYERS = 32


def _layer_of_variables(model) -> dict:
    """`id(variable) -> name of the top-level layer that owns it` (nested layers roll up)."""
    owners = {}
    for layer in getattr(model, "layers", []):
        for var in layer.trainable_variables:
            owners.setdefault(id(var), layer.name)
    return owners


def _variable_path(var) -> str:
    return (getattr(var, "path", None) or var.name).replace(":", "_")


_GRADIENT_FUNCTIONS = weakref.WeakKeyDictionary()  # model -> {(training, n vars): tf.function}


def _gradient_function(model, variables, training):
    """A compiled `(x, y, sample_weight) -> (loss, gradients)` for `model`, cached per model
    (one trace per probe shape; the variables are read when called, not when traced)."""
    import tensorflow as tf
    from keras.src import backend

    cache = _GRADIENT_FUNCTIONS.setdefault(model, {})
    key = (training, tuple(id(v) for v in variables))
    if key not in cache:
        ref = weakref.ref(model)  # no strong reference from the cache to its key

        @tf.function(reduce_retracing=True)
        def compute(x, y, sample_weight):
            model = ref()
            values = [tf.convert_to_tensor(v.value) for v in variables]
            with tf.GradientTape() as tape:
                tape.watch(values)
                with backend.StatelessScope(state_mapping=list(zip(variables, values)),
                                            collect_losses=True):
                    y_pred = model(x, training=training)
                    loss = model._compute_loss(x, y, y_pred, sample_weight=sample_weight,
                                               training=training)
            return loss, tape.gradient(loss, values)

        cache.clear()  # trainable weights changed (e.g. layers frozen): drop the old trace
        cache[key] = compute
    return cache[key]


def gradient_norms(model, x, y, *, sample_weight=None, training=True) -> dict:
    """L2 norms of the loss gradients on one batch, with the model's current weights.

    The loss is the one `fit` minimizes: the model's `compute_loss` (the compiled loss,
    plus regularization and `add_loss` terms, as Keras adds them) on `model(x)`.

    `training=True` (the default) runs the forward pass as a training step does (dropout
    active, batch normalization on batch statistics), so the norms are those of the
    gradients the optimizer sees. The pass is *stateless*: it runs in a Keras
    `StatelessScope`, so batch-normalization moving statistics, seed generators and
    metric variables are not updated and the probe does not change training.
    `training=False` gives the inference-mode gradients (deterministic with dropout).

    Args:
        model: A compiled Keras model (TensorFlow backend).
        x: Inputs of the probe batch.
        y: Targets of the probe batch.
        sample_weight: Optional sample weights.
        training: Forward-pass mode, see above.

    Returns:
        A dict with `"loss"` (float), `"global_norm"` (float, over every trainable
        weight), `"layer_norms"` (`{layer name: float}`, a top-level layer's weights
        together, nested layers included), `"weight_norms"` (`{weight path: float}`),
        `"gradients"` (`{weight path: np.ndarray}`) and `"disconnected"` (paths of
        trainable weights the loss does not depend on; left out of the norms).
    """
    import tensorflow as tf

    variables = list(model.trainable_variables)
    if not variables:
        raise ValueError(f"Model {model.name!r} has no trainable weights: no gradients to compute.")
    loss, grads = _gradient_function(model, variables, bool(training))(x, y, sample_weight)

    owners = _layer_of_variables(model)
    gradients, weight_norms, disconnected, layer_sq = {}, {}, [], {}
    for var, grad in zip(variables, grads):
        path = _variable_path(var)
        if grad is None:
            disconnected.append(path)
            continue
        array = np.asarray(tf.convert_to_tensor(grad), dtype=np.float64)
        gradients[path] = array
        sq = float(np.sum(np.square(array)))
        weight_norms[path] = math.sqrt(sq)
        layer = owners.get(id(var), path.rsplit("/", 1)[0])
        layer_sq[layer] = layer_sq.get(layer, 0.0) + sq
    total = sum(layer_sq.values())
    return {
        "loss": float(np.asarray(loss)),
        "global_norm": math.sqrt(total),
        "layer_norms": {name: math.sqrt(sq) for name, sq in layer_sq.items()},
        "weight_norms": weight_norms,
        "gradients": gradients,
        "disconnected": disconnected,
    }


def gradient_health(norms: dict, *, vanishing: float = 1e-7, exploding: float = 1e3) -> list:
    """Markdown lines for every norm that is not finite, below `vanishing` or above
    `exploding` (the global norm first, then each layer's).

    Args:
        norms: What `gradient_norms` returned (`global_norm`, `layer_norms`).
        vanishing: A norm below this is reported as vanishing.
        exploding: A norm above this is reported as exploding.

    Returns:
        A list of str (empty when every norm is healthy).
    """
    checks = [("global gradient norm", norms["global_norm"])]
    checks += [(f"gradient norm of layer `{name}`", value) for name, value in norms["layer_norms"].items()]
    alerts = []
    for what, value in checks:
        if not math.isfinite(value):
            alerts.append(f"**non-finite** {what}: {value}")
        elif value < vanishing:
            alerts.append(f"**vanishing** {what}: {value:.3g} < {vanishing:g}")
        elif value > exploding:
            alerts.append(f"**exploding** {what}: {value:.3g} > {exploding:g}")
    return alerts


def default_activation_layers(model, limit: int = MAX_ACTIVATION_LAYERS) -> list:
    """Names of the layers whose single tensor output can be read on a probe: every layer
    of a Functional or Sequential model except its inputs, at most `limit`."""
    names = []
    for layer in getattr(model, "layers", []):
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            output = layer.output
        except Exception:  # noqa: BLE001 - a layer never called symbolically: skip it
            continue
        if hasattr(output, "shape") and hasattr(output, "dtype"):
            names.append(layer.name)
        if len(names) >= limit:
            break
    return names


def activation_model(model, layer_names):
    """A Keras model from `model`'s inputs to the outputs of `layer_names` (one call
    gives them all). Needs a Functional or Sequential model.

    Raises:
        ValueError: When the model has no symbolic inputs or a layer is unknown.
    """
    import keras

    try:
        inputs = _input_structure(model)
        outputs = [model.get_layer(name).output for name in layer_names]
    except (AttributeError, ValueError) as e:
        raise ValueError(
            f"Cannot read activations of layers {list(layer_names)!r} of model {model.name!r}: "
            f"it needs a Functional or Sequential model that knows those layers ({e})") from e
    if not model.inputs:
        raise ValueError(f"Model {model.name!r} has no symbolic inputs; activations need a "
                         "Functional or Sequential model built with `keras.Input`.")
    return keras.Model(inputs, outputs)


def _input_structure(model):
    """The model's symbolic inputs in the structure its call takes (one tensor, a list,
    or a dict), so a sub-model accepts the same `x` as the model."""
    inputs = model.inputs
    if not inputs:
        return inputs
    try:
        return model.input
    except (AttributeError, ValueError):
        return inputs[0] if len(inputs) == 1 else inputs


_FORWARD_FUNCTIONS = weakref.WeakKeyDictionary()  # sub-model -> compiled inference call


def _forward_function(submodel):
    """`submodel(x, training=False)`, compiled once per sub-model (TensorFlow backend);
    the plain call on other backends."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return lambda x: submodel(x, training=False)
    if submodel not in _FORWARD_FUNCTIONS:
        import tensorflow as tf

        ref = weakref.ref(submodel)
        _FORWARD_FUNCTIONS[submodel] = tf.function(
            lambda x: ref()(x, training=False), reduce_retracing=True)
    return _FORWARD_FUNCTIONS[submodel]


def activations(model, layer_names, x, *, submodel=None) -> dict:
    """Outputs of `layer_names` on `x`, in inference mode (`training=False`), from one
    forward pass.

    Args:
        model: A Functional or Sequential Keras model.
        layer_names: Names of layers with one tensor output each.
        x: Inputs.
        submodel: Optional cached `activation_model(model, layer_names)`.

    Returns:
        `{layer name: np.ndarray}`.
    """
    names = list(layer_names)
    sub = submodel if submodel is not None else activation_model(model, names)
    outputs = _forward_function(sub)(x)
    if len(names) == 1 and not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    from keras import ops

    return {name: np.asarray(ops.convert_to_numpy(out)) for name, out in zip(names, outputs)}


def attention_entropy_from_scores(scores) -> np.ndarray:
    """Mean entropy (nats) of attention distributions, per head.

    Args:
        scores: Attention probabilities `(batch, heads, queries, keys)` (what
            `MultiHeadAttention(..., return_attention_scores=True)` returns); masked keys
            carry probability 0 and add nothing.

    Returns:
        A float64 array `(heads,)`: `-sum(p log p)` over keys, averaged over batch and
        queries. 0 is full collapse (each query attends to one key); `log(keys)` is
        uniform attention.
    """
    p = np.asarray(scores, dtype=np.float64)
    if p.ndim != 4:
        raise ValueError(f"`scores` must be (batch, heads, queries, keys). Received shape {p.shape}")
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -plogp.sum(axis=-1).mean(axis=(0, 2))


def attention_layers(model) -> list:
    """The `keras.layers.MultiHeadAttention` layers of `model` (top level)."""
    import keras

    return [layer for layer in getattr(model, "layers", [])
            if isinstance(layer, keras.layers.MultiHeadAttention)]


def attention_entropy(model, x, layer_names=None) -> dict:
    """Per-head attention entropy of `MultiHeadAttention` layers of a Functional or
    Sequential model on inputs `x`.

    Each layer is re-called, in inference mode, on the exact arguments it received in
    the model (query, value, key, masks, `use_causal_mask`), read from its first
    inbound node with one sub-model call, with `return_attention_scores=True`.

    Args:
        model: A Functional or Sequential model.
        x: Inputs.
        layer_names: Which layers (default: every `MultiHeadAttention` at top level).

    Returns:
        `{layer name: np.ndarray (heads,)}`, see `attention_entropy_from_scores`.
    """
    import keras
    from keras import ops

    layers = attention_layers(model) if layer_names is None else [model.get_layer(n) for n in layer_names]
    if not layers:
        return {}
    nodes = [layer._inbound_nodes[0] for layer in layers]
    tensors, seen = [], set()
    for node in nodes:
        for t in node.arguments.keras_tensors:
            if id(t) not in seen:
                seen.add(id(t))
                tensors.append(t)
    values = keras.Model(_input_structure(model), tensors)(x, training=False)
    if not isinstance(values, (list, tuple)):
        values = [values]
    filled = {id(t): v for t, v in zip(tensors, values)}
    out = {}
    for layer, node in zip(layers, nodes):
        args, kwargs = node.arguments.fill_in(filled)
        kwargs = dict(kwargs, return_attention_scores=True, training=False)
        _, scores = layer(*args, **kwargs)
        out[layer.name] = attention_entropy_from_scores(ops.convert_to_numpy(scores))
    return out
