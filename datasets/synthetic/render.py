"""Rendering one synthetic person: volumetric body, scene, exact labels.

:func:`render_example` turns a pose in camera coordinates (mm), a :class:`~.scene.Camera` and
a :class:`~.body.Body` into an RGB image and its labels in the mhp_tf schema.

How the image is made (see :mod:`.raster`): the body is 20 solids — the trunk as two round
cones stretched to elliptical cross-sections (pelvis->waist, waist->chest), ellipsoids for
the seat, head and nose, round cones (tapered capsules) for neck, shoulders, upper arms,
forearms, hands, thighs, shins and feet — sized by the body's bone lengths and girths and
placed on the 3D joints. Every solid is intersected exactly with the pixel rays
and z-buffered together with the ground plane and the occluders, so nearer surfaces hide
farther ones at every pixel, perspective is exact and shading (Lambert + sky ambient +
highlight from one random directional light) follows the true surface normals. Pixel colours
come only from the clothes, skin, light and background — never from depth or any label.
"""

from typing import Dict, Optional

import cv2
import numpy as np

from mhp_tf_datasets.synthetic import raster
from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.body import Body
from mhp_tf_datasets.synthetic.body import MEAN_LENGTHS
from mhp_tf_datasets.synthetic.pose import NUM_JOINTS
from mhp_tf_datasets.synthetic.pose import NUM_POINTS
from mhp_tf_datasets.synthetic.pose import P

PART_NAMES = ("hips", "seat", "chest", "neck", "head", "nose", "L_shoulder", "R_shoulder",
              "L_upper_arm", "R_upper_arm", "L_forearm", "R_forearm", "L_hand", "R_hand",
              "L_thigh", "R_thigh", "L_shin", "R_shin", "L_foot", "R_foot")
PART = {name: i for i, name in enumerate(PART_NAMES)}
OCCLUDER_PART = 100   # part ids >= this are scene objects
GROUND_PART = 200
BBOX_MARGIN = 0.05    # fraction of the tight box size added on every side


def _unit(v):
    n = np.linalg.norm(v)
    return v / n if n > 1e-9 else v


def _frame(right_hint, up_hint):
    """Orthonormal (right, up, forward) columns with forward = up x right."""
    right = _unit(right_hint)
    up = _unit(up_hint - (up_hint @ right) * right)
    fwd = np.cross(up, right)
    return np.stack([right, up, fwd], 1)


def add_toes(points_cam: np.ndarray, foot_length: float = 0.14) -> np.ndarray:
    """Append R_Toe, L_Toe to an 18-joint pose (m): forward of the pelvis, off the shin."""
    pts = np.asarray(points_cam, np.float64)
    right = pts[P["R_Hip"]] - pts[P["L_Hip"]]
    up = pts[P["Torso"]] - pts[P["Pelvis"]]
    fwd = _frame(right, up)[:, 2]
    toes = []
    for side in ("R", "L"):
        shin = _unit(pts[P[f"{side}_Ankle"]] - pts[P[f"{side}_Knee"]])
        f = _unit(fwd - (fwd @ shin) * shin)
        toes.append(pts[P[f"{side}_Ankle"]] + foot_length * _unit(f + 0.35 * shin))
    return np.concatenate([pts, np.stack(toes)], 0)


# ----------------------------------------------------------------------------- materials


def _skin(body: Body):
    return raster.solid(body.skin, 0.08)


def _shirt(body: Body, body_up: np.ndarray):
    """Shirt material; horizontal stripes along the body's up axis when patterned."""
    colour = np.asarray(body.shirt)
    if not body.shirt_pattern:
        return raster.solid(colour, 0.03)
    c2 = np.asarray(body.shirt2)
    period = body.stripe_period

    def material(points, normals):
        w = (np.floor(points @ body_up / period) % 2)[:, None]
        return colour * (1 - w) + c2 * w, np.full(len(points), 0.03)
    return material


