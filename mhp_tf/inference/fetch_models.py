"""Install the BlazePose models into the local cache (run once, online).

    python -m mhp_tf.inference.fetch_models [--cache_dir DIR] [--wheel PATH]
        [--landmarks=lite,full,heavy] [--npm_tarball PATH]

Runs ``pip download --no-deps mediapipe==0.10.21`` into a temporary folder (the
package is *not* installed: it pins old numpy/protobuf), extracts
``mediapipe/modules/pose_detection/pose_detection.tflite`` (Apache-2.0), checks its
sha256 and writes it to ``~/.cache/mhp_tf/models`` (or ``$MHP_TF_MODEL_CACHE`` /
``--cache_dir``). ``--wheel`` uses an already downloaded mediapipe wheel instead.
Inference never downloads anything; without this model the estimator's
``detector='auto'`` falls back to OpenCV's HOG people detector.

``--landmarks`` (default all three; empty to skip) also installs the BlazePose GHUM landmark
models of :mod:`mhp_tf.inference.blazepose`: ``pose_landmark_full.tflite`` from the same
wheel, ``pose_landmark_lite.tflite`` and ``pose_landmark_heavy.tflite`` from
``npm pack @mediapipe/pose@0.5.1675469404`` (Apache-2.0; the tarball's full model is the
wheel's, byte for byte, and is used when the wheel cannot be had). Each file's sha256 is
checked and printed. ``--npm_tarball`` uses an already downloaded tarball.
"""

import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from typing import Dict, Optional, Sequence

from mhp_tf.inference import blazepose

from mhp_tf.inference.detector import BLAZEPOSE_FILE
from mhp_tf.inference.detector import BLAZEPOSE_MEMBER
from mhp_tf.inference.detector import BLAZEPOSE_SHA256
from mhp_tf.inference.detector import MEDIAPIPE_VERSION
from mhp_tf.inference.detector import model_cache_dir
from mhp_tf.inference.detector import sha256_of

# Tried in turn: the wheel for this interpreter, then a fixed manylinux wheel (the data
# files inside -- models, images -- are the same in every wheel of a release).
_PIP_ATTEMPTS = (
    [],
    ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
     "--implementation", "cp"],
)


class FetchError(RuntimeError):
    pass


def pip_download(spec: str, directory: str, timeout: float = 900) -> str:
    """``pip download --no-deps SPEC`` (e.g. ``mediapipe==0.10.21``) into ``directory``;
    the wheel's path. The package is never installed."""
    prefix = spec.split("==")[0].replace("-", "_").lower()
    errors = []
    for extra in _PIP_ATTEMPTS:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               spec, "-d", directory, *extra]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            errors.append(f"{' '.join(cmd)}: {e}")
            continue
        wheels = [f for f in os.listdir(directory) if f.replace("-", "_").lower().startswith(
            prefix + "_") and f.endswith(".whl")]
        if proc.returncode == 0 and wheels:
            return os.path.join(directory, sorted(wheels)[0])
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        errors.append(f"{' '.join(cmd)} -> exit {proc.returncode}: {' / '.join(tail)}")
    raise FetchError(f"could not download the {spec} wheel:\n  " + "\n  ".join(errors))


def download_wheel(directory: str, timeout: float = 900) -> str:
    """``pip download --no-deps mediapipe==0.10.21`` into ``directory``; the wheel's path."""
    return pip_download(f"mediapipe=={MEDIAPIPE_VERSION}", directory, timeout)


def _install_verified(data: bytes, final: str, sha256: str, what: str) -> str:
    """Write ``data`` to ``final`` (atomically) when its sha256 is ``sha256``."""
    os.makedirs(os.path.dirname(final), exist_ok=True)
    tmp = final + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    digest = sha256_of(tmp)
    if digest != sha256:
        os.remove(tmp)
        raise FetchError(f"{what} has sha256 {digest}, expected {sha256}")
    os.replace(tmp, final)
    return final


