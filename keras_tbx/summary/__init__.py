"""tf.summary-style functions (write to the default writer) and their pure siblings
(`*_pb`, arrays) that build what would be written without writing it."""

from keras_tbx.summary._images import image, normalize_images
from keras_tbx.summary._scalars import scalars, scalars_pb, split_metric
from keras_tbx.summary._weights import histograms_pb, keras_model_pb, weight_image, weight_tag

__all__ = [
    "histograms_pb",
    "image",
    "keras_model_pb",
    "normalize_images",
    "scalars",
    "scalars_pb",
    "split_metric",
    "weight_image",
    "weight_tag",
]
