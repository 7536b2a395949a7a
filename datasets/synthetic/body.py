"""Per-person body model of the synthetic dataset: bone lengths, body widths and clothing.

A :class:`Body` is fully determined by ``(body_id, seed)`` (:func:`sample_body`), so a
``subject`` id in the dataset always denotes the same proportions and the same clothes.

Lengths are in metres. The defaults are the mean Human3.6M bone lengths (mm /1000):
pelvis-hip 0.133, hip-knee 0.443, knee-ankle 0.454, pelvis-torso 0.233, torso-neck 0.257,
neck-nose 0.121, nose-head(top) ~0.115, neck-shoulder 0.151, shoulder-elbow 0.279,
elbow-wrist 0.252; the ankle-toe length (0.14) is ours (toes are not H36M joints; they orient
the rendered feet).
"""

import dataclasses
from typing import Dict, Tuple

import numpy as np

# Mean H36M bone lengths (metres) and our additions (foot, neck -> head top).
MEAN_LENGTHS = {
    "hip_half": 0.133,     # pelvis -> hip (lateral)
    "thigh": 0.443,        # hip -> knee
    "shin": 0.454,         # knee -> ankle
    "foot": 0.140,         # ankle -> toe point (not an H36M joint)
    "spine_low": 0.233,    # pelvis -> torso
    "spine_up": 0.257,     # torso -> neck
    "neck_nose": 0.121,    # neck -> nose
    "neck_head": 0.225,    # neck -> head top
    "shoulder": 0.151,     # neck -> shoulder
    "upper_arm": 0.279,    # shoulder -> elbow
    "forearm": 0.252,      # elbow -> wrist
}

# Base render radii (metres) of the limbs, before the per-person bulk factors.
BASE_RADII = {
    "upper_arm": (0.050, 0.040),
    "forearm": (0.040, 0.029),
    "hand": (0.034, 0.028),
    "thigh": (0.085, 0.058),
    "shin": (0.058, 0.038),
    "foot": (0.042, 0.032),
    "neck": (0.052, 0.048),
    "shoulder": (0.062, 0.056),
}

SKIN_LIGHT = np.array([0.96, 0.80, 0.69])
SKIN_DARK = np.array([0.30, 0.19, 0.13])
HAIR_COLOURS = np.array([
    [0.05, 0.04, 0.04], [0.20, 0.12, 0.07], [0.40, 0.26, 0.13], [0.80, 0.66, 0.40],
    [0.55, 0.22, 0.10], [0.60, 0.60, 0.60], [0.12, 0.08, 0.06]])


@dataclasses.dataclass(frozen=True)
class Body:
    """One synthetic person: bone lengths (m), body shape factors and clothing colours (RGB 0-1).

    ``sleeves``: 0 sleeveless, 1 short, 2 long. ``trousers``: 0 shorts, 1 long.
    ``hair``: 0 bald, 1 short, 2 long. ``shirt_pattern``: 0 plain, 1 horizontal stripes.
    """

    body_id: int
    lengths: Dict[str, float]
    bulk: float             # overall girth (trunk depth, limb radii)
    chest_width: float      # chest lateral semi-axis factor
    hip_width: float        # hip/pelvis lateral semi-axis factor
    arm_girth: float
    leg_girth: float
    head_scale: float
    skin: Tuple[float, float, float]
    hair_colour: Tuple[float, float, float]
    hair: int
    shirt: Tuple[float, float, float]
    shirt2: Tuple[float, float, float]
    shirt_pattern: int
    stripe_period: float
    sleeves: int
    trouser_colour: Tuple[float, float, float]
    trousers: int
    shoes: Tuple[float, float, float]

    def radius(self, part: str) -> Tuple[float, float]:
        """Render radii (start, end) in metres of a limb part, scaled by girth and height."""
        ra, rb = BASE_RADII[part]
        scale = self.lengths["thigh"] / MEAN_LENGTHS["thigh"]
        if part in ("upper_arm", "forearm", "shoulder"):
            g = self.bulk * self.arm_girth
        elif part in ("thigh", "shin"):
            g = self.bulk * self.leg_girth
        elif part in ("hand", "foot"):
            g = 1.0
        else:
            g = 0.5 * (1.0 + self.bulk)
        return ra * g * scale, rb * g * scale


