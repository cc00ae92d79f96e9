"""Classification diagnostics per epoch: keras_tbx.TensorBoard(class_names=...) vs the TF guide's recipe.

Configs ``<kind>_<classes>`` (kinds plain, recipe, tbx and opt-in tbx_base; 10 and 100 classes),
each (config, round) in a fresh process with bench_callbacks.py's method and helpers. For
``tbx`` the background thread's jobs are timed too. See benchmarks/README.md.

Usage: ``python benchmarks/bench_classification.py [--rounds 5] [--epochs 3] [--classes 10,100]
[--configs plain,recipe,tbx] [--quick]``; writes ``benchmarks/results/classification.md`` and
``.json``. ``--worker tbx_100 --profile``: cProfile of both threads, on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_callbacks import machine, run_rounds, save_report, summarize, time_hooks  # noqa: E402

TRAIN, VAL, BATCH, WARMUP_EPOCHS = 2048, 3072, 32, 1
KINDS = ("plain", "recipe", "tbx", "tbx_base")
TARGET_RATIO, TARGET_100_MS = 1 / 20, 50.0


# ----------------------------------------------------------------------------- worker
def recipe_callback(log_dir, x_val, y_val, class_names):
    """The TF guide's confusion-matrix callback (tensorflow.org/tensorboard/image_summaries) as
    users copy it; only `predict(verbose=0)` differs (the progress bar would add to its cost)."""
    import io
    import itertools

    import keras
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import sklearn.metrics
    import tensorflow as tf

    def plot_confusion_matrix(cm, class_names):
        figure = plt.figure(figsize=(8, 8))
        plt.imshow(cm, interpolation="nearest", cmap=plt.cm.Blues)
        plt.title("Confusion matrix")
        plt.colorbar()
        tick_marks = np.arange(len(class_names))
        plt.xticks(tick_marks, class_names, rotation=45)
        plt.yticks(tick_marks, class_names)
        labels = np.around(cm.astype("float") / cm.sum(axis=1)[:, np.newaxis], decimals=2)
        threshold = cm.max() / 2.0
        for i, j in itertools.product(range(cm.shape[0]), range(cm.shape[1])):
            color = "white" if cm[i, j] > threshold else "black"
            plt.text(j, i, labels[i, j], horizontalalignment="center", color=color)
        plt.tight_layout()
        plt.ylabel("True label")
        plt.xlabel("Predicted label")
        return figure

    def plot_to_image(figure):
        buf = io.BytesIO()
        plt.savefig(buf, format="png")
        plt.close(figure)
        buf.seek(0)
        return tf.expand_dims(tf.image.decode_png(buf.getvalue(), channels=4), 0)

    class ConfusionMatrixRecipe(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "cm"))

        def on_epoch_end(self, epoch, logs=None):
            pred = np.argmax(self.model.predict(x_val, verbose=0), axis=1)
            cm = sklearn.metrics.confusion_matrix(y_val, pred)
            image = plot_to_image(plot_confusion_matrix(cm, class_names=class_names))
            with self.writer.as_default():
                tf.summary.image("epoch_confusion_matrix", image, step=epoch)

    return ConfusionMatrixRecipe()


def time_jobs(callback, bg):
    """Wraps every job keras_tbx's Classification part submits to its background thread
    (adds its wall and thread-CPU time to bg; runs it under bg["prof"] when set)."""
    part = next(p for p in callback._parts if type(p).__name__ == "Classification")
    submit = part._run

    def run(job):
        def timed():
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return bg["prof"].runcall(job) if bg.get("prof") else job()
            finally:
                bg["wall"] += time.perf_counter() - t0
                bg["cpu"] += time.thread_time() - c0
        submit(timed)

    part._run = run


def written(log_dir):
    """Distinct tags per plugin in the event files, and their total size in bytes."""
    from tensorflow.compat.v1.train import summary_iterator

    tags, size = {}, 0
    for d, _, files in os.walk(log_dir):
        for f in files:
            size += os.path.getsize(os.path.join(d, f))
            for event in summary_iterator(os.path.join(d, f)) if "tfevents" in f else ():
                for v in event.summary.value:
                    tags.setdefault(v.metadata.plugin_data.plugin_name or "other", set()).add(v.tag)
    return {k: len(v) for k, v in sorted(tags.items())}, size


def worker(config, epochs, profile=False):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import keras_tbx

    kind, n = config.rsplit("_", 1)
    n = int(n)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    templates = rng.random((n, 28, 28, 1), dtype=np.float32)

    def draw(count):  # class template + noise: learnable, so the matrix is not uniform
        y = rng.integers(0, n, count)
        return 0.3 * templates[y] + 0.7 * rng.random((count, 28, 28, 1), dtype=np.float32), y

    (x, y), (x_val, y_val), names = draw(TRAIN), draw(VAL), [f"class_{i}" for i in range(n)]
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(n),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])

    clock, bg, starts, ends = {"self": 0.0}, {"wall": 0.0, "cpu": 0.0}, [], []
    now = lambda: (time.perf_counter(), time.process_time(), clock["self"])  # noqa: E731
    begin = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: starts.append(now()))
    end = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: ends.append(now()))
    if profile:
        import cProfile
        import pstats
    prof, bg_prof = (cProfile.Profile(), cProfile.Profile()) if profile else (None, None)
    with tempfile.TemporaryDirectory(prefix="bench_cls_") as log_dir, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        callbacks = {"plain": lambda: [],
                     "recipe": lambda: [recipe_callback(log_dir, x_val, y_val, names)],
                     "tbx": lambda: [keras_tbx.TensorBoard(log_dir, class_names=names)],
                     "tbx_base": lambda: [keras_tbx.TensorBoard(log_dir)]}[kind]()
        for cb in callbacks:
            time_hooks(cb, clock)
            if kind == "tbx":
                time_jobs(cb, bg)
        fit = dict(batch_size=BATCH, verbose=0, validation_data=(x_val, y_val),
                   callbacks=[begin, *callbacks, end])
        model.fit(x, y, epochs=WARMUP_EPOCHS, **fit)
        starts.clear(), ends.clear(), clock.update(dict.fromkeys(clock, 0.0))
        bg.update(wall=0.0, cpu=0.0, prof=bg_prof)  # profile the timed fit's jobs only
        if prof:
            prof.runcall(model.fit, x, y, epochs=epochs, **fit)
        else:
            model.fit(x, y, epochs=epochs, **fit)
        tags, log_bytes = written(log_dir)
    if profile:
        print("== training thread (callback frames) ==", file=sys.stderr)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(
            r"keras_tbx|bench_classification|pyplot|sklearn|image_ops|summary_ops", 30)
        if bg_prof.getstats():
            print("== background jobs ==", file=sys.stderr)
            pstats.Stats(bg_prof, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
    epoch_s, cpu_s, self_s = ([e[i] - s[i] for s, e in zip(starts, ends)] for i in range(3))
    steady = slice(1, None) if epochs > 1 else slice(None)  # the first timed epoch: reported apart
    median = lambda v: statistics.median(v[steady])  # noqa: E731
    print(json.dumps({
        "config": kind, "name": config, "classes": n, "keras_tbx": keras_tbx.__file__,
        "epoch_s": epoch_s, "cpu_s": cpu_s, "self_s": self_s, "median_epoch_s": median(epoch_s),
        "median_cpu_s": median(cpu_s), "median_self_s": median(self_s),
        "first_cpu_extra_s": cpu_s[0] - median(cpu_s),
        "bg_s": bg["wall"] / epochs, "bg_cpu_s": bg["cpu"] / epochs, "log_bytes": log_bytes,
        "tags": tags, "warnings": sorted({str(w.message)[:300] for w in caught
                                          if not issubclass(w.category, DeprecationWarning)}),
        "hooks_s": {k: v / epochs for k, v in clock.items() if k != "self"}}))


# ----------------------------------------------------------------------------- parent
def key_figures(rows, n):
    """tbx's callback cost per epoch four ways: self (training thread), self + bg CPU (the work
    done for it), self + bg wall (an upper bound), all / the recipe's self time; and CPU
    overhead (all threads, in-graph counting included) / the recipe's. Targets marked."""
    t, rc = rows.get("tbx"), rows.get("recipe")
    if not t:
        return {}
    ms = {"self": t["self_ms"], "self + bg CPU": t["self_ms"] + t["bg_cpu_ms"],
          "self + bg wall": t["self_ms"] + t["bg_ms"], "CPU overhead": t["cpu_overhead_ms"]}
    base = lambda m: rc and rc["cpu_overhead_ms" if m == "CPU overhead" else "self_ms"]  # noqa: E731
    vs = {m: v / base(m) if v is not None and base(m) and base(m) > 0 else None for m, v in ms.items()}
    k = {"ms": ms, "vs_recipe": vs, "first_epoch_extra_cpu_ms": t["first_ms"]}
    if n == 10 and rc:
        k["target"] = {m: v is not None and v <= TARGET_RATIO for m, v in vs.items()}
    if n == 100:
        k["target"] = {m: v is not None and v < TARGET_100_MS for m, v in ms.items()}
    return k


