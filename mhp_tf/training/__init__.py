"""Training: experiment config, loss, and the resumable distributed training loop."""

from mhp_tf.training.config import DataConfig
from mhp_tf.training.config import ExperimentConfig
from mhp_tf.training.config import TrainConfig
from mhp_tf.training.config import make_config
from mhp_tf.training.losses import coord_l1_loss
from mhp_tf.training.trainer import TrainingDiverged
from mhp_tf.training.trainer import make_strategy
from mhp_tf.training.trainer import train
