"""Keras callbacks that log to TensorBoard."""

from keras_tbx.callbacks.tensorboard import TensorBoard

__all__ = ["TensorBoard"]
