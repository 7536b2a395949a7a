"""Joint sets and name-based mapping."""

import numpy as np
import pytest

from mhp_tf import skeletons


def test_h36m_matches_published_definition():
    sk = skeletons.H36M
    assert sk.num_joints == 18 and sk.joints[0] == "Pelvis" and sk.joints[17] == "Thorax"
    assert sk.flip_pairs == ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16))
    assert sk.eval_joints == tuple(range(17))
    assert len(sk.bones) == 16


def test_muco_and_mupots():
    assert skeletons.MUCO.root == 14 and skeletons.MUCO.root_name == "Pelvis"
    assert skeletons.MUCO.flip_pairs == ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13),
                                         (17, 18), (19, 20))
    assert skeletons.MUPOTS.joints == skeletons.MUCO.joints[:17]


def test_flip_permutation_is_an_involution():
    for sk in skeletons.SKELETONS.values():
        perm = sk.flip_permutation()
        np.testing.assert_array_equal(perm[perm], np.arange(sk.num_joints))
        for a, b in sk.flip_pairs:
            assert sk.joints[a][2:] == sk.joints[b][2:]


def test_mpii_to_h36m_by_name():
    idx = skeletons.mapping_indices("mpii", "h36m")
    h36m, mpii = skeletons.H36M, skeletons.MPII
    for j, i in enumerate(idx):
        if i >= 0:
            assert mpii.joints[i] == h36m.joints[j]
    # H36M joints MPII lacks: Torso, Nose.
    assert sorted(h36m.joints[j] for j in np.where(idx < 0)[0]) == ["Nose", "Torso"]


def test_head_top_alias_to_muco():
    idx = skeletons.mapping_indices("mpii", "muco")
    assert idx[skeletons.MUCO.index("Head_top")] == skeletons.MPII.index("Head")
    assert idx[skeletons.MUCO.index("Head")] == -1  # MuCo's head centre has no MPII twin


def test_map_joints_masks_missing():
    values = np.arange(16 * 2, dtype=np.float32).reshape(16, 2) + 1
    vis = np.ones(16)
    out, out_vis = skeletons.map_joints(values, vis, "mpii", "h36m")
    assert out.shape == (18, 2) and out_vis.shape == (18,)
    nose = skeletons.H36M.index("Nose")
    assert out_vis[nose] == 0 and np.all(out[nose] == 0)
    np.testing.assert_array_equal(out[skeletons.H36M.index("R_Ankle")], values[0])
    with pytest.raises(ValueError, match="expected 16 mpii joints"):
        skeletons.map_joints(values[:3], vis[:3], "mpii", "h36m")


def test_unknown_names_raise():
    with pytest.raises(KeyError, match="unknown joint 'Tail'"):
        skeletons.H36M.index("Tail")
    with pytest.raises(KeyError, match="unknown skeleton"):
        skeletons.get_skeleton("smpl")
