//! Part `onnx_graph` (to be written).
