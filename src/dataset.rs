//! Part `dataset` (to be written).
