"""The look of the realistic synthetic set (mhp_tf_datasets.synthetic.realistic): asset
parsers and the no-network fallback, spherical-harmonic lighting, appearance, compositing and
camera effects. Nothing here needs the network or the asset cache."""

import struct
import warnings

import numpy as np
import pytest

from mhp_tf_datasets.synthetic.realistic import assets


# ----------------------------------------------------------------------------- assets

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: example

Files: *
Copyright: 2020 Someone
License: GPL-2+

Files: photos/a.jpg
       photos/b*.jpg
Copyright: 2018, Alice
 2019, Bob
License: CC-BY-4.0
 Full text of the licence
 goes here.

Files: photos/bad.jpg
Copyright: 2018, Carol
License: CC-BY-NC-4.0

License: GPL-2+
 Standalone licence paragraph (no Files field).
"""


def test_dep5_parser_reads_multiline_fields_and_last_match_wins():
    stanzas = assets.parse_dep5(DEP5)
    assert [s["license"] for s in stanzas] == ["GPL-2+", "CC-BY-4.0", "CC-BY-NC-4.0"]
    assert stanzas[1]["files"] == ["photos/a.jpg", "photos/b*.jpg"]
    assert stanzas[1]["copyright"] == "2018, Alice 2019, Bob"
    assert assets.dep5_licence(stanzas, "photos/a.jpg") == ("CC-BY-4.0", "2018, Alice 2019, Bob")
    assert assets.dep5_licence(stanzas, "photos/b2.jpg")[0] == "CC-BY-4.0"
    assert assets.dep5_licence(stanzas, "photos/c.jpg")[0] == "GPL-2+"
    assert assets.dep5_licence(stanzas, "photos/bad.jpg")[0] == "CC-BY-NC-4.0"
    assert assets.dep5_licence([], "x.jpg") == ("", "")


def test_noncommercial_or_unclear_licences_are_never_recorded():
    ok = assets._record("background", "n", "f", "p", "1", "s", "CC-BY-4.0", "c")
    assert ok is not None and ok["licence"] == "CC-BY-4.0"
    for bad in ("CC-BY-NC-4.0", "CC BY-NC-SA 3.0", "free for non-commercial use", ""):
        assert assets._record("background", "n", "f", "p", "1", "s", bad, "c") is None


def _gimp_pattern(pixels: np.ndarray, name: bytes = b"Test pattern") -> bytes:
    h, w = pixels.shape[:2]
    bpp = 1 if pixels.ndim == 2 else pixels.shape[2]
    header = struct.pack(">5I", 0, 1, w, h, bpp) + b"GPAT" + name + b"\0"
    header = struct.pack(">I", len(header)) + header[4:]
    return header + pixels.astype(np.uint8).tobytes()


@pytest.mark.parametrize("bpp", [1, 2, 3, 4])
def test_gimp_pattern_reader(bpp):
    rng = np.random.default_rng(bpp)
    pixels = rng.integers(0, 256, (5, 7, bpp) if bpp > 1 else (5, 7)).astype(np.uint8)
    img = assets.read_gimp_pattern(_gimp_pattern(pixels))
    assert img.shape == (5, 7, 3) and img.dtype == np.uint8
    grey = pixels if bpp == 1 else pixels[..., 0]
    expected = np.stack([grey] * 3, -1) if bpp <= 2 else pixels[..., :3]
    np.testing.assert_array_equal(img, expected)


def test_gimp_pattern_reader_rejects_bad_files():
    good = _gimp_pattern(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="magic"):
        assets.read_gimp_pattern(good[:20] + b"XXXX" + good[24:])
    with pytest.raises(ValueError, match="truncated"):
        assets.read_gimp_pattern(good[:-5])
    with pytest.raises(ValueError, match="shorter"):
        assets.read_gimp_pattern(b"GPAT")


def test_missing_apt_get_degrades_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "APT_GET", "no-such-apt-get-here")
    monkeypatch.setattr(assets, "_LOADED", {})
    with pytest.warns(UserWarning, match="unavailable"):
        loaded = assets.load_assets(str(tmp_path), download=True)
    assert loaded.backgrounds == [] and loaded.hdris == [] and loaded.textures == []


def test_uncached_without_download_warns(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "_LOADED", {})
    with pytest.warns(UserWarning, match="not cached"):
        loaded = assets.load_assets(str(tmp_path), download=False)
    assert loaded.backgrounds == [] and loaded.manifest == []


def test_cached_records_are_loaded(tmp_path, monkeypatch):
    """A hand-made cache (one package) is read back: images in RGB order, HDRI as float."""
    import json
    import os

    import cv2
    monkeypatch.setattr(assets, "_LOADED", {})
    out = assets.cache_dir(str(tmp_path))
    os.makedirs(os.path.join(out, "backgrounds"))
    os.makedirs(os.path.join(out, "hdri"))
    bg = np.zeros((8, 12, 3), np.uint8)
    bg[..., 0] = 200  # red
    cv2.imwrite(os.path.join(out, "backgrounds", "x.png"), bg[..., ::-1])
    np.save(os.path.join(out, "hdri", "h.npy"), np.ones((4, 8, 3), np.float32))
    records = [{"kind": "background", "name": "x", "file": "backgrounds/x.png"},
               {"kind": "hdri", "name": "h", "file": "hdri/h.npy"}]
    with open(os.path.join(out, "manifest.lomiri-wallpapers-16.04.json"), "w") as f:
        json.dump(records, f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the other packages are missing
        loaded = assets.load_assets(str(tmp_path), download=False)
    assert [n for n, _ in loaded.backgrounds] == ["x"]
    np.testing.assert_array_equal(loaded.backgrounds[0][1][..., 0], 200)
    assert loaded.hdris[0][1].dtype == np.float32
