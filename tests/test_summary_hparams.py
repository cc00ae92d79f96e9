"""HParams protos and sweeps without a server: values, domains, metrics, trials, resume."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from events import event_files, read_tags, read_tensors
from tensorboard.plugins.hparams import api_pb2, metadata

from keras_tbx import hparams as hp
from keras_tbx import summary


def _plugin_data(pb):
    [value] = pb.value
    return value.tag, value.metadata.plugin_data.content


def test_session_start_keeps_types_and_group():
    pb = summary.session_start_pb(
        {"units": np.int64(32), "lr": np.float32(0.5), "opt": "adam", "bn": True}, group_name="g"
    )
    tag, content = _plugin_data(pb)
    info = metadata.parse_session_start_info_plugin_data(content)
    assert tag == "_hparams_/session_start_info" and info.group_name == "g"
    assert info.hparams["units"].number_value == 32.0
    assert info.hparams["lr"].number_value == 0.5
    assert info.hparams["opt"].string_value == "adam"
    assert info.hparams["bn"].bool_value is True
    # TensorBoard's default group: a hash of the values, the same for the same values.
    a = metadata.parse_session_start_info_plugin_data(_plugin_data(summary.session_start_pb({"a": 1}))[1])
    b = metadata.parse_session_start_info_plugin_data(_plugin_data(summary.session_start_pb({"a": 1}))[1])
    assert a.group_name == b.group_name and len(a.group_name) == 64


def test_experiment_domains_and_metrics():
    pb = summary.experiment_pb(
        {
            "units": summary.IntInterval(8, 64),
            "lr": summary.RealInterval(1e-4, 1e-1, log=True),
            "opt": ["adam", "sgd"],
            "bn": [True, False],
            summary.HParam("drop", summary.Discrete([0.0, 0.5])): None,
            "width": 3,  # no domain: the type only
        },
        [("epoch_loss", "validation"), ("epoch_accuracy", "train")],
    )
    tag, content = _plugin_data(pb)
    exp = metadata.parse_experiment_plugin_data(content)
    infos = {h.name: h for h in exp.hparam_infos}
    assert tag == "_hparams_/experiment"
    assert (infos["units"].domain_interval.min_value, infos["units"].domain_interval.max_value) == (8, 64)
    assert infos["lr"].domain_interval.min_value == pytest.approx(1e-4)
    assert infos["opt"].type == api_pb2.DATA_TYPE_STRING
    assert [v.string_value for v in infos["opt"].domain_discrete.values] == ["adam", "sgd"]
    assert [v.bool_value for v in infos["bn"].domain_discrete.values] == [False, True]
    assert [v.number_value for v in infos["drop"].domain_discrete.values] == [0.0, 0.5]
    assert infos["width"].type == api_pb2.DATA_TYPE_FLOAT64
    assert infos["width"].WhichOneof("domain") is None
    assert [(m.name.tag, m.name.group, m.dataset_type) for m in exp.metric_infos] == [
        ("epoch_loss", "validation", api_pb2.DATASET_VALIDATION),
        ("epoch_accuracy", "train", api_pb2.DATASET_TRAINING),
    ]


def test_metrics_from_logs_and_history():
    logs = {"accuracy": 0.5, "loss": 1.0, "val_loss": 2.0, "val_accuracy": 0.4,
            "f1": np.array([0.1, 0.2]), "learning_rate": 0.01, "val_f1": np.array([0.3, 0.1])}  # fmt: skip
    expected = [("epoch_loss", "train"), ("epoch_loss", "validation"),
                ("epoch_accuracy", "train"), ("epoch_accuracy", "validation")]  # fmt: skip
    assert summary.metrics_from_logs(logs) == expected
    history = {"loss": [3.0, 1.0], "val_loss": [4.0, 2.0], "accuracy": [0.1, 0.5],
               "val_accuracy": [0.2, 0.4], "f1": [np.array([0.1, 0.2])]}  # fmt: skip
    assert summary.metrics_from_logs(history) == expected


@pytest.mark.parametrize(
    "hparams, error, message",
    [
        ({}, TypeError, r"Argument `hparams` must be a non-empty dict"),
        ([("lr", 0.1)], TypeError, r"Argument `hparams` must be a non-empty dict"),
        ({"lr": [0.1]}, TypeError, r"Argument `hparams\['lr'\]` must be a bool, int, float or str\. "
                                   r"Received: hparams\['lr'\]=\[0\.1\]"),
        ({"lr": None}, TypeError, r"Received: hparams\['lr'\]=None"),
        ({3: 0.1}, TypeError, r"keyed by hparam names"),
        ({summary.HParam("units", summary.IntInterval(1, 8)): 16}, ValueError,
         r"Argument `hparams\['units'\]` must be in the domain of HParam 'units', \[1, 8\]"),
        ({summary.HParam("units", summary.IntInterval(1, 8)): 2.5}, ValueError, "domain"),
        ({summary.HParam("opt", summary.Discrete(["adam"])): "sgd"}, ValueError, "domain"),
        ({"a": 1, summary.HParam("a"): 2}, ValueError, "'a' is repeated"),
    ],
)
def test_invalid_hparams_name_the_argument(tmp_path, hparams, error, message):
    import keras_tbx

    with pytest.raises(error, match=message):
        keras_tbx.TensorBoard(tmp_path, hparams=hparams)


def test_hparam_keys_are_accepted(tmp_path):
    import keras_tbx

    units = summary.HParam("units", summary.IntInterval(1, 64))
    tb = keras_tbx.TensorBoard(tmp_path, hparams={units: np.int32(16), "opt": "adam", "bn": False})
    assert tb.hparams == {"units": 16, "opt": "adam", "bn": False}
    assert type(tb.hparams["units"]) is int


def test_grid_and_random_trials():
    space = {"units": [16, 32], "opt": ["sgd", "adam"], "bn": [True, False]}
    grid = hp.trial_values(space)
    assert len(grid) == 8 and grid[0] == {"units": 16, "opt": "adam", "bn": False}
    assert all(type(t["units"]) is int for t in grid)
    assert hp.trial_values({"k": hp.IntInterval(1, 3)}) == [{"k": 1}, {"k": 2}, {"k": 3}]
    assert hp.trial_values(space, trials=3) == grid[:3]

    space = {"units": hp.IntInterval(4, 64), "lr": hp.RealInterval(1e-4, 1e-1, log=True),
             hp.HParam("opt", hp.Discrete(["adam", "sgd"])): None}  # fmt: skip
    draws = hp.trial_values(space, "random", trials=40, seed=3)
    assert draws == hp.trial_values(space, "random", trials=40, seed=3)  # reproducible
    assert draws[:5] == hp.trial_values(space, "random", trials=5, seed=3)  # by index
    assert draws != hp.trial_values(space, "random", trials=40, seed=4)
    assert all(type(d["units"]) is int and 4 <= d["units"] <= 64 for d in draws)
    assert all(1e-4 <= d["lr"] <= 1e-1 for d in draws)
    assert np.mean([d["lr"] < 1e-2 for d in draws]) > 0.4  # log-uniform: 2/3 below 1e-2
    assert {d["opt"] for d in draws} == {"adam", "sgd"}


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"space": {"lr": hp.RealInterval(0.1, 1.0)}}, ValueError,
         r'Argument `space\[\'lr\'\]` must be a list of values or a small IntInterval for method="grid"'),
        ({"space": {"lr": 0.1}}, TypeError, r"Argument `space\['lr'\]` must be a list of values"),
        ({"space": {"x": [1, "a"]}}, TypeError, "values of one kind"),
        ({"space": {"x": [1, 1]}}, ValueError, "distinct values"),
        ({"space": {}}, ValueError, "non-empty dict"),
        ({"space": {"x": [1]}, "method": "bayes"}, ValueError, r'Argument `method` must be "grid" or "random"'),
        ({"space": {"x": [1]}, "method": "random"}, TypeError, r"Argument `trials` must be a positive integer"),
        ({"space": {"x": [1]}, "trials": 0}, ValueError, r"Received: trials=0"),
    ],
)
def test_invalid_sweeps_raise_before_any_trial(tmp_path, kwargs, error, message):
    calls = []
    with pytest.raises(error, match=message):
        hp.sweep(calls.append, log_dir=tmp_path / "exp", verbose=0, **kwargs)
    assert calls == [] and not (tmp_path / "exp").exists()


def hparams_contents(run_dir) -> dict:
    """`{tag: plugin content}` of the hparams summaries in `run_dir`, the first of each tag
    (what TensorBoard keeps)."""
    from tensorboard.backend.event_processing import event_file_loader

    contents = {}
    for path in event_files(run_dir):
        for event in event_file_loader.LegacyEventFileLoader(path).Load():
            for v in event.summary.value:
                if v.metadata.plugin_data.plugin_name == "hparams":
                    contents.setdefault(v.tag, v.metadata.plugin_data.content)
    return contents


def session(run_dir):
    """(group name, status name or None) of the HParams session in `run_dir`."""
    contents = hparams_contents(run_dir)
    start = metadata.parse_session_start_info_plugin_data(contents["_hparams_/session_start_info"])
    end = contents.get("_hparams_/session_end_info")
    if end is None:
        return start.group_name, None
    status = metadata.parse_session_end_info_plugin_data(end).status
    return start.group_name, api_pb2.Status.Name(status)


def test_sweep_records_failures_and_resumes(tmp_path):
    log_dir = tmp_path / "exp"
    calls = []

    def train(trial):  # no training: a sweep only needs the metrics back
        calls.append(trial.name)
        if trial["units"] == 8 and len(calls) < 4:
            raise RuntimeError("out of memory")
        return {"loss": [1.0, 1.0 / trial["units"]], "val_loss": [2.0, 2.0 / trial["units"]]}

    space = {"units": [2, 4, 8]}
    results = hp.sweep(train, space, log_dir, verbose=0)
    assert [(r.name, r.status, r.error) for r in results] == [
        ("trial-000", "success", None), ("trial-001", "success", None),
        ("trial-002", "failure", "RuntimeError: out of memory"),
    ]  # fmt: skip
    assert results[1].metrics == {"loss": 0.25, "val_loss": 0.5}
    assert session(log_dir / "trial-001") == ("exp/trial-001", "STATUS_SUCCESS")
    assert session(log_dir / "trial-002") == ("exp/trial-002", "STATUS_FAILURE")
    record = json.loads((log_dir / "trial-002" / "trial.json").read_text())
    assert record["status"] == "failure" and record["hparams"] == {"units": 8}
    assert read_tags(log_dir)["hparams"] == {"_hparams_/experiment"}  # one config, at the root

    # Resuming skips what succeeded and runs the failed trial again in a clean folder.
    (log_dir / "trial-002" / "keep.txt").write_text("a checkpoint")
    again = hp.sweep(train, space, log_dir, verbose=0)
    assert calls == ["trial-000", "trial-001", "trial-002", "trial-002"]
    assert [(r.status, r.resumed) for r in again] == [("success", True), ("success", True), ("success", False)]
    assert again[:2] == [dataclasses.replace(r, resumed=True, seconds=0.0) for r in results[:2]]
    assert session(log_dir / "trial-002") == ("exp/trial-002", "STATUS_SUCCESS")
    assert (log_dir / "trial-002" / "keep.txt").exists()
    assert len(read_tensors(log_dir, "_hparams_/experiment")) == 1  # written once

    with pytest.raises(ValueError, match=r"Argument `log_dir` must be a new folder or one holding the same sweep"):
        hp.sweep(train, {"units": [2, 4]}, log_dir, verbose=0)

    def boom(trial):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        hp.sweep(boom, {"x": [1]}, tmp_path / "exp2", raise_errors=True, verbose=0)
    assert session(tmp_path / "exp2" / "trial-000")[1] == "STATUS_FAILURE"


def test_nothing_needs_tf_keras(tmp_path, monkeypatch):
    """`tensorboard.plugins.hparams.api` imports `tf.keras`, which fails with
    TF_USE_LEGACY_KERAS=1 and no tf_keras (FACTS.md §1); keras_tbx never imports it. Here
    it cannot be imported at all: the summaries and sweeps import without it (and without
    TensorFlow), and the callback records a session without it."""
    code = (
        "import sys\n"
        "sys.modules['tensorboard.plugins.hparams.api'] = sys.modules['tf_keras'] = None\n"
        "import keras_tbx, keras_tbx.hparams\n"
        "from keras_tbx import summary\n"
        "summary.experiment_pb({'lr': [0.1]}, [('epoch_loss', 'train')])\n"
        "assert not {'tensorflow', 'keras'} & set(sys.modules), 'TensorFlow was imported'\n"
    )
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]

    import keras_tbx
    from models import tiny_data, tiny_model

    monkeypatch.setitem(sys.modules, "tensorboard.plugins.hparams.api", None)
    x, y = tiny_data(n=16)
    with keras_tbx.TensorBoard(tmp_path, hparams={"lr": 0.05}) as tb:
        tiny_model().fit(x, y, epochs=1, verbose=0, callbacks=[tb])
    assert session(tmp_path)[1] == "STATUS_SUCCESS"