def _read_wheel_member(wheel: str, member: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise FetchError(f"{wheel}: cannot read {member}: {e}") from None


def extract_detector(wheel: str, destination: str) -> str:
    """Copy ``pose_detection.tflite`` out of a mediapipe wheel, verified; returns its path."""
    data = _read_wheel_member(wheel, BLAZEPOSE_MEMBER)
    return _install_verified(data, os.path.join(destination, BLAZEPOSE_FILE), BLAZEPOSE_SHA256,
                             f"{BLAZEPOSE_MEMBER} in {wheel} (mediapipe=={MEDIAPIPE_VERSION})")


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


# ----------------------------------------------------------------------------- landmarks


def npm_pack(directory: str, timeout: float = 900) -> str:
    """``npm pack @mediapipe/pose@VERSION`` into ``directory``; the tarball's path."""
    spec = f"{blazepose.NPM_PACKAGE}@{blazepose.NPM_VERSION}"
    cmd = ["npm", "pack", spec, "--silent"]
    try:
        proc = subprocess.run(cmd, cwd=directory, capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FetchError(f"{' '.join(cmd)}: {e} (is npm installed?)") from None
    tarballs = [f for f in os.listdir(directory) if f.endswith(".tgz")]
    if proc.returncode != 0 or not tarballs:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FetchError(f"{' '.join(cmd)} -> exit {proc.returncode}: {' / '.join(tail)}")
    return os.path.join(directory, tarballs[0])


def _read_npm_member(tarball: str, member: str) -> bytes:
    try:
        with tarfile.open(tarball, "r:gz") as tf:
            f = tf.extractfile(member)
            if f is None:
                raise KeyError(member)
            return f.read()
    except (OSError, KeyError, tarfile.TarError) as e:
        raise FetchError(f"{tarball}: cannot read {member}: {e}") from None


def fetch_landmark_models(names: Sequence[str] = ("lite", "full", "heavy"),
                          cache_dir: Optional[str] = None, wheel: Optional[str] = None,
                          npm_tarball: Optional[str] = None, force: bool = False
                          ) -> Dict[str, str]:
    """Make sure the named BlazePose landmark models are in the cache; ``{name: path}``.

    ``full`` comes from the mediapipe wheel (``wheel`` or ``pip download``) when that works,
    else from the npm tarball; ``lite`` and ``heavy`` from the npm tarball (``npm_tarball`` or
    ``npm pack``). Files already cached with the right sha256 are kept.
    """
    unknown = [n for n in names if n not in blazepose.LANDMARK_MODELS]
    if unknown:
        raise FetchError(f"unknown landmark models {unknown}; expected "
                         f"{sorted(blazepose.LANDMARK_MODELS)}")
    destination = model_cache_dir(cache_dir)
    out, todo = {}, []
    for name in names:
        spec = blazepose.LANDMARK_MODELS[name]
        final = os.path.join(destination, spec.file)
        if not force and os.path.isfile(final) and sha256_of(final) == spec.sha256:
            out[name] = final
        else:
            todo.append(spec)
    if not todo:
        return out
    with tempfile.TemporaryDirectory(prefix="mhp_tf_fetch_") as tmp:
        wheel_error = None
        for spec in [s for s in todo if s.wheel_member]:
            try:
                wheel = wheel or download_wheel(tmp)
                data = _read_wheel_member(wheel, spec.wheel_member)
                out[spec.name] = _install_verified(
                    data, os.path.join(destination, spec.file), spec.sha256,
                    f"{spec.wheel_member} in {wheel}")
            except FetchError as e:
                wheel_error = e
        rest = [s for s in todo if s.name not in out]
        if rest:
            try:
                tarball = npm_tarball or npm_pack(tmp)
            except FetchError as e:
                extra = f"; the wheel failed too: {wheel_error}" if wheel_error else ""
                raise FetchError(f"{e}{extra}") from None
            for spec in rest:
                data = _read_npm_member(tarball, spec.npm_member)
                out[spec.name] = _install_verified(
                    data, os.path.join(destination, spec.file), spec.sha256,
                    f"{spec.npm_member} in {tarball}")
    return out


def _cached(path: str, sha256: str) -> bool:
    return os.path.isfile(path) and sha256_of(path) == sha256


def _needs_wheel(landmarks: Sequence[str], cache_dir: Optional[str], force: bool) -> bool:
    """Whether the detector or a wheel-sourced landmark model still has to be fetched."""
    if force:
        return True
    destination = model_cache_dir(cache_dir)
    specs = [blazepose.LANDMARK_MODELS[n] for n in landmarks if n in blazepose.LANDMARK_MODELS]
    return not _cached(os.path.join(destination, BLAZEPOSE_FILE), BLAZEPOSE_SHA256) or any(
        s.wheel_member and not _cached(os.path.join(destination, s.file), s.sha256)
        for s in specs)


def define_flags():
    from absl import flags

    flags.DEFINE_string("cache_dir", None, "Model cache (default $MHP_TF_MODEL_CACHE or "
                        "~/.cache/mhp_tf/models).")
    flags.DEFINE_string("wheel", None, "A downloaded mediapipe==0.10.21 wheel to extract from "
                        "instead of running pip download.")
    flags.DEFINE_bool("force", False, "Fetch again even when the model is cached.")
    flags.DEFINE_list("landmarks", ["lite", "full", "heavy"], "BlazePose GHUM landmark models "
                      "to install too (empty: none).")
    flags.DEFINE_string("npm_tarball", None, "A downloaded @mediapipe/pose@"
                        f"{blazepose.NPM_VERSION} tarball (npm pack) to extract lite/heavy from.")


def main(argv):
    from absl import flags

    del argv
    flags_ = flags.FLAGS
    names = [n for n in flags_.landmarks if n]
    try:
        with tempfile.TemporaryDirectory(prefix="mhp_tf_fetch_") as tmp:
            wheel = flags_.wheel
            if wheel is None and _needs_wheel(names, flags_.cache_dir, flags_.force):
                wheel = download_wheel(tmp)  # once for the detector and the full model
            path = fetch_blazepose(flags_.cache_dir, wheel, flags_.force)
            print(f"BlazePose person detector: {path}")
            print(f"  sha256 {BLAZEPOSE_SHA256} (mediapipe=={MEDIAPIPE_VERSION}, Apache-2.0)")
            paths = fetch_landmark_models(names, flags_.cache_dir, wheel, flags_.npm_tarball,
                                          flags_.force) if names else {}
            for name in names:
                spec = blazepose.LANDMARK_MODELS[name]
                print(f"BlazePose GHUM landmark model ({name}): {paths[name]}")
                print(f"  sha256 {spec.sha256} ({blazepose.NPM_PACKAGE}@{blazepose.NPM_VERSION}"
                      f"{' / mediapipe==' + MEDIAPIPE_VERSION if spec.wheel_member else ''}, "
                      "Apache-2.0)")
    except FetchError as e:
        print(f"fetch_models: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from absl import app

    define_flags()
    app.run(main)
