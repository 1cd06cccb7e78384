//! Part `ort_lib` (to be written).
