"""Drawing helpers: 2D skeleton overlays, 3D skeleton views and image grids (RGB uint8).

2D drawing uses OpenCV. The 3D views use matplotlib, imported only when a 3D
function is called (``pip install matplotlib``); they render off-screen (Agg) to
numpy images, so they work in video loops and on machines without a display.
"""

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from mhp_tf import skeletons

LEFT = (60, 130, 255)   # RGB
RIGHT = (255, 90, 60)
CENTRE = (80, 220, 80)


def _side(name: str) -> Tuple[int, int, int]:
    if name.startswith("L_"):
        return LEFT
    if name.startswith("R_"):
        return RIGHT
    return CENTRE


def draw_skeleton_2d(image: np.ndarray, joints: np.ndarray, skeleton="h36m",
                     visibility: Optional[np.ndarray] = None, radius: int = 2,
                     thickness: int = 1) -> np.ndarray:
    """Draw joints ``[J, 2]`` (px) and bones of ``skeleton`` on a copy of an RGB image.

    Left limbs are blue, right limbs red, the spine green; invisible joints
    (``visibility == 0``) and bones touching them are not drawn.
    """
    sk = skeletons.get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    joints = np.asarray(joints, np.float32)
    if joints.shape != (sk.num_joints, 2):
        raise ValueError(f"joints must be [{sk.num_joints}, 2] for {sk.name}, got {joints.shape}")
    vis = np.ones(sk.num_joints) if visibility is None else np.asarray(visibility)
    out = np.ascontiguousarray(image.copy())
    if out.dtype != np.uint8:
        out = np.clip(out, 0, 255).astype(np.uint8)
    scale = 16  # sub-pixel accurate drawing via cv2's shift argument
    pts = np.round(joints * scale).astype(np.int64)
    for a, b in sk.bones:
        if vis[a] > 0 and vis[b] > 0:
            colour = _side(sk.joints[b]) if sk.joints[b][:2] in ("L_", "R_") else _side(sk.joints[a])
            cv2.line(out, tuple(map(int, pts[a])), tuple(map(int, pts[b])), colour, thickness,
                     cv2.LINE_AA, shift=4)
    for j in range(sk.num_joints):
        if vis[j] > 0:
            cv2.circle(out, tuple(map(int, pts[j])), radius * scale, _side(sk.joints[j]), -1,
                       cv2.LINE_AA, shift=4)
    return out


def image_grid(images: Sequence[np.ndarray], columns: int = 4, pad: int = 2,
               background: int = 255) -> np.ndarray:
    """Tile equally sized RGB images into one grid image."""
    if not len(images):
        raise ValueError("image_grid needs at least one image")
    h, w = images[0].shape[:2]
    rows = (len(images) + columns - 1) // columns
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), background, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = img
    return grid


# ----------------------------------------------------------------------------- 3D views

# Named viewpoints (elevation, azimuth) in degrees for the plot frame of
# :func:`camera_to_plot` (x right, y away from the camera, z up): "front" looks
# from the camera position, "side" from the person's right, "top" from above.
VIEWS = {"front": (10.0, -90.0), "side": (10.0, 0.0), "top": (89.0, -90.0),
         "oblique": (20.0, -60.0)}


def camera_to_plot(points) -> np.ndarray:
    """Camera-frame points ``[..., 3]`` (x right, y down, z forward) -> plot frame
    (x right, y forward = depth, z up)."""
    p = np.asarray(points, np.float64)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], -1)


def _colour01(rgb) -> Tuple[float, float, float]:
    return tuple(c / 255.0 for c in rgb)


def _pose_list(poses) -> list:
    if poses is None:
        return []
    if isinstance(poses, np.ndarray) and poses.ndim == 2:
        return [poses]
    return [np.asarray(p, np.float64) for p in poses]


