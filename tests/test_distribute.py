"""Distribution: who writes, and a real 2-worker MultiWorkerMirroredStrategy `fit`.

* The chief rule, from real cluster resolvers (TF_CONFIG) and real one-process strategies,
  against TensorFlow's own answer (`multi_worker_util.is_chief`, `should_save_summary`).
* `keras_tbx.summary.create_file_writer`: a real writer on the chief, a no-op elsewhere.
* A non-chief `keras_tbx.TensorBoard` leaves no trace in `log_dir`.
* `keras_tbx.distribute.enable_multi_worker_fit`: version gate, idempotence, restoring
  Keras' functions, inert in one process.
* Real jobs on 127.0.0.1 (tests/cluster.py: free ports, each worker a subprocess under a
  wall-clock deadline, killed by PID on overrun): 2 MWMS workers training with
  `keras_tbx.TensorBoard` (tests/mwms_fit_worker.py); 2 JAX processes deciding who writes.
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import re
import shutil
import sys
import textwrap

import numpy as np
import pytest
import events
from cluster import python, run_workers, tf_config
from events import event_files, read_scalars, read_tags, read_tensors

import keras_tbx
from keras_tbx._core import chief

TESTS = pathlib.Path(__file__).resolve().parent


def _cluster(*, chief_job=False, evaluator=False, ps=0, workers=2):
    cluster = {"worker": [f"127.0.0.1:{2000 + i}" for i in range(workers)]}
    if chief_job:
        cluster["chief"] = ["127.0.0.1:1999"]
    if evaluator:
        cluster["evaluator"] = ["127.0.0.1:1998"]
    if ps:
        cluster["ps"] = [f"127.0.0.1:{3000 + i}" for i in range(ps)]
    return cluster


CASES = [  # (cluster, task type, task index, writes)
    (_cluster(), "worker", 0, True),
    (_cluster(), "worker", 1, False),
    (_cluster(chief_job=True), "chief", 0, True),
    (_cluster(chief_job=True), "worker", 0, False),
    (_cluster(chief_job=True, evaluator=True), "evaluator", 0, True),
    (_cluster(chief_job=True, ps=2), "ps", 0, False),  # a parameter-server job: the coordinator is "chief"
]


@pytest.mark.parametrize("cluster,task_type,index,writes", CASES,
                         ids=[f"{t}{i}{'+chief' if 'chief' in c else ''}" for c, t, i, _ in CASES])
def test_chief_rule_from_tf_config_matches_tensorflow(monkeypatch, cluster, task_type, index, writes):
    import tensorflow as tf
    from tensorflow.python.distribute import multi_worker_util

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}}))
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    assert multi_worker_util.is_chief(resolver.cluster_spec(), resolver.task_type, resolver.task_id) == writes
    # From the resolver, as inside a strategy ...
    assert chief.is_chief_task(*chief._from_resolver(resolver)) == writes
    # ... and from TF_CONFIG alone, as in a custom loop that names no strategy.
    assert chief.is_chief() == writes
    assert chief.task() == (task_type, index)
    assert chief.worker_name() == f"{task_type}_{index}"


def test_simple_cluster_resolver():
    import tensorflow as tf

    spec = tf.train.ClusterSpec(_cluster(workers=3))
    for index, writes in [(0, True), (2, False)]:
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(spec, task_type="worker", task_id=index)
        assert chief.is_chief_task(*chief._from_resolver(resolver)) == writes


def test_one_process_strategies_write(monkeypatch):
    import tensorflow as tf
    from models import tiny_model

    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategies = [tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["/cpu:0"]),
                  tf.distribute.OneDeviceStrategy("/cpu:0")]
    for strategy in strategies:
        assert chief.is_chief(strategy=strategy) is True
        assert strategy.extended.should_save_summary  # TensorFlow agrees
        assert chief.task(strategy=strategy) is None
    with strategies[1].scope():
        model = tiny_model()
        assert chief.is_chief() is True  # the strategy in scope
    assert model.distribute_strategy is strategies[1]
    assert chief.is_chief(model) is True
    assert chief.worker_name(model) == f"process_{os.getpid()}"


def test_model_strategy_wins_over_tf_config(monkeypatch):
    from models import tiny_model

    # A model trained without a cluster strategy is one process, whatever TF_CONFIG says.
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": _cluster(), "task": {"type": "worker", "index": 1}}))
    assert chief.is_chief(tiny_model()) is True
    assert chief.is_chief() is False


def test_create_file_writer_on_the_chief_and_elsewhere(monkeypatch, tmp_path):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    writer = keras_tbx.summary.create_file_writer(tmp_path / "chief", max_queue=5)
    with writer.as_default():
        assert tf.summary.scalar("x", 1.0, step=3)
    writer.close()
    assert read_scalars(tmp_path / "chief") == {"x": [(3, 1.0)]}

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": _cluster(), "task": {"type": "worker", "index": 1}}))
    writer = keras_tbx.summary.create_file_writer(tmp_path / "worker")
    with writer.as_default():
        assert not tf.summary.scalar("x", 1.0, step=3)
    writer.flush()
    writer.close()
    assert not (tmp_path / "worker").exists()
    # An explicit strategy decides over TF_CONFIG.
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    writer = keras_tbx.summary.create_file_writer(tmp_path / "explicit", strategy)
    with writer.as_default():
        assert tf.summary.scalar("x", 2.0, step=0)
    writer.close()
    assert read_scalars(tmp_path / "explicit") == {"x": [(0, 2.0)]}


def test_a_non_chief_tensorboard_writes_nothing(monkeypatch, tmp_path):
    """Every part runs (counts read, sample predicted, weights read) and nothing is
    written: no file, no folder; a profile goes to the worker's own folder."""
    from models import tiny_data, tiny_model

    monkeypatch.setattr("keras_tbx.callbacks.tensorboard.is_chief", lambda model: False)
    x, y = tiny_data(n=64)
    log_dir = tmp_path / "logs"
    for profile in (0, (2, 3)):
        tb = keras_tbx.TensorBoard(
            log_dir, histogram_freq=1, write_images=True, update_freq=1, profile_batch=profile,
            class_names=["a", "b", "c"], sample=(x[:4], y[:4]), hparams={"lr": 0.05},
            layout={"C": {"loss": ["Multiline", ["loss"]]}})
        history = tiny_model().fit(x, y, validation_split=0.25, epochs=2, batch_size=16, verbose=0, callbacks=[tb])
        tb.close()
        assert len(history.history["val_loss"]) == 2
        if not profile:
            assert not log_dir.exists()
    files = [p.relative_to(log_dir).parts for p in log_dir.rglob("*") if p.is_file()]
    assert files and all(
        parts[:5] == ("workers", f"process_{os.getpid()}", "train", "plugins", "profile") for parts in files)


