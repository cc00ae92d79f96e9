"""Tests of the test oracle itself (events.py and oracle.py).

Known data is written with raw ``tf.summary`` writers (no keras_tbx code) and
must come back exactly, both from the event files (``events``) and from the
real TensorBoard server (``oracle``).
"""

import os
import shutil

import numpy as np
import pytest

import events
from oracle import TensorBoardServer, poll

RUN = "oracle_known/train"
HP_RUN = "oracle_known/hp"

# A 4x6 RGB uint8 gradient, and its negative as a second image at step 1.
_Y = np.arange(4)[:, None]
_X = np.arange(6)[None, :]
IMAGE = np.stack(
    [
        np.broadcast_to(_Y * 80, (4, 6)),
        np.broadcast_to(_X * 50, (4, 6)),
        255 - (_Y * 20 + _X * 30),
    ],
    axis=-1,
).astype(np.uint8)
IMAGE2 = (255 - IMAGE).astype(np.uint8)

HIST_DATA = np.array([0.0, 1.0, 1.0, 2.0, 2.0, 2.0])
TEXT = "hello **world**"


@pytest.fixture(scope="module")
def known(tb_root):
    """Write the known summaries once under ``tb_root/oracle_known``."""
    import tensorflow as tf
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.scalar import metadata as scalar_metadata

    train = tb_root / RUN
    writer = tf.summary.create_file_writer(str(train))
    with writer.as_default():
        tf.summary.scalar("loss", 0.5, step=1)
        tf.summary.scalar("loss", 0.25, step=2)
        # A float64 tensor scalar (tf.summary.scalar would cast to float32).
        tf.summary.write(
            "double",
            tf.constant(0.1, tf.float64),
            step=1,
            metadata=scalar_metadata.create_summary_metadata("", ""),
        )
        # A legacy TF1-style simple_value scalar.
        legacy = summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag="legacy", simple_value=1.5)]
        )
        tf.summary.experimental.write_raw_pb(legacy.SerializeToString(), step=3)
        tf.summary.image("pixels", np.stack([IMAGE, IMAGE2]), step=1, max_outputs=2)
        tf.summary.image("pixels", IMAGE[None], step=2)
        tf.summary.histogram("weights", HIST_DATA, step=1, buckets=3)
        tf.summary.text("note", TEXT, step=1)
        graph = tf.function(lambda x: x * 2.0).get_concrete_function(
            tf.TensorSpec([], tf.float32)
        ).graph
        tf.summary.graph(graph)
    writer.close()

    hp_writer = tf.summary.create_file_writer(str(tb_root / HP_RUN))
    with hp_writer.as_default():
        hp.hparams({"lr": 0.1, "opt": "adam"})
        tf.summary.scalar("metric", 0.9, step=1)
    hp_writer.close()
    return train


# --------------------------------------------------------------- events.py


def test_event_files_and_tags(known):
    files = events.event_files(known)
    assert len(files) == 1 and os.path.basename(files[0]).startswith("events.out.tfevents.")
    assert events.event_files(known.parent) == []  # not recursive
    tags = events.read_tags(known)
    assert tags["scalars"] == {"loss", "double", "legacy"}
    assert tags["images"] == {"pixels"}
    assert tags["histograms"] == {"weights"}
    assert tags["text"] == {"note"}
    assert tags["graphs"] == {"__graph__"}


def test_events_scalars(known):
    scalars = events.read_scalars(known)
    assert scalars["loss"] == [(1, 0.5), (2, 0.25)]
    assert scalars["double"] == [(1, 0.1)]  # exact: float64 kept
    assert scalars["legacy"] == [(3, 1.5)]
    assert events.read_scalar_dtypes(known) == {
        "loss": {"float32"},
        "double": {"float64"},
        "legacy": {"simple_value"},
    }


def test_events_images(known):
    images = events.read_images(known, "pixels")
    assert [step for step, _ in images] == [1, 2]
    first, second = images[0][1], images[1][1]
    assert len(first) == 2 and len(second) == 1
    assert first[0].dtype == np.uint8 and first[0].shape == (4, 6, 3)
    assert np.array_equal(first[0], IMAGE)
    assert np.array_equal(first[1], IMAGE2)
    assert np.array_equal(second[0], IMAGE)
    # The raw tensor: [width, height, png, png].
    (step, raw), _ = events.read_tensors(known, "pixels")
    assert step == 1 and list(raw[:2]) == [b"6", b"4"]


def test_events_histograms(known):
    [(step, buckets)] = events.read_histograms(known, "weights")
    assert step == 1 and buckets.shape == (3, 3)
    assert buckets[0, 0] == 0.0 and buckets[-1, 1] == 2.0
    assert buckets[:, 2].tolist() == [1.0, 2.0, 3.0]


def test_events_text_and_graph(known):
    [(step, text)] = events.read_tensors(known, "note")
    assert step == 1 and text.reshape(()) == TEXT.encode()
    [(_, graph)] = events.read_tensors(known, "__graph__")
    from tensorboard.compat.proto import graph_pb2

    graph_def = graph_pb2.GraphDef.FromString(graph[0])
    assert any(node.op == "Mul" for node in graph_def.node)


def test_events_reads_file_while_appended(log_dir):
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        tf.summary.scalar("x", 1.0, step=0)
        writer.flush()
        assert events.read_scalars(log_dir) == {"x": [(0, 1.0)]}
        tf.summary.scalar("x", 2.0, step=1)
        writer.flush()
        assert events.read_scalars(log_dir) == {"x": [(0, 1.0), (1, 2.0)]}
    writer.close()


