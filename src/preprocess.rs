//! Part `preprocess` (to be written).
