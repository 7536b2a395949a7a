"""Self-shadowing of the realistic synthetic look (:mod:`...realistic.shadows`): the orthographic
depth map, the shadow test, the key light taken from the SH environment, and its use in
shading and in :func:`compose.render`."""

import cv2
import numpy as np
import pytest

from mhp_tf_datasets.synthetic import scene
from mhp_tf_datasets.synthetic.realistic import compose
from mhp_tf_datasets.synthetic.realistic import lighting
from mhp_tf_datasets.synthetic.realistic import rasterizer
from mhp_tf_datasets.synthetic.realistic import shadows
from mhp_tf_datasets.synthetic.realistic.gbuffer import PART


def _unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


def _outward(vertices, faces, centre):
    """Wind every face so its normal points away from ``centre`` (a convex part)."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    normal = np.cross(b - a, c - a)
    flip = np.einsum("ij,ij->i", normal, (a + b + c) / 3 - centre) < 0
    faces = faces.copy()
    faces[flip] = faces[flip][:, ::-1]
    return faces


def _sphere(centre, radius, rings=32, segments=64):
    """A closed UV sphere, outward-wound: vertices, faces and unit normals."""
    theta = np.linspace(0, np.pi, rings + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    dirs = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    dirs = np.vstack([[0, 1, 0], dirs, [0, -1, 0]])
    faces = []
    ring = lambda i, j: 1 + i * segments + (j % segments)  # noqa: E731
    for j in range(segments):
        faces.append([0, ring(0, j), ring(0, j + 1)])
        faces.append([len(dirs) - 1, ring(rings - 2, j), ring(rings - 2, j + 1)])
        for i in range(rings - 2):
            faces.append([ring(i, j), ring(i + 1, j), ring(i + 1, j + 1)])
            faces.append([ring(i, j), ring(i + 1, j + 1), ring(i, j + 1)])
    v = np.asarray(centre, np.float64) + radius * dirs
    return v, _outward(v, np.array(faces), np.asarray(centre, np.float64)), dirs


def _box(lo, hi):
    """A closed box (12 outward-wound triangles)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    v = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                  for z in (lo[2], hi[2])])
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = np.array([[a, b, c] for a, b, c, d in quads] + [[a, c, d] for a, b, c, d in quads])
    return v, _outward(v, faces, (lo + hi) / 2)


def _merge(*meshes):
    vs, fs, n = [], [], 0
    for v, f in meshes:
        vs.append(v)
        fs.append(f + n)
        n += len(v)
    return np.vstack(vs), np.vstack(fs)


def test_depth_map_of_a_sphere_is_its_near_surface():
    """Orthographic depth map of a faceted sphere vs the analytic near hemisphere."""
    r, c, size = 20.0, np.array([32.0, 30.0, 100.0]), 64
    v, f, _ = _sphere(c, r)
    depth = rasterizer.depth_map(v, f, size, size)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    rho = np.hypot(x - c[0], y - c[1])
    inner = rho < 0.9 * r
    expected = c[2] - np.sqrt(np.maximum(r * r - rho ** 2, 0.0))
    # facets lie inside the sphere by at most r (1 - cos(pi / 32)) ~ 0.005 r; away from the
    # rim a depth error is that chord error over the surface's cosine (>= 0.43 here)
    err = np.abs(depth[inner] - expected[inner])
    assert err.max() < 0.005 * r / 0.43 + 1e-9
    assert np.all(depth[inner] >= expected[inner] - 1e-9)  # never in front of the sphere
    assert np.all(np.isinf(depth[rho > r + 1.0]))
    assert np.isfinite(depth[rho < r - 1.0]).all()


