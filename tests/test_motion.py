"""Motion export (mhp_tf.motion): rotations, IK, joint limits, filtering, BVH, CLI."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mhp_tf import skeletons
from mhp_tf.motion import bvh
from mhp_tf.motion import filtering
from mhp_tf.motion import ik
from mhp_tf.motion import limits as limits_lib
from mhp_tf.motion import pipeline
from mhp_tf.motion import pose_io
from mhp_tf.motion import rig as rig_lib
from mhp_tf.motion import rotations as rot

ROOT = pathlib.Path(__file__).resolve().parents[1]
J = {n: i for i, n in enumerate(skeletons.H36M.joints)}
RIG = rig_lib.H36M_RIG
NUM_ROT_JOINTS = len(RIG.joints)  # 17: root + 16


def _procedural_clips():
    """Procedural clips of the synthetic dataset (no network), mm, Z-up."""
    from mhp_tf_datasets.synthetic import body
    from mhp_tf_datasets.synthetic import pose

    rng = np.random.default_rng(3)
    return {f"procedural_{k}": pose.sample_clip(rng, body.sample_body(k), 60)[0][:, :18] * 1000.0
            for k in range(2)}


@pytest.fixture(scope="module")
def clips():
    """Two real mocap clips from the cached wheels (mm, Z-up); the procedural poses when
    the cache is missing, so the test never needs the network."""
    from mhp_tf_datasets.synthetic import mocap

    try:
        data = mocap.load_mocap(download=False, sources=("deepmimic",))
    except (mocap.MocapUnavailable, OSError, ValueError):
        return _procedural_clips()
    return {name: data[name][:, :18].astype(np.float64) * 1000.0
            for name in ("deepmimic_dance_a", "deepmimic_cartwheel")}


def _rest_pose(lengths=None):
    """The rig's rest pose as a (1, 18, 3) H36M array (Y up, mm)."""
    if lengths is None:
        lengths = {b: 100.0 + 10.0 * k for k, b in enumerate(RIG.bones)}
    pos = rig_lib.rest_points(lengths)
    P = np.zeros((1, 18, 3))
    for name, i in J.items():
        P[0, i] = pos[name]
    return P, lengths


def _euler(motion, joint, order="ZXY"):
    return rot.matrix_to_euler(motion.rotations[:, RIG.index(joint)], order)


# ----------------------------------------------------------------------------- rotations


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_matches_scipy_intrinsic(order):
    R = Rotation.random(200, random_state=0)
    angles = rot.matrix_to_euler(R.as_matrix(), order)
    np.testing.assert_allclose(rot.euler_to_matrix(angles, order), R.as_matrix(), atol=1e-12)
    # BVH channel order = scipy's intrinsic (upper-case) sequence.
    np.testing.assert_allclose(Rotation.from_euler(order, angles, degrees=True).as_matrix(),
                               R.as_matrix(), atol=1e-12)
    alt = rot.euler_alternative(angles)
    np.testing.assert_allclose(rot.euler_to_matrix(alt, order), R.as_matrix(), atol=1e-12)
    locked = np.array([[30.0, 90.0, 20.0], [-40.0, -90.0, 70.0]])
    M = rot.euler_to_matrix(locked, order)
    np.testing.assert_allclose(rot.euler_to_matrix(rot.matrix_to_euler(M, order), order), M,
                               atol=1e-12)


def test_quaternions_and_swing():
    R = Rotation.random(100, random_state=1).as_matrix()
    q = rot.matrix_to_quat(R)
    np.testing.assert_allclose(rot.quat_to_matrix(q), R, atol=1e-12)
    np.testing.assert_allclose(rot.quat_to_matrix(-q), R, atol=1e-12)
    rng = np.random.default_rng(0)
    a, b = rot.normalize(rng.normal(size=(2, 50, 3)))
    S = rot.swing_matrix(a, b)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", S, a), b, atol=1e-12)
    # Minimal: the rotation angle is the angle between the directions.
    np.testing.assert_allclose(rot.rotation_angle_deg(S),
                               np.degrees(np.arccos(np.sum(a * b, -1))), atol=1e-6)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", rot.swing_matrix(a, -a), a), -a,
                               atol=1e-12)


def test_unwrap_euler_sequence_keeps_rotations():
    e = np.array([[170.0, 10.0, 0.0], [-175.0, 12.0, 5.0], [-160.0, 80.0, 10.0],
                  [20.0, 100.0, -170.0]])
    e = rot.matrix_to_euler(rot.euler_to_matrix(e, "ZXY"), "ZXY")
    u = rot.unwrap_euler_sequence(e)
    np.testing.assert_allclose(rot.euler_to_matrix(u, "ZXY"), rot.euler_to_matrix(e, "ZXY"),
                               atol=1e-12)
    assert np.all(np.abs(np.diff(u, axis=0)) < 90.0)


