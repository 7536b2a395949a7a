"""Demo: 3D human poses on an image, a video file or a camera, on CPU.

    python -m mhp_tf.demo --model runs/xs --image photo.jpg --out poses.png --json poses.json
    python -m mhp_tf.demo --model runs/xs --video clip.mp4 --out poses.mp4 --json poses.json
    python -m mhp_tf.demo --model export/saved_model --video 0 --max_frames 300   # camera 0

``--model``: a run folder, ``.keras`` file, SavedModel folder or ``.tflite`` file
(:class:`mhp_tf.PoseEstimator`). People are found by ``--detector`` (``auto``: the
BlazePose detector when fetched with ``python -m mhp_tf.inference.fetch_models``,
else OpenCV's HOG) and, in videos, tracked from frame to frame with 1-Euro
smoothing (:class:`mhp_tf.inference.VideoPoseEstimator`).

``--out`` writes the input with the 2D skeletons drawn on it and, to its right, a
3D view of the camera-frame poses (``--no_view3d`` to skip it; rendering the 3D
view with matplotlib costs ~0.1-0.3 s per frame). ``--json`` writes the poses in
the per-frame format read by :func:`mhp_tf.motion.pose_io.load_pose_json`::

    {"format": "mhp_tf.poses/1", "units": "mm", "units_2d": "px", "fps": 25.0,
     "coordinates": "...", "joint_names": [...], "edges": [[0, 1], ...], "root_index": 0,
     "image_size": [W, H], "intrinsics": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
     "frames": [{"frame": 0, "timestamp": 0.0,
                 "poses3d": [[[x, y, z], ...], ...],      # per person, camera frame, mm
                 "poses3d_rel": [...],                    # root-relative, mm
                 "poses2d": [[[u, v], ...], ...],         # image pixels
                 "track_ids": [0, ...], "confidences": [0.8, ...],
                 "boxes": [[x, y, w, h], ...],
                 "angles": [0.0, ...]}, ...]}             # crop rotation, radians

With ``--upright`` (the default) each person's crop is turned so that the body axis
is vertical -- by the BlazePose detector's hip -> body-axis angle on detector frames,
by the previous frame's pelvis -> thorax direction on tracked video frames (HOG boxes
have no angle) -- and the poses are turned back (:mod:`mhp_tf.postprocess.upright`);
``angles`` records each crop's rotation (clockwise on screen from image up).

A progress line and the achieved frame rate are printed to stderr.
"""

import json
import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from mhp_tf import visualize
from mhp_tf.inference.estimator import PoseEstimator
from mhp_tf.inference.estimator import PoseResult
from mhp_tf.inference.video import FrameResult
from mhp_tf.inference.video import VideoPoseEstimator
from mhp_tf.postprocess import camera
from mhp_tf.postprocess import upright

FORMAT = "mhp_tf.poses/1"
COORDINATES = ("poses3d: camera frame, x right, y down, z away from the camera (mm); "
               "poses3d_rel: the same axes, root joint at 0 (mm); poses2d: image pixels, "
               "pixel centres at integers")
# The 3D view is rendered at most this large, then scaled to the frame height.
VIEW3D_MAX_SIDE = 480


# ----------------------------------------------------------------------------- JSON


def _num(x) -> Optional[float]:
    x = float(x)
    return round(x, 3) if math.isfinite(x) else None


def _nested(a, digits: int = 2) -> list:
    return np.round(np.asarray(a, np.float64), digits).tolist()


def frame_record(index: int, timestamp: Optional[float], poses: Sequence[PoseResult],
                 track_ids: Sequence[int]) -> Dict:
    """One entry of ``frames`` (module docstring)."""
    return {
        "frame": int(index),
        "timestamp": None if timestamp is None else round(float(timestamp), 6),
        "poses3d": [_nested(p.joints3d_cam) for p in poses],
        "poses3d_rel": [_nested(p.joints3d_rel) for p in poses],
        "poses2d": [_nested(p.joints2d) for p in poses],
        "track_ids": [int(t) for t in track_ids],
        "confidences": [_num(p.confidence) for p in poses],
        "boxes": [_nested(p.box) for p in poses],
        "angles": [_num(p.angle) for p in poses],
    }


