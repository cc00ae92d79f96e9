"""Hyperparameter sweeps that the HParams dashboard compares.

`sweep()` runs a grid or random search over a declared space: one run folder per trial
under one experiment folder, the user's build-and-fit function called once per trial,
one experiment config covering the whole space. It can be resumed: a trial that finished
is read back from its `trial.json`, not run again.

Example:
    ```python
    from keras_tbx import hparams as hp

    def train(trial):
        model = build_model(units=trial["units"], dropout=trial["dropout"])
        return model.fit(x, y, validation_split=0.2, epochs=5, callbacks=[trial.callback()])

    results = hp.sweep(train, {"units": [16, 32], "dropout": [0.0, 0.3]}, "logs/sweep1")
    # tensorboard --logdir logs/sweep1  ->  HParams tab
    ```
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import random
import time
from collections.abc import Mapping

from keras_tbx._core.validation import _fail, check_int, check_log_dir
from keras_tbx._core.writers import WriterPool
from keras_tbx.summary._hparams import (
    Discrete,
    Domain,
    HParam,
    IntInterval,
    RealInterval,
    _check_domain,
    _hparam_key,
    experiment_pb,
    final_metrics,
    metrics_from_logs,
    session_end_pb,
    session_start_pb,
)

__all__ = ["Discrete", "HParam", "IntInterval", "RealInterval", "Trial", "TrialResult", "sweep"]

SWEEP_FILE = "sweep.json"
TRIAL_FILE = "trial.json"
_MAX_GRID_INTS = 10_000


def normalize_space(space) -> dict:
    """`{name: Domain}` from `{name or HParam: list of values | Domain | None}` (None: the
    HParam's own domain) or a list of `HParam` with domains."""
    if not isinstance(space, Mapping):
        if isinstance(space, (list, tuple)) and space and all(isinstance(h, HParam) for h in space):
            space = {h: None for h in space}
        else:
            _fail("space", "a non-empty dict {name: list of values or domain} or a list of HParam",
                  space, TypeError)
    if not space:
        _fail("space", "a non-empty dict {name: list of values or domain}", space)
    domains = {}
    for key, spec in space.items():
        name, declared = _hparam_key("space", key)
        if name in domains:
            _fail("space", f"a dict naming each hyperparameter once ({name!r} is repeated)", space)
        if spec is None and declared is None:
            _fail(f"space[{name!r}]", "a list of values or a domain", spec, TypeError)
        if spec is not None and declared is not None:
            _fail(f"space[{name!r}]", "None when the HParam key has a domain", spec)
        domains[name] = _check_domain(f"space[{name!r}]", declared if spec is None else spec)
    return domains


def _describe(domain) -> dict:
    """A JSON description of a domain (to tell whether a resumed sweep is the same)."""
    if isinstance(domain, Discrete):
        return {"discrete": domain.values}
    if isinstance(domain, IntInterval):
        return {"int": [domain.min_value, domain.max_value]}
    return {"real": [domain.min_value, domain.max_value], "log": getattr(domain, "log", False)}


def trial_values(space, method: str = "grid", trials=None, seed: int = 0) -> list:
    """The hyperparameter values of every trial, in order (the same on every call).

    Args:
        space: See `normalize_space`.
        method: "grid" (every combination, in the space's order) or "random" (each value
            drawn uniformly from its domain, log-uniformly for `RealInterval(log=True)`).
        trials: The number of trials: required for "random"; for "grid", the first
            `trials` combinations (None: all).
        seed: Seed of the random draws; trial i's values depend only on `(seed, i)`.

    Returns:
        A list of `{name: value}` dicts (ints stay ints).
    """
    domains = normalize_space(space)
    if trials is not None:
        trials = check_int("trials", trials, minimum=1)
    if method == "grid":
        axes = []
        for name, domain in domains.items():
            if isinstance(domain, Discrete):
                axes.append(domain.values)
            elif isinstance(domain, IntInterval) and domain.max_value - domain.min_value < _MAX_GRID_INTS:
                axes.append(list(range(domain.min_value, domain.max_value + 1)))
            else:
                _fail(f"space[{name!r}]", 'a list of values or a small IntInterval for method="grid" '
                      '(use method="random" to sample intervals)', domain)
        combos = itertools.islice(itertools.product(*axes), trials)
        return [dict(zip(domains, combo)) for combo in combos]
    if method == "random":
        if trials is None:
            _fail("trials", 'a positive integer with method="random"', trials, TypeError)
        out = []
        for index in range(trials):
            rng = random.Random(f"keras_tbx/{seed}/{index}")
            out.append({name: d.sample_uniform(rng) for name, d in domains.items()})
        return out
    _fail("method", '"grid" or "random"', method)


@dataclasses.dataclass
class TrialResult:
    """One trial's outcome.

    Attributes:
        name: Its run folder's name (`trial-000`, ...).
        hparams: Its values.
        status: "success" or "failure".
        metrics: The final values of the scalar metrics it logged (`loss`, `val_loss`, ...).
        log_dir: Its run folder.
        error: The exception, as text, when it failed.
        resumed: True when read back from an earlier call, not run now.
    """

    name: str
    hparams: dict
    status: str
    metrics: dict
    log_dir: str
    error: str | None = None
    resumed: bool = False
    seconds: float = 0.0


class Trial(Mapping):
    """One trial of a sweep: its values (`trial["units"]`), where it logs, its callback.

    Attributes:
        name: The run folder's name.
        index: Its index in the sweep.
        log_dir: Its run folder (give it to `keras_tbx.TensorBoard`).
        logs: The last epoch's logs seen by its callbacks.
    """

    def __init__(self, name, index, values, log_dir, group_name, on_metrics=None):
        self.name, self.index, self.log_dir = name, index, log_dir
        self._values, self._group_name, self._on_metrics = dict(values), group_name, on_metrics
        self.logs = {}
        self._callbacks = []

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return f"Trial({self.name!r}, {self._values!r})"

    @property
    def hparams(self) -> dict:
        return dict(self._values)

    def callback(self, **kwargs):
        """A `keras_tbx.TensorBoard` logging to this trial's folder (`kwargs` are its
        other arguments). The sweep records the HParams session itself."""
        from keras_tbx.callbacks import TensorBoard

        callback = TensorBoard(self.log_dir, hparams=self, **kwargs)
        self._callbacks.append(callback)
        return callback

    # What `keras_tbx.TensorBoard(hparams=trial)` records: no session and no config of its
    # own (the sweep writes them), but the logs and metrics it sees come back here.
    def _hparams_spec(self):
        from keras_tbx.callbacks._hparams import HParamsSpec

        return HParamsSpec(
            self.hparams, {}, self._group_name, write_session=False, write_config=False,
            observe=self,
        )

    def epoch_logs(self, logs) -> None:
        self.logs = dict(logs)

    def metrics_known(self, metrics) -> None:
        if self._on_metrics is not None:
            self._on_metrics(metrics)


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def _write_json(path, data) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, allow_nan=True)
    os.replace(tmp, path)


