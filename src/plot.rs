//! Part `plot` (to be written).