def test_events_truncated_tail(known, log_dir):
    src = events.event_files(known)[0]
    dst = log_dir / os.path.basename(src)
    shutil.copy(src, dst)
    full = events.read_tags(log_dir)
    with open(dst, "r+b") as f:  # cut the last record (the graph) in half
        f.truncate(os.path.getsize(dst) - 20)
    tags = events.read_tags(log_dir)
    assert "graphs" not in tags and tags["scalars"] == full["scalars"]


# --------------------------------------------------------- unit: helpers


def test_poll_timeout_message():
    with pytest.raises(AssertionError, match=r"(?s)the answer.*last value: 0"):
        poll(lambda: 0, timeout=0.2, interval=0.05, desc="the answer")

    def boom():
        raise KeyError("nope")

    with pytest.raises(AssertionError, match=r"(?s)boom test.*KeyError.*nope"):
        poll(boom, timeout=0.2, interval=0.05, desc="boom test")
    assert poll(iter([0, None, 7]).__next__, timeout=5, interval=0.01) == 7


def test_run_dir_fixtures(tb_run_dir, tb_root, log_dir):
    assert tb_run_dir.parent == tb_root and tb_run_dir.is_dir()
    assert tb_run_dir.name.startswith("test_run_dir_fixtures")
    assert log_dir.is_dir() and not any(log_dir.iterdir())
    server = TensorBoardServer(tb_root)  # not started: run_name is pure
    assert server.run_name(tb_run_dir / "train") == f"{tb_run_dir.name}/train"
    assert server.run_name("a/b") == "a/b"


# ------------------------------------------------------------- the server


@pytest.mark.server
def test_server_runs_and_tags(tb_server, known):
    runs = tb_server.wait_for_runs([RUN, HP_RUN])
    assert RUN in runs and HP_RUN in runs
    # "double" (a float64 tensor scalar) is never served: see below.
    assert tb_server.scalar_tags(known, {"loss", "legacy"}) == {"loss", "legacy"}
    assert tb_server.plugin_tags("images", RUN, {"pixels"}) == {"pixels"}
    assert tb_server.plugin_tags("histograms", RUN, {"weights"}) == {"weights"}
    assert tb_server.plugin_tags("text", RUN, {"note"}) == {"note"}


@pytest.mark.server
def test_server_scalars(tb_server, known):
    expected = events.read_scalars(known)
    for tag, min_points in [("loss", 2), ("legacy", 1)]:
        points = tb_server.scalars(RUN, tag, min_points=min_points)
        assert [(step, value) for _, step, value in points] == expected[tag]
    assert [p[1:] for p in tb_server.scalars(RUN, "loss", 2)] == [[1, 0.5], [2, 0.25]]


@pytest.mark.server
def test_server_hides_float64_scalars(tb_server, known):
    """Pinned TensorBoard behaviour: the default fast loader (Rust data
    server, tensorboard-data-server 0.7) silently drops tensor scalars that
    are not float32. They are on disk (see test_events_scalars) but never
    appear in the UI, so writers must cast scalars to float32."""
    tb_server.scalars(RUN, "legacy")  # written after "double": the file is loaded
    assert "double" not in tb_server.scalar_tags(RUN, {"loss", "legacy"})
    assert tb_server.get_json("/data/plugin/scalars/scalars", run=RUN, tag="double") == []


@pytest.mark.server
def test_server_images(tb_server, known):
    entries = tb_server.image_entries(RUN, "pixels", min_count=2)
    assert [e["step"] for e in entries] == [1, 2]
    first, second = tb_server.images(RUN, "pixels", min_count=2)
    assert np.array_equal(first, IMAGE) and np.array_equal(second, IMAGE)
    [other] = tb_server.images(RUN, "pixels", sample=1)
    assert np.array_equal(other, IMAGE2)


@pytest.mark.server
def test_server_histograms(tb_server, known):
    [(wall, step, buckets)] = tb_server.histograms(RUN, "weights")
    [(ev_step, ev_buckets)] = events.read_histograms(known, "weights")
    assert step == ev_step == 1
    assert np.array_equal(np.array(buckets), ev_buckets)


@pytest.mark.server
def test_server_text(tb_server, known):
    [entry] = tb_server.text(RUN, "note")
    assert entry["step"] == 1
    assert entry["text"] == "<p>hello <strong>world</strong></p>"


@pytest.mark.server
def test_server_graph_plugins_and_hparams(tb_server, known):
    listing = tb_server.plugins_listing(
        enabled=["scalars", "images", "histograms", "text", "graphs", "hparams"]
    )
    assert listing["scalars"]["enabled"]
    info = tb_server.graph_info(RUN)
    assert info[RUN]["run_graph"] is True

    exp = tb_server.hparams_experiment(min_hparams=2, min_metrics=1)
    hparams = {h["name"] for h in exp["hparamInfos"]}
    assert hparams == {"lr", "opt"}
    metrics = {m["name"]["tag"] for m in exp["metricInfos"]}
    assert "metric" in metrics


@pytest.mark.server
def test_server_identity(tb_server, tb_root):
    from tensorboard import manager

    assert tb_server.is_running() and tb_server.url == f"http://127.0.0.1:{tb_server.port}/"
    [info] = [i for i in manager.get_all() if i.pid == tb_server.pid]
    assert info.port == tb_server.port
    assert tb_server.get_json("/data/environment")["data_location"] == str(tb_root)
