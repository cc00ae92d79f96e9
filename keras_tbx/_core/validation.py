"""Argument checks that raise with Keras' template:
"Argument `x` must be <constraint>. Received: x=<value>"."""

from __future__ import annotations

import numbers
import os


def _fail(name, constraint, value, error=ValueError):
    raise error(f"Argument `{name}` must be {constraint}. Received: {name}={value!r}")


def check_int(name, value, *, minimum=0):
    """Returns `value` if it is an int >= minimum (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(name, f"an integer >= {minimum}", value, TypeError)
    if value < minimum:
        _fail(name, f"an integer >= {minimum}", value)
    return int(value)


def check_bool(name, value):
    if not isinstance(value, bool):
        _fail(name, "a bool (True or False)", value, TypeError)
    return value


def check_update_freq(value):
    """`"epoch"`, `"batch"` (= 1) or a positive int. Returns "epoch" or an int."""
    if isinstance(value, str):
        if value == "batch":
            return 1
        if value == "epoch":
            return "epoch"
        _fail("update_freq", '"epoch", "batch" or a positive integer', value)
    return check_int("update_freq", value, minimum=1)


def check_profile_batch(value):
    """Returns `(start, stop)` optimizer steps, or None when profiling is off.

    Accepts 0 (off), a positive int (that one step), a pair `(start, stop)` of positive
    ints with start <= stop, or Keras' legacy string form "start,stop".
    """
    constraint = (
        "0, a positive integer, or a pair (start, stop) of positive integers with "
        "start <= stop"
    )
    original = value
    if isinstance(value, str):
        try:
            value = tuple(int(part) for part in value.split(","))
        except ValueError:
            _fail("profile_batch", constraint, original)
        if len(value) == 1:
            value = value[0]
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 0:
            _fail("profile_batch", constraint, original)
        return None if value == 0 else (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        start, stop = value
        if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
            if 0 < start <= stop:
                return int(start), int(stop)
    _fail("profile_batch", constraint, original)


def check_log_dir(value):
    """Returns `log_dir` as a string, refusing a path that can never become a directory.

    Nothing is created here. Remote URLs (`gs://...`) are accepted as they are.
    """
    if not isinstance(value, (str, os.PathLike)):
        _fail("log_dir", "a path (str or os.PathLike)", value, TypeError)
    path = os.fspath(value)
    if not path:
        _fail("log_dir", "a non-empty path", value)
    if "://" in path:
        return path
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        _fail("log_dir", f"a directory path that can be created ({probe!r} is not a directory)", value)
    if not os.access(probe, os.W_OK | os.X_OK):
        _fail("log_dir", f"a writable location ({probe!r} is not writable)", value)
    return path


def check_names(name, value):
    """`None`, an int (n names "0".."n-1"), a sequence of str, or an object with `.names`
    (a tensorflow-datasets `ClassLabel`) or `.features["label"].names` (`DatasetInfo`)."""
    if value is None:
        return None
    features = getattr(value, "features", None)
    if features is not None and not hasattr(value, "names"):
        try:
            value = features["label"]
        except (KeyError, TypeError):
            _fail(name, 'a DatasetInfo with a "label" ClassLabel feature', value)
    if hasattr(value, "names") and not isinstance(value, (str, bytes)):
        value = list(value.names)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 1:
            _fail(name, "a positive number of classes or a list of names", value)
        return [str(i) for i in range(int(value))]
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        _fail(name, "a list of names, a number of classes or a ClassLabel", value, TypeError)
    names = [str(v) for v in value]
    if not names:
        _fail(name, "a non-empty list of names", value)
    if len(set(names)) != len(names):
        _fail(name, "a list of distinct names", value)
    return names


def check_sample(value, class_names, *, standalone=False):
    """`None` or a pair `(x, y)` of equal length; needs `class_names` unless another
    feature uses it on its own (`standalone`: analysis images, embeddings)."""
    if value is None:
        return None
    if class_names is None and not standalone:
        _fail("sample", "used together with `class_names`, `image_freq` or `embeddings_layer_outputs`",
              type(value).__name__)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        _fail("sample", "a pair (x, y)", type(value).__name__, TypeError)
    x, y = value
    if len(x) != len(y):
        _fail("sample", "a pair (x, y) of equal length", f"({len(x)} inputs, {len(y)} labels)")
    if len(x) == 0:
        _fail("sample", "a non-empty pair (x, y)", "(0 inputs)")
    return tuple(value)


def check_profile_epoch(value, profile_batch=None):
    """`None` (off) or the epoch index to profile (an int >= 0); refused next to a
    `profile_batch` range (the output of `check_profile_batch`)."""
    constraint = "None or an epoch index (an integer >= 0)"
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail("profile_epoch", constraint, value, TypeError)
    if value < 0:
        _fail("profile_epoch", constraint, value)
    if profile_batch is not None:
        _fail("profile_epoch", f"None when `profile_batch` is set (it is {profile_batch})", value)
    return int(value)


# The fields of `tf.profiler.experimental.ProfilerOptions`: TensorFlow's defaults and the
# values TensorFlow documents for each.
PROFILER_OPTIONS = {
    "host_tracer_level": (2, range(0, 4)),  # 0 off, 1 critical, 2 info, 3 verbose
    "python_tracer_level": (0, range(0, 2)),  # Python function calls: 0 off, 1 on
    "device_tracer_level": (1, range(0, 2)),  # GPU/TPU activity: 0 off, 1 on
    "delay_ms": (None, None),  # start this many ms later (multi-host capture); None: TF decides
}


def default_profiler_options():
    """TensorFlow's default profiler options, as a dict of every `ProfilerOptions` field."""
    return {field: default for field, (default, _) in PROFILER_OPTIONS.items()}


def check_profile_options(name, value):
    """Profiler options as a dict of every `ProfilerOptions` field (TF's defaults filled in).

    Accepts None (the defaults), a `tf.profiler.experimental.ProfilerOptions` or a mapping
    with some of its fields.
    """
    if value is None:
        return default_profiler_options()
    fields = ", ".join(PROFILER_OPTIONS)
    if hasattr(value, "_asdict") and tuple(getattr(value, "_fields", ())) == tuple(PROFILER_OPTIONS):
        given = dict(value._asdict())
    elif isinstance(value, dict):
        given = dict(value)
    else:
        _fail(name, f"a tf.profiler.experimental.ProfilerOptions or a dict of its fields ({fields})",
              value, TypeError)
    unknown = sorted(set(given) - set(PROFILER_OPTIONS), key=str)
    if unknown:
        _fail(name, f"a dict whose keys are among {fields} ({unknown[0]!r} is not)", value)
    options = default_profiler_options()
    for field, level in given.items():
        allowed = PROFILER_OPTIONS[field][1]
        constraint = (f"an integer from {allowed[0]} to {allowed[-1]}" if allowed
                      else "None or an integer >= 0")
        if level is None and allowed is None:
            continue
        if isinstance(level, bool) or not isinstance(level, numbers.Integral):
            _fail(f"{name}[{field!r}]", constraint, level, TypeError)
        if level < 0 or (allowed is not None and level not in allowed):
            _fail(f"{name}[{field!r}]", constraint, level)
        options[field] = int(level)
    return options
