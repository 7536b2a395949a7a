"""How many detections the nested-duplicate rule drops on real frames, and a picture of them.

Runs the BlazePose detector with and without :func:`mhp_tf.inference.detector.
drop_nested_duplicates` on the frames of the real-image benchmark (both splits) and prints
the counts per source; ``--sheet`` draws every frame where the two differ, kept boxes green,
dropped ones red, each with its mid-hip keypoint and score, so you can check by eye that a
dropped box is a second box on someone already found::

    python -m mhp_tf.inference.fetch_models          # once
    python scripts/check_detector_duplicates.py --sheet=duplicates.jpg
"""

import collections

from absl import app
from absl import flags
import cv2
import numpy as np

from mhp_tf.evaluation import real_frames
from mhp_tf.inference.detector import BlazePoseDetector

flags.DEFINE_string("sheet", None, "Write the frames where the rule dropped a box here.")
flags.DEFINE_float("nested_threshold", 0.85, "The detector's nested_threshold.")
flags.DEFINE_integer("tile_height", 360, "Height of each frame in --sheet (px).")

FLAGS = flags.FLAGS


def draw(frame, all_dets, kept_dets, height):
    image = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
    kept = {tuple(np.round(d.box, 2)) for d in kept_dets}
    for d in all_dets:
        colour = (0, 200, 0) if tuple(np.round(d.box, 2)) in kept else (0, 0, 255)
        x, y, w, h = (int(round(v)) for v in d.box)
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, 2)
        cv2.circle(image, tuple(int(v) for v in d.keypoints[0]), 5, colour, -1)
        cv2.putText(image, f"{d.score:.2f}", (x + 3, y + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                    colour, 2)
    cv2.putText(image, frame.key, (6, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
    scale = height / image.shape[0]
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def main(argv):
    del argv
    frames, skipped = real_frames.load_frames(split="all")
    plain = BlazePoseDetector(nested_threshold=None)
    rule = BlazePoseDetector(nested_threshold=FLAGS.nested_threshold)
    counts = collections.defaultdict(lambda: [0, 0, 0])
    tiles = []
    for frame in frames:
        everything, kept = plain.detect(frame.image), rule.detect(frame.image)
        c = counts[frame.source]
        c[0] += 1
        c[1] += len(everything)
        c[2] += len(kept)
        if len(kept) != len(everything) and FLAGS.sheet:
            tiles.append(draw(frame, everything, kept, FLAGS.tile_height))
    print(f"{'source':<20}{'frames':>8}{'detections':>12}{'after rule':>12}{'dropped':>9}")
    total = [0, 0, 0]
    for source, (n, before, after) in sorted(counts.items()):
        print(f"{source:<20}{n:>8}{before:>12}{after:>12}{before - after:>9}")
        total = [t + v for t, v in zip(total, (n, before, after))]
    print(f"{'all':<20}{total[0]:>8}{total[1]:>12}{total[2]:>12}{total[1] - total[2]:>9}")
    for source, reason in skipped.items():
        print(f"skipped {source}: {reason}")
    if FLAGS.sheet and tiles:
        width = 3 * max(t.shape[1] for t in tiles)
        rows, row = [], []
        for t in tiles + [None]:
            if t is None or sum(x.shape[1] for x in row) + t.shape[1] > width:
                line = np.concatenate(row, 1) if row else None
                if line is not None:
                    rows.append(np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0))))
                row = []
            if t is not None:
                row.append(t)
        cv2.imwrite(FLAGS.sheet, np.concatenate(rows, 0))
        print(f"wrote {FLAGS.sheet} ({len(tiles)} frames)")


if __name__ == "__main__":
    app.run(main)
