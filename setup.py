"""mhp_tf: MobileHumanPose in TensorFlow / tf.keras (see README.md)."""

import pathlib
import re

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "mhp_tf" / "__init__.py").read_text()).group(1)

# The stack below was installed together and verified (pip check clean):
# tf_keras is required because tensorflow-model-optimization (QAT) rejects
# Keras 3 models. OpenCV stays on 4.x: 5.x dropped HOGDescriptor.
INSTALL_REQUIRES = [
    "tensorflow==2.21.0",
    "tf-keras==2.21.0",
    # tf.summary needs it for the training logs; tensorflow 2.21 no longer pulls it in.
    "tensorboard==2.21.0",
    "tensorflow-model-optimization==0.8.1",
    "tensorflow-datasets==4.9.10",
    "numpy>=2.0,<3",
    "opencv-python-headless>=4.8,<5",
    "absl-py>=1.2,<2",
    # tensorflow-datasets 4.9.10 imports it when preparing a builder that lives in a
    # package, but declares it only for Python < 3.9.
    "importlib_resources",
    # 3D skeleton views (mhp_tf.visualize, the demo); imported lazily.
    "matplotlib>=3.8,<4",
    # LiteRT: the maintained TFLite runtime (tf.lite.Interpreter is deprecated); every
    # .tflite model mhp_tf runs goes through ai_edge_litert.interpreter.Interpreter.
    # 2.3.0 installs beside tensorflow 2.21 / numpy 2 (mhp_tf.inference.backends).
    "ai-edge-litert==2.3.0",
]

EXTRAS_REQUIRE = {
    "dev": [
        "pytest>=8",
        "scipy>=1.11",
        # tests/test_convert_torch.py builds an independent PyTorch reference network;
        # mhp_tf.convert_torch imports torch only when it reads a .pth file.
        "torch==2.13.0",
        # tests/test_export_saved_model.py fine-tunes an export through hub.KerasLayer;
        # tensorflow-hub 0.16.1 imports pkg_resources, which setuptools 82 removed.
        "tensorflow-hub==0.16.1",
        "setuptools<82",
    ],
}

setup(
    name="mhp_tf",
    version=VERSION,
    description="MobileHumanPose (CVPRW 2021) 3D human pose estimation in TensorFlow / tf.keras",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    # The dataset builders live in the top-level datasets/ folder and install as
    # the package mhp_tf_datasets (a top-level "datasets" would shadow
    # HuggingFace's package of that name).
    packages=(find_packages(include=["mhp_tf", "mhp_tf.*"])
              + ["mhp_tf_datasets"]
              + ["mhp_tf_datasets." + p for p in find_packages(where="datasets")]),
    package_dir={"mhp_tf_datasets": "datasets"},
    # Pretrained presets (mhp_tf/pretrained/<name>/: model.keras, config.json, preset.json).
    package_data={"mhp_tf.pretrained": ["*/preset.json", "*/config.json", "*/model.keras"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
