"""What training-health logging costs an epoch: gradients, activations and weight histograms
at every epoch and every N steps, against a plain fit and Keras' `histogram_freq=1`.

Same workload, method and helpers as ``bench_callbacks.py`` (tiny CNN on 2048 synthetic
28x28x1 samples, batch 32 = 64 steps per epoch; a fresh process per (config, round), one
untimed warm-up epoch, interleaved rounds, medians). The probe is the first 32 samples.

Configs:

* ``plain``: no callback. ``keras_hist``: ``keras.callbacks.TensorBoard(histogram_freq=1)``.
* ``tbx_hist``: ``keras_tbx.TensorBoard(histogram_freq=1)``.
* ``tbx_health_epoch``: ``histogram_freq=1, gradient_freq=1, activation_freq=1`` (every epoch).
* ``tbx_health_steps``: the same three every 16 steps (4 times an epoch, batch hooks on).
* ``tbx_nan_guard``: ``nan_guard="warn"`` alone (a finite check of every batch's logs).

Usage: ``python benchmarks/bench_health.py [--rounds 3] [--epochs 3] [--configs a,b|all]
[--quick]``; writes ``benchmarks/results/health.md`` and ``health.json``.
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_callbacks  # noqa: E402
from bench_callbacks import chosen_configs, hook_lines, machine, run_rounds, save_report, summarize  # noqa: E402

from bench_callbacks import BATCH, SAMPLES, STEPS, WARMUP_EPOCHS  # noqa: E402

PROBE = 32
HEALTH = ("histogram_freq", "gradient_freq", "activation_freq")
# config -> (callback kind, kwargs); "probe" is filled in by the worker.
CONFIGS = {
    "plain": None,
    "keras_hist": ("keras", {"histogram_freq": 1}),
    "tbx_hist": ("tbx", {"histogram_freq": 1}),
    "tbx_health_epoch": ("tbx", dict.fromkeys(HEALTH, 1)),
    "tbx_health_steps": ("tbx", dict.fromkeys(HEALTH, "16 steps")),
    "tbx_nan_guard": ("tbx", {"nan_guard": "warn"}),
}


def worker(config, epochs):
    """`bench_callbacks.worker` (same model, data, timing) with this file's callbacks."""

    def make_callback(log_dir, x, y):
        if CONFIGS[config] is None:
            return None
        import keras

        import keras_tbx

        kind, kwargs = CONFIGS[config]
        if kind == "keras":
            return keras.callbacks.TensorBoard(log_dir, **kwargs)
        probe = (x[:PROBE], y[:PROBE]) if any(k in kwargs for k in HEALTH[1:]) else None
        return keras_tbx.TensorBoard(log_dir, probe=probe, **kwargs)

    bench_callbacks.worker(config, epochs, make_callback=make_callback)


def render(info, args, rows):
    f = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731
    out = [f"# Training-health logging cost ({info['date']})", "",
           f"- machine: {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}; "
           f"load average {info['load_before']:.2f} before, {info['load_after']:.2f} after",
           f"- tensorflow {info['tensorflow']}, keras {info['keras']}, keras_tbx {info['keras-tbx']}",
           f"- workload: tiny CNN, {SAMPLES} samples, batch {BATCH} = {STEPS} steps/epoch, probe "
           f"{PROBE} samples; {WARMUP_EPOCHS} warm-up + {args.epochs} timed epochs per run; "
           f"{args.rounds} interleaved round(s), fresh process per run", "",
           "| config | epoch ms | min-max | x plain | overhead ms/epoch | CPU overhead ms "
           "| self ms/epoch | log KB |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c, r in rows.items():
        out.append(f"| {c} | {r['epoch_ms']:.1f} | {r['min_ms']:.0f}-{r['max_ms']:.0f} | "
                   f"{f(r['ratio'], '.3f')} | {f(r['overhead_ms'], '+.1f')} | "
                   f"{f(r['cpu_overhead_ms'], '+.1f')} | {r['self_ms']:.2f} | {r['log_kb']:.1f} |")
    return "\n".join(out + hook_lines(rows)) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--configs", default="all", help=f"comma-separated or 'all' ({','.join(CONFIGS)})")
    p.add_argument("--quick", action="store_true", help="1 round, a smoke test")
    p.add_argument("--worker", metavar="CONFIG", help=argparse.SUPPRESS)
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.epochs)
    configs = chosen_configs(p, args, CONFIGS)
    load_before = os.getloadavg()[0]
    runs = run_rounds(configs, args.rounds, args.epochs, script=__file__)
    info = dict(machine(), load_before=load_before)
    rows, _ = summarize(runs, configs)
    table = render(info, args, rows)
    save_report(args.out, "health", table, {
        "machine": info, "rounds": args.rounds, "epochs": args.epochs, "steps_per_epoch": STEPS,
        "summary": rows, "runs": runs})


if __name__ == "__main__":
    main()
