"""tf.summary-style functions (write to the default writer) and their pure siblings
(`*_pb`, arrays) that build what would be written without writing it."""

from keras_tbx.summary._classification import (
    confusion_matrix_counts,
    macro_metrics,
    metrics_from_counts,
    most_confused_classes,
    per_class_metrics,
    per_class_scalars,
    per_class_scalars_pb,
    pr_counts,
    pr_counts_from_histograms,
    pr_curves,
    pr_curves_pb,
)
from keras_tbx.summary._images import image, normalize_images
from keras_tbx.summary._render import (
    confusion_matrix,
    confusion_matrix_image,
    confusion_matrix_images,
    confusion_matrix_pb,
    image_grid,
    image_grid_summary,
    most_confident_mistakes,
    png_summary_pb,
    prediction_captions,
)
from keras_tbx.summary._scalars import scalars, scalars_pb, split_metric
from keras_tbx.summary._weights import histograms_pb, keras_model_pb, weight_image, weight_tag

__all__ = [
    "confusion_matrix",
    "confusion_matrix_counts",
    "confusion_matrix_image",
    "confusion_matrix_images",
    "confusion_matrix_pb",
    "histograms_pb",
    "image",
    "image_grid",
    "image_grid_summary",
    "keras_model_pb",
    "macro_metrics",
    "metrics_from_counts",
    "most_confident_mistakes",
    "most_confused_classes",
    "normalize_images",
    "per_class_metrics",
    "per_class_scalars",
    "per_class_scalars_pb",
    "png_summary_pb",
    "pr_counts",
    "pr_counts_from_histograms",
    "pr_curves",
    "pr_curves_pb",
    "prediction_captions",
    "scalars",
    "scalars_pb",
    "split_metric",
    "weight_image",
    "weight_tag",
]