# -- keras_tbx.distribute --------------------------------------------------------------
@pytest.fixture
def restore_keras():
    from keras.src.backend.tensorflow import trainer

    originals = trainer.TensorFlowTrainer.__dict__["_maybe_symbolic_build"], trainer.reduce_per_replica
    yield originals
    keras_tbx.distribute.disable_multi_worker_fit()
    assert (trainer.TensorFlowTrainer.__dict__["_maybe_symbolic_build"], trainer.reduce_per_replica) == originals


def test_version_gate():
    from keras_tbx import distribute

    distribute._check_version("3.15.1", force=False)
    distribute._check_version("3.15.0.dev2025", force=False)
    with pytest.raises(RuntimeError, match=r"tested with Keras 3\.15\.x only, and this is Keras 3\.16\.0.*force=True"):
        distribute._check_version("3.16.0", force=False)
    with pytest.raises(RuntimeError, match="Keras 3.1.0"):
        distribute._check_version("3.1.0", force=False)
    distribute._check_version("3.16.0", force=True)


def test_enable_is_idempotent_and_reversible(restore_keras):
    from keras.src.backend.tensorflow import trainer

    from keras_tbx import distribute

    build, reduce = restore_keras
    assert not distribute.multi_worker_fit_enabled()
    distribute.enable_multi_worker_fit()
    patched = trainer.TensorFlowTrainer._maybe_symbolic_build, trainer.reduce_per_replica
    assert patched[0] is not build and patched[1] is not reduce
    assert "keras_tbx.distribute" in patched[0].__doc__
    distribute.enable_multi_worker_fit()  # again: nothing changes
    assert (trainer.TensorFlowTrainer._maybe_symbolic_build, trainer.reduce_per_replica) == patched
    distribute.disable_multi_worker_fit()
    assert trainer.TensorFlowTrainer.__dict__["_maybe_symbolic_build"] is build
    assert trainer.reduce_per_replica is reduce
    distribute.disable_multi_worker_fit()  # again: nothing changes
    with distribute.multi_worker_fit():
        assert distribute.multi_worker_fit_enabled()
    assert not distribute.multi_worker_fit_enabled()
    distribute.enable_multi_worker_fit()
    with distribute.multi_worker_fit():  # already on before the block: stays on after it
        pass
    assert distribute.multi_worker_fit_enabled()