def _split_along(a, b, split, near_mat, far_mat):
    """Material of a limb: ``near_mat`` for the fraction < split of the way from a to b."""
    ab = b - a
    ab2 = max(ab @ ab, 1e-12)

    def material(points, normals):
        s = (points - a) @ ab / ab2
        near = s < split
        c1, s1 = near_mat(points, normals)
        c2, s2 = far_mat(points, normals)
        return (np.where(near[:, None], c1, c2), np.where(near, s1, s2))
    return material


def _head_material(body: Body, centre, axes, semi):
    """Skin with eyes and mouth on the face side, hair on top/back (by style)."""
    skin = np.asarray(body.skin)
    hair = np.asarray(body.hair_colour)
    eye = np.array([0.06, 0.05, 0.05])
    lips = skin * np.array([0.75, 0.5, 0.5])

    def material(points, normals):
        q = ((points - centre) @ axes) / semi   # (right, up, forward) on the unit sphere
        r, u, f = q[:, 0], q[:, 1], q[:, 2]
        col = np.broadcast_to(skin, (len(q), 3)).copy()
        spec = np.full(len(q), 0.08)
        eyes = (f > 0.55) & (np.abs(np.abs(r) - 0.36) < 0.13) & (np.abs(u - 0.08) < 0.1)
        mouth = (f > 0.55) & (np.abs(r) < 0.26) & (np.abs(u + 0.45) < 0.06)
        col[mouth] = lips
        col[eyes] = eye
        if body.hair == 1:
            is_hair = (u > 0.35 - 0.4 * np.clip(-f, 0, 1)) & ~((f > 0.3) & (u < 0.5))
        elif body.hair == 2:
            is_hair = ((u > 0.38) | (f < -0.15) | ((np.abs(r) > 0.8) & (u > -0.5))) & (
                (f < 0.35) | (u > 0.5))
        else:
            is_hair = np.zeros(len(q), bool)
        col[is_hair] = hair
        spec[is_hair] = 0.15
        return col, spec
    return material


# ----------------------------------------------------------------------------- body


