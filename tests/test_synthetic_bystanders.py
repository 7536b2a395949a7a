"""Other people in the frame (:class:`compose.Bystander`): drawn behind or in front of the
person by depth, hiding it only when in front, and changing nothing when absent."""

import numpy as np

from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.realistic import compose
from mhp_tf_datasets.synthetic.realistic.gbuffer import GBuffer
from synthetic_helpers import flat_patch

SIZE = 96


def _patch(rows, cols, depth):
    return flat_patch(SIZE, rows, cols, depth)


def _render(person, others=(), seed=11):
    cam = scene.Camera(300.0, 300.0, (SIZE - 1) / 2, (SIZE - 1) / 2, SIZE, SIZE, np.eye(3),
                       np.zeros(3))
    return compose.render(person, seed, compose.EMPTY_ASSETS, camera=cam, occluder_p=0.0,
                          bystanders=others)


PERSON = (slice(12, 84), slice(16, 80))
OTHER = (slice(30, 66), slice(36, 60))    # inside the person's rectangle
INSIDE = (slice(38, 58), slice(42, 54))   # well inside the bystander (edges, blur, JPEG)
PERSON_ONLY = (slice(20, 76), slice(20, 26))


def test_a_bystander_behind_is_hidden_by_the_person_and_one_in_front_hides_it():
    person = _patch(*PERSON, depth=3.0)
    alone = _render(person)
    behind = _render(person, [compose.Bystander(_patch(*OTHER, depth=4.5))])
    front = _render(person, [compose.Bystander(_patch(*OTHER, depth=2.0))])
    assert behind.bystanders == front.bystanders == 1 and alone.bystanders == 0
    # wholly behind the person: not a pixel changes
    np.testing.assert_array_equal(behind.image, alone.image)
    np.testing.assert_array_equal(behind.person_alpha, alone.person_alpha)
    # in front: its own look over the person, which it hides there and only there
    diff = np.abs(front.image.astype(np.int64) - alone.image).sum(-1)
    assert diff[INSIDE].mean() > 10
    assert front.person_alpha[INSIDE].max() < 1e-6
    np.testing.assert_allclose(front.person_alpha[PERSON_ONLY], 1.0)


def test_no_bystander_in_view_changes_nothing():
    person = _patch(*PERSON, depth=3.0)
    alone = _render(person)
    empty = _render(person, [compose.Bystander(GBuffer.empty(SIZE, SIZE))])
    assert empty.bystanders == 0
    np.testing.assert_array_equal(empty.image, alone.image)
    np.testing.assert_array_equal(empty.person_alpha, alone.person_alpha)