def render(info, args, table, keys):
    f = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731
    out = [f"# Classification diagnostics benchmark ({info['date']})", "",
           f"- machine: {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}; load average "
           f"{info['load_before']:.2f} before, {info['load_after']:.2f} after; tensorflow "
           f"{info['tensorflow']}, keras {info['keras']}, keras_tbx {info['keras-tbx']}",
           f"- workload: tiny CNN, {TRAIN} train + {VAL} validation examples of 28x28x1, batch {BATCH}; "
           f"{WARMUP_EPOCHS} warm-up + {args.epochs} timed epochs per run (medians leave out the first); "
           f"{args.rounds} interleaved round(s), fresh process per run", "",
           "| classes | config | epoch ms | min-max | overhead ms | CPU ms | CPU overhead ms | self ms "
           "| bg wall ms | bg CPU ms | 1st epoch extra CPU ms | tags written | log KB |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for n, rows in table.items():
        out += [f"| {n} | {c} | {r['epoch_ms']:.0f} | {r['min_ms']:.0f}-{r['max_ms']:.0f} | "
                f"{f(r['overhead_ms'], '+.0f')} | {r['cpu_ms']:.0f} | {f(r['cpu_overhead_ms'], '+.0f')} | "
                f"{r['self_ms']:.1f} | {r['bg_ms']:.1f} | {r['bg_cpu_ms']:.1f} | {r['first_ms']:+.0f} | "
                f"{r['tags']} | {r['log_kb']:.0f} |" for c, r in rows.items()]
    out += ["", "Key figures: tbx's cost per epoch (self: training thread in its hooks; bg: its background "
            "jobs), x the recipe's (self time; for CPU overhead its CPU overhead), and the target:", ""]
    goal = {10: "<= 1/20 of the recipe", 100: f"< {TARGET_100_MS:.0f} ms"}
    for n, k in keys.items():
        if not k:
            continue
        figures = ", ".join(f"{m} {f(v, '.1f')} ms ({f(k['vs_recipe'][m], '.4f')} x recipe)"
                            for m, v in k["ms"].items())
        verdicts = ", ".join(f"{'PASS' if ok else 'FAIL'} by {m}" for m, ok in k.get("target", {}).items())
        out.append(f"- {n} classes: {figures}" + (f"; target {goal[n]}: {verdicts}" if verdicts else "")
                   + f"; once per fit(): 1st epoch {k['first_epoch_extra_cpu_ms']:+.0f} ms CPU")
    out += ["", "Callback self time by hook (ms per epoch, whole timed fit):", ""]
    for n, rows in table.items():
        for c, r in rows.items():
            if r["hooks_ms"]:
                out.append(f"- {c}_{n}: " + ", ".join(f"{h} {ms:.2f}" for h, ms in sorted(
                    r["hooks_ms"].items(), key=lambda kv: -kv[1])))
            out += [f"- WARNING {c}_{n}: {w}" for w in r["warnings"]]
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--classes", default="10,100")
    p.add_argument("--configs", default="plain,recipe,tbx", help=f"comma-separated: {', '.join(KINDS)}")
    p.add_argument("--quick", action="store_true", help="1 round, a smoke test")
    p.add_argument("--worker", metavar="CONFIG", help=argparse.SUPPRESS)
    p.add_argument("--profile", action="store_true", help="with --worker: cProfile, stats to stderr")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.epochs, args.profile)
    args.rounds = 1 if args.quick else args.rounds
    kinds = [k.strip() for k in args.configs.split(",") if k.strip()]
    if set(kinds) - set(KINDS):
        p.error(f"unknown configs {sorted(set(kinds) - set(KINDS))}; known: {', '.join(KINDS)}")
    classes = [int(n) for n in args.classes.split(",")]
    load_before = os.getloadavg()[0]
    runs = run_rounds([f"{k}_{n}" for n in classes for k in kinds], args.rounds, args.epochs, __file__)
    info = dict(machine(), load_before=load_before)
    table, keys = {}, {}
    for n in classes:
        mine = [r for r in runs if r["classes"] == n]
        rows, _ = summarize(mine, kinds)
        for c, row in rows.items():
            theirs = [r for r in mine if r["config"] == c]
            for col, field in [("bg_ms", "bg_s"), ("bg_cpu_ms", "bg_cpu_s"),
                               ("first_ms", "first_cpu_extra_s")]:
                row[col] = statistics.median(r[field] * 1e3 for r in theirs)
            row["tags"] = ", ".join(f"{k} {v}" for k, v in theirs[-1]["tags"].items()) or "-"
            row["warnings"] = sorted({w for r in theirs for w in r["warnings"]})
            if c == "tbx" and not all(r["tags"].get("images") for r in theirs):
                row["warnings"].append("a run wrote no confusion-matrix image: "
                                       "its figures leave out the rendering")
        table[n], keys[n] = rows, key_figures(rows, n)
    report = render(info, args, table, keys)
    save_report(args.out, "classification", report, {
        "machine": info, "rounds": args.rounds, "epochs": args.epochs, "train": TRAIN,
        "validation": VAL, "batch": BATCH, "summary": table, "key": keys, "runs": runs})


if __name__ == "__main__":
    main()