def pose_document(estimator: PoseEstimator, frames: List[Dict], fps: Optional[float],
                  image_size, intrinsics, source: str, model: str) -> Dict:
    """The whole JSON document (module docstring)."""
    return {
        "format": FORMAT,
        "units": "mm",
        "units_2d": "px",
        "coordinates": COORDINATES,
        "fps": None if fps is None else float(fps),
        "joint_names": list(estimator.joint_names),
        "skeleton": estimator.skeleton.name,
        "edges": [list(e) for e in estimator.edges],
        "root_index": int(estimator.root_index),
        "image_size": [int(image_size[0]), int(image_size[1])],
        "intrinsics": _nested(intrinsics, 4),
        "source": source,
        "model": model,
        "frames": frames,
    }


def write_json(path: str, document: Dict) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, allow_nan=False)
        f.write("\n")


# ----------------------------------------------------------------------------- drawing


def draw_frame(image: np.ndarray, poses: Sequence[PoseResult], estimator: PoseEstimator,
               track_ids: Optional[Sequence[int]] = None,
               renderer: Optional[visualize.Skeleton3DRenderer] = None,
               view_state: Optional[Dict] = None, draw_boxes: bool = True) -> np.ndarray:
    """The 2D overlay (boxes, skeletons, ids) and, with a renderer, the 3D view beside it."""
    out = image.copy()
    thickness = max(1, int(round(max(image.shape[:2]) / 400)))
    for k, p in enumerate(poses):
        if draw_boxes and p.angle:  # an upright crop: the box turned with it
            corners = np.round(upright.box_corners(p.box, p.angle)).astype(np.int32)
            cv2.polylines(out, [corners], True, (255, 220, 0), thickness)
        elif draw_boxes:
            x, y, w, h = np.round(p.box).astype(int)
            cv2.rectangle(out, (x, y), (x + w, y + h), (255, 220, 0), thickness)
        out = visualize.draw_skeleton_2d(out, p.joints2d, estimator.skeleton,
                                         radius=thickness + 1, thickness=thickness)
        if track_ids is not None:
            x, y = np.round(p.box[:2]).astype(int)
            cv2.putText(out, f"id {track_ids[k]}", (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4 * thickness, (255, 220, 0), thickness, cv2.LINE_AA)
    if renderer is None:
        return out
    poses3d = [p.joints3d_cam for p in poses]
    center, radius = None, None
    if view_state is not None and poses3d:
        # A steady view for videos: the cube follows the people slowly.
        pts = visualize.camera_to_plot(np.concatenate(poses3d))
        c = (pts.min(0) + pts.max(0)) / 2.0
        r = max(1000.0, float(np.max(np.abs(pts - c))) * 1.2)
        if "center" in view_state:
            c = 0.8 * view_state["center"] + 0.2 * c
            r = max(r, 0.9 * view_state["radius"])
        view_state.update(center=c, radius=r)
        center, radius = c, r
    elif view_state is not None and "center" in view_state:
        center, radius = view_state["center"], view_state["radius"]
    view = renderer.render(poses3d, labels=list(track_ids) if track_ids is not None else None,
                           view="oblique", center=center, radius=radius)
    return visualize.side_by_side(out, view)


# ----------------------------------------------------------------------------- progress


class Progress:
    """A one-line text progress bar on stderr (no dependency)."""

    def __init__(self, total: Optional[int], stream=None, width: int = 30):
        self.total = total if total and total > 0 else None
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.perf_counter()
        self.count = 0

    def update(self, n: int = 1, people: int = 0) -> None:
        self.count += n
        elapsed = time.perf_counter() - self.start
        fps = self.count / elapsed if elapsed > 0 else 0.0
        if self.total:
            done = int(self.width * min(1.0, self.count / self.total))
            bar = "#" * done + "." * (self.width - done)
            line = f"\r[{bar}] {self.count}/{self.total} frames, {fps:.1f} fps, {people} people"
        else:
            line = f"\r{self.count} frames, {fps:.1f} fps, {people} people"
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> float:
        self.stream.write("\n")
        self.stream.flush()
        return time.perf_counter() - self.start


# ----------------------------------------------------------------------------- runs


def read_image_rgb(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read the image {path!r}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def run_image(estimator: PoseEstimator, image_path: str, out: Optional[str] = None,
              json_path: Optional[str] = None, intrinsics=None, root_depth_method: str = "prior",
              view3d: bool = True, model_name: str = "", log=print) -> List[PoseResult]:
    """Poses of one image file; writes the overlay image and/or the JSON."""
    image = read_image_rgb(image_path)
    height, width = image.shape[:2]
    k = estimator.intrinsics_for(height, width, intrinsics)
    start = time.perf_counter()
    poses = estimator.estimate(image, intrinsics=k, root_depth_method=root_depth_method)
    elapsed = time.perf_counter() - start
    log(f"{image_path}: {len(poses)} people in {elapsed * 1000:.0f} ms")
    ids = list(range(len(poses)))
    if out:
        side = min(height, VIEW3D_MAX_SIDE)
        renderer = visualize.Skeleton3DRenderer((side, side), estimator.skeleton) \
            if view3d else None
        frame = draw_frame(image, poses, estimator, ids, renderer)
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        if not cv2.imwrite(out, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise ValueError(f"cannot write the image {out!r} (unknown extension?)")
        log(f"wrote {out}")
    if json_path:
        doc = pose_document(estimator, [frame_record(0, None, poses, ids)], None,
                            (width, height), k, image_path, model_name)
        write_json(json_path, doc)
        log(f"wrote {json_path}")
    return poses


def open_video(source) -> cv2.VideoCapture:
    """A capture for a file path or a camera index (``"0"`` or 0)."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        cap = cv2.VideoCapture(int(source))
    else:
        if not os.path.isfile(source):
            raise ValueError(f"video {source!r} does not exist")
        cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        raise ValueError(f"cannot open the video {source!r}")
    return cap


VIDEO_CODECS = {".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v"}


def _writer(path: str, fps: float, size) -> cv2.VideoWriter:
    fourcc = VIDEO_CODECS.get(os.path.splitext(path)[1].lower())
    if fourcc is None:
        raise ValueError(f"--out for a video must end in .mp4, .avi or .mov, got {path!r}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, tuple(size))
    if not writer.isOpened():
        raise ValueError(f"cannot write the video {path!r} with codec {fourcc}")
    return writer


def run_video(estimator: PoseEstimator, source, out: Optional[str] = None,
              json_path: Optional[str] = None, intrinsics=None, root_depth_method: str = "prior",
              view3d: bool = True, max_frames: Optional[int] = None, smooth: bool = True,
              redetect_every: Optional[int] = 30, min_joint_score: float = 0.2,
              max_people: Optional[int] = None, fps: Optional[float] = None,
              model_name: str = "", log=print, progress_stream=None) -> List[FrameResult]:
    """Poses of every frame of a video file or camera; writes the overlay video / JSON.

    Returns the per-frame results. ``fps`` overrides the file's frame rate (cameras
    without one get 30). Ctrl-C (``KeyboardInterrupt``) stops the loop: the video
    written so far is closed properly, the JSON of the frames done is written, and
    the ``KeyboardInterrupt`` is raised again (the CLI then exits with status 130).
    """
    cap = open_video(source)
    writer = None
    interrupted = False
    records, results = [], []
    bar = Progress(None, progress_stream)
    try:
        file_fps = cap.get(cv2.CAP_PROP_FPS)
        rate = float(fps or (file_fps if file_fps and file_fps > 0 else 30.0))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        if max_frames is not None:
            total = min(total, max_frames) if total else max_frames
        video = VideoPoseEstimator(estimator, fps=rate, intrinsics=intrinsics,
                                   root_depth_method=root_depth_method, smooth=smooth,
                                   redetect_every=redetect_every, max_people=max_people,
                                   min_joint_score=min_joint_score)
        renderer, view_state = None, {}
        k = None
        size = None
        bar = Progress(total, progress_stream)
        model_time = 0.0
        while max_frames is None or len(results) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            height, width = image.shape[:2]
            if size is None:
                size = (width, height)
                k = estimator.intrinsics_for(height, width, intrinsics)
                video.intrinsics = k
                if out and view3d:
                    side = min(height, VIEW3D_MAX_SIDE)
                    renderer = visualize.Skeleton3DRenderer((side, side), estimator.skeleton)
            elif (width, height) != size:
                raise ValueError(f"frame {len(results)} is {width}x{height}, the video started "
                                 f"at {size[0]}x{size[1]}")
            t0 = time.perf_counter()
            result = video.process(image)
            model_time += time.perf_counter() - t0
            results.append(result)
            records.append(frame_record(result.index, result.timestamp, result.poses,
                                        result.track_ids))
            if out:
                frame = draw_frame(image, result.poses, estimator, result.track_ids, renderer,
                                   view_state)
                if writer is None:
                    writer = _writer(out, rate, (frame.shape[1], frame.shape[0]))
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            bar.update(1, len(result.poses))
    except KeyboardInterrupt:  # keep the frames done: they are written below
        interrupted = True
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    elapsed = bar.close()
    n = len(results)
    if interrupted:
        log(f"stopped by Ctrl-C after {n} frames")
        if n == 0:
            raise KeyboardInterrupt
    if n == 0:
        raise ValueError(f"no frame could be read from {source!r}")
    log(f"{n} frames in {elapsed:.1f} s: {n / elapsed:.1f} fps overall, "
        f"{n / max(model_time, 1e-9):.1f} fps detection + pose + tracking "
        f"({model_time / n * 1000:.0f} ms/frame), "
        f"{sum(r.detected for r in results)} frames ran the detector")
    if out:
        log(f"wrote {out}")
    if json_path:
        doc = pose_document(estimator, records, rate, size, k, str(source), model_name)
        write_json(json_path, doc)
        log(f"wrote {json_path}")
    if interrupted:
        raise KeyboardInterrupt
    return results


# ----------------------------------------------------------------------------- CLI


def define_flags():
    """The demo's absl flags (defined only when run as a program)."""
    from absl import flags

    flags.DEFINE_string("model", None, "Run folder, .keras file, SavedModel folder or .tflite.")
    flags.DEFINE_string("image", None, "An image file.")
    flags.DEFINE_string("video", None, "A video file, or a camera index such as 0.")
    flags.DEFINE_string("out", None, "Output image (.png/.jpg) or video (.mp4/.avi) with the "
                        "2D overlay and a 3D view.")
    flags.DEFINE_string("json", None, "Output JSON with the per-frame poses (mm / px).")
    flags.DEFINE_string("detector", "auto", "auto, blazepose or hog.")
    flags.DEFINE_string("normalization", None, "Input normalisation override (reference, "
                        "imagenet, none); default: from the model's config.")
    flags.DEFINE_string("skeleton", None, "Joint set override (h36m, muco).")
    flags.DEFINE_enum("root_depth_method", "prior", ["prior", "movnect"],
                      "Root depth: RootNet's prior or MoVNect's global position.")
    flags.DEFINE_float("fov", 55.0, "Field of view (degrees, longer image side) of the "
                       "default camera.")
    flags.DEFINE_list("intrinsics", None, "fx,fy,cx,cy in pixels (instead of --fov).")
    flags.DEFINE_integer("max_frames", None, "Stop after this many frames.")
    flags.DEFINE_integer("max_people", None, "Track at most this many people.")
    flags.DEFINE_integer("redetect_every", 30, "Run the detector every N frames (0: only "
                         "when tracking is lost).")
    flags.DEFINE_float("min_joint_score", 0.2, "Joint confidence for a keypoint to steer the "
                       "tracking box.")
    flags.DEFINE_float("fps", None, "Frame rate override.")
    flags.DEFINE_bool("smooth", True, "1-Euro filter the video poses.")
    flags.DEFINE_bool("view3d", True, "Add the 3D view to --out.")
    flags.DEFINE_integer("batch_size", 16, "Crops per network call.")
    flags.DEFINE_bool("upright", True, "Turn each person's crop so the body axis is vertical "
                      "(BlazePose's angle on detector frames, the previous pose's in videos); "
                      "--noupright: axis-aligned crops.")
    flags.DEFINE_bool("flip_test", False, "Also run each crop mirrored and average the poses "
                      "(twice the network time).")


def _intrinsics_from_flag(values) -> Optional[np.ndarray]:
    if not values:
        return None
    if len(values) != 4:
        raise ValueError(f"--intrinsics needs fx,fy,cx,cy, got {values}")
    try:
        fx, fy, cx, cy = (float(v) for v in values)
    except ValueError:
        raise ValueError(f"--intrinsics needs four numbers fx,fy,cx,cy, got {values}") from None
    return camera.validate_intrinsics([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _check_writable(path: str, flag: str) -> None:
    """Fail now, not after the work, if ``path`` cannot be written (the file is
    created and, if it did not exist, removed again; its folder stays)."""
    if os.path.isdir(path):
        raise ValueError(f"{flag} {path!r} is a folder; give a file name")
    existed = os.path.exists(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "ab"):
            pass
    except OSError as e:
        raise ValueError(f"{flag} {path!r} cannot be written: {e.strerror}") from None
    if not existed:
        os.remove(path)


def check_arguments(image: Optional[str], video: Optional[str], out: Optional[str],
                    json_path: Optional[str], max_frames: Optional[int]) -> None:
    """The CLI's cheap checks, run before the model is loaded; ``ValueError`` names the flag.

    ``--out`` must have an extension OpenCV can write for an image, or one of
    :data:`VIDEO_CODECS` for a video; ``--out`` and ``--json`` must be writable;
    ``--max_frames`` must be positive; ``--image`` / a ``--video`` file must exist.
    """
    if max_frames is not None and max_frames <= 0:
        raise ValueError(f"--max_frames must be positive, got {max_frames}")
    if image and not os.path.isfile(image):
        raise ValueError(f"--image {image!r} does not exist")
    if video and not video.isdigit() and not os.path.isfile(video):
        raise ValueError(f"--video {video!r} does not exist (give a file or a camera index)")
    if out:
        ext = os.path.splitext(out)[1].lower()
        if video and ext not in VIDEO_CODECS:
            raise ValueError(f"--out for a video must end in {', '.join(sorted(VIDEO_CODECS))}, "
                             f"got {out!r}")
        if image and not (ext and cv2.haveImageWriter(out)):
            raise ValueError(f"--out for an image must have an image extension OpenCV can "
                             f"write (.png, .jpg, ...), got {out!r}")
        _check_writable(out, "--out")
    if json_path:
        _check_writable(json_path, "--json")


def main(argv):
    from absl import flags

    del argv
    f = flags.FLAGS
    if not f.model:
        print("demo: --model is required", file=sys.stderr)
        return 2
    if bool(f.image) == bool(f.video):
        print("demo: give exactly one of --image or --video", file=sys.stderr)
        return 2
    try:
        check_arguments(f.image, f.video, f.out, f.json, f.max_frames)
        k = _intrinsics_from_flag(f.intrinsics)
    except ValueError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2
    try:
        estimator = PoseEstimator(f.model, normalization=f.normalization, skeleton=f.skeleton,
                                  detector=f.detector, batch_size=f.batch_size,
                                  fov_degrees=f.fov, upright=f.upright,
                                  flip_test=f.flip_test)
        if f.image:
            run_image(estimator, f.image, f.out, f.json, k, f.root_depth_method, f.view3d,
                      model_name=f.model)
        else:
            run_video(estimator, f.video, f.out, f.json, k, f.root_depth_method, f.view3d,
                      f.max_frames, f.smooth, f.redetect_every or None, f.min_joint_score,
                      f.max_people, f.fps, model_name=f.model)
    except (ValueError, RuntimeError) as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: stopped by Ctrl-C", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    from absl import app

    define_flags()
    app.run(main)
