"""The MobileHumanPose network: layers, blocks, model, presets and FLOPs counter."""

from mhp_tf.modeling.flops import FlopsReport
from mhp_tf.modeling.flops import count_flops
from mhp_tf.modeling.layers import AlignCornersUpsample2D
from mhp_tf.modeling.layers import AvgPool3x3S2
from mhp_tf.modeling.layers import SoftArgmax3D
from mhp_tf.modeling.layers import heatmap_marginals
from mhp_tf.modeling.layers import make_divisible
from mhp_tf.modeling.layers import soft_argmax_3d
from mhp_tf.modeling.layers import soft_argmax_3d_direct
from mhp_tf.modeling.mobilehumanpose import MobileHumanPose
from mhp_tf.modeling.mobilehumanpose import ModelConfig
from mhp_tf.modeling.mobilehumanpose import TOPOLOGIES
from mhp_tf.modeling.presets import PAPER_FIGURES
from mhp_tf.modeling.presets import PRESETS
from mhp_tf.modeling.presets import build_model
from mhp_tf.modeling.presets import preset_config
from mhp_tf.modeling.movnect import MOVNECT_JOINTS
from mhp_tf.modeling.movnect import MoVNect
from mhp_tf.modeling.movnect import MoVNectConfig
from mhp_tf.modeling.movnect import build_movnect
from mhp_tf.modeling.movnect import movnect_loss
from mhp_tf.modeling.movnect import movnect_readout
from mhp_tf.modeling.movnect import movnect_targets