def test_depth_map_keeps_the_nearest_surface_and_skips_back_faces():
    near = _box([10, 10, 5.0], [30, 30, 6.0])
    far = _box([0, 0, 9.0], [40, 40, 10.0])
    v, f = _merge(near, far)
    depth = rasterizer.depth_map(v, f, 40, 40)
    assert np.allclose(depth[15:25, 15:25], 5.0)    # the near box's front face, not its back
    assert np.allclose(depth[2:8, 2:8], 9.0)        # the far one where the near one is not
    # wound the other way round, only the faces turned away from the view are drawn
    back = rasterizer.depth_map(v, f[:, ::-1], 40, 40)
    assert np.allclose(back[15:25, 15:25], 6.0)     # the near box's back face
    assert np.allclose(back[2:8, 2:8], 10.0)


def test_light_frame_is_a_rotation_looking_along_the_rays():
    for d in ([0, -1, 0], [1, 0, 0], [0.3, -0.5, -0.8], [0.95, 0.1, 0.0]):
        rot = shadows.light_frame(_unit(d))
        np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(rot[2], -_unit(d), atol=1e-12)


# A plate 1 m above a floor (y down, so "above" is -y), the light 45 degrees off vertical
# towards +x: the plate's shadow on the floor is the plate moved 1 m towards -x.
PLATE = _box([-0.5, -1.05, -0.5], [0.5, -1.0, 0.5])
TOWARDS_LIGHT = _unit([1.0, -1.0, 0.0])


def _floor_points(xs):
    return np.column_stack([xs, np.zeros(len(xs)), np.zeros(len(xs))])


def test_a_plate_shadows_the_floor_away_from_the_light():
    smap = shadows.shadow_map(shadows.Caster(*PLATE), TOWARDS_LIGHT, 128)
    up = np.tile([0.0, -1.0, 0.0], (5, 1))
    vis = shadows.visibility(smap, _floor_points(np.array([-1.7, -1.0, -0.7, 0.3, 1.2])), up)
    # under the shifted plate (-1.55 .. -0.5 m with its thickness): dark; under the plate itself and beyond: lit
    np.testing.assert_array_equal(vis, [1.0, 0.0, 0.0, 1.0, 1.0])
    light_from_the_other_side = shadows.shadow_map(shadows.Caster(*PLATE),
                                                   _unit([-1.0, -1.0, 0.0]), 128)
    vis = shadows.visibility(light_from_the_other_side,
                             _floor_points(np.array([-1.0, -0.7, 0.7, 1.0])), up[:4])
    np.testing.assert_array_equal(vis, [1.0, 1.0, 0.0, 0.0])


def test_a_sphere_lights_its_own_near_side_and_shadows_its_far_side():
    """No shadow acne on the lit side (its own surface never occludes it); the side facing
    away lies behind the lit one."""
    v, f, n = _sphere([0.2, -0.1, 3.0], 0.4)
    for d in ([0.0, -1.0, 0.0], [0.5, -0.4, -0.77], [-0.9, 0.1, 0.3]):
        d = _unit(d)
        smap = shadows.shadow_map(shadows.Caster(v, f), d, 256)
        vis = shadows.visibility(smap, v, n)
        facing = n @ d
        assert np.all(vis[facing > 0.05] == 1.0)
        # the normal offset and the slope bias light a band beyond the terminator, where
        # shading gives the key no weight anyway (n . d <= 0)
        assert np.all(vis[facing < -0.35] == 0.0)


def _environment(sun_direction, sun=0.0, ambient=0.0, h=64, w=128):
    """Equirect radiance: a constant ``ambient`` plus one pixel of radiance ``sun`` (its
    solid angle returned) nearest ``sun_direction`` (environment frame)."""
    d, area = lighting.equirect_directions(h, w)
    env = np.full((h, w, 3), ambient)
    i, j = np.unravel_index(np.argmax(d @ _unit(sun_direction)), (h, w))
    env[i, j] += sun
    return env, d[i, j], float(area[i, j])


