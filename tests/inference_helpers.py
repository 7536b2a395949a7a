"""Helpers of the inference / demo tests: small models, synthetic video, real media.

Models: :func:`random_xs_model` (a random-weight XS network at input 64 whose heatmap
logits are scaled up so its outputs depend on the crop) and
:func:`template_model` (a tiny Keras model that outputs a standing pose, slightly
varied by the crop, so tracking and drawing have something plausible to work on),
saved as run folders (``model.keras`` + ``config.json``).

Real images / videos of people and the BlazePose model:

Fetched on demand through the package registries (never from /work/shared), cached in
``~/.cache/mhp_tf/test_media`` (``$MHP_TF_TEST_MEDIA`` overrides):

* Debian ``opencv-doc`` (Apache-2.0/BSD): ``vtest.avi`` (pedestrians, 768x576), used
  in place when the package is installed, else ``apt-get download`` + ``dpkg-deb -x``.
* ``sports2d==0.8.34`` (PyPI, BSD-3): ``Sports2D/Demo/demo.mp4`` (two people), read out
  of the wheel fetched with ``pip download --no-deps``.
* BlazePose: :func:`mhp_tf.inference.fetch_models.fetch_blazepose` (default cache).

Every helper returns None (and says why in ``last_error``) when fetching fails, so
tests can skip with a clear reason.
"""

import glob
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from typing import Optional

import cv2
import numpy as np

OPENCV_DOC_DATA = "/usr/share/doc/opencv-doc/examples/data"
SPORTS2D = "sports2d==0.8.34"
last_error = {}


def cache_dir() -> str:
    path = os.environ.get("MHP_TF_TEST_MEDIA") or os.path.join("~", ".cache", "mhp_tf",
                                                               "test_media")
    path = os.path.abspath(os.path.expanduser(path))
    os.makedirs(path, exist_ok=True)
    return path


def _gunzip_if_needed(path: str, destination: str) -> Optional[str]:
    if os.path.isfile(path):
        return path
    if os.path.isfile(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as src, open(destination, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return destination
    return None


def vtest_avi() -> Optional[str]:
    """``vtest.avi`` from opencv-doc (installed, cached, or fetched with apt-get download)."""
    cached = os.path.join(cache_dir(), "vtest.avi")
    if os.path.isfile(cached):
        return cached
    found = _gunzip_if_needed(os.path.join(OPENCV_DOC_DATA, "vtest.avi"), cached)
    if found:
        return found
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        last_error["vtest"] = "apt-get / dpkg-deb not available"
        return None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, check=True,
                           capture_output=True, timeout=600)
            debs = glob.glob(os.path.join(tmp, "opencv-doc_*.deb"))
            subprocess.run(["dpkg-deb", "-x", debs[0], os.path.join(tmp, "x")], check=True,
                           capture_output=True, timeout=600)
        except (OSError, IndexError, subprocess.SubprocessError) as e:
            last_error["vtest"] = f"apt-get download opencv-doc failed: {e}"
            return None
        data = os.path.join(tmp, "x", OPENCV_DOC_DATA.lstrip("/"))
        found = _gunzip_if_needed(os.path.join(data, "vtest.avi"), cached)
        if found and found != cached:
            shutil.copy(found, cached)
        if not os.path.isfile(cached):
            last_error["vtest"] = "vtest.avi not in the opencv-doc package"
            return None
    return cached


def sports2d_demo() -> Optional[str]:
    """``Sports2D/Demo/demo.mp4`` from the sports2d wheel (pip download --no-deps)."""
    cached = os.path.join(cache_dir(), "sports2d_demo.mp4")
    if os.path.isfile(cached):
        return cached
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--disable-pip-version-check", SPORTS2D, "-d", tmp], check=True,
                           capture_output=True, timeout=600)
            wheel = glob.glob(os.path.join(tmp, "sports2d-*.whl"))[0]
            with zipfile.ZipFile(wheel) as zf:
                data = zf.read("Sports2D/Demo/demo.mp4")
        except (OSError, IndexError, KeyError, zipfile.BadZipFile,
                subprocess.SubprocessError) as e:
            last_error["sports2d"] = f"pip download {SPORTS2D} failed: {e}"
            return None
    with open(cached + ".part", "wb") as f:
        f.write(data)
    os.replace(cached + ".part", cached)
    return cached


def real_video() -> Optional[str]:
    """vtest.avi, else the sports2d demo video, else None."""
    return vtest_avi() or sports2d_demo()


def read_frame(path: str, index: int = 0) -> np.ndarray:
    """Frame ``index`` of a video as RGB uint8."""
    cap = cv2.VideoCapture(path)
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok:
        raise ValueError(f"cannot read frame {index} of {path}")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


# The two people of docs/sample_people.jpg, drawn by hand (generous): (x0, y0, x1, y1) px.
SAMPLE_PEOPLE = os.path.join(os.path.dirname(__file__), "..", "docs", "sample_people.jpg")
SAMPLE_PEOPLE_XYXY = ((400.0, 60.0, 520.0, 340.0), (780.0, 370.0, 990.0, 680.0))


def blazepose_model() -> Optional[str]:
    """Path of the fetched BlazePose detector (fetching it if needed), or None."""
    from mhp_tf.inference import detector
    from mhp_tf.inference import fetch_models

    if detector.blazepose_available():
        return detector.blazepose_model_path()
    try:
        return fetch_models.fetch_blazepose()
    except (fetch_models.FetchError, OSError) as e:
        last_error["blazepose"] = str(e)
        return None


