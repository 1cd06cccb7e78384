//! Part `backbone` (to be written).
