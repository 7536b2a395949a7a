"""Everyday procedural motion (datasets/synthetic/pose.everyday_clip): walking and standing
with arm holds, the pose prior real footage of people mostly shows."""

import numpy as np
import pytest

from mhp_tf_datasets.synthetic import body as body_lib
from mhp_tf_datasets.synthetic import generate
from mhp_tf_datasets.synthetic import pose as P


def _clip(seed, walk_p=0.6, frames=48):
    rng = np.random.default_rng(seed)
    return P.everyday_clip(rng, body_lib.sample_body(seed, 0), frames, walk_p=walk_p)


@pytest.mark.parametrize("seed", range(12))
def test_clips_are_inside_the_limits_on_the_ground_and_collision_free(seed):
    points, angles = _clip(seed)
    assert points.shape == (48, P.NUM_POINTS, 3) and np.all(np.isfinite(points))
    assert np.all(angles >= P.LOWER - 1e-9) and np.all(angles <= P.UPPER + 1e-9)
    lowest = np.min(points[..., 2] - P.CLEARANCE, axis=-1)
    np.testing.assert_allclose(lowest, 0.0, atol=1e-9)
    assert not np.any(P.self_collision(points))
    lengths = np.asarray(P.h36m_bone_lengths(points))  # one body: constant bone lengths
    np.testing.assert_allclose(lengths, np.broadcast_to(lengths[:1], lengths.shape), atol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_walks_alternate_the_legs_and_move_forward(seed):
    points, angles = _clip(seed, walk_p=1.0)
    left, right = angles[:, P.A["l_hip_flex"]], angles[:, P.A["r_hip_flex"]]
    assert np.corrcoef(left, right)[0, 1] < -0.9  # the legs swing in antiphase
    # arms swing against the legs on the same side when free (the shoulders' flex follows
    # the opposite hip): the pelvis travels along the facing direction, 0.8-1.6 m/s
    pelvis = points[:, P.P["Pelvis"], :2]
    yaw = np.deg2rad(angles[:, P.A["root_yaw"]])
    facing = np.stack([np.cos(yaw), np.sin(yaw)], -1)
    travel = np.diff(pelvis, axis=0)
    forward = np.sum(travel * facing[1:], -1)
    speed = forward.mean() * 30.0
    assert 0.5 < speed < 2.0, speed
    # the knee bends more in the swing than in the stance
    knee = angles[:, P.A["l_knee"]]
    assert knee.max() - knee.min() > 25


@pytest.mark.parametrize("seed", range(6))
def test_standing_clips_stay_in_place(seed):
    points, angles = _clip(seed, walk_p=0.0)
    pelvis = points[:, P.P["Pelvis"], :2]
    assert np.abs(pelvis - pelvis[0]).max() < 0.1
    assert angles[:, P.A["l_knee"]].max() <= 15 + 1e-9


def test_generator_uses_everyday_clips_only_when_asked():
    """everyday_fraction=0 (every existing config) draws nothing new: the capsule stream is
    unchanged; with 1 every procedural clip is an everyday one."""
    base = generate.GeneratorConfig(image_size=64, mocap=False)
    every = generate.GeneratorConfig(image_size=64, mocap=False, everyday_fraction=1.0)
    with pytest.raises(ValueError, match="everyday_fraction"):
        generate.GeneratorConfig(everyday_fraction=1.5)
    from mhp_tf_datasets.synthetic.realistic import generate as rgen
    names = []
    for cfg in (base, every):
        gen = rgen.RealisticGenerator.__new__(rgen.RealisticGenerator)
        generate.ExampleGenerator.__init__(gen, cfg, "train", {})
        names.append([gen.source_points(np.random.default_rng([0, i]), i)[0]
                      for i in range(6)])
    assert all(n.startswith("proc_") for n in names[0])
    assert all(n.startswith("everyday_") for n in names[1])
