"""Install the BlazePose person detector model into the local cache (run once, online).

    python -m mhp_tf.inference.fetch_models [--cache_dir DIR] [--wheel PATH]

Runs ``pip download --no-deps mediapipe==0.10.21`` into a temporary folder (the
package is *not* installed: it pins old numpy/protobuf), extracts
``mediapipe/modules/pose_detection/pose_detection.tflite`` (Apache-2.0), checks its
sha256 and writes it to ``~/.cache/mhp_tf/models`` (or ``$MHP_TF_MODEL_CACHE`` /
``--cache_dir``). ``--wheel`` uses an already downloaded mediapipe wheel instead.
Inference never downloads anything; without this model the estimator's
``detector='auto'`` falls back to OpenCV's HOG people detector.
"""

import os
import subprocess
import sys
import tempfile
import zipfile
from typing import Optional

from mhp_tf.inference.detector import BLAZEPOSE_FILE
from mhp_tf.inference.detector import BLAZEPOSE_MEMBER
from mhp_tf.inference.detector import BLAZEPOSE_SHA256
from mhp_tf.inference.detector import MEDIAPIPE_VERSION
from mhp_tf.inference.detector import model_cache_dir
from mhp_tf.inference.detector import sha256_of

# Tried in turn: the wheel for this interpreter, then a fixed manylinux wheel (the
# .tflite file inside is the same in every wheel of the release).
_PIP_ATTEMPTS = (
    [],
    ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
     "--implementation", "cp"],
)


class FetchError(RuntimeError):
    pass


def download_wheel(directory: str, timeout: float = 900) -> str:
    """``pip download --no-deps mediapipe==0.10.21`` into ``directory``; the wheel's path."""
    errors = []
    for extra in _PIP_ATTEMPTS:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               f"mediapipe=={MEDIAPIPE_VERSION}", "-d", directory, *extra]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            errors.append(f"{' '.join(cmd)}: {e}")
            continue
        wheels = [f for f in os.listdir(directory) if f.startswith("mediapipe-")
                  and f.endswith(".whl")]
        if proc.returncode == 0 and wheels:
            return os.path.join(directory, sorted(wheels)[0])
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        errors.append(f"{' '.join(cmd)} -> exit {proc.returncode}: {' / '.join(tail)}")
    raise FetchError("could not download the mediapipe wheel:\n  " + "\n  ".join(errors))


def extract_detector(wheel: str, destination: str) -> str:
    """Copy ``pose_detection.tflite`` out of a mediapipe wheel, verified; returns its path."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(BLAZEPOSE_MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise FetchError(f"{wheel}: cannot read {BLAZEPOSE_MEMBER}: {e}") from None
    os.makedirs(destination, exist_ok=True)
    final = os.path.join(destination, BLAZEPOSE_FILE)
    tmp = final + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    digest = sha256_of(tmp)
    if digest != BLAZEPOSE_SHA256:
        os.remove(tmp)
        raise FetchError(f"{BLAZEPOSE_MEMBER} in {wheel} has sha256 {digest}, expected "
                         f"{BLAZEPOSE_SHA256} (mediapipe=={MEDIAPIPE_VERSION})")
    os.replace(tmp, final)
    return final


def fetch_blazepose(cache_dir: Optional[str] = None, wheel: Optional[str] = None,
                    force: bool = False) -> str:
    """Make sure the BlazePose detector is in the cache; returns its path."""
    destination = model_cache_dir(cache_dir)
    final = os.path.join(destination, BLAZEPOSE_FILE)
    if not force and os.path.isfile(final) and sha256_of(final) == BLAZEPOSE_SHA256:
        return final
    if wheel:
        return extract_detector(wheel, destination)
    with tempfile.TemporaryDirectory(prefix="mhp_tf_fetch_") as tmp:
        return extract_detector(download_wheel(tmp), destination)


def define_flags():
    from absl import flags

    flags.DEFINE_string("cache_dir", None, "Model cache (default $MHP_TF_MODEL_CACHE or "
                        "~/.cache/mhp_tf/models).")
    flags.DEFINE_string("wheel", None, "A downloaded mediapipe==0.10.21 wheel to extract from "
                        "instead of running pip download.")
    flags.DEFINE_bool("force", False, "Fetch again even when the model is cached.")


def main(argv):
    from absl import flags

    del argv
    flags_ = flags.FLAGS
    try:
        path = fetch_blazepose(flags_.cache_dir, flags_.wheel, flags_.force)
    except FetchError as e:
        print(f"fetch_models: {e}", file=sys.stderr)
        return 1
    print(f"BlazePose person detector: {path}")
    print(f"  sha256 {BLAZEPOSE_SHA256} (mediapipe=={MEDIAPIPE_VERSION}, Apache-2.0)")
    return 0


if __name__ == "__main__":
    from absl import app

    define_flags()
    app.run(main)
