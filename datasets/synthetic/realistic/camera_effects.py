"""What a real camera does to the light: blur, noise, white balance, the sRGB curve, JPEG.

All in this order on a linear-light float image ``[H, W, 3]``: motion blur (a short line
kernel at a random angle) and defocus (a disc kernel) -- both applied to the whole frame, so
the person and background soften together --, a white-balance/colour jitter (per-channel
gains), sensor noise (shot noise proportional to the signal plus read noise), the sRGB
transfer curve (IEC 61966-2-1), 8-bit quantisation and a JPEG re-encode at a random quality.
"""

import dataclasses
from typing import Optional, Tuple

import cv2
import numpy as np


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light (IEC 61966-2-1)."""
    x = np.asarray(x, np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


_SRGB8_TO_LINEAR = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)


def srgb8_to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> linear float32; a table of :func:`srgb_to_linear` of ``v / 255``."""
    return _SRGB8_TO_LINEAR[np.asarray(rgb, np.uint8)]


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB-encoded values, clipped to [0, 1]."""
    x = np.clip(np.asarray(x, np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x,
                    1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


_LUT_STEPS = 1 << 16
_LINEAR_TO_SRGB8 = np.round(linear_to_srgb(
    np.arange(_LUT_STEPS, dtype=np.float64) / (_LUT_STEPS - 1)) * 255.0).astype(np.uint8)


def linear_to_srgb8(x: np.ndarray) -> np.ndarray:
    """Linear light -> uint8 sRGB through a 65,536-entry table of :func:`linear_to_srgb`
    (nearest entry); differs from rounding the exact curve only within 1/65,535 of a code
    boundary, i.e. by at most one code."""
    idx = np.clip(np.asarray(x, np.float32) * (_LUT_STEPS - 1) + 0.5, 0, _LUT_STEPS - 1)
    return np.take(_LINEAR_TO_SRGB8, idx.astype(np.int32))  # (take: faster than indexing)


_GAUSS_TABLE: list = []


def gaussian_noise(rng: np.random.Generator, shape) -> np.ndarray:
    """Standard normal float32 noise, quantised: a uniform 16-bit integer picks one of 65,536
    equally likely normal quantiles (tails cut at 4.3 sigma). Four times cheaper than
    ``rng.standard_normal`` and indistinguishable as sensor noise."""
    if not _GAUSS_TABLE:
        from statistics import NormalDist
        inv_cdf = NormalDist().inv_cdf
        q = np.array([inv_cdf((k + 0.5) / (1 << 16)) for k in range(1 << 16)])
        _GAUSS_TABLE.append((q / q.std()).astype(np.float32))
    return np.take(_GAUSS_TABLE[0], rng.integers(0, 1 << 16, size=shape, dtype=np.uint16))


@dataclasses.dataclass
class CameraEffects:
    """One draw of the camera's imperfections (see :func:`sample_effects`)."""

    motion_length: float = 0.0    # px; 0 = none
    motion_angle: float = 0.0     # radians
    defocus_radius: float = 0.0   # px; 0 = none
    gains: Tuple[float, float, float] = (1.0, 1.0, 1.0)
    shot_noise: float = 0.0       # std of the noise at signal 1 is sqrt(shot_noise)
    read_noise: float = 0.0       # std, linear units
    jpeg_quality: Optional[int] = None


def sample_effects(rng: np.random.Generator, image_size: int = 256) -> CameraEffects:
    """A random draw: motion blur 30% of the time (up to 2.5% of the image size), defocus
    25% (radius up to 0.8%), white-balance gains ~ N(1, 0.06), noise always (mild), JPEG at
    quality U(35, 95) 80% of the time."""
    scale = image_size / 256
    fx = CameraEffects()
    if rng.random() < 0.3:
        fx.motion_length = float(rng.uniform(1.5, 6.5) * scale)
        fx.motion_angle = float(rng.uniform(0, np.pi))
    if rng.random() < 0.25:
        fx.defocus_radius = float(rng.uniform(0.6, 2.0) * scale)
    fx.gains = tuple(float(g) for g in np.clip(rng.normal(1.0, 0.06, 3), 0.8, 1.2))
    fx.shot_noise = float(rng.uniform(0.0, 2e-3))
    fx.read_noise = float(rng.uniform(0.0, 6e-3))
    if rng.random() < 0.8:
        fx.jpeg_quality = int(rng.integers(35, 96))
    return fx


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised line kernel of ``length`` px at ``angle`` (antialiased ends)."""
    size = int(np.ceil(length)) | 1
    k = np.zeros((size * 4 + 1, size * 4 + 1), np.float32)
    c = size * 2
    dx, dy = np.cos(angle) * length * 2, np.sin(angle) * length * 2  # drawn at 4x, shrunk
    cv2.line(k, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))),
             1.0, 1, cv2.LINE_AA)
    k = cv2.resize(k, (size + 2, size + 2), interpolation=cv2.INTER_AREA)
    return k / k.sum()


def disc_kernel(radius: float) -> np.ndarray:
    """A normalised disc (defocus) kernel, antialiased by supersampling."""
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r:r + 1:0.25, -r:r + 1:0.25]
    disc = (xx ** 2 + yy ** 2 <= radius ** 2).astype(np.float32)
    n = 2 * r + 1
    k = disc[:n * 4, :n * 4].reshape(n, 4, n, 4).mean(axis=(1, 3))
    return k / k.sum()


def apply_blur(linear: np.ndarray, fx: CameraEffects) -> np.ndarray:
    out = linear
    if fx.motion_length > 0:
        out = cv2.filter2D(out, -1, motion_kernel(fx.motion_length, fx.motion_angle),
                           borderType=cv2.BORDER_REFLECT)
    if fx.defocus_radius > 0:
        out = cv2.filter2D(out, -1, disc_kernel(fx.defocus_radius), borderType=cv2.BORDER_REFLECT)
    return out


def encode_jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """uint8 RGB -> JPEG at ``quality`` -> uint8 RGB (the artefacts are the point)."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()


def apply_effects(linear: np.ndarray, fx: CameraEffects,
                  rng: np.random.Generator) -> np.ndarray:
    """Linear float ``[H, W, 3]`` -> final uint8 sRGB ``[H, W, 3]``."""
    out = apply_blur(np.asarray(linear, np.float32), fx)
    out = out * np.asarray(fx.gains, np.float32)
    if fx.shot_noise > 0 or fx.read_noise > 0:
        std = np.sqrt(np.maximum(out, 0.0) * fx.shot_noise + fx.read_noise ** 2)
        out = out + std * gaussian_noise(rng, out.shape)
    img = linear_to_srgb8(out)
    if fx.jpeg_quality is not None:
        img = encode_jpeg(img, fx.jpeg_quality)
    return img