# ----------------------------------------------------------------------------- (c) by hand


def test_hand_computed_single_bone_rotations(tmp_path):
    P, lengths = _rest_pose()
    m = ik.solve_rotations(P, limits=None)
    np.testing.assert_allclose(m.rotations, np.broadcast_to(np.eye(3), m.rotations.shape),
                               atol=1e-12)
    np.testing.assert_allclose(m.points(), P, atol=1e-9)

    # Left knee flexed 90 degrees: the shin turns about +x (the character's left) from
    # pointing down to pointing backwards (-z). Local knee rotation Rx(90): ZXY = (0, 90, 0).
    bent = P.copy()
    shin = lengths[("L_Knee", "L_Ankle")]
    bent[0, J["L_Ankle"]] = bent[0, J["L_Knee"]] + [0.0, 0.0, -shin]
    m = ik.solve_rotations(bent, limits=limits_lib.H36M_LIMITS)
    np.testing.assert_allclose(_euler(m, "L_Knee"), [[0.0, 90.0, 0.0]], atol=1e-9)
    others = [i for i, n in enumerate(RIG.names) if n != "L_Knee"]
    np.testing.assert_allclose(m.rotations[:, others],
                               np.broadcast_to(np.eye(3), (1, len(others), 3, 3)), atol=1e-9)
    assert not m.limit_hits().any()
    path = bvh.write_bvh(str(tmp_path / "knee.bvh"), m, order="ZXY", units="mm")
    b = bvh.read_bvh(path)
    knee = b.frames[0, b.channel_slices()[b.index("L_Knee")]]
    np.testing.assert_allclose(knee, [0.0, 90.0, 0.0], atol=1e-6)  # Zrot Xrot Yrot
    np.testing.assert_allclose(bvh.bvh_points(b, "mm"), bent, atol=1e-3)

    # Right elbow flexed 90 degrees: forearm swings forwards (+z) about +x by -90 degrees.
    bent = P.copy()
    fore = lengths[("R_Elbow", "R_Wrist")]
    bent[0, J["R_Wrist"]] = bent[0, J["R_Elbow"]] + [0.0, 0.0, fore]
    m = ik.solve_rotations(bent)
    np.testing.assert_allclose(_euler(m, "R_Elbow"), [[0.0, -90.0, 0.0]], atol=1e-9)
    np.testing.assert_allclose(_euler(m, "R_Shoulder"), [[0.0, 0.0, 0.0]], atol=1e-9)
    assert not m.limit_hits().any()

    # Whole body turned 90 degrees to its left about the vertical: root Ry(90),
    # ZXY = (0, 0, 90), every other joint unchanged.
    turned = P @ rot.axis_rotation("Y", np.pi / 2).T + [10.0, 20.0, 30.0]
    m = ik.solve_rotations(turned)
    np.testing.assert_allclose(_euler(m, "Pelvis"), [[0.0, 0.0, 90.0]], atol=1e-9)
    np.testing.assert_allclose(m.rotations[:, 1:],
                               np.broadcast_to(np.eye(3), (1, NUM_ROT_JOINTS - 1, 3, 3)),
                               atol=1e-9)
    np.testing.assert_allclose(m.root_positions, [[10.0, 20.0, 30.0]], atol=1e-9)

    # Head turned 120 degrees about the spine: beyond the neck's +-85 degree turn limit.
    head = P.copy()
    Ry = rot.axis_rotation("Y", np.deg2rad(120.0))
    for name in ("Nose", "Head"):
        head[0, J[name]] = head[0, J["Neck"]] + Ry @ (P[0, J[name]] - P[0, J["Neck"]])
    free = ik.solve_rotations(head, limits=None)
    np.testing.assert_allclose(_euler(free, "Neck", "XZY"), [[0.0, 0.0, 120.0]], atol=1e-9)
    m = ik.solve_rotations(head)
    np.testing.assert_allclose(_euler(m, "Neck", "XZY"), [[0.0, 0.0, 85.0]], atol=1e-9)
    report = m.limit_report()
    assert list(report) == ["Neck"] and report["Neck"]["axes"] == ["Y"]
    assert report["Neck"]["max_violation_deg"] == pytest.approx(35.0)


# ----------------------------------------------------------------------------- (a) round trip


