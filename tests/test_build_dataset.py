"""build_dataset end to end on small tfds builders written by the test."""

import os

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from mhp_tf.data import builder as builder_lib
from mhp_tf.data import datasets
from mhp_tf.data import pipeline
from mhp_tf.data import schema

import fakedata


def _write_images(folder, n, size=(96, 128)):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        img = rng.integers(0, 255, size + (3,), dtype=np.uint8)
        cv2.imwrite(os.path.join(folder, f"{i}.jpg"), img)


class MhpTestPoses3d(builder_lib.PoseBuilder):
    SKELETON = "h36m"

    def _iter_records(self, manual_dir, split):
        n = 6 if split == "train" else 3
        for i in range(n):
            cam = np.zeros((18, 3))
            cam[:, 2] = 3000 + 10 * i
            yield f"{split}{i}", os.path.join(manual_dir, f"{i}.jpg"), dict(
                bbox=[30, 20, 40, 60], joints_img=np.full((18, 2), 50.0) + i,
                joints_cam=cam, joints_vis=np.ones(18), have_depth=1.0, focal=[100, 100],
                principal_point=[64, 48], root_cam=cam[0], frame=i, sequence=f"seq{i % 2}")


class MhpTestPoses2d(builder_lib.PoseBuilder):
    SKELETON = "mpii"
    SPLITS = ("train",)

    def _iter_records(self, manual_dir, split):
        for i in range(2):
            yield f"{i}", os.path.join(manual_dir, f"{i}.jpg"), dict(
                bbox=[30, 20, 40, 60], joints_img=np.full((16, 2), 60.0),
                joints_cam=np.zeros((16, 3)), joints_vis=np.ones(16), have_depth=0.0,
                focal=[0, 0], principal_point=[0, 0], root_cam=[0, 0, 0])


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    manual = str(tmp_path / "manual")
    _write_images(manual, 6)
    data_dir = str(tmp_path / "tfds")
    classes = {"human36m": MhpTestPoses3d, "mpii": MhpTestPoses2d}
    monkeypatch.setattr(datasets, "builder_class", lambda name: classes[name])
    for cls in classes.values():
        cls(data_dir=data_dir).download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=manual))
    return data_dir


def test_training_batches(prepared):
    cfg = pipeline.PipelineConfig(input_size=64, heatmap_size=16, depth_bins=16)
    ds = datasets.build_dataset("human36m", "train", prepared, training=True, batch_size=4,
                                config=cfg, seed=3)
    batch = next(iter(ds))
    assert set(batch) == set(pipeline.TRAINING_KEYS)
    assert batch["image"].shape == (4, 64, 64, 3) and batch["coords"].shape == (4, 18, 3)
    # Repeats forever when training: more batches than examples.
    assert len(list(ds.take(5))) == 5


def test_eval_is_one_deterministic_pass(prepared):
    cfg = pipeline.PipelineConfig(input_size=64, heatmap_size=16, depth_bins=16)
    run = lambda: list(datasets.build_dataset(  # noqa: E731
        "human36m", "test", prepared, config=cfg).as_numpy_iterator())
    first, second = run(), run()
    assert len(first) == 3
    assert {"bbox", "affine", "joints_cam", "focal"} <= set(first[0])
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a["image"], b["image"])


def test_mix_3d_and_2d_half_and_half(prepared):
    cfg = pipeline.PipelineConfig(input_size=64, heatmap_size=16, depth_bins=16)
    ds = datasets.build_dataset("human36m+mpii", "train", prepared, training=True, config=cfg)
    have_depth = [float(ex["have_depth"]) for ex in ds.take(20).as_numpy_iterator()]
    assert have_depth == [1.0, 0.0] * 10


def test_mix_of_three_takes_each_in_turn(prepared):
    cfg = pipeline.PipelineConfig(input_size=64, heatmap_size=16, depth_bins=16)
    ds = datasets.build_dataset("mpii+human36m+mpii", "train", prepared, training=True,
                                config=cfg)
    have_depth = [float(ex["have_depth"]) for ex in ds.take(12).as_numpy_iterator()]
    assert have_depth == [0.0, 1.0, 0.0] * 4


def test_missing_dataset_says_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "builder_class", lambda name: MhpTestPoses3d)
    with pytest.raises(FileNotFoundError, match="python -m mhp_tf.data.build --dataset=human36m"):
        datasets.build_dataset("human36m", "train", str(tmp_path / "empty"))


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown dataset 'h36m'"):
        datasets.parse_name("h36m")
    with pytest.raises(ValueError, match="empty dataset name"):
        datasets.build_dataset("human36m++mpii", "train")


def test_invalid_records_are_skipped_and_counted(tmp_path):
    manual = str(tmp_path / "manual")
    _write_images(manual, 3)
    with open(os.path.join(manual, "2.jpg"), "wb") as f:
        f.write(b"not a jpeg")

    class MhpTestBadPoses(builder_lib.PoseBuilder):
        SKELETON = "h36m"
        SPLITS = ("train",)

        def _iter_records(self, manual_dir, split):
            good = dict(bbox=[30, 20, 40, 60], joints_img=np.full((18, 2), 50.0),
                        joints_cam=np.zeros((18, 3)), joints_vis=np.ones(18), have_depth=1.0,
                        focal=[1, 1], principal_point=[0, 0], root_cam=[0, 0, 0])
            nan = dict(good, joints_img=np.full((18, 2), np.nan))
            short = dict(good, joints_vis=np.ones(17))
            yield "ok", os.path.join(manual_dir, "0.jpg"), good
            yield "nan", os.path.join(manual_dir, "1.jpg"), nan
            yield "short", os.path.join(manual_dir, "1.jpg"), short
            yield "corrupt", os.path.join(manual_dir, "2.jpg"), good
            yield "missing", os.path.join(manual_dir, "9.jpg"), good
            yield "outside", os.path.join(manual_dir, "1.jpg"), dict(good, bbox=[500, 20, 5, 5])

    b = MhpTestBadPoses(data_dir=str(tmp_path / "tfds"))
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
    assert b.info.splits["train"].num_examples == 1