def body_primitives(pts: np.ndarray, body: Body):
    """The 20 solids of ``body`` in pose ``pts`` ((20, 3) metres, camera frame)."""
    g = lambda n: pts[P[n]]  # noqa: E731
    L = body.lengths
    h = L["thigh"] / MEAN_LENGTHS["thigh"]
    bulk = body.bulk
    prims = []
    add = prims.append
    skin = _skin(body)

    pelvis_f = _frame(g("R_Hip") - g("L_Hip"), g("Torso") - g("Pelvis"))
    chest_f = _frame(g("R_Shoulder") - g("L_Shoulder"), g("Neck") - g("Torso"))
    waist_f = _frame(pelvis_f[:, 0] + chest_f[:, 0], g("Neck") - g("Pelvis"))
    body_up = waist_f[:, 1]
    shirt = _shirt(body, body_up)
    trousers = raster.solid(body.trouser_colour, 0.03)
    shoes = raster.solid(body.shoes, 0.25)

    # Trunk: two round cones with elliptical cross-sections (stretched by `scale` in the
    # pelvis/chest frames) meeting at the waist (the Torso joint).
    hip_r = L["hip_half"] * 1.18 * body.hip_width
    waist_r = 0.118 * h * bulk ** 0.6 * (0.5 + 0.5 * body.hip_width)
    chest_r = L["shoulder"] * 0.97 * body.chest_width
    depth = float(np.clip(0.66 * bulk, 0.58, 0.9))
    lower_a = g("Pelvis") - pelvis_f[:, 1] * 0.02 * h
    add(raster.scaled_cone(lower_a, g("Torso"), hip_r, waist_r, pelvis_f, [1.0, 0.55, depth],
                           _split_along(lower_a, g("Torso"), 0.4, trousers, shirt),
                           PART["hips"]))
    add(raster.scaled_cone(g("Torso"), g("Neck") - chest_f[:, 1] * 0.085 * h, waist_r, chest_r,
                           chest_f, [1.0, 0.6, depth * 1.02], shirt, PART["chest"]))
    # Seat: the buttocks and the top of the trousers.
    add(raster.ellipsoid(g("Pelvis") - pelvis_f[:, 1] * 0.005 * h - pelvis_f[:, 2] * 0.035 * h,
                         pelvis_f, [hip_r * 0.88, 0.09 * h, 0.095 * h * depth / 0.66], trousers,
                         PART["seat"]))

    # Head and neck.
    neck_to_top = g("Head") - g("Neck")
    lh = np.linalg.norm(neck_to_top)
    head_right = np.cross(g("Nose") - g("Neck"), neck_to_top)  # forward x up = right
    if np.linalg.norm(head_right) < 1e-6:
        head_right = chest_f[:, 0]
    head_f = _frame(head_right, neck_to_top)
    head_up, head_fwd = head_f[:, 1], head_f[:, 2]
    head_semi = np.array([0.36, 0.45, 0.44]) * lh * body.head_scale
    head_c = g("Neck") + head_up * (1.0 - head_semi[1] / lh) * lh + head_fwd * 0.012
    nr = body.radius("neck")
    add(raster.cone(g("Neck") - chest_f[:, 1] * 0.02, head_c - head_up * 0.05, nr[0], nr[1],
                    skin, PART["neck"]))
    add(raster.ellipsoid(head_c, head_f, head_semi, _head_material(body, head_c, head_f,
                                                                   head_semi), PART["head"]))
    add(raster.ellipsoid(head_c + head_fwd * head_semi[2] * 0.97 - head_up * 0.02 * h, head_f,
                         np.full(3, 0.017 * h), skin, PART["nose"]))

    # Arms.
    for side in ("L", "R"):
        sh, el, wr = g(f"{side}_Shoulder"), g(f"{side}_Elbow"), g(f"{side}_Wrist")
        r = body.radius("shoulder")
        add(raster.cone(g("Neck") - chest_f[:, 1] * 0.035 * h, sh, r[0], r[1], shirt,
                        PART[f"{side}_shoulder"]))
        r = body.radius("upper_arm")
        if body.sleeves == 0:
            mat = _split_along(sh, el, 0.06, shirt, skin)
        elif body.sleeves == 1:
            mat = _split_along(sh, el, 0.55, shirt, skin)
        else:
            mat = shirt
        add(raster.cone(sh, el, r[0], r[1], mat, PART[f"{side}_upper_arm"]))
        r = body.radius("forearm")
        add(raster.cone(el, wr, r[0], r[1], shirt if body.sleeves == 2 else skin,
                        PART[f"{side}_forearm"]))
        r = body.radius("hand")
        add(raster.cone(wr, wr + _unit(wr - el) * 0.12 * h, r[0], r[1], skin,
                        PART[f"{side}_hand"]))

    # Legs.
    for side in ("L", "R"):
        hp, kn, an, to = g(f"{side}_Hip"), g(f"{side}_Knee"), g(f"{side}_Ankle"), g(f"{side}_Toe")
        r = body.radius("thigh")
        mat = trousers if body.trousers else _split_along(hp, kn, 0.55, trousers, skin)
        add(raster.cone(hp + pelvis_f[:, 1] * 0.03 * h, kn, r[0], r[1], mat,
                        PART[f"{side}_thigh"]))
        r = body.radius("shin")
        add(raster.cone(kn, an, r[0], r[1], trousers if body.trousers else skin,
                        PART[f"{side}_shin"]))
        r = body.radius("foot")
        heel = an - 0.22 * (to - an) + _unit(an - kn) * 0.025 * h
        add(raster.cone(heel, to, r[0], r[1], shoes, PART[f"{side}_foot"]))
    return prims


# ----------------------------------------------------------------------------- labels


