"""The BlazePose detector's body-axis angles on real frames, upright and turned by np.rot90.

Checks the angle convention of :mod:`mhp_tf.postprocess.upright` on real people: the
pedestrians of a street video should come out near 0 degrees, and after ``np.rot90(frame,
k)`` (counter-clockwise on screen) the same people near ``-90 k`` degrees. BlazePose itself
is not exactly rotation-equivariant, so the differences are measured, not zero::

    python -m mhp_tf.inference.fetch_models          # once
    python scripts/check_upright_detector.py --video ~/.cache/mhp_tf/test_media/vtest.avi

People are matched across rotations by their hip keypoint (mapped through the rotation;
nearest within a quarter of the box side).
"""

import math
import sys

from absl import app
from absl import flags
import cv2
import numpy as np

from mhp_tf.inference.detector import BlazePoseDetector
from mhp_tf.postprocess import upright

flags.DEFINE_string("video", None, "Video file (RGB frames are read with OpenCV).")
flags.DEFINE_list("frames", ["0", "100", "200", "300", "400"], "Frame indices to check.")
flags.DEFINE_float("high_score", 0.7, "Also report the upright angles of detections scoring "
                   "at least this.")


def read_frame(path: str, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(path)
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        raise ValueError(f"cannot read frame {index} of {path!r}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rot90_point(point, k: int, width: int, height: int) -> np.ndarray:
    """Pixel ``(x, y)`` after ``np.rot90(image, k)``: ``(y, W - 1 - x)`` per quarter turn."""
    x, y = point
    for _ in range(k % 4):
        x, y = y, width - 1 - x
        width, height = height, width
    return np.array([x, y])


def main(argv):
    del argv
    if not flags.FLAGS.video:
        print("check_upright_detector: --video is required", file=sys.stderr)
        return 2
    detector = BlazePoseDetector()
    found = {k: 0 for k in range(4)}
    upright_angles, scores, errors = [], [], {k: [] for k in (1, 2, 3)}
    for index in (int(i) for i in flags.FLAGS.frames):
        frame = read_frame(flags.FLAGS.video, index)
        h, w = frame.shape[:2]
        base = detector.detect(frame)
        found[0] += len(base)
        upright_angles += [math.degrees(d.angle) for d in base]
        scores += [d.score for d in base]
        for k in (1, 2, 3):
            dets = detector.detect(np.ascontiguousarray(np.rot90(frame, k)))
            found[k] += len(dets)
            for d0 in base:
                hip = rot90_point(d0.keypoints[0], k, w, h)
                dist = [np.linalg.norm(d.keypoints[0] - hip) for d in dets]
                if dist and min(dist) < 0.25 * d0.box[2]:
                    d = dets[int(np.argmin(dist))]
                    want = upright.normalize_angle(d0.angle - k * np.pi / 2)
                    errors[k].append(abs(math.degrees(
                        float(upright.normalize_angle(d.angle - want)))))
    a = np.abs(upright_angles)
    print(f"{len(flags.FLAGS.frames)} frames, {found[0]} people upright: |angle| median "
          f"{np.median(a):.1f} deg, 90th percentile {np.percentile(a, 90):.1f}, "
          f"max {a.max():.1f}")
    high = a[np.array(scores) >= flags.FLAGS.high_score]
    print(f"  score >= {flags.FLAGS.high_score}: {len(high)} people, |angle| median "
          f"{np.median(high):.1f} deg, max {high.max():.1f}; below: "
          f"{np.round(np.sort(a[np.array(scores) < flags.FLAGS.high_score]), 1).tolist()}")
    for k in (1, 2, 3):
        e = np.array(errors[k])
        print(f"np.rot90 k={k} (expected angle - {90 * k} deg): {found[k]} people, "
              f"{len(e)} matched; |angle - expected| median {np.median(e):.1f} deg, "
              f"max {e.max():.1f}")
    return 0


if __name__ == "__main__":
    app.run(main)