@pytest.mark.parametrize("name,start", [("human36m", 7), ("human36m+mpii", 5),
                                        ("human36m+mpii", 8), ("human36m+mpii+human36m", 7),
                                        ("human36m+mpii+human36m", 9)])
def test_fast_forward_continues_the_same_stream(prepared, name, start):
    cfg = pipeline.PipelineConfig(input_size=64, heatmap_size=16, depth_bins=16)
    build = lambda s: datasets.build_dataset(  # noqa: E731
        name, "train", prepared, training=True, config=cfg, seed=5, shuffle_buffer=4,
        start_example=s)
    full = list(build(0).take(start + 6).as_numpy_iterator())[start:]
    resumed = list(build(start).take(6).as_numpy_iterator())
    for a, b in zip(full, resumed):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["coords"], b["coords"])


def test_inspect_writes_a_grid_png(prepared, tmp_path):
    from mhp_tf.data import inspect as inspect_lib
    out = inspect_lib.inspect("human36m", "train", str(tmp_path / "grid.png"), num=6,
                              augment=True, data_dir=prepared, columns=3)
    grid = cv2.imread(out)
    # 2 rows x 3 columns of 256 px tiles with 2 px padding.
    assert grid.shape == (2 * 258 + 2, 3 * 258 + 2, 3)
    # Skeletons were drawn: the pure drawing colours appear in the image.
    assert (np.abs(grid[:, :, ::-1].astype(int) - (80, 220, 80)).sum(-1) < 10).sum() > 20


def test_empty_and_garbage_images_are_skipped_not_fatal(tmp_path):
    """A zero-byte file (OpenCV raises on an empty buffer) and a garbage file are
    counted skips; the build finishes with the good examples."""
    manual = str(tmp_path / "manual")
    _write_images(manual, 2)
    empty, garbage = fakedata.write_bad_images(manual)

    class MhpTestBadFiles(builder_lib.PoseBuilder):
        SKELETON = "mpii"
        SPLITS = ("train",)

        def _iter_records(self, manual_dir, split):
            for key, path in [("a", os.path.join(manual_dir, "0.jpg")), ("empty", empty),
                              ("garbage", garbage), ("b", os.path.join(manual_dir, "1.jpg"))]:
                yield key, path, schema.record_2d([30, 20, 40, 60], np.full((16, 2), 60.0),
                                                  np.ones(16))

    b = MhpTestBadFiles(data_dir=str(tmp_path / "tfds"))
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
    assert b.info.splits["train"].num_examples == 2
    assert dict(b.skip_counts["train"]) == {"empty image file": 1, "unreadable image": 1}


def test_read_image_bytes_names_the_bad_file(tmp_path):
    empty, garbage = fakedata.write_bad_images(str(tmp_path))
    with pytest.raises(schema.InvalidAnnotation, match=r"empty\.jpg is empty \(0 bytes\)"):
        builder_lib.read_image_bytes(empty)
    with pytest.raises(schema.InvalidAnnotation, match=r"garbage\.jpg is not a decodable image"):
        builder_lib.read_image_bytes(garbage)


def test_auto_build_refuses_a_data_dir_that_does_not_exist(tmp_path, monkeypatch):
    """A mistyped --data_dir is not silently filled with a synthetic build: the error names
    the folder, the set and the command that builds it; nothing is created."""
    missing = tmp_path / "typo" / "tfds"
    monkeypatch.delenv("MHP_TF_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match=(
            rf"data_dir {missing} does not exist, so dataset 'synthetic/tiny' \(12 train \+ 6 "
            rf"test images\) is not built there[\s\S]*python -m mhp_tf.data.build "
            rf"--dataset=synthetic/tiny --data_dir={missing}[\s\S]*--build_missing")):
        datasets.split_size("synthetic/tiny", "train", str(missing))
    # $MHP_TF_DATA_DIR is a choice too.
    monkeypatch.setenv("MHP_TF_DATA_DIR", str(missing))
    with pytest.raises(FileNotFoundError, match=rf"data_dir {missing} does not exist"):
        datasets.prepared_builder("synthetic/tiny")
    assert not (tmp_path / "typo").exists()


def test_build_missing_opts_in(tmp_path, monkeypatch):
    missing = tmp_path / "new" / "tfds"
    monkeypatch.setattr(datasets, "BUILD_MISSING", True)
    assert datasets.split_size("synthetic/tiny", "test", str(missing)) == 6
    # An existing folder is built into without the opt-in (the quickstart's first run).
    monkeypatch.setattr(datasets, "BUILD_MISSING", False)
    (tmp_path / "exists").mkdir()
    assert datasets.split_size("synthetic/tiny", "train", str(tmp_path / "exists")) == 12
