"""Datasets and tf.data input pipelines.

Entry point: :func:`build_dataset` (``mhp_tf.data.build_dataset("human36m/protocol2+mpii",
"train", training=True, batch_size=64, config=PipelineConfig(...))``).
"""

from mhp_tf.data.datasets import DATASETS
from mhp_tf.data.datasets import build_dataset
from mhp_tf.data.datasets import default_data_dir
from mhp_tf.data.datasets import get_builder
from mhp_tf.data.pipeline import PipelineConfig
from mhp_tf.data.pipeline import preprocess_example
from mhp_tf.data.schema import InvalidAnnotation
from mhp_tf.data.schema import SkipCounter
from mhp_tf.data.schema import validate_example