def test_the_fix_is_inert_in_one_process(restore_keras):
    """Off multi-worker mode the replaced functions call Keras' own: same training."""
    import tensorflow as tf
    from models import tiny_data, tiny_model

    x, y = tiny_data(n=64)

    def fit():
        with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
            model = tiny_model()
        return model.fit(x, y, epochs=1, batch_size=32, verbose=0).history

    before = fit()
    with keras_tbx.distribute.multi_worker_fit():
        during = fit()
    assert during == before


# -- real multi-process jobs -----------------------------------------------------------
@pytest.fixture(scope="module")
def mwms_job(tmp_path_factory):
    """Two MWMS workers on 127.0.0.1 sharing one log dir; weights saved outside it."""
    work = tmp_path_factory.mktemp("mwms")
    log_dir = work / "logs"
    log_dir.mkdir()
    def job():
        return run_workers(
            python(TESTS / "mwms_fit_worker.py", str(log_dir), str(work)), 2, work,
            env=lambda i, ports: {"TF_CONFIG": tf_config(ports, i)}, timeout_s=240)

    workers = job()
    if any(w.returncode is not None and w.returncode < 0 for w in workers):
        # A worker killed by a signal of its own (seen once: SIGBUS inside TensorFlow while
        # the cluster was forming) says nothing about keras_tbx: run the job once more, in
        # a clean log dir. A second crash fails the tests.
        print("worker crashed:", [(w.index, w.returncode) for w in workers], "- running the job again")
        shutil.rmtree(log_dir)
        log_dir.mkdir()
        workers = job()
    for w in workers:
        print(f"worker {w.index}: exit {w.returncode} after {w.seconds:.1f} s")
    return workers, log_dir, work


@pytest.mark.timeout(300)
def test_two_workers_fit_and_only_the_chief_writes(mwms_job):
    workers, log_dir, work = mwms_job
    for w in workers:
        assert w.returncode == 0, f"worker {w.index} exit {w.returncode}\n{w.stderr[-5000:]}"
    first, second = (w.result() for w in workers)
    assert (first["replicas"], first["is_chief"], second["is_chief"]) == (2, True, False)
    assert (first["tf_says"], second["tf_says"]) == (True, False)  # TensorFlow agrees
    assert first["history"] == second["history"]  # one synchronous job
    # Keras' own fit fails without the fix (keras-team/keras#20585) ...
    for result in (first, second):
        assert "PerReplica'>) to a Tensor" in result["unpatched_error"]
    # ... and with it a vector metric keeps its components (axis=None, not axis=0).
    assert len(first["history"]["val_f1"][-1]) == 10

    # One event file per run folder, all of them the chief's.
    runs = ["", "train", "validation", "custom"]
    for run in runs:
        files = event_files(log_dir / run)
        assert len(files) == 1, (run, files)
        assert f".{first['pid']}." in os.path.basename(files[0])
    # The non-chief wrote nothing but its own profile, under workers/worker_1.
    everything = sorted(str(p.relative_to(log_dir)) for p in log_dir.rglob("*") if p.is_file())
    assert all(re.fullmatch(rf"(train/|validation/|custom/)?events\.out\.tfevents\.\d+\..+\.{first['pid']}\.\d+\.v2"
                            r"|(train|workers/worker_1/train)/plugins/profile/[^/]+/[^/]+\.xplane\.pb", p)
               for p in everything), everything
    assert sorted(p.name for p in (log_dir / "workers").iterdir()) == ["worker_1"]
    assert read_scalars(log_dir / "custom") == {"worker_index": [(0, 0.0)]}
    assert (first["custom_written"], second["custom_written"]) == (True, False)

    # Every tag of every run has each step once.
    for run in runs:
        points = collections.Counter((v.tag, v.step) for v in events._iter_values(log_dir / run))
        assert points and max(points.values()) == 1, (run, points.most_common(3))
    train, val = read_scalars(log_dir / "train"), read_scalars(log_dir / "validation")
    assert [s for s, _ in train["batch_loss"]] == list(range(2, 17, 2))  # 8 global steps per epoch
    assert [v for _, v in train["epoch_loss"]] == pytest.approx(first["history"]["loss"], rel=1e-6)
    assert [s for s, _ in val["per_class/f1/3"]] == [0, 1]
    assert [s for s, _ in val["epoch_f1/3"]] == [0, 1]
    assert read_tags(log_dir)["hparams"] == {"_hparams_/session_start_info", "_hparams_/session_end_info",
                                              "_hparams_/experiment"}
    assert [s for s, _ in read_tensors(log_dir / "validation", "predictions/grid")] == [0, 1]


