"""Crops of detected people use the detector's own enlargement (``PersonDetector.crop_scale``);
given boxes keep the estimator's ``bbox_scale`` (training: 1.25 x a tight person box)."""

import numpy as np
import pytest

import inference_helpers as helpers
from mhp_tf.inference import detector as det
from mhp_tf.inference.estimator import PoseEstimator
from mhp_tf.inference.video import VideoPoseEstimator
from mhp_tf.postprocess import camera

IMAGE = np.full((120, 160, 3), 90, np.uint8)
BOX = np.array([50.0, 20.0, 40.0, 70.0])


class _FixedDetector(det.PersonDetector):
    """One person at :data:`BOX`, with a crop scale of its own."""

    name = "fixed"

    def __init__(self, crop_scale):
        self.crop_scale = crop_scale

    def detect(self, image):
        return [det.Detection(box=BOX.copy(), score=0.9)]


def _model(crops):
    # a standing template pose in the middle of every crop (heatmap units of 8)
    return np.tile(np.concatenate([helpers.TEMPLATE_XY * 8, np.full((18, 1), 16.0)], 1),
                   (len(crops), 1, 1))


class _Recording(PoseEstimator):
    """A PoseEstimator that keeps the crop boxes it cut."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cut = []

    def crop_boxes(self, boxes, image_width, image_height, bbox_scale=None):
        crop = super().crop_boxes(boxes, image_width, image_height, bbox_scale)
        self.cut.append(crop)
        return crop


def _estimator(detector, **kwargs):
    return _Recording(_model, input_size=32, heatmap_size=8, depth_bins=32, detector=detector,
                      **kwargs)


def _crop(scale):
    return camera.process_boxes(BOX[None], IMAGE.shape[1], IMAGE.shape[0], 1.0, scale)[0][0]


def test_blazepose_boxes_are_enlarged_less_than_person_boxes():
    assert det.BlazePoseDetector.crop_scale == 1.1
    assert det.HOGDetector.crop_scale is None and det.PersonDetector.crop_scale is None


@pytest.mark.parametrize("detector_scale, override, want", [
    (1.1, None, 1.1),    # the detector's own scale
    (None, None, 1.25),  # a detector without one: the estimator's bbox_scale
    (1.1, 1.4, 1.4),     # detector_bbox_scale= wins
])
def test_detected_people_are_cropped_at_the_detector_scale(detector_scale, override, want):
    est = _estimator(_FixedDetector(detector_scale), detector_bbox_scale=override)
    assert est.detector_crop_scale == want
    result = est.estimate(IMAGE)[0]
    np.testing.assert_allclose(result.crop_box, _crop(want))
    np.testing.assert_allclose(est.cut[-1][0], _crop(want))
    # the scale changes the crop, hence the decoded joints: the test can see it
    assert not np.allclose(_crop(want), _crop(1.25)) or want == 1.25


def test_given_boxes_keep_bbox_scale_unless_told():
    est = _estimator(_FixedDetector(1.1))
    np.testing.assert_allclose(est.estimate(IMAGE, boxes=BOX[None])[0].crop_box, _crop(1.25))
    np.testing.assert_allclose(
        est.estimate(IMAGE, boxes=BOX[None], bbox_scale=est.detector_crop_scale)[0].crop_box,
        _crop(1.1))
    np.testing.assert_allclose(est.estimate(IMAGE, bbox_scale=1.6)[0].crop_box, _crop(1.6))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_crop_scales_are_refused(bad):
    with pytest.raises(ValueError, match="detector_bbox_scale must be positive"):
        _estimator(None, detector_bbox_scale=bad)
    est = _estimator(None)
    with pytest.raises(ValueError, match="bbox_scale must be positive"):
        est.estimate(IMAGE, boxes=BOX[None], bbox_scale=bad)


def test_video_crops_detections_at_the_detector_scale_and_tracks_as_person_boxes():
    est = _estimator(_FixedDetector(1.1))
    video = VideoPoseEstimator(est, fps=10.0, redetect_every=3, smooth=False)
    assert video.process(IMAGE).detected and video.process(IMAGE).detected is False
    np.testing.assert_allclose(est.cut[0][0], _crop(1.1))  # frame 0: a detection
    # later frames follow the keypoint box of the track, enlarged as a person box: the crop
    # is 1.25 x that box, not the detector's 1.1
    tracked = video.tracker.boxes()[0]
    assert not video.process(IMAGE).detected
    assert len(est.cut) == 3
    np.testing.assert_allclose(
        est.cut[-1][0], camera.process_boxes(tracked[None], 160, 120, 1.0, 1.25)[0][0])