def test_round_trip_mocap_within_1mm(clips, tmp_path):
    for name, P in clips.items():
        P = rig_lib.constant_bone_lengths(P)  # already rigid for mocap; exact for any input
        out = str(tmp_path / f"{name}.bvh")
        motion = pipeline.poses_to_bvh(P, out, fps=30.0, up="z", limits=None)
        b = bvh.read_bvh(out)
        Q = pose_io.from_yup(bvh.bvh_points(b, "cm"), "z")
        err = np.linalg.norm(Q - P, axis=-1)
        assert err.max() < 1.0, (name, err.max())
        # The in-memory motion is exact up to float rounding.
        assert np.abs(pose_io.from_yup(motion.points(), "z") - P).max() < 1e-6


def test_round_trip_other_orders_and_units(clips, tmp_path):
    P = next(iter(clips.values()))[:30]
    P = pose_io.to_yup(rig_lib.constant_bone_lengths(P), "z")
    motion = ik.solve_rotations(P, limits=None)
    for order, units in (("XYZ", "mm"), ("YZX", "m"), ("ZYX", "cm")):
        path = bvh.write_bvh(str(tmp_path / f"{order}.bvh"), motion, order=order, units=units)
        b = bvh.read_bvh(path)
        assert b.channels[1] == tuple(f"{a}rotation" for a in order)
        assert np.abs(bvh.bvh_points(b, units) - P).max() < 1.0


# ----------------------------------------------------------------------------- (b) limits


def _knee_reversed(P, side="L", frames=range(5, 15), bend_deg=60.0):
    """Copy of ``P`` (Y up) whose knee bends ``bend_deg`` the wrong way (the shin swung
    forwards of the thigh, about the hip line) in ``frames``."""
    hip, knee, ankle = (J[f"{side}_{n}"] for n in ("Hip", "Knee", "Ankle"))
    frames = np.asarray(list(frames))
    out = P.copy()
    thigh = rot.normalize(P[frames, knee] - P[frames, hip])
    lateral = rot.normalize(P[frames, J["L_Hip"]] - P[frames, J["R_Hip"]])
    lateral = rot.normalize(lateral - np.sum(lateral * thigh, -1, keepdims=True) * thigh)
    shin_len = np.linalg.norm(P[frames, ankle] - P[frames, knee], axis=-1, keepdims=True)
    R = rot.axis_angle_to_matrix(lateral, np.full(len(frames), -np.deg2rad(bend_deg)))
    out[frames, ankle] = P[frames, knee] + np.einsum("nij,nj->ni", R, thigh) * shin_len
    return out, frames


def test_limits_clamp_and_keep_other_bones(clips, tmp_path):
    P = pose_io.to_yup(rig_lib.constant_bone_lengths(next(iter(clips.values()))), "z")
    bad, frames = _knee_reversed(P)
    motion = ik.solve_rotations(bad, fps=30.0)
    hits = motion.limit_hits()
    k_knee, k_hip = RIG.index("L_Knee"), RIG.index("L_Hip")
    # The reversed knees are caught: the hip twist flips by ~180 degrees (clamped), and
    # the knee, solved against the clamped thigh, bends backwards (clamped straight).
    assert hits[frames, k_hip].all() and hits[frames, k_knee].all()
    report = motion.limit_report()
    assert set(frames.tolist()) <= set(report["L_Knee"]["frames"])

    path = bvh.write_bvh(str(tmp_path / "limited.bvh"), motion)
    b = bvh.read_bvh(path)
    Q = bvh.bvh_points(b, "cm")
    local, _ = bvh.local_transforms(b)
    order = [b.index(n) for n in RIG.names]
    # Clamped joints really are within their limits (file precision: 1e-6 deg).
    for i, joint in enumerate(RIG.names):
        lim = limits_lib.H36M_LIMITS.get(joint)
        if lim is not None:
            assert limits_lib.within_limits(local[:, order[i]], lim, tol_deg=1e-3).all(), joint
    # Every joint that hit no limit points its bone within 1 degree of the input.
    idx = J
    for i, joint in enumerate(RIG.joints[1:], start=1):
        a, c = idx[joint.aim[0]], idx[joint.aim[1]]
        u = rot.normalize(bad[:, c] - bad[:, a])
        v = rot.normalize(Q[:, c] - Q[:, a])
        ang = np.degrees(np.arccos(np.clip(np.sum(u * v, -1), -1.0, 1.0)))
        free = ~hits[:, i]
        assert free.any()
        assert ang[free].max() < 1.0, (joint.name, ang[free].max())
    # The clamped knees really moved: hyperextension is clamped to a straight knee.
    knee_x = limits_lib.H36M_LIMITS["L_Knee"].angles(motion.rotations[frames, k_knee])[:, 0]
    np.testing.assert_allclose(knee_x, 0.0, atol=1e-6)