def _remove_event_files(folder) -> None:
    for root, _dirs, files in os.walk(folder):
        for f in files:
            if f.startswith("events.out.tfevents."):
                os.remove(os.path.join(root, f))


def _logs_of(returned):
    """The logs in what the user's function returned: a History, a model that has one, a
    dict of metrics (or of per-epoch lists), or None."""
    history = getattr(returned, "history", returned)
    history = getattr(history, "history", history)  # a Model's History
    return history if isinstance(history, Mapping) else None


class _Experiment:
    """The experiment folder: its sweep.json, its config (written once)."""

    def __init__(self, log_dir, domains, description):
        self.log_dir = log_dir
        self.domains = domains
        self.path = os.path.join(log_dir, SWEEP_FILE)
        state = _read_json(self.path)
        if state is not None and state.get("sweep") != description:
            raise ValueError(
                f"Argument `log_dir` must be a new folder or one holding the same sweep; "
                f"{self.path} describes another one ({state.get('sweep')}). "
                f"Received: log_dir={log_dir!r}"
            )
        self.state = state or {"sweep": description, "config_written": False}
        os.makedirs(log_dir, exist_ok=True)
        _write_json(self.path, self.state)

    def write_config(self, metrics) -> None:
        if self.state["config_written"] or not metrics:
            return
        writers = WriterPool(self.log_dir, lambda: True, "keras_tbx.hparams.sweep")
        writers.run("").write_pb(experiment_pb(self.domains, metrics), 0)
        writers.close()
        self.state["config_written"] = True
        _write_json(self.path, self.state)


def _run_trial(fn, trial, experiment) -> TrialResult:
    writers = WriterPool(trial.log_dir, lambda: True, "keras_tbx.hparams.sweep")
    session = writers.run("")
    session.write_pb(session_start_pb(trial.hparams, group_name=trial._group_name), 0)
    session.flush()
    record = {"name": trial.name, "index": trial.index, "hparams": trial.hparams,
              "status": "running", "start_time": time.time()}  # fmt: skip
    _write_json(os.path.join(trial.log_dir, TRIAL_FILE), record)
    status, error, logs = "failure", None, {}
    try:
        logs = _logs_of(fn(trial)) or trial.logs
        loss = final_metrics(logs).get("loss")
        status = "failure" if loss is not None and not math.isfinite(loss) else "success"
        error = None if status == "success" else "the final loss is not finite"
    except BaseException as e:
        error = f"{type(e).__name__}: {e}"
        for callback in trial._callbacks:  # finish what the failed fit() left open
            callback.__exit__(type(e), e, None)
        raise
    finally:
        for callback in trial._callbacks:
            callback.close()
        logs = logs or trial.logs
        session.write_pb(session_end_pb(status), 0)
        writers.close()
        metrics = final_metrics(logs)
        record.update(status=status, error=error, metrics=metrics, end_time=time.time())
        _write_json(os.path.join(trial.log_dir, TRIAL_FILE), record)
        experiment.write_config(metrics_from_logs(logs))
    return TrialResult(trial.name, trial.hparams, status, metrics, trial.log_dir, error)


