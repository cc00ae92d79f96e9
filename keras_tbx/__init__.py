"""keras_tbx: Keras 3 TensorBoard callbacks and a tf.summary toolkit.

Example:
    ```python
    import keras_tbx
    model.fit(x, y, epochs=5, callbacks=[keras_tbx.TensorBoard("logs/run1")])
    ```
"""

__version__ = "0.1.0"

from keras_tbx import summary
from keras_tbx.callbacks import TensorBoard

__all__ = ["TensorBoard", "__version__", "summary"]
