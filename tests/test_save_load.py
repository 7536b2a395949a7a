"""Saving and reloading: Keras format, SavedModel (Keras and raw TF loaders)."""

import numpy as np
import pytest
import tensorflow as tf

import mhp_tf
from mhp_tf.modeling import MobileHumanPose


@pytest.fixture
def batch():
    return np.random.default_rng(5).uniform(-2, 2, (2, 64, 64, 3)).astype(np.float32)


def _perturb_bn_statistics(model):
    """Give BN non-trivial moving statistics so reload errors would show."""
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, layer.moving_variance.shape))


@pytest.mark.parametrize("variant,head", [("xs", "coords"), ("l", "heatmap")])
def test_keras_format_round_trip(tmp_path, batch, variant, head):
    model = mhp_tf.build_model(variant, input_size=64, head=head)
    _perturb_bn_statistics(model)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    assert isinstance(loaded, MobileHumanPose)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded(batch, training=False).numpy(),
                                  model(batch, training=False).numpy())


def test_savedmodel_round_trip(tmp_path, batch):
    model = mhp_tf.build_model("s", 21, input_size=64)
    _perturb_bn_statistics(model)
    want = model(batch, training=False).numpy()
    path = str(tmp_path / "saved_model")
    model.save(path, save_format="tf")

    loaded = tf.keras.models.load_model(path)
    assert isinstance(loaded, MobileHumanPose)
    np.testing.assert_array_equal(loaded(batch, training=False).numpy(), want)

    raw = tf.saved_model.load(path)
    serving = raw.signatures["serving_default"]
    (out,) = serving(image=tf.constant(batch)).values()
    np.testing.assert_allclose(out.numpy(), want, atol=1e-6)


def test_mixed_precision_model_saves(tmp_path, batch):
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    model = mhp_tf.build_model("xs", input_size=64)
    path = str(tmp_path / "mp.keras")
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    np.testing.assert_array_equal(loaded(batch).numpy(), model(batch).numpy())
