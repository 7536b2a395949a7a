"""python -m mhp_tf.demo: image / video runs end to end, output video and JSON."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import inference_helpers as helpers
from mhp_tf import demo
from mhp_tf.inference.estimator import PoseEstimator
from mhp_tf.motion import pose_io

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def template_run(tmp_path_factory):
    """A run folder (model.keras + config.json) whose model outputs a standing pose."""
    return helpers.save_run(helpers.template_model(), str(tmp_path_factory.mktemp("run")))


def _read_video(path):
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def test_demo_on_a_synthetic_video(tmp_path, template_run):
    video = str(tmp_path / "synthetic.avi")
    gt_boxes, _, k = helpers.synthetic_video(video, frames=10, width=320, height=240, fps=10.0)

    def detector(image):  # the first frame's rendered box stands in for a person detector
        return gt_boxes[:1], np.array([0.9])

    estimator = PoseEstimator(template_run, detector=detector)
    out, js = str(tmp_path / "out.mp4"), str(tmp_path / "poses.json")
    logs = []
    results = demo.run_video(estimator, video, out, js, intrinsics=k, log=logs.append)
    assert len(results) == 10
    assert all(len(r.poses) == 1 and r.track_ids == [0] for r in results)
    frames = _read_video(out)
    assert len(frames) == 10
    assert frames[0].shape == (240, 320 + 240, 3)  # the frame + a square 3D view
    assert any("fps" in line for line in logs)
    # The JSON is what mhp_tf.motion reads.
    poses, meta = pose_io.load_pose_json(js)
    assert poses.shape == (10, 18, 3) and not meta["missing"].any()
    assert meta["fps"] == pytest.approx(10.0)
    np.testing.assert_allclose(meta["timestamps"], np.arange(10) / 10.0)
    assert meta["joint_names"][0] == "Pelvis"
    with open(js) as f:
        doc = json.load(f)
    assert doc["units"] == "mm" and doc["units_2d"] == "px"
    assert doc["image_size"] == [320, 240]
    np.testing.assert_allclose(doc["intrinsics"], k, atol=1e-3)
    rec = doc["frames"][3]
    assert rec["track_ids"] == [0] and len(rec["poses2d"][0]) == 18
    np.testing.assert_allclose(rec["poses3d"][0], results[3].poses[0].joints3d_cam, atol=0.01)
    np.testing.assert_allclose(np.array(rec["poses3d_rel"][0])[0], 0.0, atol=0.01)
    # Poses land where the person is: the 2D root lies inside the rendered box.
    for r, b in zip(results, gt_boxes):
        u, v = r.poses[0].joints2d[0]
        assert b[0] - 0.25 * b[2] <= u <= b[0] + 1.25 * b[2]
        assert b[1] <= v <= b[1] + b[3]


def test_demo_on_an_image(tmp_path, template_run):
    path = helpers.real_video()
    if path is None:
        pytest.skip(f"no real video could be fetched: {helpers.last_error}")
    image_path = str(tmp_path / "frame.png")
    cv2.imwrite(image_path, cv2.cvtColor(helpers.read_frame(path, 10), cv2.COLOR_RGB2BGR))
    estimator = PoseEstimator(template_run, detector="hog")
    out, js = str(tmp_path / "out.png"), str(tmp_path / "poses.json")
    people = demo.run_image(estimator, image_path, out, js, log=lambda *_: None)
    assert len(people) >= 1
    drawn = cv2.imread(out)
    h, w = helpers.read_frame(path, 10).shape[:2]
    assert drawn.shape == (h, w + h, 3)
    with open(js) as f:
        doc = json.load(f)
    assert doc["fps"] is None and len(doc["frames"]) == 1
    assert doc["frames"][0]["track_ids"] == list(range(len(people)))
    poses, _ = pose_io.load_pose_json(js)
    assert poses.shape == (1, 18, 3)


def _run_cli(args, timeout=300):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "mhp_tf.demo", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_demo_cli_on_a_real_video(tmp_path, template_run):
    path = helpers.real_video()
    if path is None:
        pytest.skip(f"no real video could be fetched: {helpers.last_error}")
    out, js = str(tmp_path / "real.mp4"), str(tmp_path / "real.json")
    proc = _run_cli(["--model", template_run, "--video", path, "--max_frames", "15",
                     "--out", out, "--json", js])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fps" in proc.stdout and "15 frames" in proc.stdout
    assert "15/15 frames" in proc.stderr  # the progress bar
    frames = _read_video(out)
    assert len(frames) == 15
    with open(js) as f:
        doc = json.load(f)
    assert len(doc["frames"]) == 15 and doc["fps"] > 0
    assert max(len(fr["poses3d"]) for fr in doc["frames"]) >= 1
    for fr in doc["frames"]:
        assert len(fr["track_ids"]) == len(fr["poses3d"]) == len(fr["poses2d"])


def test_demo_cli_argument_errors(tmp_path):
    proc = _run_cli(["--video", "nothing.mp4"], timeout=120)
    assert proc.returncode == 2 and "--model is required" in proc.stderr


def _write_noise_video(path, frames=8, size=(96, 64)):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()


def test_ctrl_c_keeps_the_frames_done(tmp_path, template_run):
    """Ctrl-C in frame 4: the JSON holds frames 0-3 and the video is a valid 4-frame file."""
    video = str(tmp_path / "noise.avi")
    _write_noise_video(video)
    calls = []

    def detector(image):  # finds nobody, so it runs on every frame; Ctrl-C on the 5th
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return np.zeros((0, 4)), np.zeros(0)

    estimator = PoseEstimator(template_run, detector=detector)
    out, js = str(tmp_path / "out.avi"), str(tmp_path / "poses.json")
    logs = []
    with pytest.raises(KeyboardInterrupt):
        demo.run_video(estimator, video, out, js, view3d=False, log=logs.append)
    assert "stopped by Ctrl-C after 4 frames" in logs
    with open(js) as f:
        doc = json.load(f)
    assert [fr["frame"] for fr in doc["frames"]] == [0, 1, 2, 3]
    assert len(_read_video(out)) == 4


@pytest.mark.parametrize("kwargs, message", [
    (dict(video="V", out="o.txt"), r"--out for a video must end in \.avi, \.m4v, \.mov, \.mp4"),
    (dict(image="I", out="o.xyz"), r"--out for an image must have an image extension"),
    (dict(image="I", out="noext"), r"--out for an image must have an image extension"),
    (dict(video="V", max_frames=0), r"--max_frames must be positive, got 0"),
    (dict(video="V", max_frames=-3), r"--max_frames must be positive, got -3"),
    (dict(image="missing.png"), r"--image 'missing.png' does not exist"),
    (dict(video="missing.mp4"), r"--video 'missing.mp4' does not exist"),
    (dict(image="I", out="FILE/sub/o.png"), r"--out '.*FILE/sub/o.png' cannot be written"),
    (dict(image="I", json_path="DIR"), r"--json '.*DIR' is a folder"),
])
def test_demo_argument_checks(tmp_path, kwargs, message):
    image, video = str(tmp_path / "in.png"), str(tmp_path / "in.avi")
    cv2.imwrite(image, np.zeros((8, 8, 3), np.uint8))
    _write_noise_video(video, frames=1)
    (tmp_path / "FILE").write_text("a file, not a folder")
    (tmp_path / "DIR").mkdir()
    args = dict(image=None, video=None, out=None, json_path=None, max_frames=None)
    args.update(kwargs)
    for key, value in args.items():
        if isinstance(value, str):
            value = {"I": image, "V": video}.get(value, value)
            args[key] = value if value.startswith(("/", "missing")) else str(tmp_path / value)
    with pytest.raises(ValueError, match=message):
        demo.check_arguments(**args)
    assert sorted(os.listdir(tmp_path)) == ["DIR", "FILE", "in.avi", "in.png"]  # nothing left


def test_demo_cli_checks_arguments_before_loading_the_model(tmp_path):
    # The model does not exist: the --out error proves nothing was loaded first.
    image = str(tmp_path / "in.png")
    cv2.imwrite(image, np.zeros((8, 8, 3), np.uint8))
    proc = _run_cli(["--model", str(tmp_path / "no_model"), "--image", image,
                     "--out", str(tmp_path / "o.xyz")], timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("demo: --out for an image must")
    proc = _run_cli(["--model", str(tmp_path / "no_model"), "--image", image,
                     "--intrinsics", "1e-300,1e-300,4,4"], timeout=120)
    assert proc.returncode == 2
    assert "demo: intrinsics focal lengths must be at least 1 px" in proc.stderr