def sweep(
    fn,
    space,
    log_dir,
    *,
    method: str = "grid",
    trials=None,
    seed: int = 0,
    retry_failed: bool = True,
    raise_errors: bool = False,
    verbose: int = 1,
) -> list:
    """Runs `fn` once per trial of a grid or random search and logs it for HParams.

    Each trial gets a run folder `log_dir/trial-NNN` holding its HParams session (start,
    then "success" or "failure") and a `trial.json` record. `fn(trial)` builds and trains
    a model, logging to `trial.log_dir` (`trial.callback()` is a `keras_tbx.TensorBoard`
    for it), and returns the `History` of `fit()` (or a dict of metrics, or None when it
    used `trial.callback()`). The experiment config, written once at `log_dir`, covers the
    whole space; its metrics are those the first trial logged (`epoch_loss`, ... under
    `train` and `validation`).

    Calling `sweep` again with the same `log_dir` and space resumes: trials that succeeded
    (and, with `retry_failed=False`, those that failed) are read back from their
    `trial.json`; the others run again, their old event files deleted first (TensorBoard
    would otherwise mix both attempts and keep the first status). Trials run one after the
    other in this process; the sweep itself writes from every process that calls it.

    Args:
        fn: `fn(trial) -> History | dict | None`; `trial` is a `Trial` (a mapping of the
            values, plus `name`, `log_dir`, `callback()`).
        space: `{name or HParam: list of values | Discrete | IntInterval | RealInterval}`.
        log_dir: The experiment folder.
        method: "grid" or "random" (see `trial_values`).
        trials: Number of trials (required for "random"; for "grid", the first ones).
        seed: Seed of the random draws.
        retry_failed: Run failed trials again when resuming.
        raise_errors: Re-raise an exception from `fn` (after recording the failure)
            instead of going on with the next trial. Interrupts always propagate.
        verbose: 1 prints one line per trial.

    Returns:
        A list of `TrialResult`, in trial order.

    Raises:
        ValueError, TypeError: On an invalid argument, or a `log_dir` holding another sweep.

    Example:
        ```python
        results = sweep(train, {"units": [16, 32], "lr": RealInterval(1e-3, 1e-1, log=True)},
                        "logs/sweep2", method="random", trials=8)
        best = max(results, key=lambda r: r.metrics.get("val_accuracy", 0))
        ```
    """
    if not callable(fn):
        _fail("fn", "a callable fn(trial)", fn, TypeError)
    log_dir = os.path.abspath(check_log_dir(log_dir))
    domains = normalize_space(space)
    all_values = trial_values(space, method, trials, seed)
    description = {"method": method, "seed": seed if method == "random" else None,
                   "space": {name: _describe(d) for name, d in domains.items()}}  # fmt: skip
    experiment = _Experiment(log_dir, domains, json.loads(json.dumps(description)))
    group_prefix = os.path.basename(log_dir)
    results = []
    for index, values in enumerate(all_values):
        name = f"trial-{index:03d}"
        trial_dir = os.path.join(log_dir, name)
        record = _read_json(os.path.join(trial_dir, TRIAL_FILE))
        if record and (record["status"] == "success" or (record["status"] == "failure" and not retry_failed)):
            results.append(TrialResult(name, record["hparams"], record["status"], record["metrics"],
                                       trial_dir, record.get("error"), resumed=True))  # fmt: skip
            experiment.write_config(metrics_from_logs(record["metrics"]))
        else:
            if record is not None:
                _remove_event_files(trial_dir)
            os.makedirs(trial_dir, exist_ok=True)
            trial = Trial(name, index, values, trial_dir, f"{group_prefix}/{name}", experiment.write_config)
            start = time.perf_counter()
            try:
                result = _run_trial(fn, trial, experiment)
            except Exception as e:  # noqa: BLE001 - one failing trial does not stop a sweep
                if raise_errors:
                    raise
                result = TrialResult(name, trial.hparams, "failure", final_metrics(trial.logs),
                                     trial_dir, f"{type(e).__name__}: {e}")  # fmt: skip
            result.seconds = time.perf_counter() - start
            results.append(result)
        if verbose:
            print(_summary_line(results[-1]), flush=True)
    return results


def _summary_line(result: TrialResult) -> str:
    shown = {k: v for k, v in result.metrics.items() if k in ("loss", "val_loss") or "acc" in k}
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(shown.items()))
    values = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.hparams.items()
    )
    what = "resumed" if result.resumed else result.status
    error = f" ({result.error})" if result.error else ""
    return f"{result.name} ({values}): {what}{error} {metrics}".rstrip()
