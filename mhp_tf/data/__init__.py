"""Datasets and tf.data input pipelines."""

from mhp_tf.data.schema import InvalidAnnotation
from mhp_tf.data.schema import SkipCounter
from mhp_tf.data.schema import validate_example
