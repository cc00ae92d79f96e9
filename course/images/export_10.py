"""Draws course/images/10_generated.png from a run of lesson 10's worked code.

Run the lesson's python blocks first (they write `logs/audio/tones-<stamp>`), then, from the
same folder: `python course/images/export_10.py` (uses the newest run). Not run in CI.
"""

import io
import pathlib
import wave

import numpy as np
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

OUT = pathlib.Path(__file__).resolve().parent


def clip(event, name):
    values = event.tensor_proto.string_val
    for wav_bytes, label in zip(values[0::2], values[1::2]):
        if label.decode() == name:
            with wave.open(io.BytesIO(wav_bytes)) as wav:
                rate = wav.getframerate()
                return np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32767, rate
    raise KeyError(name)


if __name__ == "__main__":
    run = sorted(pathlib.Path("logs/audio").glob("tones-*"))[-1]
    events = EventAccumulator(str(run / "generated"), size_guidance={"tensors": 0})
    events.Reload()
    series = events.Tensors("generated")
    fig = Figure(figsize=(9, 4.6), dpi=80)
    axes = fig.subplots(2, 2)
    for row, event in enumerate((series[0], series[-1])):
        samples, rate = clip(event, "A4")
        shown = int(0.025 * rate)
        axes[row, 0].plot(np.arange(shown) / rate * 1000, samples[:shown], lw=1)
        axes[row, 0].set(ylim=(-0.8, 0.8), ylabel=f"epoch {event.step}")
        spectrum = 20 * np.log10(np.abs(np.fft.rfft(samples)) + 1e-9)
        axes[row, 1].plot(np.fft.rfftfreq(len(samples), 1 / rate), spectrum, lw=0.6)
        axes[row, 1].set(ylim=(spectrum.max() - 70, spectrum.max() + 5))
    axes[0, 0].set_title("generated A4: first 25 ms", fontsize=10)
    axes[0, 1].set_title("its spectrum (dB), 0 to 4 kHz", fontsize=10)
    axes[1, 0].set_xlabel("milliseconds")
    axes[1, 1].set_xlabel("Hz (peak at 440)")
    fig.tight_layout()
    fig.savefig(OUT / "10_generated.png")
    print("wrote", OUT / "10_generated.png")