def plot_skeleton_3d(ax, poses, skeleton="h36m", labels: Optional[Sequence] = None,
                     view="oblique", center=None, radius: Optional[float] = None,
                     ground: bool = True, linewidth: float = 2.0, title: Optional[str] = None):
    """Draw 3D poses into a matplotlib ``Axes3D``.

    Args:
      ax: an axes made with ``projection='3d'``.
      poses: ``[J, 3]`` or a list / ``[N, J, 3]`` of poses in the camera frame (mm; any
        unit works), x right, y down, z away from the camera.
      skeleton: joint set name or :class:`mhp_tf.skeletons.Skeleton`.
      labels: optional text per pose (e.g. track ids), written above the head.
      view: a name from :data:`VIEWS` or ``(elevation, azimuth)`` degrees.
      center, radius: the cube shown (plot frame, mm); default: around all joints,
        ``radius`` at least 1000 mm. Pass fixed values for steady video views.
      ground: draw a ground grid under the lowest joint (the feet; camera y is down).
      title: axes title.

    The axes have equal scale on x, y, z (``set_box_aspect``), left limbs blue, right
    limbs red, the spine green (as :func:`draw_skeleton_2d`).
    """
    sk = skeletons.get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    plist = [camera_to_plot(p) for p in _pose_list(poses)]
    for p in plist:
        if p.shape != (sk.num_joints, 3):
            raise ValueError(f"poses must be [{sk.num_joints}, 3] for {sk.name}, got {p.shape}")
    finite = [p[np.all(np.isfinite(p), 1)] for p in plist]
    allp = np.concatenate(finite) if finite and sum(len(f) for f in finite) else np.zeros((1, 3))
    if center is None:
        center = (allp.min(0) + allp.max(0)) / 2.0
    center = np.asarray(center, np.float64)
    if radius is None:
        radius = max(1000.0, float(np.max(np.abs(allp - center))) * 1.1)
    elev, azim = VIEWS[view] if isinstance(view, str) else view
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlim(center[0] - radius, center[0] + radius)
    ax.set_ylim(center[1] - radius, center[1] + radius)
    ax.set_zlim(center[2] - radius, center[2] + radius)
    ax.set_box_aspect((1, 1, 1))
    if ground:
        floor = float(allp[:, 2].min()) if finite and len(allp) else center[2] - radius
        floor = max(floor, center[2] - radius)
        g = np.linspace(-radius, radius, 9)
        gx, gy = np.meshgrid(center[0] + g, center[1] + g)
        ax.plot_surface(gx, gy, np.full_like(gx, floor), color=(0.6, 0.6, 0.6), alpha=0.15,
                        linewidth=0, shade=False)
        for v in g:
            ax.plot([center[0] + v] * 2, [center[1] - radius, center[1] + radius], [floor] * 2,
                    color=(0.7, 0.7, 0.7), linewidth=0.5)
            ax.plot([center[0] - radius, center[0] + radius], [center[1] + v] * 2, [floor] * 2,
                    color=(0.7, 0.7, 0.7), linewidth=0.5)
    for k, p in enumerate(plist):
        for a, b in sk.bones:
            if not (np.all(np.isfinite(p[a])) and np.all(np.isfinite(p[b]))):
                continue
            name = sk.joints[b] if sk.joints[b][:2] in ("L_", "R_") else sk.joints[a]
            ax.plot(*zip(p[a], p[b]), color=_colour01(_side(name)), linewidth=linewidth)
        ax.scatter(*p.T, s=6, color=(0.1, 0.1, 0.1), depthshade=False)
        if labels is not None and k < len(labels) and np.all(np.isfinite(p)):
            top = p[np.argmax(p[:, 2])]
            ax.text(top[0], top[1], top[2] + 0.08 * radius, str(labels[k]), fontsize=8)
    ax.set_xlabel("x (mm)", fontsize=7)
    ax.set_ylabel("depth (mm)", fontsize=7)
    ax.set_zlabel("up (mm)", fontsize=7)
    ax.tick_params(labelsize=6)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def _new_figure(width: int, height: int, dpi: int = 100):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def figure_to_image(fig) -> np.ndarray:
    """RGB uint8 ``[H, W, 3]`` of a matplotlib figure (Agg canvas)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def render_skeleton_3d(poses, skeleton="h36m", size: Tuple[int, int] = (480, 480),
                       **kwargs) -> np.ndarray:
    """One 3D view as an RGB uint8 image ``[height, width, 3]``; ``size = (width, height)``.

    ``kwargs`` go to :func:`plot_skeleton_3d` (``view``, ``center``, ``radius``, ``labels``,
    ``ground``, ``title``). For many frames, :class:`Skeleton3DRenderer` is faster.
    """
    return Skeleton3DRenderer(size, skeleton).render(poses, **kwargs)


class Skeleton3DRenderer:
    """Reuses one off-screen figure to render many 3D views (video frames).

    ``Skeleton3DRenderer((width, height), "h36m").render(poses, view="front")`` ->
    RGB uint8 ``[height, width, 3]``.
    """

    def __init__(self, size: Tuple[int, int] = (480, 480), skeleton="h36m", dpi: int = 100):
        self.size = (int(size[0]), int(size[1]))
        self.skeleton = skeleton
        self.fig = _new_figure(*self.size, dpi=dpi)
        self.ax = self.fig.add_axes((0.0, 0.0, 1.0, 1.0), projection="3d")

    def render(self, poses, **kwargs) -> np.ndarray:
        self.ax.cla()
        plot_skeleton_3d(self.ax, poses, self.skeleton, **kwargs)
        image = figure_to_image(self.fig)
        if image.shape[:2] != (self.size[1], self.size[0]):
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        return image


def multiview_grid(poses, skeleton="h36m", views: Sequence = ("front", "side", "top"),
                   size: Tuple[int, int] = (320, 320), columns: Optional[int] = None,
                   **kwargs) -> np.ndarray:
    """The same poses from several viewpoints, tiled (each view ``size = (width, height)``).

    All views share one cube (``center``/``radius`` computed once unless given), so
    lengths compare across them. ``views``: names from :data:`VIEWS` or
    ``(elevation, azimuth)`` pairs. Returns an RGB uint8 image.
    """
    plist = [camera_to_plot(p) for p in _pose_list(poses)]
    if kwargs.get("center") is None or kwargs.get("radius") is None:
        pts = np.concatenate([p[np.all(np.isfinite(p), 1)] for p in plist]) if plist else \
            np.zeros((1, 3))
        if not len(pts):
            pts = np.zeros((1, 3))
        c = (pts.min(0) + pts.max(0)) / 2.0
        kwargs.setdefault("center", c)
        kwargs.setdefault("radius", max(1000.0, float(np.max(np.abs(pts - c))) * 1.1))
    renderer = Skeleton3DRenderer(size, skeleton)
    images = []
    for v in views:
        title = v if isinstance(v, str) else f"elev {v[0]:g}, azim {v[1]:g}"
        images.append(renderer.render(poses, view=v, title=title, **kwargs))
    return image_grid(images, columns=columns or len(images))


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``right`` scaled to ``left``'s height and put to its right (RGB uint8)."""
    h = left.shape[0]
    if right.shape[0] != h:
        w = max(1, int(round(right.shape[1] * h / right.shape[0])))
        right = cv2.resize(right, (w, h), interpolation=cv2.INTER_AREA)
    return np.concatenate([left, right], 1)
