"""Taking a trained model elsewhere: ONNX, for onnxruntime and every framework that reads it.

    from digitlab.export import export_onnx, verify_onnx
    export_onnx(model, "model.onnx")                    # needs the onnx extra: pip install 'digitlab[onnx]'
    verify_onnx(model, "model.onnx", x_test)            # largest |onnxruntime - digitlab| probability
    export_checked(model, "model.onnx", x_test)         # both: the file is written only if it matches

The onnx and onnxruntime packages are imported only when a function needs them, so importing this
module never fails; without them the functions raise ExportError saying what to install.
"""

from digitlab.errors import ExportError
from digitlab.export.onnx import (
                                  INPUT_NAME,
                                  IR_VERSION,
                                  OPSET,
                                  OUTPUT_NAME,
                                  TOLERANCE,
                                  ensure_installed,
                                  export_checked,
                                  export_onnx,
                                  onnx_graph,
                                  verify_onnx,
)

__all__ = ["INPUT_NAME", "IR_VERSION", "OPSET", "OUTPUT_NAME", "TOLERANCE", "ExportError", "ensure_installed",
           "export_checked", "export_onnx", "onnx_graph", "verify_onnx"]