def test_key_of_a_point_light_gives_back_its_irradiance_and_a_uniform_sky_has_none():
    env, w, area = _environment([0.4, 0.7, -0.3], sun=1000.0)
    light = lighting.Light(lighting.project_sh(env), np.eye(3))
    direction, colour = light.key()
    np.testing.assert_allclose(direction, w, atol=1e-9)
    np.testing.assert_allclose(colour, 1000.0 * area, rtol=1e-6)  # float64 sums of 8k pixels
    _, colour = lighting.Light(lighting.project_sh(_environment([0, 1, 0], ambient=2.0)[0]),
                               np.eye(3)).key()
    np.testing.assert_allclose(colour, 0.0, atol=1e-9)
    # a sun in a uniform sky: the key is the sun alone (the sky has no l = 1 band)
    sky, w_sun, area_sun = _environment([0.3, 0.9, 0.2], sun=2000.0, ambient=0.3)
    direction, colour = lighting.Light(lighting.project_sh(sky), np.eye(3)).key()
    np.testing.assert_allclose(direction, w_sun, atol=1e-9)
    np.testing.assert_allclose(colour, 2000.0 * area_sun, rtol=1e-6)
    # a yawed light turns its key with it, in camera coordinates
    rot = lighting.camera_to_env(yaw=0.7, pitch=0.2)
    direction, _ = lighting.Light(lighting.project_sh(env), rot).key()
    np.testing.assert_allclose(rot @ direction, w, atol=1e-9)


def test_shade_takes_the_key_off_shadowed_points_facing_it():
    env, w, area = _environment([0.3, 0.9, 0.2], sun=2000.0, ambient=0.3)
    light = lighting.Light(lighting.project_sh(env), np.eye(3), specular=0.2)
    direction, key = light.key()
    side = _unit(np.cross(w, [1.0, 0.0, 0.0]))
    normals = np.array([w, _unit(w + [0.5, 0, 0]), -w, _unit(side - 0.2 * w)])
    albedo = np.full((4, 3), 0.5)
    base = lighting.shade(albedo, normals, light)
    np.testing.assert_array_equal(lighting.shade(albedo, normals, light, None, np.ones(4)), base)
    dark = lighting.shade(albedo, normals, light, None, np.zeros(4))
    e = light.irradiance(normals)
    facing = np.maximum(normals @ direction, 0.0)
    expected = 0.5 * (e - np.minimum(key * facing[:, None], 0.85 * e)) / np.pi
    np.testing.assert_allclose(dark, expected, rtol=1e-5)     # float32 output
    assert np.all(dark[:2] < 0.85 * base[:2])                 # facing the sun: darker
    np.testing.assert_array_equal(dark[2:], base[2:])         # facing away: untouched
    half = lighting.shade(albedo, normals, light, None, np.full(4, 0.5))
    assert np.all(dark[:2] < half[:2]) and np.all(half[:2] < base[:2])
    # the highlight goes with the key: none where it is shadowed
    toward_half = _unit(direction + [0.0, 0.0, -1.0])[None]
    glossy = [lighting.shade(albedo[:1], toward_half, light, np.ones(1), np.full(1, v))
              for v in (0.0, 1.0)]
    matte = [lighting.shade(albedo[:1], toward_half, light, None, np.full(1, v))
             for v in (0.0, 1.0)]
    np.testing.assert_allclose(glossy[0], matte[0], rtol=1e-6)
    assert np.all(glossy[1] > matte[1] + 0.01)


def _sphere_under_a_plate():
    """Camera at the origin looking down +z: a sphere 5 m away (the person's G-buffer) and,
    above and in front of it, a plate that shades its upper front from a light up and
    behind the camera."""
    cam = scene.Camera(120.0, 120.0, 47.5, 47.5, 96, 96, np.eye(3), np.zeros(3))
    v, f, n = _sphere([0.0, 0.0, 5.0], 1.0)
    attrs = dict(part=np.full(len(v), PART["chest"]), along=np.full(len(v), 0.5),
                 around=np.zeros(len(v)))
    gb = rasterizer.rasterize(cam, v, f, n, **attrs)
    plate = _box([-0.6, -1.65, 3.0], [0.6, -1.6, 4.5])
    return cam, gb, shadows.Caster(*_merge((v, f), plate)), (v, f)


