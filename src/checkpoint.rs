//! Part `checkpoint` (to be written).
