r"""Print a table of the MobileHumanPose variants: parameters, FLOPs, output shapes.

    python -m mhp_tf.summary                      # L / S / XS, 18 joints
    python -m mhp_tf.summary --num_joints=21      # MuCo-3DHP joint set
    python -m mhp_tf.summary --variants=l --concat=none
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from mhp_tf.modeling import PAPER_FIGURES  # noqa: E402
from mhp_tf.modeling import PRESETS  # noqa: E402
from mhp_tf.modeling import build_model  # noqa: E402
from mhp_tf.modeling import count_flops  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("variants", ["l", "s", "xs"], "Presets to summarise.")
flags.DEFINE_integer("num_joints", 18, "Number of joints (18 = Human3.6M, 21 = MuCo-3DHP).")
flags.DEFINE_enum("concat", None, ["skip", "none", "residual"], "Override the concatenation.")
flags.DEFINE_enum("activation", None, ["prelu", "relu"], "Override the activation.")


def trainable_params(model) -> int:
    return sum(int(w.shape.num_elements()) for w in model.trainable_weights)


def summary_rows(variants, num_joints, **overrides):
    """One dict per variant with the figures printed by this tool."""
    rows = []
    for variant in variants:
        model = build_model(variant, num_joints, **overrides)
        heatmap_model = build_model(variant, num_joints, head="heatmap", **overrides)
        flops = count_flops(model)
        cfg = model.mhp_config
        # The paper's figures describe the presets as published (18 joints).
        paper = PAPER_FIGURES[variant] if num_joints == 18 and not overrides else {}
        rows.append({
            "variant": variant,
            "topology": cfg.topology,
            "width": cfg.width_multiplier,
            "embedding": cfg.embedding_size,
            "heatmap": "x".join(str(d) for d in cfg.heatmap_shape),
            "params": trainable_params(model),
            "params_with_bn_stats": model.count_params(),
            "paper_params": paper.get("params"),
            "gflops": flops.paper_gflops,
            "paper_gflops": paper.get("gflops"),
            "conv_gmacs": flops.conv_gmacs,
            "coords_shape": (1,) + tuple(model.output_shape[1:]),
            "heatmap_shape": (1,) + tuple(heatmap_model.output_shape[1:]),
        })
    return rows


def format_table(rows) -> str:
    header = ("variant", "topology", "width", "embed", "heatmap HxWxD", "params",
              "paper", "GFLOPs", "paper", "conv GMACs", "coords out", "heatmap out")
    lines = []
    for r in rows:
        lines.append((r["variant"], r["topology"], f"{r['width']:g}", str(r["embedding"]),
                      r["heatmap"], f"{r['params']:,}", r["paper_params"] or "-",
                      f"{r['gflops']:.3f}",
                      "-" if r["paper_gflops"] is None else f"{r['paper_gflops']:.2f}",
                      f"{r['conv_gmacs']:.3f}", str(r["coords_shape"]), str(r["heatmap_shape"])))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [fmt(header), fmt(["-" * w for w in widths])]
    out.extend(fmt(line) for line in lines)
    return "\n".join(out)


def main(argv):
    del argv
    unknown = [v for v in FLAGS.variants if v not in PRESETS]
    if unknown:
        raise app.UsageError(f"unknown variant(s) {unknown}; available: {sorted(PRESETS)}")
    overrides = {k: getattr(FLAGS, k) for k in ("concat", "activation") if getattr(FLAGS, k)}
    rows = summary_rows(FLAGS.variants, FLAGS.num_joints, **overrides)
    print(f"MobileHumanPose variants, {FLAGS.num_joints} joints, 256x256 input "
          f"(params = trainable; GFLOPs = paper convention, batch 1)")
    print(format_table(rows))


if __name__ == "__main__":
    app.run(main)