def compute_labels(pose_cam_mm: np.ndarray, camera: scene.Camera,
                   person_mask: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Schema labels of an 18-joint pose (mm, camera frame) seen by ``camera``.

    ``joints_img`` is the exact projection, ``joints_vis`` is 1 for joints inside the image,
    ``bbox`` is the box around the rendered silhouette (``person_mask``) and the joints in the
    image, grown by :data:`BBOX_MARGIN` on each side and clipped to the image.
    """
    joints = np.asarray(pose_cam_mm, np.float64)[:NUM_JOINTS]
    uv = camera.project(joints)
    w, h = camera.width, camera.height
    vis = ((joints[:, 2] > 0) & (uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0)
           & (uv[:, 1] <= h - 1))
    xs, ys = list(uv[vis, 0]), list(uv[vis, 1])
    if person_mask is not None and person_mask.any():
        rows = np.flatnonzero(person_mask.any(1))
        cols = np.flatnonzero(person_mask.any(0))
        xs += [cols[0] - 0.5, cols[-1] + 0.5]
        ys += [rows[0] - 0.5, rows[-1] + 0.5]
    if not xs:
        raise ValueError("the person is not in the image")
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    mx, my = BBOX_MARGIN * (x1 - x0), BBOX_MARGIN * (y1 - y0)
    x0, x1 = max(x0 - mx, -0.5), min(x1 + mx, w - 0.5)
    y0, y1 = max(y0 - my, -0.5), min(y1 + my, h - 0.5)
    return {
        "bbox": np.array([x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0)], np.float32),
        "joints_img": uv.astype(np.float32),
        "joints_cam": joints.astype(np.float32),
        "joints_vis": vis.astype(np.float32),
        "have_depth": np.float32(1.0),
        "focal": np.array([camera.fx, camera.fy], np.float32),
        "principal_point": np.array([camera.cx, camera.cy], np.float32),
        "root_cam": joints[0].astype(np.float32),
    }


# ----------------------------------------------------------------------------- example


def render_example(pose_cam_mm: np.ndarray, camera: scene.Camera, body: Body, seed,
                   *, background: bool = True, ground: Optional[bool] = None,
                   occluders: Optional[int] = None, objects_behind: Optional[int] = None,
                   post: bool = True, return_buffers: bool = False) -> Dict:
    """Render one person and return ``{"image": uint8 (H, W, 3) RGB, <schema labels>}``.

    Args:
      pose_cam_mm: ``(18, 3)`` H36M joints or ``(20, 3)`` joints + toes, mm, camera frame.
      camera: intrinsics and image size; with ``R``/``t`` (world Z-up, ground z = 0) the
        ground plane and objects are placed in that world, else under the person's feet.
      body: proportions and clothes (:func:`~.body.sample_body`).
      seed: int or sequence of ints; everything random here (light, background, ground,
        occluders, blur, noise) comes from ``numpy.random.default_rng(seed)``, so equal seeds
        give byte-identical images.
      background: False for a plain grey background (tests).
      ground: force the ground plane on/off (default: random, 65 %).
      occluders: number of objects between camera and person (default: random, 0-2).
      objects_behind: number of objects behind the person (default: random, 0-3).
      post: blur + sensor noise + exposure (default on).
      return_buffers: add ``depth`` (m, inf = background), ``part`` (part id, -1 =
        background; :data:`PART_NAMES`, >= 100 objects, 200 ground) and ``person_mask``
        (the person's silhouette before occlusion).
    """
    rng = np.random.default_rng(seed)
    pose_cam_mm = np.asarray(pose_cam_mm, np.float64)
    if pose_cam_mm.shape == (NUM_JOINTS, 3):
        pts = add_toes(pose_cam_mm / 1000.0, body.lengths["foot"])
    elif pose_cam_mm.shape == (NUM_POINTS, 3):
        pts = pose_cam_mm / 1000.0
    else:
        raise ValueError(f"pose must be ({NUM_JOINTS}, 3) or ({NUM_POINTS}, 3) mm, got "
                         f"{pose_cam_mm.shape}")
    if not np.all(np.isfinite(pts)) or np.any(pts[:, 2] <= raster.NEAR):
        raise ValueError("pose must be finite and in front of the camera (Z > 0)")
    cam = camera
    if cam.R is None or cam.t is None:
        R, t = scene.default_world(pts)
        cam = scene.Camera(camera.fx, camera.fy, camera.cx, camera.cy, camera.width,
                           camera.height, R, t)
    H, W = cam.height, cam.width

    light = scene.sample_light(rng, cam.R)
    if background:
        back = scene.backdrop(rng, H, W).astype(np.float32)
    else:
        back = np.full((H, W, 3), 0.5, np.float32)
    if ground is None:
        ground = bool(rng.random() < 0.65)
    if occluders is None:
        occluders = int(rng.choice(3, p=[0.7, 0.22, 0.08]))
    if objects_behind is None:
        objects_behind = int(rng.choice(4, p=[0.55, 0.25, 0.12, 0.08]))

    ras = raster.Raster(cam.fx, cam.fy, cam.cx, cam.cy, W, H)
    for prim in body_primitives(pts, body):
        ras.draw(prim)
    person_mask = ras.part >= 0

    points_world = cam.camera_to_world(pts)
    has_ground = False
    if ground:
        has_ground = _draw_ground(ras, cam, scene.sample_ground(rng), points_world, light)
    for prim in scene.sample_objects(rng, cam, points_world, has_ground, occluders,
                                     objects_behind, OCCLUDER_PART):
        ras.draw(prim)

    hit = ras.part >= 0
    img = back
    img[hit] = scene.shade(ras.albedo[hit], ras.normal[hit], ras.specular[hit], ras.dirs[hit],
                           light, ras.shadow[hit])
    if post:
        img *= np.float32(rng.uniform(0.85, 1.15) * 255.0)
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.35, 0.9))
        noise = rng.standard_normal(img.shape, dtype=np.float32)
        img += noise * np.float32(rng.uniform(0.0, 0.02) * 255.0)
    else:
        img *= np.float32(255.0)
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)

    out = {"image": image}
    out.update(compute_labels(pts[:NUM_JOINTS] * 1000.0, cam, person_mask))
    if return_buffers:
        out.update(depth=ras.depth, part=ras.part, person_mask=person_mask)
    return out


def _draw_ground(ras: raster.Raster, cam: scene.Camera, ground: scene.Ground,
                 points_world: np.ndarray, light: scene.Light) -> bool:
    """Z-buffer the textured plane z = 0 with the person's contact and cast shadows.
    Returns False if the plane is not seen."""
    centre = cam.centre
    if centre[2] <= 0.01:
        return False
    d_world = ras.rays @ cam.R          # (H, W, 3) world directions of the z=1 rays
    dz = d_world[..., 2]
    t = np.where(dz < -1e-9, -centre[2] / np.where(dz < -1e-9, dz, -1.0), np.inf)
    win = np.isfinite(t) & (t < ras.depth) & (t > raster.NEAR)
    if not win.any():
        return False
    tz = t[win]
    gx = centre[0] + tz * d_world[..., 0][win]
    gy = centre[1] + tz * d_world[..., 1][win]
    footprint = tz / ras.fx
    albedo = scene.ground_albedo(ground, gx, gy, footprint)
    albedo *= (1.0 - scene.contact_shadow(gx, gy, points_world))[:, None]
    ras.depth[win] = tz
    ras.normal[win] = cam.R[:, 2]
    ras.albedo[win] = albedo
    ras.specular[win] = 0.02
    ras.shadow[win] = scene.cast_shadow(gx, gy, points_world, cam.R.T @ light.direction)
    ras.part[win] = GROUND_PART
    return True
