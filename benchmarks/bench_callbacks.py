"""What TensorBoard logging costs a training loop: keras_tbx.TensorBoard vs Keras' own.

Method
------
Each (config, round) runs in a fresh subprocess (``--worker CONFIG``) that imports
TensorFlow, builds a tiny CNN on synthetic 28x28x1 data (2048 samples, batch 32: 64
steps per epoch, metrics loss + accuracy), runs one untimed warm-up epoch (compiles the
train function, opens writers, traces keras_tbx's batched writer) and then ``--epochs``
timed epochs, logging into a fresh temp dir. The same callback instance is used for the
warm-up and the timed ``fit()``; the median epoch hides once-per-fit costs such as
Keras re-writing the model graph. Three numbers per epoch (median over the timed ones):

* epoch time: ``perf_counter()`` from the first ``on_epoch_begin`` hook to the last
  ``on_epoch_end`` hook (clock callbacks placed before and after the callback under test).
* epoch CPU time: ``process_time()`` (all threads) over the same span; less sensitive to
  other processes on a shared machine, but TF's thread pools add their own noise.
* callback self time: wall time spent inside the callback's hooks, timed in place. Only
  hooks that are already overridden (``not keras.src.utils.python_utils.is_default``)
  are wrapped, as instance attributes, so Keras' dispatch decisions (which hooks run,
  async dispatch) do not change. On the TensorFlow backend Keras dispatches batch hooks
  synchronously, so self time sits on the training loop's critical path and is the
  least noisy measure of the callback's cost; epoch-time overhead also catches indirect
  costs (e.g. cache pollution) but needs many rounds on a busy machine.

Rounds are interleaved (round r runs every config once, in a shuffled order) so that slow
phases of a shared machine hit all configs alike. Per config the parent takes the median
over rounds of each run's median epoch time; overhead is that minus ``plain``'s. The
target: ``tbx_batch`` overhead <= 0.2 x ``keras_batch`` overhead.

Usage: ``python benchmarks/bench_callbacks.py [--rounds 5] [--epochs 3] [--configs a,b|all]
[--quick]``. Writes ``benchmarks/results/latest.md`` and ``latest.json``. Profile one
config's timed fit() with ``--worker tbx_batch --profile`` (cProfile stats on stderr).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time

SAMPLES, BATCH, WARMUP_EPOCHS = 2048, 32, 1
STEPS = SAMPLES // BATCH
# config -> (callback class, kwargs); None means no callback.
CONFIGS = {
    "plain": None,
    "keras_epoch": ("keras", {"update_freq": "epoch"}),
    "keras_batch": ("keras", {"update_freq": 1}),
    "tbx_epoch": ("tbx", {"update_freq": "epoch"}),
    "tbx_batch": ("tbx", {"update_freq": 1}),
    "keras_hist": ("keras", {"update_freq": "epoch", "histogram_freq": 1}),
    "tbx_hist": ("tbx", {"update_freq": "epoch", "histogram_freq": 1}),
}
DEFAULT_CONFIGS = ["plain", "keras_epoch", "keras_batch", "tbx_epoch", "tbx_batch"]
# (label, ours, theirs): overhead ratios reported at the end; the first is the target.
RATIOS = [("batch", "tbx_batch", "keras_batch"), ("epoch", "tbx_epoch", "keras_epoch"),
          ("hist", "tbx_hist", "keras_hist")]
TARGET = 0.2
HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------- worker
def time_hooks(callback, clock):
    """Wraps the callback's overridden hooks (as instance attributes) to add their wall
    time to clock["self"] and clock[hook name]; default hooks stay untouched."""
    import keras
    from keras.src.utils.python_utils import is_default

    def timed(name, method):
        def hook(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                clock["self"] += dt
                clock[name] = clock.get(name, 0.0) + dt
        return hook

    for name in [n for n in dir(keras.callbacks.Callback) if n.startswith("on_")]:
        method = getattr(callback, name)
        if not is_default(method):
            setattr(callback, name, timed(name, method))


def worker(config, epochs, profile=False, make_callback=None):
    """One timed run; prints its JSON line. `make_callback(log_dir, x, y)` (other benchmarks)
    builds the callback under test instead of `CONFIGS[config]` (None: no callback)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import keras_tbx

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((SAMPLES, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, SAMPLES)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])

    clock, starts, ends = {"self": 0.0}, [], []  # starts/ends: (wall, process CPU, self)
    now = lambda: (time.perf_counter(), time.process_time(), clock["self"])  # noqa: E731
    begin = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: starts.append(now()))
    end = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: ends.append(now()))
    with tempfile.TemporaryDirectory(prefix="bench_tb_") as log_dir:
        callbacks, tb = [], None
        if make_callback is not None:
            tb = make_callback(log_dir, x, y)
        elif CONFIGS[config] is not None:
            kind, kwargs = CONFIGS[config]
            cls = keras.callbacks.TensorBoard if kind == "keras" else keras_tbx.TensorBoard
            tb = cls(log_dir, **kwargs)
        if tb is not None:
            time_hooks(tb, clock)
            callbacks = [tb]
        fit = dict(batch_size=BATCH, verbose=0, callbacks=[begin, *callbacks, end])
        model.fit(x, y, epochs=WARMUP_EPOCHS, **fit)
        starts.clear(), ends.clear(), clock.update(dict.fromkeys(clock, 0.0))
        if profile:
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.runcall(model.fit, x, y, epochs=epochs, **fit)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        else:
            model.fit(x, y, epochs=epochs, **fit)
        log_bytes = sum(os.path.getsize(os.path.join(d, f))
                        for d, _, files in os.walk(log_dir) for f in files)
    epoch_s, cpu_s, self_s = ([e[i] - s[i] for s, e in zip(starts, ends)] for i in range(3))
    print(json.dumps({"config": config, "epoch_s": epoch_s, "cpu_s": cpu_s, "self_s": self_s,
                      "median_epoch_s": statistics.median(epoch_s),
                      "median_cpu_s": statistics.median(cpu_s),
                      "median_self_s": statistics.median(self_s), "log_bytes": log_bytes,
                      # whole timed fit() (train_begin/end included), per epoch
                      "hooks_s": {k: v / epochs for k, v in clock.items() if k != "self"}}))


