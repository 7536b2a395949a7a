"""Export: self-describing SavedModel (TF-Hub style), TFLite (fp32/fp16/dynamic/int8/QAT).

Modules: :mod:`.saved_model` (signatures ``serving_default`` and ``estimate_poses``),
:mod:`.tflite` (one-step conversion, op report), :mod:`.qat` (quantization-aware training).
The command line is ``python -m mhp_tf.export`` (:mod:`.__main__`).
"""

from mhp_tf.export.saved_model import PoseEstimatorModule
from mhp_tf.export.saved_model import export_run
from mhp_tf.export.saved_model import export_saved_model
from mhp_tf.export.tflite import calibration_dataset
from mhp_tf.export.tflite import convert_tflite
from mhp_tf.export.tflite import decode_heatmap_output
from mhp_tf.export.tflite import format_op_report
from mhp_tf.export.tflite import op_report
from mhp_tf.export.tflite import run_tflite

__all__ = ["PoseEstimatorModule", "calibration_dataset", "convert_tflite",
           "decode_heatmap_output", "export_run", "export_saved_model", "format_op_report",
           "op_report", "run_tflite"]