def test_limit_table_is_mirrored_and_valid():
    L = limits_lib.H36M_LIMITS
    assert L["R_Knee"].x == L["L_Knee"].x == (0, 165)  # knees only flex
    assert L["L_Elbow"].x[1] == 0 and L["R_Elbow"].x[1] == 0  # elbows only flex
    assert L["R_Hip"].z == (-55, 35) and L["R_Hip"].y == (-55, 55)
    assert L["R_Shoulder"].center == (-1.0, -1.0, 1.0)
    assert set(L) <= set(RIG.names)
    # Mirror symmetry: a mirrored pose gives the mirrored violations.
    R = Rotation.random(300, random_state=2).as_matrix()
    M = np.diag([-1.0, 1.0, 1.0])
    for left in ("L_Hip", "L_Shoulder", "L_Collar"):
        right = "R_" + left[2:]
        np.testing.assert_allclose(limits_lib.within_limits(R, L[left]),
                                   limits_lib.within_limits(M @ R @ M, L[right]))
    # Clamping is idempotent and leaves in-range rotations untouched.
    for name in ("L_Hip", "L_Shoulder", "Neck"):
        C, v = limits_lib.clamp_rotations(R, L[name])
        assert limits_lib.within_limits(C, L[name]).all()
        inside = ~np.any(v > 0, -1)
        np.testing.assert_array_equal(C[inside], R[inside])
        _, v2 = limits_lib.clamp_rotations(C, L[name])
        assert np.all(v2 < 1e-4)


def test_real_mocap_rarely_hits_limits(clips):
    for name, P in clips.items():
        motion = ik.solve_rotations(pose_io.to_yup(P, "z"))
        assert motion.limit_hits().mean() < 0.02, (name, motion.limit_report())


# ----------------------------------------------------------------------------- filtering


class _Ema:
    """Test stand-in for a 1-Euro filter: exponential moving average, same call API."""

    def __init__(self, alpha=0.5):
        self.alpha, self.state = alpha, None

    def __call__(self, x, timestamp=None):
        x = np.asarray(x, np.float64)
        self.state = x if self.state is None else self.state + self.alpha * (x - self.state)
        return self.state.copy()


def test_filter_rotations_sign_continuity_and_smoothing(clips):
    P = pose_io.to_yup(next(iter(clips.values()))[:60], "z")
    motion = ik.solve_rotations(P, limits=None)
    q = rot.matrix_to_quat(motion.rotations)
    flipped = q.copy()
    flipped[1::2] *= -1.0  # same rotations, alternating signs
    a = filtering.filter_quaternions(q, _Ema(), 30.0)
    b = filtering.filter_quaternions(flipped, _Ema(), 30.0)
    np.testing.assert_allclose(rot.quat_to_matrix(a), rot.quat_to_matrix(b), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(a, axis=-1), 1.0, atol=1e-12)

    rng = np.random.default_rng(0)
    noisy = P + rng.normal(0.0, 15.0, P.shape)
    raw = ik.solve_rotations(noisy, limits=limits_lib.H36M_LIMITS)
    smooth = filtering.filter_motion(raw, _Ema(0.4), _Ema(0.4))
    jitter = lambda m: np.abs(np.diff(m.points(), 2, axis=0)).mean()  # noqa: E731
    assert jitter(smooth) < 0.7 * jitter(raw)
    R = smooth.rotations
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-9)
    for i, name in enumerate(RIG.names):  # limits re-applied after smoothing
        if name in limits_lib.H36M_LIMITS:
            assert limits_lib.within_limits(R[:, i], limits_lib.H36M_LIMITS[name]).all()


def test_one_euro_filters_when_available():
    pytest.importorskip("mhp_tf.postprocess.filters")
    rot_f, trans_f = filtering.one_euro_filters(30.0)
    P, _ = _rest_pose()
    P = np.repeat(P, 5, axis=0) + np.random.default_rng(1).normal(0.0, 5.0, (5, 18, 3))
    motion = filtering.filter_motion(ik.solve_rotations(P), rot_f, trans_f)
    assert motion.rotations.shape == (5, NUM_ROT_JOINTS, 3, 3)


# ----------------------------------------------------------------------------- (d) BVH text


