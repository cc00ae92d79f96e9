"""keras_tbx: Keras 3 TensorBoard callbacks and a tf.summary toolkit."""

__version__ = "0.1.0"

__all__ = ["__version__"]