# ----------------------------------------------------------------------------- models

# A standing person facing the camera in normalised crop coordinates (x, y in [0, 1]),
# H36M-18 order; z offsets from the root in fractions of the depth range.
TEMPLATE_XY = np.array([
    [0.50, 0.50], [0.44, 0.50], [0.44, 0.68], [0.44, 0.87], [0.56, 0.50], [0.56, 0.68],
    [0.56, 0.87], [0.50, 0.40], [0.50, 0.24], [0.50, 0.20], [0.50, 0.14], [0.60, 0.26],
    [0.64, 0.38], [0.66, 0.48], [0.40, 0.26], [0.36, 0.38], [0.34, 0.48], [0.50, 0.26]])
TEMPLATE_Z = np.array([0, 0, 0.02, 0.04, 0, 0.02, 0.04, 0, -0.02, -0.05, -0.02, 0, -0.05,
                       -0.08, 0, -0.05, -0.08, -0.01])


def xs64_config(normalization: str = "imagenet"):
    from mhp_tf.training.config import make_config

    cfg = make_config("xs", overrides={"model.input_size": "64"})
    cfg.data.normalization = normalization
    return cfg


def random_xs_model(seed: int = 0, logit_scale: float = 1000.0):
    """XS MobileHumanPose at input 64 (heatmap 8 x 8 x 32) with a sharpened random head."""
    import tensorflow as tf

    import mhp_tf

    tf.keras.utils.set_random_seed(seed)
    model = mhp_tf.build_model("xs", input_size=64, initializer="torch_default")
    head = model.get_layer("head_conv")
    weights = head.get_weights()
    head.set_weights([w * logit_scale for w in weights])
    return model


def tiny_model(seed: int = 0):
    """A 3-conv stand-in with MobileHumanPose's interface (input 64, ``head_conv`` logits
    8 x 8 x 18*32, soft-argmax): exports in seconds where the XS network takes a minute."""
    import tensorflow as tf

    from mhp_tf.modeling import SoftArgmax3D

    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input((64, 64, 3), name="image")
    x = inputs
    for filters in (8, 16, 16):
        x = tf.keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    logits = tf.keras.layers.Conv2D(
        18 * 32, 1, name="head_conv",
        kernel_initializer=tf.keras.initializers.RandomNormal(stddev=1.0))(x)
    return tf.keras.Model(inputs, SoftArgmax3D(32, name="soft_argmax")(logits), name="tiny")


def template_model(heatmap_size: int = 8, depth_bins: int = 32, input_size: int = 64,
                   seed: int = 0):
    """``crop -> coords [B, 18, 3]``: :data:`TEMPLATE_XY` / ``Z`` plus a small crop-dependent
    change (a dense layer on the mean colour)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    bias = np.concatenate([TEMPLATE_XY * heatmap_size,
                           (depth_bins / 2 + TEMPLATE_Z * depth_bins)[:, None]], 1)
    inputs = tf.keras.Input((input_size, input_size, 3), name="image")
    x = tf.keras.layers.GlobalAveragePooling2D()(inputs)
    x = tf.keras.layers.Dense(
        18 * 3, kernel_initializer=tf.keras.initializers.RandomNormal(stddev=0.05),
        bias_initializer=tf.keras.initializers.Constant(bias.reshape(-1)))(x)
    outputs = tf.keras.layers.Reshape((18, 3))(x)
    return tf.keras.Model(inputs, outputs, name="template")


def save_run(model, folder: str, normalization: str = "imagenet") -> str:
    """``folder/model.keras`` + ``folder/config.json`` (XS, input 64); returns the folder."""
    os.makedirs(folder, exist_ok=True)
    model.save(os.path.join(folder, "model.keras"))
    xs64_config(normalization).save(folder)
    return folder


# ----------------------------------------------------------------------------- synthetic video


def synthetic_video(path: str, frames: int = 12, width: int = 320, height: int = 240,
                    fps: float = 10.0, seed: int = 0):
    """Render a procedural motion clip of one synthetic person with a fixed camera into a video
    (MJPG ``.avi`` / mp4v ``.mp4``). Returns ``(boxes [T, 4], joints_cam [T, 18, 3] mm,
    intrinsics [3, 3])`` of the rendered frames."""
    from mhp_tf_datasets.synthetic import generate
    from mhp_tf_datasets.synthetic import render
    from mhp_tf_datasets.synthetic import scene

    gen = generate.ExampleGenerator(generate.GeneratorConfig(image_size=256, seed=seed), "test")
    _, body, points, _ = gen.procedural_clip(seed)
    camera = scene.sample_camera(np.random.default_rng(seed), points[0], width, height,
                                 distance=(3.0, 4.0))
    fourcc = "MJPG" if path.endswith(".avi") else "mp4v"
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    boxes, joints = [], []
    try:
        for t in range(frames):
            ex = render.render_example(camera.world_to_camera(points[t % len(points)]) * 1000.0,
                                       camera, body, seed=[seed, 1], occluders=0,
                                       objects_behind=0, post=False)
            writer.write(cv2.cvtColor(ex["image"], cv2.COLOR_RGB2BGR))
            boxes.append(ex["bbox"])
            joints.append(ex["joints_cam"])
    finally:
        writer.release()
    k = np.array([[camera.fx, 0, camera.cx], [0, camera.fy, camera.cy], [0, 0, 1]])
    return np.array(boxes, np.float64), np.array(joints, np.float64), k
