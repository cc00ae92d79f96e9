"""`*_freq` parsing: epochs, steps, off; bad values refused with the argument's name."""

import pytest

from keras_tbx._core.frequency import Frequency, check_freq


@pytest.mark.parametrize("value, expected", [
    (0, Frequency()), (None, Frequency()), (1, Frequency(epochs=1)), (3, Frequency(epochs=3)),
    ("epoch", Frequency(epochs=1)), ("batch", Frequency(steps=1)), ("100 steps", Frequency(steps=100)),
    ("1step", Frequency(steps=1)), (" 7 steps ", Frequency(steps=7)),
])
def test_parses(value, expected):
    assert check_freq("gradient_freq", value) == expected


@pytest.mark.parametrize("value, error", [
    (-1, ValueError), ("0 steps", ValueError), ("steps", ValueError), ("2 epochs", ValueError),
    (1.5, TypeError), (True, TypeError), ([1], TypeError),
])
def test_refuses(value, error):
    with pytest.raises(error, match=r"Argument `gradient_freq` must be .*Received: gradient_freq="):
        check_freq("gradient_freq", value)


def test_schedule():
    every2 = check_freq("f", 2)
    assert [e for e in range(6) if every2.at_epoch(e)] == [0, 2, 4]
    assert not every2.at_step(2) and not every2.per_step
    steps = check_freq("f", "4 steps")
    assert steps.per_step and [s for s in range(1, 13) if steps.at_step(s)] == [4, 8, 12]
    assert not steps.at_epoch(0)
    assert steps.due_between(1, 3) is None and steps.due_between(3, 9) == 8 and steps.due_between(5, 7) is None
    assert not check_freq("f", 0) and str(steps) == "4 steps"
