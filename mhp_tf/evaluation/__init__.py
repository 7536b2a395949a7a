"""Evaluation: decoding network output to camera space, and the paper's metrics."""

from mhp_tf.evaluation.metrics import auc_pck
from mhp_tf.evaluation.metrics import decode_to_camera
from mhp_tf.evaluation.metrics import joint_errors
from mhp_tf.evaluation.metrics import mpjpe
from mhp_tf.evaluation.metrics import pck3d
from mhp_tf.evaluation.metrics import rescale_bones
from mhp_tf.evaluation.metrics import rigid_align
from mhp_tf.evaluation.metrics import similarity_align
