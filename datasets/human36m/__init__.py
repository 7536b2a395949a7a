"""Human3.6M builder (the 3DMPPE release of the annotations; 18-joint H36M skeleton)."""

from mhp_tf_datasets.human36m.human36m import CORRUPT_SEQUENCES, Human36M, Human36MConfig

__all__ = ["CORRUPT_SEQUENCES", "Human36M", "Human36MConfig"]
