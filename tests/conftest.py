"""Shared test setup: tf_keras before TensorFlow, quiet logs, seeded RNGs."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import mhp_tf  # noqa: E402,F401  (asserts tf.keras is tf_keras)


@pytest.fixture(autouse=True)
def _seed_and_reset():
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    yield
    tf.keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The fake human36m / mpii datasets (tests/fakedata.py), prepared once per module."""
    import fakedata

    return fakedata.prepare(str(tmp_path_factory.mktemp("fake") / "tfds"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def trainable_count(model) -> int:
    return sum(int(w.shape.num_elements()) for w in model.trainable_weights)