# ----------------------------------------------------------------------------- parent
def run_worker(config, epochs, script=__file__):
    """Runs `script --worker CONFIG --epochs N` in a fresh process; its last stdout line (JSON)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    cmd = [sys.executable, os.path.abspath(script), "--worker", config, "--epochs", str(epochs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"worker {config} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_rounds(configs, rounds, epochs, script=__file__):
    """Interleaved rounds: every config once per round, in a shuffled (seeded) order."""
    runs, shuffle = [], random.Random(0)
    for r in range(rounds):
        order = shuffle.sample(configs, len(configs))
        for c in order:
            res = run_worker(c, epochs, script)
            res["round"] = r
            runs.append(res)
            print(f"round {r + 1}/{rounds} {c:12s} epoch {res['median_epoch_s'] * 1e3:7.1f} ms"
                  f"  CPU {res['median_cpu_s'] * 1e3:7.1f} ms  self {res['median_self_s'] * 1e3:6.2f} ms", file=sys.stderr, flush=True)
    return runs


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    import importlib.metadata as md
    versions = {p: md.version(p) for p in ("tensorflow", "keras", "keras-tbx")}
    return {"nproc": os.cpu_count(), "cpu": cpu, "load_after": os.getloadavg()[0], "python": platform.python_version(),
            **versions, "date": datetime.datetime.now().isoformat(timespec="seconds")}


def summarize(runs, configs):
    rows = {}
    for c in configs:
        mine = [r for r in runs if r["config"] == c]
        med = lambda key: statistics.median(r[key] * 1e3 for r in mine)  # noqa: E731
        epochs = [r["median_epoch_s"] * 1e3 for r in mine]
        hooks = {h: statistics.median(r["hooks_s"].get(h, 0.0) * 1e3 for r in mine)
                 for h in sorted({h for r in mine for h in r["hooks_s"]})}
        rows[c] = {"epoch_ms": med("median_epoch_s"), "min_ms": min(epochs),
                   "max_ms": max(epochs), "cpu_ms": med("median_cpu_s"),
                   "self_ms": med("median_self_s"), "hooks_ms": hooks,
                   "log_kb": statistics.median(r["log_bytes"] for r in mine) / 1024}
    plain = rows.get("plain")
    for row in rows.values():
        row["overhead_ms"] = plain and row["epoch_ms"] - plain["epoch_ms"]
        row["cpu_overhead_ms"] = plain and row["cpu_ms"] - plain["cpu_ms"]
        row["ratio"] = plain and row["epoch_ms"] / plain["epoch_ms"]
    div = lambda a, b: a / b if a is not None and b and b > 0 else None  # noqa: E731
    ratios = {}
    for label, ours, theirs in RATIOS:
        if ours in rows and theirs in rows:
            a, b = rows[ours], rows[theirs]
            ratios[label] = {"pair": f"{ours} / {theirs}",
                             "overhead": div(a["overhead_ms"], b["overhead_ms"]),
                             "cpu_overhead": div(a["cpu_overhead_ms"], b["cpu_overhead_ms"]),
                             "self_time": div(a["self_ms"], b["self_ms"])}
    return rows, ratios


def render(info, args, rows, ratios):
    f = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731
    out = [f"# Callback overhead benchmark ({info['date']})", "",
           f"- machine: {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}; "
           f"load average {info['load_before']:.2f} before, {info['load_after']:.2f} after",
           f"- tensorflow {info['tensorflow']}, keras {info['keras']}, "
           f"keras_tbx {info['keras-tbx']}",
           f"- workload: tiny CNN, {SAMPLES} samples of 28x28x1, batch {BATCH} = {STEPS} "
           f"steps/epoch; {WARMUP_EPOCHS} warm-up + {args.epochs} timed epochs per run; "
           f"{args.rounds} interleaved round(s), fresh process per run", "",
           "| config | epoch ms | min-max | overhead ms/epoch | overhead us/step | x plain "
           "| CPU ms/epoch | CPU overhead ms | self ms/epoch | self us/step | log KB |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c, r in rows.items():
        ovh = r["overhead_ms"]
        out.append(f"| {c} | {r['epoch_ms']:.1f} | {r['min_ms']:.0f}-{r['max_ms']:.0f} | "
                   f"{f(ovh, '+.1f')} | {f(ovh and ovh * 1e3 / STEPS, '+.0f')} | "
                   f"{f(r['ratio'], '.3f')} | {r['cpu_ms']:.1f} | {f(r['cpu_overhead_ms'], '+.1f')}"
                   f" | {r['self_ms']:.2f} | {r['self_ms'] * 1e3 / STEPS:.1f} | {r['log_kb']:.1f} |")
    out += ["", "| ratio (ours / Keras) | epoch-time overhead | CPU-time overhead "
            "| callback self time |", "|---|---:|---:|---:|"]
    for q in ratios.values():
        out.append(f"| {q['pair']} | {f(q['overhead'], '.3f')} | "
                   f"{f(q['cpu_overhead'], '.3f')} | {f(q['self_time'], '.3f')} |")
    if "batch" in ratios:
        q = ratios["batch"]
        def verdict(v):
            if v is None:
                return "n/a (Keras' overhead <= 0: noise)"
            return "FAIL" if v > TARGET else "PASS" if v >= 0 else "PASS (ours below plain: noise)"
        out += ["", f"Target tbx_batch overhead <= {TARGET} x keras_batch overhead: "
                f"{verdict(q['overhead'])} by epoch time, {verdict(q['cpu_overhead'])} by CPU "
                f"time, {verdict(q['self_time'])} by callback self time."]
    return "\n".join(out + hook_lines(rows)) + "\n"


def save_report(out_dir, stem, report, data) -> None:
    """Prints `report` and writes it to `<out_dir>/<stem>.md`, with `data` as `<stem>.json`."""
    print(report)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{stem}.md"), "w") as fh:
        fh.write(report)
    with open(os.path.join(out_dir, f"{stem}.json"), "w") as fh:
        json.dump(data, fh, indent=1)


def chosen_configs(parser, args, known) -> list[str]:
    """The configs `--configs` names ("all": every one), checked; `--quick` sets 1 round."""
    if args.quick:
        args.rounds = 1
    configs = list(known) if args.configs == "all" else [
        c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(configs) - set(known)
    if unknown:
        parser.error(f"unknown configs {sorted(unknown)}; known: {', '.join(known)}")
    return configs


def hook_lines(rows) -> list[str]:
    """Markdown lines: each config's callback self time by hook, largest first."""
    out = ["", "Callback self time by hook (ms per epoch, whole timed fit):", ""]
    for c, r in rows.items():
        if r["hooks_ms"]:
            out.append(f"- {c}: " + ", ".join(
                f"{h} {ms:.2f}" for h, ms in sorted(r["hooks_ms"].items(), key=lambda kv: -kv[1])))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                   help=f"comma-separated, or 'all' ({','.join(CONFIGS)})")
    p.add_argument("--quick", action="store_true", help="1 round, a smoke test")
    p.add_argument("--worker", metavar="CONFIG", help=argparse.SUPPRESS)
    p.add_argument("--profile", action="store_true",
                   help="with --worker: cProfile the timed fit(), stats to stderr")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.epochs, args.profile)
    configs = chosen_configs(p, args, CONFIGS)
    load_before = os.getloadavg()[0]
    runs = run_rounds(configs, args.rounds, args.epochs)
    info = dict(machine(), load_before=load_before)
    rows, ratios = summarize(runs, configs)
    table = render(info, args, rows, ratios)
    save_report(args.out, "latest", table, {
        "machine": info, "rounds": args.rounds, "epochs": args.epochs, "steps_per_epoch": STEPS,
        "summary": rows, "ratios": ratios, "runs": runs})


if __name__ == "__main__":
    main()