def _hsv_colour(rng: np.random.Generator, s_range=(0.0, 0.9), v_range=(0.15, 0.95)):
    """A random clothing colour (RGB 0-1) from HSV ranges."""
    h = rng.uniform(0.0, 6.0)
    s = rng.uniform(*s_range)
    v = rng.uniform(*v_range)
    c = v * s
    x = c * (1 - abs(h % 2 - 1))
    m = v - c
    rgb = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(h) % 6]
    return tuple(float(a + m) for a in rgb)


def sample_body(body_id: int, seed: int = 0) -> Body:
    """The body with id ``body_id`` (deterministic for a given ``(body_id, seed)``)."""
    rng = np.random.default_rng([0xB0D1, int(seed), int(body_id)])
    height = float(np.clip(rng.normal(1.0, 0.055), 0.86, 1.14))
    legs = height * float(np.clip(rng.normal(1.0, 0.035), 0.92, 1.08))
    arms = height * float(np.clip(rng.normal(1.0, 0.035), 0.92, 1.08))
    spine = height * float(np.clip(rng.normal(1.0, 0.035), 0.92, 1.08))
    head = float(np.sqrt(height) * np.clip(rng.normal(1.0, 0.03), 0.93, 1.07))
    shoulders = height * float(np.clip(rng.normal(1.0, 0.07), 0.85, 1.18))
    hips = height * float(np.clip(rng.normal(1.0, 0.07), 0.85, 1.18))

    def jitter():
        return float(np.clip(rng.normal(1.0, 0.02), 0.95, 1.05))

    m = MEAN_LENGTHS
    lengths = {
        "hip_half": m["hip_half"] * hips,
        "thigh": m["thigh"] * legs * jitter(),
        "shin": m["shin"] * legs * jitter(),
        "foot": m["foot"] * legs * jitter(),
        "spine_low": m["spine_low"] * spine * jitter(),
        "spine_up": m["spine_up"] * spine * jitter(),
        "neck_nose": m["neck_nose"] * head,
        "neck_head": m["neck_head"] * head,
        "shoulder": m["shoulder"] * shoulders,
        "upper_arm": m["upper_arm"] * arms * jitter(),
        "forearm": m["forearm"] * arms * jitter(),
    }
    skin = SKIN_LIGHT + (SKIN_DARK - SKIN_LIGHT) * rng.beta(1.3, 1.6)
    skin = np.clip(skin * rng.uniform(0.95, 1.05, 3), 0, 1)
    shirt = _hsv_colour(rng)
    return Body(
        body_id=int(body_id),
        lengths=lengths,
        bulk=float(rng.uniform(0.85, 1.3)),
        chest_width=float(rng.uniform(0.9, 1.1)),
        hip_width=float(rng.uniform(0.9, 1.15)),
        arm_girth=float(rng.uniform(0.9, 1.15)),
        leg_girth=float(rng.uniform(0.9, 1.15)),
        head_scale=float(rng.uniform(0.95, 1.05)),
        skin=tuple(float(c) for c in skin),
        hair_colour=tuple(float(c) for c in HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]),
        hair=int(rng.choice(3, p=[0.12, 0.58, 0.30])),
        shirt=shirt,
        shirt2=_hsv_colour(rng),
        shirt_pattern=int(rng.random() < 0.3),
        stripe_period=float(rng.uniform(0.04, 0.12)),
        sleeves=int(rng.choice(3, p=[0.15, 0.45, 0.40])),
        trouser_colour=_hsv_colour(rng, (0.0, 0.7), (0.08, 0.7)),
        trousers=int(rng.random() < 0.8),
        shoes=_hsv_colour(rng, (0.0, 0.5), (0.05, 0.6)),
    )