def test_two_workers_per_class_values_match_one_process(mwms_job):
    """The counts summed over both workers' validation halves give the per-class values of
    the final weights evaluated in this one process on the whole validation set."""
    from mwms_fit_worker import digits, model_fn
    from sklearn.metrics import precision_recall_fscore_support

    workers, log_dir, work = mwms_job
    assert all(w.returncode == 0 for w in workers)
    weights = [np.load(work / f"weights{i}.npz") for i in (0, 1)]
    for a, b in zip(weights[0].values(), weights[1].values()):
        np.testing.assert_array_equal(a, b)
    model = model_fn()
    model.set_weights(list(weights[0].values()))
    _, (xv, yv) = digits()
    probs = model.predict(xv, verbose=0)
    precision, recall, f1, support = precision_recall_fscore_support(
        yv, probs.argmax(-1), labels=range(10), zero_division=0)
    val = read_scalars(log_dir / "validation")
    for c in range(10):
        assert val[f"per_class/precision/{c}"][-1] == (1, pytest.approx(precision[c], abs=1e-6))
        assert val[f"per_class/recall/{c}"][-1] == (1, pytest.approx(recall[c], abs=1e-6))
        assert val[f"per_class/f1/{c}"][-1] == (1, pytest.approx(f1[c], abs=1e-6))
        # At threshold 0 every example of class c is a true positive: all 128 were counted.
        tp = read_tensors(log_dir / "validation", f"pr_curve/{c}/pr_curves")[-1][1][0]
        assert tp[0] == support[c]
    assert support.sum() == 128


JAX_SCRIPT = textwrap.dedent(
    """
    import json, sys
    port, index = sys.argv[1], int(sys.argv[2])
    import jax
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=index)
    from keras_tbx._core import chief
    assert "tensorflow" not in sys.modules  # decided without TensorFlow (and Keras)
    print("RESULT" + json.dumps({"chief": chief.is_chief(), "task": chief.task(), "name": chief.worker_name()}))
    """
)


@pytest.mark.timeout(150)
def test_two_jax_processes_only_process_0_is_chief(tmp_path):
    """A pure JAX job (`jax.distributed.initialize`, no Keras): process 0 writes. The
    writers (`create_file_writer`, `TensorBoard`) consult this same decision."""
    pytest.importorskip("jax")
    (tmp_path / "worker.py").write_text(JAX_SCRIPT)
    workers = run_workers(lambda i, ports: [sys.executable, str(tmp_path / "worker.py"), str(ports[0]), str(i)],
                          2, tmp_path, env=lambda i, ports: {"JAX_PLATFORMS": "cpu"}, timeout_s=120)
    for w in workers:
        assert w.returncode == 0, f"process {w.index} exit {w.returncode}\n{w.stderr[-3000:]}"
    assert [w.result() for w in workers] == [
        {"chief": True, "task": ["process", 0], "name": "process_0"},
        {"chief": False, "task": ["process", 1], "name": "process_1"},
    ]
