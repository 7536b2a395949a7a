"""Inference: person detection, top-down 3D pose estimation on images and video.

* :mod:`.estimator`: :class:`PoseEstimator` (image + boxes -> 2D / 3D poses).
* :mod:`.video`: :class:`VideoPoseEstimator` (tracking, 1-Euro smoothing, track ids).
* :mod:`.detector`: BlazePose (MediaPipe) and OpenCV HOG person detectors.
* :mod:`.blazepose`: BlazePose GHUM landmark models (33 landmarks from upright ROIs).
* :mod:`.backends`: Keras / SavedModel / TFLite / callable runtimes.
* :mod:`.fetch_models`: ``python -m mhp_tf.inference.fetch_models`` installs the BlazePose models.
"""