def test_render_darkens_only_where_the_body_shades_itself(monkeypatch):
    towards = _unit([0.0, -1.0, -1.0])  # up (camera -y) and back towards the camera
    env, _, _ = _environment(towards, sun=3000.0, ambient=0.2)
    sun = lighting.Light(lighting.project_sh(env), np.eye(3))
    monkeypatch.setattr(lighting, "sample_light", lambda rng, hdris=(), **kw: sun)
    cam, gb, caster, sphere = _sphere_under_a_plate()
    kw = dict(camera=cam, occluder_p=0.0)
    plain = compose.render(gb, 5, compose.EMPTY_ASSETS, **kw)
    shaded = compose.render(gb, 5, compose.EMPTY_ASSETS, caster=caster, **kw)
    assert compose.render(gb, 5, compose.EMPTY_ASSETS, caster=caster, **kw).image.tobytes() \
        == shaded.image.tobytes()
    # where the plate's shadow should fall: sphere pixels whose ray to the light meets it
    ys, xs = np.nonzero(gb.mask)
    z = gb.depth[ys, xs]
    pts = np.column_stack([(xs - cam.cx) / cam.fx * z, (ys - cam.cy) / cam.fy * z, z])
    t = (pts[:, 1] + 1.6) / -towards[1]          # reach the plate's underside, y = -1.6
    hit = pts + t[:, None] * towards
    under = (np.abs(hit[:, 0]) < 0.55) & (hit[:, 2] > 3.05) & (hit[:, 2] < 4.45)
    clear = (np.abs(hit[:, 0]) > 0.7) | (hit[:, 2] < 2.9) | (hit[:, 2] > 4.6)
    facing = (gb.normal[ys, xs] @ towards) > 0.3
    assert (under & facing).sum() > 30 and (clear & facing).sum() > 30
    lum = lambda im: im.astype(np.float64) @ [0.2126, 0.7152, 0.0722]  # noqa: E731
    drop = lum(plain.image)[ys, xs] - lum(shaded.image)[ys, xs]
    # JPEG and blur spread a change over a few pixels: judge pixels 3 px inside either region
    region = np.zeros(gb.mask.shape, np.uint8)
    region[ys[under], xs[under]] = 1
    near_shadow = cv2.dilate(region, np.ones((7, 7), np.uint8))[ys, xs] > 0
    inside = cv2.erode(region, np.ones((7, 7), np.uint8))[ys, xs] > 0
    assert np.median(drop[inside & facing]) > 30            # levels of 255: a clear shadow
    assert np.abs(np.median(drop[clear & facing & ~near_shadow])) <= 2
    # nothing beyond the person moves (the camera's blur and JPEG reach a few pixels out)
    far = cv2.dilate(gb.mask.astype(np.uint8), np.ones((33, 33), np.uint8)) == 0
    np.testing.assert_array_equal(plain.image[far], shaded.image[far])
    assert shaded.timings_ms["self_shadow"] >= 0.0


def test_render_skips_the_map_for_a_diffuse_light(monkeypatch):
    flat = lighting.Light(lighting.project_sh(_environment([0, 1, 0], ambient=1.0)[0]), np.eye(3))
    monkeypatch.setattr(lighting, "sample_light", lambda rng, hdris=(), **kw: flat)
    cam, gb, caster, _ = _sphere_under_a_plate()
    called = []
    real = shadows.self_shadow
    monkeypatch.setattr(shadows, "self_shadow", lambda *a, **k: called.append(1) or real(*a, **k))
    a = compose.render(gb, 3, compose.EMPTY_ASSETS, camera=cam, occluder_p=0.0)
    b = compose.render(gb, 3, compose.EMPTY_ASSETS, camera=cam, occluder_p=0.0, caster=caster)
    np.testing.assert_array_equal(a.image, b.image)
    assert not called
