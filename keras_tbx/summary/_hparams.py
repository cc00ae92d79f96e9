"""HParams summaries: the experiment config and each session's start and end.

The HParams dashboard reads three kinds of summaries (all at step 0):

- the **experiment config** (`_hparams_/experiment`): every hyperparameter with its domain,
  and the metrics to show. TensorBoard uses one per log dir (any run may hold it);
- a **session start** (`_hparams_/session_start_info`) in the run folder of one training
  session: the values used, and a group name (sessions with one group name are repeats of
  one trial and are averaged);
- a **session end** (`_hparams_/session_end_info`) in the same folder: its status.

A session's metric values are the last values of its metrics' scalars, read from the
sub-run `group` of the session's folder (`<session>/train`, `<session>/validation`).
TensorBoard keeps the first status a run records, so write the end once, when it is known.

This module imports `tensorboard.plugins.hparams.summary_v2` and the protos, never
`tensorboard.plugins.hparams.api`, which needs `tf.keras` (FACTS.md §1).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import random
import time
from collections.abc import Iterable, Mapping

import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.plugins.hparams import summary_v2 as _tb

from keras_tbx._core.validation import _fail
from keras_tbx.summary._raw import write_summary_pb

# TensorBoard's own classes (also what `tensorboard.plugins.hparams.api` exports).
HParam = _tb.HParam
Domain = _tb.Domain
Discrete = _tb.Discrete
IntInterval = _tb.IntInterval

STATUSES = {
    "unknown": api_pb2.STATUS_UNKNOWN,
    "success": api_pb2.STATUS_SUCCESS,
    "failure": api_pb2.STATUS_FAILURE,
    "running": api_pb2.STATUS_RUNNING,
}
_NOT_METRICS = ("learning_rate", "steps_per_second")


class RealInterval(_tb.RealInterval):
    """All real values in `[min_value, max_value]`; `log=True` samples log-uniformly.

    Bounds may be given as ints. TensorBoard sees an ordinary real interval.

    Example:
        >>> RealInterval(1e-4, 1e-1, log=True).sample_uniform(random.Random(0)) < 0.1
        True
    """

    def __init__(self, min_value, max_value, *, log=False):
        for name, v in (("min_value", min_value), ("max_value", max_value)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                _fail(name, "a real number", v, TypeError)
            if not math.isfinite(v):
                _fail(name, "a finite number", v)
        if min_value > max_value:
            _fail("max_value", f">= min_value ({min_value})", max_value)
        if log and min_value <= 0:
            _fail("min_value", "> 0 when log=True", min_value)
        super().__init__(float(min_value), float(max_value))
        self.log = bool(log)

    def sample_uniform(self, rng=random):
        if not self.log:
            return super().sample_uniform(rng)
        return math.exp(rng.uniform(math.log(self.min_value), math.log(self.max_value)))

    def __repr__(self):
        log = ", log=True" if self.log else ""
        return f"RealInterval({self.min_value!r}, {self.max_value!r}{log})"


def _python_value(arg, value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):  # TensorBoard's hparams tables cannot show it
            _fail(arg, "a finite number", value)
        return float(value)
    _fail(arg, "a bool, int, float or str", value, TypeError)


def _check_domain(arg, value):
    """A `Domain` from a TensorBoard domain or a list of values (`Discrete`)."""
    if isinstance(value, Domain):
        return value
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        _fail(arg, "a list of values or a Discrete / IntInterval / RealInterval", value, TypeError)
    values = [_python_value(f"{arg}[{i}]", v) for i, v in enumerate(value)]
    if not values:
        _fail(arg, "a non-empty list of values", value)
    kinds = {bool if isinstance(v, bool) else str if isinstance(v, str) else "number" for v in values}
    if len(kinds) > 1:
        _fail(arg, "a list of values of one kind (bools, numbers or strings)", value, TypeError)
    if kinds == {"number"}:
        dtype = int if all(isinstance(v, int) for v in values) else float
        values = [dtype(v) for v in values]
    else:
        dtype = type(values[0])
    if len(set(values)) != len(values):
        _fail(arg, "a list of distinct values", value)
    return Discrete(values, dtype=dtype)


def in_domain(value, domain) -> bool:
    """Whether `value` is one of the values `domain` allows (ints count as reals)."""
    if domain is None:
        return True
    if isinstance(domain, Discrete):
        return any(value == v and isinstance(value, bool) == isinstance(v, bool) for v in domain.values)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if isinstance(domain, IntInterval) and not isinstance(value, numbers.Integral):
        return False
    return domain.min_value <= value <= domain.max_value


def _hparam_key(arg, key):
    if isinstance(key, HParam):
        return key.name, key.domain
    if not isinstance(key, str) or not key:
        _fail(arg, "keyed by hparam names (str) or HParam objects", key, TypeError)
    return key, None


def normalize_hparams(hparams, *, arg: str = "hparams"):
    """Validates hyperparameter values and splits them into values and declared domains.

    Args:
        hparams: A non-empty mapping whose keys are names (str) or
            `tensorboard.plugins.hparams.api.HParam` objects, and whose values are bool,
            int, float or str (NumPy scalars too). An `HParam` key's domain is checked.
        arg: The argument name used in error messages.

    Returns:
        `(values, domains)`: dicts by name; `domains[name]` is None when not declared.

    Raises:
        TypeError, ValueError: On another kind of key or value, a repeated name, or a
            value outside its declared domain.

    Example:
        >>> normalize_hparams({"units": np.int64(32), "optimizer": "adam"})[0]
        {'units': 32, 'optimizer': 'adam'}
    """
    if not isinstance(hparams, Mapping) or not hparams:
        _fail(arg, "a non-empty dict of hyperparameter values", hparams, TypeError)
    values, domains = {}, {}
    for key, value in hparams.items():
        name, domain = _hparam_key(arg, key)
        where = f"{arg}[{name!r}]"
        if name in values:
            _fail(arg, f"a dict naming each hyperparameter once ({name!r} is repeated)", hparams)
        value = _python_value(where, value)
        if not in_domain(value, domain):
            _fail(where, f"in the domain of HParam {name!r}, {domain}", value)
        values[name], domains[name] = value, domain
    return values, domains


def default_group_name(values: Mapping) -> str:
    """TensorBoard's default session group name: a hash of the values (so repeated
    sessions with the same values are averaged as one trial)."""
    text = json.dumps(dict(values), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _summary(tag, data: plugin_data_pb2.HParamsPluginData) -> summary_pb2.Summary:
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR
    )
    return summary


def hparam_info_pb(name: str, domain=None, *, example=None, description=None) -> api_pb2.HParamInfo:
    """One hyperparameter of an experiment config.

    With a domain, the dashboard offers a filter over it. Without, the type comes from
    `example`: a bool gets the domain `[False, True]`; a number or a string gets no
    domain (the dashboard then filters by an open interval, or not at all), so one
    run's config never hides the other values that sibling runs use.
    """
    info = api_pb2.HParamInfo(name=name, description=description or "")
    if domain is not None:
        _check_domain(f"domain of {name!r}", domain).update_hparam_info(info)
    elif isinstance(example, bool):
        Discrete([False, True]).update_hparam_info(info)
    elif isinstance(example, str):
        info.type = api_pb2.DATA_TYPE_STRING
    elif isinstance(example, numbers.Real):
        info.type = api_pb2.DATA_TYPE_FLOAT64
    return info


def _metric_info(metric) -> api_pb2.MetricInfo:
    if isinstance(metric, api_pb2.MetricInfo):
        return metric
    if isinstance(metric, _tb.Metric):
        return metric.as_proto()
    if isinstance(metric, (tuple, list)) and len(metric) == 2 and all(isinstance(m, str) for m in metric):
        tag, group = metric
        dataset = {"train": api_pb2.DATASET_TRAINING, "validation": api_pb2.DATASET_VALIDATION}
        return api_pb2.MetricInfo(
            name=api_pb2.MetricName(tag=tag, group=group),
            dataset_type=dataset.get(group, api_pb2.DATASET_UNKNOWN),
        )
    _fail("metrics", "a list of (tag, group) pairs or hparams Metric objects", metric, TypeError)


def experiment_pb(hparams, metrics, *, time_created_secs=None) -> summary_pb2.Summary:
    """The experiment config: hyperparameters with their domains, and the metrics.

    Args:
        hparams: A mapping from name (or `HParam`) to a domain (`Discrete`,
            `IntInterval`, `RealInterval`, or a list of values), or to an example value
            when no domain is known (see `hparam_info_pb`); or a list of `HParam`.
        metrics: `(tag, group)` pairs such as `("epoch_loss", "validation")`, where
            group is the session's sub-folder holding the scalar; or `Metric` objects.
        time_created_secs: Defaults to now.

    Returns:
        A `Summary` proto (tag `_hparams_/experiment`).

    Example:
        >>> pb = experiment_pb({"units": [16, 32]}, [("epoch_loss", "validation")])
        >>> pb.value[0].tag
        '_hparams_/experiment'
    """
    if not isinstance(hparams, Mapping):
        hparams = {h: None for h in hparams}
    infos = []
    for key, spec in hparams.items():
        name, domain = _hparam_key("hparams", key)
        if domain is None and isinstance(spec, (Domain, list, tuple)):
            domain = spec
        infos.append(hparam_info_pb(name, domain, example=None if domain else spec))
    experiment = api_pb2.Experiment(
        hparam_infos=infos,
        metric_infos=[_metric_info(m) for m in metrics],
        time_created_secs=time.time() if time_created_secs is None else time_created_secs,
    )
    return _summary(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment))


def session_start_pb(hparams, *, group_name=None, start_time_secs=None) -> summary_pb2.Summary:
    """A session start: the values used (see `normalize_hparams`) and the trial group.

    Args:
        hparams: The values, keyed by name or `HParam`.
        group_name: The trial this session belongs to; defaults to TensorBoard's hash of
            the values (`default_group_name`).
        start_time_secs: Defaults to now.

    Example:
        >>> session_start_pb({"units": 32}, group_name="trial-0").value[0].tag
        '_hparams_/session_start_info'
    """
    values, _ = normalize_hparams(hparams)
    info = plugin_data_pb2.SessionStartInfo(
        group_name=default_group_name(values) if group_name is None else str(group_name),
        start_time_secs=time.time() if start_time_secs is None else start_time_secs,
    )
    for name, value in values.items():
        if isinstance(value, bool):
            info.hparams[name].bool_value = value
        elif isinstance(value, str):
            info.hparams[name].string_value = value
        else:
            info.hparams[name].number_value = value
    return _summary(
        metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=info)
    )


def session_end_pb(status="success", *, end_time_secs=None) -> summary_pb2.Summary:
    """A session end with `status`: "success", "failure", "running" or "unknown"."""
    if status not in STATUSES:
        _fail("status", f"one of {sorted(STATUSES)}", status)
    info = plugin_data_pb2.SessionEndInfo(
        status=STATUSES[status],
        end_time_secs=time.time() if end_time_secs is None else end_time_secs,
    )
    return _summary(
        metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=info)
    )


def _last(value):
    if isinstance(value, (list, tuple)) and value and not np.ndim(value[-1]):
        return value[-1]  # a History list of per-epoch values
    return value


def final_metrics(logs) -> dict:
    """`{name: float}` for the scalar entries of Keras logs or of a `History.history`
    dict (its last values); vector metrics and non-numbers are left out."""
    out = {}
    for name, value in (logs or {}).items():
        value = _last(value)
        if np.ndim(value) == 0:
            try:
                out[str(name)] = float(value)
            except (TypeError, ValueError):
                continue
    return out


def metrics_from_logs(logs) -> list:
    """The HParams metrics a Keras `fit` logs: `(epoch_<name>, "train")` for every scalar
    entry of `logs` (or of `History.history`), `(epoch_<name>, "validation")` for its
    `val_` entry; the loss first. Vector metrics and the learning rate are not metrics.

    Example:
        >>> metrics_from_logs({"accuracy": 0.9, "loss": 0.3, "val_loss": 0.4})
        [('epoch_loss', 'train'), ('epoch_loss', 'validation'), ('epoch_accuracy', 'train')]
    """
    pairs = []
    for key in final_metrics(logs):
        group, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
        if name and not name.startswith(_NOT_METRICS):
            pairs.append((f"epoch_{name}", group))
    return sorted(pairs, key=lambda p: (p[0] != "epoch_loss", p[0], p[1] != "train"))


def hparams_config(hparams, metrics, step=0) -> bool:
    """Writes the experiment config (see `experiment_pb`) to the default writer."""
    return write_summary_pb(experiment_pb(hparams, metrics), step)


def hparams_start(hparams, step=0, *, group_name=None) -> bool:
    """Writes a session start (see `session_start_pb`) to the default writer."""
    return write_summary_pb(session_start_pb(hparams, group_name=group_name), step)


def hparams_end(status="success", step=0) -> bool:
    """Writes a session end (see `session_end_pb`) to the default writer."""
    return write_summary_pb(session_end_pb(status), step)