def test_bvh_structure(clips, tmp_path):
    P = next(iter(clips.values()))[:25]
    motion = pipeline.poses_to_bvh(P, str(tmp_path / "m.bvh"), fps=25.0, up="z")
    text = (tmp_path / "m.bvh").read_text()
    assert text.startswith("HIERARCHY\nROOT Pelvis\n{\n\tOFFSET 0.000000 0.000000 0.000000\n")
    assert "\nMOTION\nFrames: 25\nFrame Time: 0.04000000\n" in text
    b = bvh.parse_bvh(text)
    assert b.names == list(RIG.names) and b.parents == list(RIG.parents)
    assert b.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation",
                             "Yrotation")
    assert all(c == ("Zrotation", "Xrotation", "Yrotation") for c in b.channels[1:])
    assert b.num_channels == 6 + 3 * (NUM_ROT_JOINTS - 1) == b.frames.shape[1]
    assert b.num_frames == 25 and b.fps == pytest.approx(25.0)
    assert sorted(b.names[i] for i in b.end_sites) == ["L_Elbow", "L_Knee", "Nose", "R_Elbow",
                                                       "R_Knee"]
    lines = text.splitlines()
    assert len(lines) == lines.index("MOTION") + 3 + 25
    assert all(len(line.split()) == b.num_channels for line in lines[-25:])
    # Offsets in cm: the thigh OFFSET is the median thigh length / 10.
    k = b.index("L_Knee")
    assert -b.offsets[k, 1] == pytest.approx(motion.lengths[("L_Hip", "L_Knee")] / 10.0,
                                             abs=1e-5)
    with pytest.raises(bvh.BvhError):
        bvh.parse_bvh(text.replace("Frames: 25", "Frames: 26"))


# ----------------------------------------------------------------------------- pose files


def test_load_pose_json_and_fill(tmp_path):
    P, _ = _rest_pose()
    a, b = P[0], P[0] + 100.0
    frames = [
        {"frame": 0, "poses3d": [a.tolist(), b.tolist()], "track_ids": [4, 9]},
        {"frame": 1, "poses3d": [], "track_ids": []},
        {"frame": 2, "poses3d": [(b + 20.0).tolist()], "track_ids": [9]},
    ]
    path = tmp_path / "poses.json"
    path.write_text(json.dumps({"fps": 25, "frames": frames}))
    poses, meta = pose_io.load_poses(str(path), track_id=9)
    assert poses.shape == (3, 18, 3) and meta["fps"] == 25
    np.testing.assert_array_equal(meta["missing"], [False, True, False])
    filled = pose_io.fill_missing(poses)
    np.testing.assert_allclose(filled[1], b + 10.0)
    first, _ = pose_io.load_pose_json(str(path), person=0)
    np.testing.assert_allclose(first[0], a)
    np.testing.assert_allclose(first[2], b + 20.0)
    # A bare list of frames with single (J, 3) poses in metres is read too.
    path.write_text(json.dumps([{"poses3d": (a / 1000.0).tolist()}]))
    poses, meta = pose_io.load_pose_json(str(path))
    assert poses.shape == (1, 18, 3) and meta["fps"] is None
    path.write_text(json.dumps({"units": "m", "frames": [{"poses3d": (a / 1000.0).tolist()}]}))
    np.testing.assert_allclose(pose_io.load_pose_json(str(path))[0][0], a)
    # Up-axis conversions are rotations and invert.
    for up in pose_io.UP_ROTATIONS:
        np.testing.assert_allclose(pose_io.from_yup(pose_io.to_yup(P, up), up), P, atol=1e-9)
        assert np.linalg.det(pose_io.UP_ROTATIONS[up]) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- (e) CLI


def test_cli_end_to_end(clips, tmp_path):
    P = rig_lib.constant_bone_lengths(next(iter(clips.values()))[:20])
    npy = tmp_path / "poses.npy"
    np.save(npy, P.astype(np.float32))
    out, report = tmp_path / "motion.bvh", tmp_path / "limits.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    # The 1-Euro filter comes from mhp_tf.postprocess; with a 1 kHz cutoff it barely moves.
    use_filter = importlib.util.find_spec("mhp_tf.postprocess.filters") is not None
    proc = subprocess.run(
        [sys.executable, "-m", "mhp_tf.motion.export_bvh", f"--poses={npy}", f"--out={out}",
         "--fps=20", "--up=z", "--no_limits", f"--report={report}"]
        + (["--filter", "--min_cutoff=1000"] if use_filter else []),
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "joint limits: off" in proc.stdout
    b = bvh.read_bvh(str(out))
    assert b.num_frames == 20 and b.fps == pytest.approx(20.0)
    assert b.num_channels == 6 + 3 * (NUM_ROT_JOINTS - 1)
    # No limits (and a 1 kHz filter cutoff): the input comes back within ~1 mm.
    Q = pose_io.from_yup(bvh.bvh_points(b, "cm"), "z")
    assert np.abs(Q - P).max() < 2.0
    assert json.loads(report.read_text()) == {}
