//! Part `cache` (to be written).
